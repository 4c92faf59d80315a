"""Aloops: asyncio loops in their own threads, managed by a supervisor.

``ALoop`` owns one loop and its thread (``supervisor_aloop_<name>`` for the
default supervisor, ``supervisor_<id>_aloop_<name>`` otherwise). Its
``background_task(coro)`` turns a coroutine into a supervisor ``Task`` of
type ``TT_COROUTINE`` (through the supervisor's ``Dispatcher``; the tasks
themselves are the ``CoroutinePool``'s, ``engine.coroutines``); ``run(coro)``
blocks the calling thread for the result (never from the aloop's own
thread, which would deadlock). Aloops are created by the supervisor's
registry (``engine.registry``), which hands each its collaborators.

Threads: every method may be called from any thread (``stop(wait=True)``
not from the aloop's own thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .loopthread import LoopThread
from .task import Task
from .usercode import UserExit, shielded
from .validate import check_flag, check_seconds, check_wait

if TYPE_CHECKING:
    from .coroutines import CoroutinePool
    from .dispatch import Dispatcher

log = logging.getLogger(__name__)
monotonic = time.monotonic

#: What a stop may take beyond its deadline: ``stop(wait=N)`` of an aloop
#: or a supervisor returns within N s plus this, whatever its loops do.
STOP_GRACE = 0.5
#: Of ``STOP_GRACE``, the seconds after the deadline by which every loop one
#: stop joins must have closed: one time shared by all of them (``close_by``),
#: so N blocked loops cost it once, not N times. The rest of ``STOP_GRACE`` is
#: for the bookkeeping after the joins and a loaded machine's slack. It is
#: more than ``loopthread.SHUTDOWN_GRACE``, what a closing loop gives the
#: tasks it cancels, so a loop whose tasks swallow their cancellation still
#: closes in time.
CLOSE_GRACE = 0.35


class ALoop:
    """An asyncio loop running in its own thread, managed by a supervisor.

    ``start``, ``stop``, ``run`` and ``background_task`` may be called from any
    thread; ``stop(wait=False)`` also from the aloop's own thread. Made by
    ``TaskSupervisor.create_aloop`` (``dispatcher`` and ``coroutines`` are the
    supervisor's parts, given by it).
    """

    def __init__(self, name: str, supervisor: Any, daemon: bool = False, *,
                 dispatcher: Dispatcher, coroutines: CoroutinePool) -> None:
        self.name = name
        self.daemon = daemon
        self.supervisor = supervisor
        self.thread_name = (f"supervisor_aloop_{name}" if supervisor.id == "default"
                            else f"supervisor_{supervisor.id}_aloop_{name}")
        self._dispatcher = dispatcher
        self._coroutines = coroutines
        # Guards _runner and _active against concurrent start/stop.
        self._state_lock = threading.Lock()
        self._runner: LoopThread | None = None
        self._active = False

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

    @property
    def runner(self) -> LoopThread | None:
        """The ``LoopThread`` of the current (or last) run; engine-internal."""
        return self._runner

    @property
    def tasks_pending(self) -> int:
        """Unfinished coroutine tasks on this aloop."""
        return self._coroutines.pending(self.get_loop())

    def start(self) -> None:
        """Start a new loop in a new thread; ``RuntimeError`` if it runs already."""
        with self._state_lock:
            if self._active:
                raise RuntimeError(f"aloop {self.name!r} is already running")
            runner = LoopThread(self.thread_name, daemon=self.daemon,
                                on_closed=self._coroutines.end_orphans)
            try:  # refused by the OS or interrupted (Ctrl+C): nothing is left running
                runner.start()
                self._runner, self._active = runner, True
            except BaseException:
                if self._runner is not runner:
                    runner.request_stop()
                raise
        log.info("aloop %r started", self.name)

    def stop(self, wait: bool | float = True, cancel_tasks: bool = False) -> None:
        """Stop the loop: wait for its coroutine tasks (``True``, or at most N
        seconds; ``False``: not at all), cancel them first with ``cancel_tasks``;
        what is left is canceled. Returns within ``wait`` plus ``STOP_GRACE``
        seconds: a loop still blocked ``CLOSE_GRACE`` s after the deadline is
        logged and abandoned."""
        timeout = check_wait(wait)
        check_flag("cancel_tasks", cancel_tasks)
        deadline = None if timeout is None else monotonic() + timeout
        self.stop_until(deadline, cancel_tasks, join=True)

    def stop_until(self, deadline: float | None, cancel_tasks: bool, join: bool) -> bool:
        """``stop`` against a ``monotonic()`` deadline (``None``: no bound);
        with ``join``, wait for the thread until ``close_by(deadline)`` (no
        deadline: until it ends). ``True`` if the loop's thread has ended."""
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
        coroutines = self._coroutines
        if cancel_tasks:
            coroutines.cancel_on(loop)
        if waiting:
            for task in coroutines.tasks_on(loop):
                task.wait(remaining(deadline))
        coroutines.cancel_on(loop)
        runner.request_stop()
        if not join or runner.is_current():
            return False
        if not runner.join(None if deadline is None else remaining(close_by(deadline))):
            log.warning("aloop %r did not stop within %.2f s of its deadline: something "
                        "blocks its loop (a coroutine that does not await?); its thread is "
                        "abandoned", self.name, CLOSE_GRACE)
            return False
        log.info("aloop %r stopped", self.name)
        return True

    def background_task(self, coro: Coroutine, name: str | None = None,
                        priority: int | None = None) -> Task:
        """Run ``coro`` on this loop as a supervisor task; returns the ``Task``."""
        if not self._active:
            if asyncio.iscoroutine(coro):
                coro.close()
            raise RuntimeError(f"aloop {self.name!r} is not running")
        return self._dispatcher.submit_coroutine(coro, self.get_loop(), name=name,
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


def close_by(deadline: float | None) -> float:
    """The one ``monotonic()`` time by which the loops a stop with this
    ``deadline`` joins must have closed (no deadline: ``CLOSE_GRACE`` from
    now, the stop's tasks having all ended)."""
    return (monotonic() if deadline is None else deadline) + CLOSE_GRACE


def remaining(deadline: float | None, grace: float | None = None) -> float | None:
    """Seconds left until the ``monotonic()`` ``deadline`` (``None``: no
    bound), plus ``grace`` (which alone bounds a ``None`` deadline)."""
    if deadline is None:
        return grace
    return max(0.0, deadline - monotonic()) + (grace or 0.0)


__all__ = ["CLOSE_GRACE", "STOP_GRACE", "ALoop", "close_by", "remaining"]
