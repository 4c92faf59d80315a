"""The ledger: a supervisor's book of tasks.

It owns the table of live (unfinished) tasks, the bounded history of
finished ones, the event ring and the queue-wait window, and it performs the
state changes every pool shares, each in ONE call that changes the task's
fields, its pool's counts (``Admission``) and the events together:

* ``delay_locked`` -- a new task waits out its delay;
* ``queue_locked`` -- a task enters its queue (new, or released from its
  delay; filed in the FIFO or only counted);
* ``start_locked`` -- a queued task starts;
* ``finish_locked`` -- a task ends COMPLETED, FAILED or CANCELED; the
  callbacks to run once the lock is released come back.

Not thread-safe on its own: every ``*_locked`` method, and every read of
``tasks``, ``history`` and ``events``, is made with the supervisor's lock
held; user code never runs under it (``run_callbacks`` runs, unlocked, what
``finish_locked`` returned).

**Memory: bounded by size, not only by count** (DESIGN rules 4 and 9). The
live table holds the unfinished tasks, nothing else. A finished task leaves
it at once; the ``History`` then keeps, for the last ``capacity`` (2,000)
finished tasks, a weak reference to the ``Task`` and a slim
``FinishedTask`` record (see ``engine.task``): id, name, type, priority,
status, times, a repr of the result of at most 200 characters and, for a
failure, the exception's type, message (<= 500) and traceback text
(<= 4,000) -- about 0.5 KB a task, 5 KB a failed one: at most about 10 MB
whatever the tasks return or raise. The results, exceptions, frames,
arguments, targets and callbacks stay alive only while somebody else holds
the ``Task``; ``get_task`` then returns that very ``Task``, and the record
once it is gone. The event ring (``engine.stats``) holds ids, names, types
and priorities only; the wait window floats.
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from collections.abc import Callable
from functools import partial
from types import FunctionType
from typing import Any

from .admission import Admission
from .constants import (
    STATUS_NAMES,
    TASK_STATUS_DELAYED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
)
from .stats import EventRing, WaitWindow
from .task import FinishedTask, Task, kept_of, kept_without_user_code, plain_fields
from .usercode import is_main_interrupt, log_contained

Callback = Callable[[], Any]
_ref = weakref.ref
_FUNCTION = FunctionType


class History:
    """The last ``capacity`` finished tasks, by id, oldest dropped first.

    Each entry is ``[weak reference to the Task, its plain fields, what its
    record keeps]`` (``engine.task``: ``plain_fields``, ``kept_of``); the
    third is ``None`` until the finishing thread has recorded it, or the
    ``FinishedTask`` once a reader built it. A ``FinishedTask`` is built
    only when somebody asks for one: the hot path stores two tuples.

    Like the rest of the ledger, read and written under the supervisor's
    lock, except the one store of a recording (``_record``, atomic).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: dict[Any, list] = {}
        # The entries, oldest first; one whose id was reused since (put_task
        # with a chosen id) is no longer in ``_entries`` and leaves silently.
        self._order: deque[list] = deque()

    def add_locked(self, task: Task) -> Callback | None:
        """Remember finished ``task``; return what the caller must run,
        unlocked, to record it (``None``: recorded already, no user code)."""
        entries = self._entries
        key = task.id
        target = task.target
        if (task.result is None and task.exception is None and task.callback is None
                and not task.args and not task.kwargs and type(target) is _FUNCTION
                and target.__closure__ is None):  # the commonest case, written out
            kept = (None, None, target, (), {}, None)
        else:
            kept = kept_without_user_code(task)
        # A reused id: the newest task is the one kept (assignment replaces it).
        entry = entries[key] = [_ref(task), plain_fields(task), kept]
        order = self._order
        order.append(entry)
        if len(order) > self.capacity:
            oldest = order.popleft()
            old_key = oldest[1][0]
            if entries.get(old_key) is oldest:
                del entries[old_key]
        return None if kept is not None else partial(_record, entry, task)

    def get(self, task_id: Any, default: Any = None) -> Task | FinishedTask | Any:
        """The ``Task`` while somebody holds it, else its record; ``default``
        if the history does not have it."""
        entry = self._entries.get(task_id)
        if entry is None:
            return default
        task = entry[0]()
        return task if task is not None else _record_of(entry)

    def record(self, task_id: Any) -> FinishedTask | None:
        """The frozen record of ``task_id``, never the ``Task`` itself."""
        entry = self._entries.get(task_id)
        return None if entry is None else _record_of(entry)

    def __len__(self) -> int:
        return len(self._entries)


def _record(entry: list, task: Task) -> None:
    """Record finished ``task`` in its history ``entry``: user code, unlocked,
    on the finishing thread, before the task's waiters wake. The store is one
    atomic item assignment; a reader meanwhile sees the fields only."""
    entry[2] = kept_of(task)


def _record_of(entry: list) -> FinishedTask:
    kept = entry[2]
    if type(kept) is FinishedTask:
        return kept
    record = FinishedTask(entry[1], kept)
    if kept is not None:  # complete: build it once
        entry[2] = record
    return record


class Ledger:
    """A supervisor's table, history, events and waits; see the module docstring."""

    def __init__(self, history: int = 2000, events: int = 20_000) -> None:
        self.tasks: dict[Any, Task] = {}
        self.history = History(history)
        self.events = EventRing(events)
        self.waits = WaitWindow()
        self._add_wait = self.waits.add_sample
        # One-shot callbacks run when the live table becomes empty.
        self.drain_listeners: list[Callback] = []

    def register_locked(self, task: Task) -> None:
        if task.id in self.tasks:
            raise ValueError(f"task id {task.id!r} is already in use by a live task")
        self.tasks[task.id] = task

    def delay_locked(self, admission: Admission, task: Task, now: float) -> None:
        """A new task waits ``task.delay`` seconds before it is queued."""
        admission.count_delayed(task)
        task.status = TASK_STATUS_DELAYED
        self.events.append(now, "delayed", task)

    def queue_locked(self, admission: Admission, task: Task, now: float, *,
                     released: bool = False, file: bool = True) -> None:
        """``task`` enters its queue: new, or ``released`` from its delay;
        ``file=False`` when it starts at once or its pool keeps its own queue."""
        admission.count_queued(task, released=released, file=file)
        task.status = TASK_STATUS_QUEUED
        task.time_queued = now
        self.events.append(now, "queued", task)

    def queue_many_locked(self, admission: Admission, tasks: list[Task], now: float) -> None:
        """New tasks of one priority enter their queue together, in order:
        ``queue_locked`` for each, in one call."""
        admission.count_queued_many(tasks)
        queued = TASK_STATUS_QUEUED
        for task in tasks:
            task.status = queued
            task.time_queued = now
        self.events.extend(now, "queued", tasks)

    def start_locked(self, admission: Admission, task: Task, now: float, *,
                     head: bool = False) -> None:
        """Queued ``task`` starts (``head``: it is its admission's queue head)."""
        admission.count_started(task, head=head)
        task.status = TASK_STATUS_STARTED
        task.time_started = now
        self.events.append(now, "started", task)
        self._add_wait((now, now - task.time_queued))

    def finish_locked(self, admission: Admission, task: Task, status: int, result: Any,
                      exception: BaseException | None, now: float) -> list[Callback] | None:
        """Give ``task`` its final ``status``; return callbacks to run unlocked."""
        admission.finish(task, status)
        task.status = status
        task.result = result
        task.exception = exception
        task.time_completed = now
        self.events.append(now, STATUS_NAMES[status], task)
        del self.tasks[task.id]
        # First, before the waiters wake: the record is completed (result
        # repr, exception text) by the finishing thread, once the lock is
        # released -- unless nothing of it is user code.
        record = self.history.add_locked(task)
        callbacks = task.done_callbacks
        task.done_callbacks = None  # released: the task keeps none of them
        if record is not None:
            callbacks = [record] if callbacks is None else [record, *callbacks]
        if not self.tasks and self.drain_listeners:
            callbacks = [*(callbacks or ()), *self.drain_listeners]
            self.drain_listeners = []
        return callbacks


_log = logging.getLogger("engine")


def run_callbacks(callbacks: list[Callback] | None, log: Any = _log) -> None:
    """Run callbacks returned by a ``*_locked`` method; what they raise is
    logged, and every one runs. Ctrl+C on the main thread (see
    ``engine.usercode``) is re-raised once all have run."""
    if not callbacks:
        return
    interrupt = None
    for callback in callbacks:
        try:
            callback()
        except BaseException as exc:  # noqa: BLE001 - a wake-up must not break the caller
            if is_main_interrupt(exc):
                interrupt = interrupt or exc
            else:
                log_contained(f"task done callback {callback!r}", exc, log)
    if interrupt is not None:
        raise interrupt
