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
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .admission import Admission
from .constants import (
    STATUS_NAMES,
    TASK_STATUS_DELAYED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
)
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
    """A supervisor's table, history, events and waits; see the module docstring."""

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

    def start_locked(self, admission: Admission, task: Task, now: float, *,
                     head: bool = False) -> None:
        """Queued ``task`` starts (``head``: it is its admission's queue head)."""
        admission.count_started(task, head=head)
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
        done = task.take_done_callbacks_locked()
        if done:
            callbacks += done
        if not self.tasks and self.drain_listeners:
            callbacks += self.drain_listeners
            self.drain_listeners = []
        return callbacks


_log = logging.getLogger("engine")


def run_callbacks(callbacks: list[Callback] | None, log: Any = _log) -> None:
    """Run callbacks returned by a ``*_locked`` method; log, never raise."""
    if not callbacks:
        return
    for callback in callbacks:
        try:
            callback()
        except BaseException as exc:  # noqa: BLE001 - a wake-up must not break the caller
            log_contained(f"task done callback {callback!r}", exc, log)
