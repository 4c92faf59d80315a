"""Observability: the task-event ring, the queue-wait window and snapshots.

``EventRing`` and ``WaitWindow`` are appended to on the hot path, so they
store plain tuples and floats; ``TaskEvent`` objects and percentiles are only
built when a viewer asks. Neither class is thread-safe: the supervisor calls
them while holding its lock (reads copy under the lock, then build outside).

``SupervisorStats`` / ``PoolStats`` are frozen snapshots: taking one costs
O(priorities + aloops + schedulers), never O(tasks). ``EventBatch``,
``TaskState`` and ``SchedulerStats`` are the frozen records a viewer reads
to reconcile what it shows (``event_batch``, ``live_tasks``, ``stats``).
"""

from __future__ import annotations

import bisect
import operator
from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple


class TaskEvent(NamedTuple):
    """One change in a task's life, as returned by ``events_since``.

    ``kind`` is one of queued, delayed, started, completed, failed, canceled,
    timeout_warning, timeout_critical.
    """

    seq: int
    time: float
    kind: str
    task_id: Any
    name: str
    tt: int
    priority: int


class EventRing:
    """The last ``capacity`` task events with strictly increasing ``seq``."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._ring: deque[tuple] = deque(maxlen=capacity)
        self._push = self._ring.append
        self.last_seq = 0

    def append(self, when: float, kind: str, task: Any) -> None:
        self.last_seq = seq = self.last_seq + 1
        self._push((seq, when, kind, task.id, task.name, task.tt, task.priority))

    def extend(self, when: float, kind: str, tasks: list) -> None:
        """One ``kind`` event per task, in order."""
        seq = self.last_seq
        self._ring.extend([(seq + i, when, kind, t.id, t.name, t.tt, t.priority)
                           for i, t in enumerate(tasks, 1)])
        self.last_seq = seq + len(tasks)

    @property
    def oldest_seq(self) -> int:
        """The seq of the oldest event held (``last_seq + 1`` when empty)."""
        ring = self._ring
        return ring[0][0] if ring else self.last_seq + 1

    def since(self, seq: int, limit: int | None) -> list[tuple]:
        """Raw events with ``seq`` greater than ``seq``, oldest first.

        Walks the events returned plus those between them and the nearer
        end of the ring: a reader that keeps up asks for the newest few,
        read from the newest end; one behind, from whichever end is nearer."""
        ring = self._ring
        if not ring:
            return []
        first = ring[0][0]
        skip = max(0, seq - first + 1)
        count = len(ring) - skip
        if limit is not None:
            count = min(count, limit)
        if count <= 0:
            return []
        return deque_range(ring, skip, skip + count)


def deque_range(items: deque, start: int, end: int) -> list:
    """``items[start:end]`` of a deque, walked from its nearer end (a deque
    has no slicing, and indexing one walks to the index each time)."""
    size = len(items)
    if size - end < start:  # nearer the newest end
        newest = list(islice(reversed(items), size - end, size - start))
        newest.reverse()
        return newest
    return list(islice(items, start, end))


@dataclass(frozen=True)
class EventBatch:
    """What ``event_batch`` returns: events after a sequence number, and the
    ring's bounds, so that a reader can tell when it missed some.

    ``events`` oldest first; ``oldest_seq`` the seq of the oldest event the
    ring still holds (``last_seq + 1`` when it holds none); ``last_seq`` the
    newest seq issued so far (0 before the first event).
    """

    events: list[TaskEvent]
    oldest_seq: int
    last_seq: int

    def lost_before(self, after_seq: int) -> int:
        """How many events after ``after_seq`` the ring dropped before this batch."""
        if after_seq >= self.last_seq:
            return 0
        return max(0, self.oldest_seq - after_seq - 1)


class TaskState(NamedTuple):
    """An unfinished task's plain fields at one instant (``live_tasks``)."""

    id: Any
    name: str
    tt: int
    priority: int
    status: int
    delay: float | None
    time_submitted: float | None
    time_queued: float | None
    time_started: float | None

    def is_started(self) -> bool:
        return self.time_started is not None

    def is_completed(self) -> bool:
        return False


@dataclass(frozen=True)
class SchedulerStats:
    """One registered scheduler or worker at one instant.

    ``kind`` in plain words ("interval worker", "async scheduler", ...);
    ``registered`` is False for a stopped worker the supervisor remembers;
    ``runs``, ``errors`` and ``last_run`` (``time.time()``) are ``None``
    where the object keeps no such counter.
    """

    name: str
    kind: str
    active: bool
    registered: bool = True  # False: a stopped worker, known so it can start again
    runs: int | None = None
    errors: int | None = None
    last_run: float | None = None


_WAIT = operator.itemgetter(1)


class WaitWindow:
    """Queue-wait samples of the last ``horizon`` seconds (at most ``capacity``)."""

    def __init__(self, horizon: float = 10.0, capacity: int = 4096) -> None:
        self.horizon = horizon
        self._samples: deque[tuple[float, float]] = deque(maxlen=capacity)

        self.add_sample = self._samples.append  # add_sample((when, wait)): the hot path

    def copy_locked(self) -> list[tuple[float, float]]:
        """The samples as they are, ``(when, wait)`` in time order: one copy
        in C, all that has to happen under the supervisor's lock."""
        return list(self._samples)

    def recent(self, samples: list[tuple[float, float]], now: float) -> list[float]:
        """The waits of ``samples`` (a ``copy_locked``) taken in the last
        ``horizon`` seconds: a binary search and a map, in C, without the lock."""
        first = bisect.bisect_left(samples, (now - self.horizon,))
        return list(map(_WAIT, islice(samples, first, None)))


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """(p50, p95, max) of ``samples``; zeros when empty."""
    if not samples:
        return 0.0, 0.0, 0.0
    ordered = sorted(samples)
    n = len(ordered)
    return ordered[(n - 1) // 2], ordered[min(n - 1, int(n * 0.95))], ordered[-1]


@dataclass(frozen=True)
class RunningTask:
    """The longest-running task of a pool: ``seconds`` it has been running."""

    id: Any
    name: str
    priority: int
    seconds: float


@dataclass(frozen=True)
class PoolStats:
    """Counts of one pool (thread or mp) at one instant.

    ``run_warnings`` / ``run_criticals`` count the running tasks past the
    supervisor's ``run_warning`` / ``run_critical`` (0 while a threshold is
    off); ``longest`` is the longest-running task, ``None`` when none runs.
    """

    running: dict[int, int]
    queued: dict[int, int]
    delayed: dict[int, int]
    limits: dict[int, int | None]
    pool_size: int
    reserve_normal: int
    reserve_high: int
    min_size: int
    max_size: int
    threads_alive: int
    threads_busy: int
    submitted: int
    started: int
    completed: int
    failed: int
    canceled: int
    run_warnings: int = 0
    run_criticals: int = 0
    longest: RunningTask | None = None

    @property
    def active(self) -> int:
        return sum(self.running.values())

    @property
    def pending(self) -> int:
        """Accepted and not finished: queued + delayed + running."""
        return sum(self.queued.values()) + sum(self.delayed.values()) + self.active

    def reconciles(self) -> bool:
        """The bookkeeping invariant: every accepted task is somewhere."""
        return self.submitted == self.completed + self.failed + self.canceled + self.pending


#: ``SupervisorStats.mp_pool_kind`` for the pools the engine knows by name.
MP_POOL_PROCESS = "ProcessPool"  # the engine's own (create_mp_pool)
MP_POOL_MULTIPROCESSING = "multiprocessing.Pool"
MP_POOL_REBUILDING = "rebuilding"  # a worker died: the pool is being replaced
MP_POOL_BROKEN = "broken"  # it broke too often: every mp task fails until one is set
MP_POOL_KINDS = (MP_POOL_PROCESS, MP_POOL_MULTIPROCESSING, MP_POOL_REBUILDING, MP_POOL_BROKEN)


@dataclass(frozen=True)
class SupervisorStats:
    """A snapshot of a supervisor, cheap enough to take 20 times a second."""

    supervisor_id: str
    time: float
    active: bool
    thread: PoolStats
    mp: PoolStats
    coroutine: PoolStats
    wait_p50: float
    wait_p95: float
    wait_max: float
    poll_delay: float
    timeout_warning: float
    timeout_critical: float
    last_event_seq: int
    run_warning: float | None = None
    run_critical: float | None = None
    aloops: dict[str, bool] = field(default_factory=dict)  # name → running
    aloop_tasks: dict[str, int] = field(default_factory=dict)  # name → unfinished tasks
    schedulers: dict[str, bool] = field(default_factory=dict)  # name → active
    default_aloop: str | None = None
    scheduler_info: dict[str, SchedulerStats] = field(default_factory=dict)  # name → stats
    # What runs mp tasks: None while there is no process pool (one is created
    # for the first mp task of an active supervisor, or by set_mp_pool /
    # create_mp_pool), else one of MP_POOL_KINDS' words or an executor's
    # class name (e.g. "ProcessPoolExecutor").
    mp_pool_kind: str | None = None

    @property
    def has_mp_pool(self) -> bool:
        """A process pool exists (broken or being rebuilt counts: its settings hold)."""
        return self.mp_pool_kind is not None


@dataclass(frozen=True)
class SupervisorInfo:
    """What ``get_info()`` returns: active task counts and settings.

    As the original library's: ``id`` (= ``supervisor_id``), ``started``
    (= ``active``: a supervisor accepts tasks from its start to its stop),
    the running tasks' ids ``thread_tasks`` / ``mp_tasks`` and every
    unfinished task by id in ``tasks`` (``None`` when ``get_info(tt=False)``
    asked for counts only), the process pool's ``mp_pool_size`` /
    ``mp_reserve_normal`` / ``mp_reserve_high`` (``None`` without one).
    ``aloops`` and ``schedulers`` are names (``get_aloops()`` and
    ``get_schedulers()`` give the objects).
    """

    supervisor_id: str
    active: bool
    thread_tasks_count: int
    mp_tasks_count: int
    thread_pool_size: int
    thread_reserve_normal: int
    thread_reserve_high: int
    thread_min_size: int
    thread_max_size: int
    threads_alive: int
    poll_delay: float
    aloops: tuple[str, ...] = ()
    schedulers: tuple[str, ...] = ()
    thread_tasks: list[Any] | None = None
    mp_tasks: list[Any] | None = None
    tasks: dict[Any, Any] | None = None
    mp_pool_size: int | None = None
    mp_reserve_normal: int | None = None
    mp_reserve_high: int | None = None

    @property
    def id(self) -> str:
        return self.supervisor_id

    @property
    def started(self) -> bool:
        return self.active
