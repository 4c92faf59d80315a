"""Aloops: asyncio loops in their own threads, and coroutine tasks on them.

``ALoop`` owns one loop and its thread (``supervisor_aloop_<name>`` for the
default supervisor, ``supervisor_<id>_aloop_<name>`` otherwise). Its
``background_task(coro)`` turns a coroutine into a supervisor ``Task`` of
type ``TT_COROUTINE``; ``run(coro)`` blocks the calling thread for the
result (never from the aloop's own thread, which would deadlock).

``CoroutinePool`` does the bookkeeping of coroutine tasks for the
supervisor: they are never limited (a loop interleaves them), so admission
only counts them. A task is QUEUED until its wrapper starts on the loop,
STARTED while the coroutine runs, then COMPLETED, FAILED or CANCELED. The
wrapper runs on the target loop's thread and takes the supervisor's lock
only to change the task's state.

A task's ``_handle`` is ``[loop, asyncio_task_or_None]``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .constants import (
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
)
from .ledger import Ledger, run_callbacks
from .loopthread import LoopThread
from .pool import Admission, PoolSettings
from .task import Task
from .usercode import UserExit, shielded
from .validate import check_flag, check_seconds, check_wait

if TYPE_CHECKING:
    from .supervisor import TaskSupervisor

log = logging.getLogger(__name__)
monotonic = time.monotonic

#: Seconds a stop gives a loop to close once its deadline has passed.
STOP_GRACE = 0.5


class CoroutinePool:
    """Counts and runs coroutine tasks; every ``*_locked`` call under the lock."""

    def __init__(self, lock: threading.Lock, ledger: Ledger) -> None:
        self._lock = lock
        self._ledger = ledger
        self.admission = Admission(PoolSettings(0, 0, 0))  # unlimited

    def submit_locked(self, task: Task, now: float, actions: list) -> None:
        self._ledger.queued_locked(task, now)
        self.admission.count_queued(task)
        actions.append(task)

    def enqueue_released_locked(self, task: Task, now: float, actions: list) -> None:
        self._ledger.queued_locked(task, now)
        self.admission.count_queued(task, from_delay=True)
        actions.append(task)

    def finish_locked(self, task: Task, status: int, result: Any,
                      exception: BaseException | None, actions: list) -> list | None:
        return self._ledger.finish_locked(self.admission, task, status, result, exception,
                                          monotonic())

    def run_actions(self, actions: list) -> None:
        """Schedule each task's wrapper on its loop."""
        for task in actions:
            loop = task._handle[0]
            try:
                asyncio.run_coroutine_threadsafe(self._run(task), loop)
            except RuntimeError as exc:  # the loop closed under us
                self._end(task, TASK_STATUS_FAILED, None,
                          RuntimeError(f"loop of coroutine task {task.id!r} is closed: {exc}"))

    def cancel_running(self, tasks: list[Task]) -> None:
        """Ask started coroutine tasks to cancel (they end CANCELED)."""
        for task in tasks:
            loop, atask = task._handle
            if atask is not None and not loop.is_closed():
                loop.call_soon_threadsafe(atask.cancel)

    async def _run(self, task: Task) -> None:
        coro = task.target
        with self._lock:
            if task.status != TASK_STATUS_QUEUED:  # canceled before it could start
                coro.close()
                return
            task._handle[1] = asyncio.current_task()
            self.admission.count_started(task)
            self._ledger.started_locked(task, monotonic())
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


class ALoop:
    """An asyncio loop running in its own thread, managed by a supervisor.

    ``start``, ``stop``, ``run`` and ``background_task`` may be called from any
    thread; ``stop(wait=False)`` also from the aloop's own thread.
    """

    def __init__(self, name: str, supervisor: TaskSupervisor, daemon: bool = False) -> None:
        self.name = name
        self.daemon = daemon
        self.supervisor = supervisor
        self.thread_name = (f"supervisor_aloop_{name}" if supervisor.id == "default"
                            else f"supervisor_{supervisor.id}_aloop_{name}")
        # Guards _runner and _active against concurrent start/stop.
        self._state_lock = threading.Lock()
        self._runner: LoopThread | None = None
        self._active = False
        # Coroutine tasks on this aloop; guarded by the supervisor's lock.
        self.tasks_pending = 0
        self.tasks_done = 0

    def __repr__(self) -> str:
        return f"<ALoop {self.name!r} {'active' if self._active else 'stopped'}>"

    def is_active(self) -> bool:
        return self._active

    def get_loop(self) -> asyncio.AbstractEventLoop | None:
        """The asyncio loop (``None`` before the first start)."""
        runner = self._runner
        return runner.loop if runner is not None else None

    @property
    def thread(self) -> threading.Thread | None:
        """The thread running the loop (``None`` before the first start)."""
        runner = self._runner
        return runner.thread if runner is not None else None

    def owns_current_thread(self) -> bool:
        runner = self._runner
        return runner is not None and runner.is_current()

    def start(self) -> None:
        """Start a new loop in a new thread; ``RuntimeError`` if it runs already."""
        with self._state_lock:
            if self._active:
                raise RuntimeError(f"aloop {self.name!r} is already running")
            runner = LoopThread(self.thread_name, daemon=self.daemon,
                                on_closed=self.supervisor._end_orphaned_coroutines)
            runner.start()  # if the OS refuses the thread, nothing has changed
            self._runner, self._active = runner, True
        log.info("aloop %r started", self.name)

    def stop(self, wait: bool | float = True, cancel_tasks: bool = False) -> None:
        """Stop the loop: wait for its coroutine tasks (``True``, or at most N
        seconds; ``False``: not at all), cancel them first with ``cancel_tasks``;
        what is left is canceled. Returns within ``wait`` plus ``STOP_GRACE``
        seconds: a loop still blocked then is logged and abandoned."""
        timeout = check_wait(wait)
        check_flag("cancel_tasks", cancel_tasks)
        deadline = None if timeout is None else monotonic() + timeout
        self.stop_until(deadline, cancel_tasks, join=True)

    def stop_until(self, deadline: float | None, cancel_tasks: bool, join: bool) -> bool:
        """``stop`` against a ``monotonic()`` deadline (``None``: no bound);
        with ``join``, wait for the thread until the deadline plus
        ``STOP_GRACE``. ``True`` if the loop's thread has ended."""
        waiting = deadline is None or deadline > monotonic()
        with self._state_lock:
            runner = self._runner
            if not self._active or runner is None:
                return True
            if runner.is_current() and waiting and not cancel_tasks:
                raise RuntimeError(f"aloop {self.name!r} cannot wait for itself: "
                                   f"stop(wait=False) from its own thread")
            self._active = False
        loop = runner.loop
        sup = self.supervisor
        if cancel_tasks:
            sup._cancel_coroutines(loop)
        if waiting:
            for task in sup._coroutine_tasks(loop):
                task.wait(remaining(deadline))
        sup._cancel_coroutines(loop)
        runner.request_stop()
        if not join or runner.is_current():
            return False
        grace = None if deadline is None else remaining(deadline) + STOP_GRACE
        if not runner.join(grace):
            log.warning("aloop %r did not stop within %.1f s: something blocks its loop "
                        "(a coroutine that does not await?); its thread is abandoned",
                        self.name, grace)
            return False
        log.info("aloop %r stopped", self.name)
        return True

    def _count_task_locked(self, task: Task) -> None:
        self.tasks_pending += 1
        task._add_done_callback_locked(self._task_finished)

    def _task_finished(self) -> None:
        with self.supervisor._lock:
            self.tasks_pending -= 1
            self.tasks_done += 1

    def background_task(self, coro: Coroutine, name: str | None = None,
                        priority: int | None = None) -> Task:
        """Run ``coro`` on this loop as a supervisor task; returns the ``Task``."""
        if not self._active:
            if asyncio.iscoroutine(coro):
                coro.close()
            raise RuntimeError(f"aloop {self.name!r} is not running")
        return self.supervisor._submit_coroutine(coro, self.get_loop(), name=name,
                                                 priority=priority)

    def run(self, coro: Coroutine, timeout: float | None = None) -> Any:
        """Run ``coro`` on this loop and block until its result (or its
        exception, re-raised here: ``SystemExit`` too, which never reaches the loop)."""
        if not asyncio.iscoroutine(coro):
            raise TypeError(f"ALoop.run expects a coroutine object, got {coro!r}")
        try:
            timeout = check_seconds("timeout", timeout, allow_none=True)
        except (TypeError, ValueError):
            coro.close()
            raise
        if self.owns_current_thread():
            coro.close()
            raise RuntimeError(f"ALoop.run() called from aloop {self.name!r}'s own thread "
                               f"would deadlock: 'await' the coroutine instead")
        loop = self.get_loop()
        if not self._active or loop is None:
            coro.close()
            raise RuntimeError(f"aloop {self.name!r} is not running")
        future = asyncio.run_coroutine_threadsafe(shielded(coro), loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"ALoop.run: no result within {timeout} s") from None
        except UserExit as exc:
            raise exc.original from None
        except BaseException:  # e.g. Ctrl+C while waiting: do not leave it running
            future.cancel()
            raise


def remaining(deadline: float | None, grace: float | None = None) -> float | None:
    """Seconds left until the ``monotonic()`` ``deadline`` (``None``: no
    bound), plus ``grace`` (which alone bounds a ``None`` deadline)."""
    if deadline is None:
        return grace
    return max(0.0, deadline - monotonic()) + (grace or 0.0)


__all__ = ["ALoop", "CoroutinePool"]
