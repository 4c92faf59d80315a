"""The ``Task`` object: one unit of work accepted by a supervisor.

A task's mutable fields (status, times, result, exception and its list of
done callbacks) are written only by its supervisor, under the supervisor's
lock, which the task shares (``Task._lock``). Readers on other threads may
read single fields at any time; ``wait()`` and ``await task`` take the lock to
register a wake-up, so a task that finishes concurrently is never missed.

Done callbacks run exactly once, after the supervisor releases its lock, on
the thread that finished the task.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from .constants import (
    FINAL_STATUSES,
    PRIORITY_NAMES,
    STATUS_NAMES,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_TYPE_NAMES,
)


class TaskCanceledError(concurrent.futures.CancelledError):
    """Raised when the outcome of a canceled task is asked for."""


class Task:
    """A task accepted by a :class:`~engine.TaskSupervisor`.

    Public read-only attributes: ``id``, ``name``, ``tt``, ``priority``,
    ``status``, ``time_submitted``, ``time_queued``, ``time_started``,
    ``time_completed`` (``time.monotonic()`` values or ``None``), ``result``,
    ``exception``, ``target``, ``args``, ``kwargs``, ``callback``, ``delay``.
    """

    __slots__ = (
        "id", "name", "tt", "priority", "status", "target", "args", "kwargs",
        "callback", "delay", "time_submitted", "time_queued", "time_started",
        "time_completed", "result", "exception", "supervisor_id",
        "_auto", "_lock", "_done_callbacks", "_timeouts_fired", "_handle",
        "__weakref__",
    )

    def __init__(self, task_id: Any, name: str, tt: int, priority: int,
                 target: Callable[..., Any] | None, args: tuple, kwargs: dict,
                 callback: Callable[[Any], Any] | None, delay: float | None,
                 auto: bool, lock: threading.Lock, supervisor_id: str) -> None:
        self.id = task_id
        self.name = name
        self.tt = tt
        self.priority = priority
        self.status: int | None = None
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.callback = callback
        self.delay = delay
        self.time_submitted: float | None = None
        self.time_queued: float | None = None
        self.time_started: float | None = None
        self.time_completed: float | None = None
        self.result: Any = None
        self.exception: BaseException | None = None
        self.supervisor_id = supervisor_id
        # True: the supervisor completes the task when its target returns.
        # False (put_task): the target holds its slot until mark_task_completed.
        self._auto = auto
        self._lock = lock
        self._done_callbacks: list[Callable[[], Any]] | None = None
        # Bit 1: timeout_warning fired, bit 2: timeout_critical fired.
        self._timeouts_fired = 0
        # Engine-private per-type handle (timer of a delayed task, future, ...).
        self._handle: Any = None

    # -- state -----------------------------------------------------------
    def is_started(self) -> bool:
        """True once the task has started (also when it has since finished)."""
        return self.time_started is not None

    def is_completed(self) -> bool:
        """True once the task has finished: completed, failed or canceled."""
        return self.status in FINAL_STATUSES

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the task finishes; ``False`` if ``timeout`` passed first."""
        with self._lock:
            if self.status in FINAL_STATUSES:
                return True
            event = threading.Event()
            self._add_done_callback_locked(event.set)
        return event.wait(timeout)

    def outcome(self) -> Any:
        """The result of a finished task; re-raise its exception if it failed.

        Raises :class:`TaskCanceledError` if it was canceled and
        ``RuntimeError`` if it has not finished yet.
        """
        status = self.status
        if status == TASK_STATUS_COMPLETED:
            return self.result
        if status == TASK_STATUS_FAILED:
            raise self.exception  # type: ignore[misc]
        if status == TASK_STATUS_CANCELED:
            raise TaskCanceledError(f"task {self.id!r} ({self.name}) was canceled")
        raise RuntimeError(f"task {self.id!r} ({self.name}) has not finished")

    def __await__(self):
        return self._wait_async().__await__()

    async def _wait_async(self) -> Any:
        await self._wait_finished()
        return self.outcome()

    async def _wait_finished(self) -> None:
        """Wait on the running loop until the task finishes; never raises its
        exception (the engine's own waiters, e.g. workers, read it as data)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.status in FINAL_STATUSES:
                return
            future = loop.create_future()

            def wake() -> None:
                try:
                    loop.call_soon_threadsafe(_resolve, future)
                except RuntimeError:  # that loop closed: nobody waits any more
                    pass

            self._add_done_callback_locked(wake)
        await future

    def _add_done_callback_locked(self, fn: Callable[[], Any]) -> None:
        if self._done_callbacks is None:
            self._done_callbacks = [fn]
        else:
            self._done_callbacks.append(fn)

    def __repr__(self) -> str:
        return (
            f"<Task {self.id!r} {self.name!r} {TASK_TYPE_NAMES.get(self.tt, self.tt)} "
            f"{PRIORITY_NAMES.get(self.priority, self.priority)} "
            f"{STATUS_NAMES.get(self.status, self.status)}>"
        )


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


__all__ = ["Task", "TaskCanceledError"]
