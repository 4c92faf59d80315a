"""Admission: pool settings, per-priority queues and the counts of one pool.

This module owns the rules that decide *whether* a task may start; it knows
nothing about threads or processes. With ``A`` tasks of the pool active
(critical ones included), a task of priority ``p`` may start while
``A < limits[p]``:

==========  ===============================================
LOW         ``pool_size``
NORMAL      ``pool_size + reserve_normal``
HIGH        ``pool_size + reserve_normal + reserve_high``
CRITICAL    always (``None``: no limit)
==========  ===============================================

``pool_size=0`` lifts every limit. Strict priority: a queued task never
starts while a more urgent one waits, and tasks of one priority start in
FIFO order. Because the limits grow with urgency, "the most urgent head
cannot start" implies "nothing can start", so a dispatcher only ever looks
at one queue head.

``Admission`` is not thread-safe: its owner calls every method while holding
the supervisor's lock. Its transitions (``count_*``, ``finish``) are made
only by the ledger (``engine.ledger``), which changes a task's fields, the
counts and the events together; pools only read ``may_start``, ``head``
and ``is_blocked``. ``PoolSettings`` is immutable: any thread.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, replace
from itertools import islice

from .constants import (
    PRIORITIES,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
)
from .task import Task
from .validate import MAX_THREADS, check_count

CPU_COUNT = os.cpu_count() or 1

#: Timeout levels (bit values stored in ``Task.timeouts_fired``): in the queue,
TIMEOUT_WARNING = 1
TIMEOUT_CRITICAL = 2
TIMEOUT_LEVELS = (TIMEOUT_WARNING, TIMEOUT_CRITICAL)
#: and running (``run_warning`` / ``run_critical``).
RUN_WARNING = 4
RUN_CRITICAL = 8


@dataclass(frozen=True)
class PoolSettings:
    """Validated settings of a pool. ``max_size=None`` means "derived"."""

    pool_size: int
    reserve_normal: int
    reserve_high: int
    min_size: int | str = 0
    max_size: int | None = None

    def __post_init__(self) -> None:
        check_count("pool_size", self.pool_size)
        check_count("reserve_normal", self.reserve_normal)
        check_count("reserve_high", self.reserve_high)
        if self.max_size is not None:
            check_count("max_size", self.max_size, minimum=1, maximum=MAX_THREADS)
        if self.min_size != "max":
            check_count("min_size", self.min_size, maximum=MAX_THREADS)
            if self.min_size > self.effective_max_size:
                raise ValueError(
                    f"min_size ({self.min_size}) must not exceed max_size "
                    f"({self.effective_max_size})"
                )

    @property
    def effective_max_size(self) -> int:
        """OS workers allowed: explicit, else pool_size + reserves, else CPU count * 5."""
        if self.max_size is not None:
            return self.max_size
        if self.pool_size:
            return self.pool_size + self.reserve_normal + self.reserve_high
        return CPU_COUNT * 5

    @property
    def effective_min_size(self) -> int:
        return self.effective_max_size if self.min_size == "max" else self.min_size  # type: ignore[return-value]

    def limits(self) -> dict[int, int | None]:
        """Most active tasks of the pool for a task of each priority to start."""
        if not self.pool_size:
            return dict.fromkeys(PRIORITIES)
        normal = self.pool_size + self.reserve_normal
        return {
            TASK_CRITICAL: None,
            TASK_HIGH: normal + self.reserve_high,
            TASK_NORMAL: normal,
            TASK_LOW: self.pool_size,
        }

    def updated(self, **changes: object) -> PoolSettings:
        """A validated copy with ``changes`` (``None`` values are ignored)."""
        unknown = set(changes) - {"pool_size", "reserve_normal", "reserve_high",
                                  "min_size", "max_size"}
        if unknown:
            raise TypeError(f"unknown pool setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


class Admission:
    """Queues and counts of one pool; every call under the owner's lock."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self.limits = settings.limits()
        # FIFO per priority. Canceled tasks stay in place as "ghosts" (status
        # CANCELED) and are dropped when they reach the head: cancel is O(1)
        # and each queue stays ordered by time_queued for the timeout scan.
        self.queues: dict[int, deque[Task]] = {p: deque() for p in PRIORITIES}
        self._ordered = [self.queues[p] for p in PRIORITIES]  # most urgent first
        # popped[p]: entries ever taken from the left of queues[p]; with it,
        # fired_upto holds absolute positions, so a pop costs one increment.
        self.popped = dict.fromkeys(PRIORITIES, 0)
        self.queued = dict.fromkeys(PRIORITIES, 0)
        self.delayed = dict.fromkeys(PRIORITIES, 0)
        self.running = dict.fromkeys(PRIORITIES, 0)
        self.active = 0  # == sum(running.values())
        # The started (running) tasks, in the order they started: the oldest
        # first (the longest-running, and the first past a run threshold).
        self.started_tasks: dict[Task, None] = {}
        self.submitted = 0
        self.started = 0
        self.completed = 0
        self.failed = 0
        self.canceled = 0
        # fired_upto[level][p] = n: the entries of queues[p] at absolute
        # positions below n (counted from the first ever filed) have been
        # checked for that timeout level (fired, or left the queue).
        self.fired_upto = {level: dict.fromkeys(PRIORITIES, 0) for level in TIMEOUT_LEVELS}

    def configure(self, settings: PoolSettings) -> None:
        self.settings = settings
        self.limits = settings.limits()

    # -- admission -------------------------------------------------------
    def may_start(self, priority: int) -> bool:
        limit = self.limits[priority]
        return limit is None or self.active < limit

    def head(self) -> Task | None:
        """The most urgent queued task, or ``None``; drops canceled ghosts."""
        for queue in self._ordered:
            while queue:
                task = queue[0]
                if task.status == TASK_STATUS_QUEUED:
                    return task
                self._popleft(task.priority)
        return None

    def is_blocked(self, priority: int) -> bool:
        """True if a task of ``priority`` must queue behind waiting tasks."""
        for p in PRIORITIES:
            if self.queued[p]:
                return True
            if p == priority:
                return False
        return False

    # -- transitions: called by the ledger only ------------------------------
    def count_delayed(self, task: Task) -> None:
        """A new task waits out its delay (no slot, no queue)."""
        self.submitted += 1
        self.delayed[task.priority] += 1

    def count_queued(self, task: Task, *, released: bool = False, file: bool = True) -> None:
        """A task enters the queue: a new one, or ``released`` from its delay.
        With ``file`` it joins its priority's FIFO; without, it is only
        counted (it starts at once, or its pool keeps its own queue)."""
        p = task.priority
        if released:
            self.delayed[p] -= 1
        else:
            self.submitted += 1
        self.queued[p] += 1
        if file:
            self.queues[p].append(task)

    def count_queued_many(self, tasks: list[Task]) -> None:
        """New tasks of one priority join its FIFO together, in order."""
        p = tasks[0].priority
        self.submitted += len(tasks)
        self.queued[p] += len(tasks)
        self.queues[p].extend(tasks)

    def count_started(self, task: Task, *, head: bool = False) -> None:
        """A queued task starts; ``head``: it is the one ``head()`` just returned."""
        p = task.priority
        if head:
            self._popleft(p)
        self.queued[p] -= 1
        self.running[p] += 1
        self.active += 1
        self.started += 1
        self.started_tasks[task] = None

    def finish(self, task: Task, status: int) -> None:
        """Count ``task`` leaving the pool with final ``status``."""
        p = task.priority
        previous = task.status
        if previous == TASK_STATUS_STARTED:
            self.running[p] -= 1
            self.active -= 1
            del self.started_tasks[task]
        elif previous == TASK_STATUS_QUEUED:
            self.queued[p] -= 1  # its ghost leaves the deque later
        elif previous == TASK_STATUS_DELAYED:
            self.delayed[p] -= 1
        if status == TASK_STATUS_COMPLETED:
            self.completed += 1
        elif status == TASK_STATUS_FAILED:
            self.failed += 1
        else:
            assert status == TASK_STATUS_CANCELED, status
            self.canceled += 1

    def _popleft(self, p: int) -> None:
        self.queues[p].popleft()
        self.popped[p] += 1

    # -- inspection -------------------------------------------------------
    def due_for_timeout(self, level: int, deadline: float, limit: int) -> list[Task]:
        """Queued tasks that entered their queue at or before ``deadline`` and
        have not been checked for ``level`` yet, at most ``limit`` of them
        (the rest are found by the next call); marks them checked."""
        due: list[Task] = []
        upto = self.fired_upto[level]
        for p in PRIORITIES:
            queue = self.queues[p]
            popped = self.popped[p]
            i = max(0, upto[p] - popped)
            for task in islice(queue, i, None):
                if task.time_queued > deadline or len(due) >= limit:
                    break
                if task.status == TASK_STATUS_QUEUED and not task.timeouts_fired & level:
                    task.timeouts_fired |= level
                    due.append(task)
                i += 1
            upto[p] = popped + i
        return due

    def due_for_run_timeout(self, level: int, deadline: float, limit: int,
                            due: list[Task]) -> float | None:
        """Append to ``due`` the running tasks started at or before
        ``deadline`` not yet fired for run ``level`` (at most ``limit`` in
        all), marking them; return the start time of the first one started
        after ``deadline`` (the next that can be due), ``None`` if none.
        O(tasks past the deadline): the scan stops at the first one not past it."""
        for task in self.started_tasks:
            if task.time_started > deadline:
                return task.time_started
            if not task.timeouts_fired & level:
                if len(due) >= limit:
                    return task.time_started
                task.timeouts_fired |= level
                due.append(task)
        return None

    def past(self, deadline: float) -> int:
        """How many running tasks started at or before ``deadline``."""
        n = 0
        for task in self.started_tasks:
            if task.time_started > deadline:
                break
            n += 1
        return n

    def oldest_unchecked(self, level: int) -> float | None:
        """``time_queued`` of the oldest queued task not yet checked for ``level``."""
        oldest = None
        for p in PRIORITIES:
            queue = self.queues[p]
            i = max(0, self.fired_upto[level][p] - self.popped[p])
            if i < len(queue):
                t = queue[i].time_queued
                if oldest is None or t < oldest:
                    oldest = t
        return oldest

    def drain_queued(self) -> list[Task]:
        """Remove and return every live queued task (for cancellation)."""
        tasks = []
        for p in PRIORITIES:
            queue = self.queues[p]
            tasks.extend(t for t in queue if t.status == TASK_STATUS_QUEUED)
            self.popped[p] += len(queue)
            queue.clear()
        return tasks
