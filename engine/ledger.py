"""The ledger: a supervisor's book of tasks.

It owns the table of live (unfinished) tasks, the bounded history of
finished ones, the event ring and the queue-wait window, and it performs the
state changes every pool shares (queued, started, finished) so that a task's
fields, the pool counts and the events always change together.

Not thread-safe on its own: every ``*_locked`` method is called with the
supervisor's lock held, and returns the callbacks the caller must run after
releasing it (user code never runs under the lock). ``History.get`` is also
called under that lock (by ``get_task``).

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

import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .constants import (
    STATUS_NAMES,
    TASK_STATUS_DELAYED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
)
from .pool import Admission
from .stats import EventRing, WaitWindow
from .task import FinishedTask, Task
from .usercode import log_contained

Callback = Callable[[], Any]


class History:
    """The last ``capacity`` finished tasks, by id: a weak reference to each
    ``Task`` and its ``FinishedTask`` record (oldest dropped first).

    Like the rest of the ledger, read and written under the supervisor's lock.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Any, tuple[weakref.ref, FinishedTask]] = OrderedDict()

    def add_locked(self, task: Task) -> FinishedTask:
        """Remember finished ``task``; its record is filled by the caller, unlocked."""
        record = FinishedTask(task)
        entries = self._entries
        entries.pop(task.id, None)  # a reused id: the newest task is the one kept
        entries[task.id] = (weakref.ref(task), record)
        if len(entries) > self.capacity:
            entries.popitem(last=False)
        return record

    def get(self, task_id: Any, default: Any = None) -> Task | FinishedTask | Any:
        """The ``Task`` while somebody holds it, else its record; ``default``
        if the history does not have it."""
        entry = self._entries.get(task_id)
        if entry is None:
            return default
        task = entry[0]()
        return task if task is not None else entry[1]

    def record(self, task_id: Any) -> FinishedTask | None:
        """The frozen record of ``task_id``, never the ``Task`` itself."""
        entry = self._entries.get(task_id)
        return None if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self._entries)


class Ledger:
    def __init__(self, history: int = 2000, events: int = 20_000) -> None:
        self.tasks: dict[Any, Task] = {}
        self.history = History(history)
        self.events = EventRing(events)
        self.waits = WaitWindow()
        # One-shot callbacks run when the live table becomes empty.
        self.drain_listeners: list[Callback] = []

    def register_locked(self, task: Task) -> None:
        if task.id in self.tasks:
            raise ValueError(f"task id {task.id!r} is already in use by a live task")
        self.tasks[task.id] = task

    def delayed_locked(self, task: Task, now: float) -> None:
        task.status = TASK_STATUS_DELAYED
        self.events.append(now, "delayed", task)

    def queued_locked(self, task: Task, now: float) -> None:
        task.status = TASK_STATUS_QUEUED
        task.time_queued = now
        self.events.append(now, "queued", task)

    def started_locked(self, task: Task, now: float) -> None:
        task.status = TASK_STATUS_STARTED
        task.time_started = now
        self.events.append(now, "started", task)
        self.waits.add(now, now - task.time_queued)

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
        record = self.history.add_locked(task)
        # First, before the waiters wake: the record is filled (result repr,
        # exception text) by the finishing thread, once the lock is released.
        callbacks: list[Callback] = [record.fill]
        if task._done_callbacks:
            callbacks += task._done_callbacks
        task._done_callbacks = None
        if not self.tasks and self.drain_listeners:
            callbacks += self.drain_listeners
            self.drain_listeners = []
        return callbacks


def run_callbacks(callbacks: list[Callback] | None, log: Any) -> None:
    """Run callbacks returned by a ``*_locked`` method; log, never raise."""
    if not callbacks:
        return
    for callback in callbacks:
        try:
            callback()
        except BaseException as exc:  # noqa: BLE001 - a wake-up must not break the caller
            log_contained(f"task done callback {callback!r}", exc, log)
