"""The ledger: a supervisor's book of tasks.

It owns the table of live (unfinished) tasks, the bounded history of
finished ones, the event ring and the queue-wait window, and it performs the
state changes every pool shares (queued, started, finished) so that a task's
fields, the pool counts and the events always change together.

Not thread-safe on its own: every ``*_locked`` method is called with the
supervisor's lock held, and returns the callbacks the caller must run after
releasing it (user code never runs under the lock).
"""

from __future__ import annotations

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
from .task import Task

Callback = Callable[[], Any]


class Ledger:
    def __init__(self, history: int = 2000, events: int = 20_000) -> None:
        self.tasks: dict[Any, Task] = {}
        self.history: OrderedDict[Any, Task] = OrderedDict()
        self.history_size = history
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
        history = self.history
        history[task.id] = task
        if len(history) > self.history_size:
            history.popitem(last=False)
        callbacks = task._done_callbacks
        task._done_callbacks = None
        if not self.tasks and self.drain_listeners:
            callbacks = (callbacks or []) + self.drain_listeners
            self.drain_listeners = []
        return callbacks


def run_callbacks(callbacks: list[Callback] | None, log: Any) -> None:
    """Run callbacks returned by a ``*_locked`` method; log, never raise."""
    if not callbacks:
        return
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a waiter's wake-up must not break the caller
            log.exception("task done callback %r failed", callback)
