"""Coroutine tasks: the pool of ``TT_COROUTINE`` tasks, on any asyncio loop.

``CoroutinePool`` follows the pool protocol of ``engine.dispatch`` (action
``Schedule``). Coroutine tasks are never limited (a loop interleaves them),
so admission only counts them. A task is QUEUED until its wrapper starts
on its loop, STARTED while the coroutine runs, then COMPLETED, FAILED or
CANCELED. Its ``handle`` is a ``CoroutineHandle``: the loop it runs on and,
once started, its asyncio task.

It also owns what the rest of the engine does with coroutine tasks by
loop: the count of unfinished ones per loop (shown per aloop in the
stats), waiting for or canceling those of one loop (an aloop stopping), and
failing those whose loop was closed under them.

Threads: ``*_locked`` methods with the supervisor's lock held; the others
from any thread without it. The wrapper runs on the task's loop's thread
and takes the lock only to change the task's state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from typing import Any

from .admission import Admission, PoolSettings
from .constants import (
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
)
from .dispatch import Action, Schedule, close_coroutines
from .ledger import Callback, Ledger, run_callbacks
from .task import Task

log = logging.getLogger(__name__)
monotonic = time.monotonic


class CoroutineHandle:
    """A coroutine task's ``handle``: its ``loop`` and, once started, its
    asyncio ``task`` (both written under the supervisor's lock)."""

    __slots__ = ("loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: asyncio.Task | None = None


class CoroutinePool:
    """Counts and runs coroutine tasks.

    Guarded by ``lock`` (the supervisor's): ``admission``, ``_pending``
    (unfinished tasks per loop) and the tasks' handles.
    """

    def __init__(self, lock: threading.Lock, ledger: Ledger) -> None:
        self._lock = lock
        self._ledger = ledger
        self.admission = Admission(PoolSettings(0, 0, 0))  # unlimited
        self._pending: dict[asyncio.AbstractEventLoop, int] = {}

    # -- the pool protocol (with the lock held) ------------------------------------------
    @staticmethod
    def handle_for(loop: asyncio.AbstractEventLoop) -> CoroutineHandle:
        return CoroutineHandle(loop)

    def submit_locked(self, task: Task, now: float, actions: list[Action]) -> None:
        self._count_locked(task)
        self._ledger.queue_locked(self.admission, task, now, file=False)
        actions.append(Schedule(task))

    def submit_many_locked(self, tasks: list[Task], now: float,
                           actions: list[Action]) -> None:
        """``submit_locked`` for each (the pool protocol; batches are not
        offered for coroutines: each needs its own coroutine object)."""
        for task in tasks:
            self.submit_locked(task, now, actions)

    def release_locked(self, task: Task, now: float, actions: list[Action]) -> None:
        self._ledger.queue_locked(self.admission, task, now, released=True, file=False)
        actions.append(Schedule(task))

    def finish_locked(self, task: Task, status: int, result: Any,
                      exception: BaseException | None,
                      actions: list[Action]) -> list[Callback] | None:
        return self._ledger.finish_locked(self.admission, task, status, result, exception,
                                          monotonic())

    def _count_locked(self, task: Task) -> None:
        loop = task.handle.loop
        self._pending[loop] = self._pending.get(loop, 0) + 1
        task.add_done_callback_locked(functools.partial(self._uncount, loop))

    def _uncount(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            left = self._pending.pop(loop, 1) - 1
            if left:
                self._pending[loop] = left

    def pending_locked(self, loop: asyncio.AbstractEventLoop | None) -> int:
        """Unfinished coroutine tasks on ``loop``."""
        return self._pending.get(loop, 0) if loop is not None else 0

    def pending(self, loop: asyncio.AbstractEventLoop | None) -> int:
        """``pending_locked`` for callers that do not hold the lock."""
        with self._lock:
            return self.pending_locked(loop)

    # -- without the lock ---------------------------------------------------------------
    def run_actions(self, actions: list[Action]) -> None:
        """Carry out the ``Schedule`` actions: each task's wrapper on its loop."""
        for action in actions:
            task = action.task
            try:
                asyncio.run_coroutine_threadsafe(self._run(task), task.handle.loop)
            except RuntimeError as exc:  # the loop closed under us
                self._end(task, TASK_STATUS_FAILED, None,
                          RuntimeError(f"loop of coroutine task {task.id!r} is closed: {exc}"))

    async def _run(self, task: Task) -> None:
        coro = task.target
        with self._lock:
            if task.status != TASK_STATUS_QUEUED:  # canceled before it could start
                coro.close()
                return
            task.handle.task = asyncio.current_task()
            self._ledger.start_locked(self.admission, task, monotonic())
        try:
            result = await coro
        except asyncio.CancelledError:
            self._end(task, TASK_STATUS_CANCELED, None, None)
        except BaseException as exc:  # noqa: BLE001 - a task failure is data
            self._end(task, TASK_STATUS_FAILED, None, exc)
        else:
            self._end(task, TASK_STATUS_COMPLETED, result, None)

    def _end(self, task: Task, status: int, result: Any, exception: BaseException | None) -> None:
        with self._lock:
            if task.time_completed is not None:
                return
            callbacks = self.finish_locked(task, status, result, exception, [])
        run_callbacks(callbacks, log)

    # -- coroutine tasks by loop ---------------------------------------------------------
    def tasks_on(self, loop: asyncio.AbstractEventLoop) -> list[Task]:
        """The unfinished coroutine tasks on ``loop``."""
        with self._lock:
            return self._on_locked(loop)

    def _on_locked(self, loop: asyncio.AbstractEventLoop) -> list[Task]:
        return [t for t in self._ledger.tasks.values()
                if t.tt == TT_COROUTINE and t.handle.loop is loop]

    def cancel_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the coroutine tasks on ``loop``: queued ones at once, running
        ones through their asyncio task."""
        callbacks: list[Callback] = []
        with self._lock:
            tasks = self._on_locked(loop)
            unstarted = [t for t in tasks if t.status != TASK_STATUS_STARTED]
            for task in unstarted:
                callbacks += self._ledger.finish_locked(
                    self.admission, task, TASK_STATUS_CANCELED, None, None, monotonic()) or ()
        close_coroutines([t.target for t in unstarted])
        self.cancel_running([t for t in tasks if t.status == TASK_STATUS_STARTED])
        run_callbacks(callbacks, log)

    def cancel_running(self, tasks: list[Task]) -> None:
        """Ask started coroutine tasks to cancel (they end CANCELED)."""
        for task in tasks:
            handle = task.handle
            if handle.task is not None and not handle.loop.is_closed():
                handle.loop.call_soon_threadsafe(handle.task.cancel)

    def end_orphans(self) -> None:
        """Coroutine tasks whose loop was closed under them can never end on
        their own: they fail now. (A loop's ``on_closed`` hook, and each stop.)"""
        callbacks: list[Callback] = []
        with self._lock:
            orphans = [t for t in self._ledger.tasks.values()
                       if t.tt == TT_COROUTINE and t.handle.loop.is_closed()]
            for task in orphans:
                error = RuntimeError(f"the loop of coroutine task {task.id!r} was closed "
                                     f"before it finished")
                callbacks += self._ledger.finish_locked(
                    self.admission, task, TASK_STATUS_FAILED, None, error, monotonic()) or ()
        for task in orphans:
            log.warning("supervisor %r: coroutine task %r (%s) failed: its loop was closed",
                        task.supervisor_id, task.id, task.name)
        run_callbacks(callbacks, log)


__all__ = ["CoroutineHandle", "CoroutinePool"]
