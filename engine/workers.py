"""Background workers: schedulers that keep generating tasks.

A worker is a scheduler (``async loop()`` + ``stop()``) registered with its
supervisor. Its ``loop()`` waits until the next execution is due -- after a
delay, at the next interval tick, when items are queued, when triggered --
then runs the executor (``run``) and repeats until stopped or until the
executor returns ``False``.

Where the executor runs:

* a plain function: as a thread task of the supervisor (priority
  ``priority``); ``loop()`` runs on the supervisor's main loop;
* a coroutine function: as a coroutine task on the worker's aloop (``loop=``,
  else the supervisor's default aloop, else the supervisor's main loop);
* a ``@staticmethod run``: in the multiprocessing pool, and its result is
  passed to ``process_result`` (it gets ``_name`` but not ``_worker``, which
  cannot leave the process).

Everything is event-driven, nothing polls: ``put_threadsafe`` and
``trigger_threadsafe`` wake an idle worker through its loop, and a queue
worker's thread task drains every item already queued before it goes back
to sleep, so a steady stream of items costs no loop round trip per item.
An interval worker schedules on absolute ticks, so it does not drift.

The executor receives ``_worker``, ``_name`` and ``o`` in its kwargs. An
exception goes to ``on_error(exc)`` (or is logged) and the worker goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .constants import TASK_NORMAL, TT_MP, TT_THREAD, check_priority
from .supervisor import TaskSupervisor, check_seconds

log = logging.getLogger(__name__)


def _default_supervisor() -> TaskSupervisor:
    from . import task_supervisor
    return task_supervisor


class BackgroundWorker:
    """Runs its executor over and over, ``delay`` seconds apart."""

    kind = "worker"

    def __init__(self, name: str | None = None, executor_func: Callable[..., Any] | None = None,
                 *, priority: int = TASK_NORMAL, loop: Any = None, delay: float | None = None,
                 delay_before: float | None = None, interval: float | None = None,
                 on_error: Callable[[BaseException], Any] | None = None, o: Any = None,
                 supervisor: TaskSupervisor | None = None) -> None:
        if executor_func is not None and not callable(executor_func):
            raise TypeError(f"worker executor must be callable, got {executor_func!r}")
        if on_error is not None and not callable(on_error):
            raise TypeError(f"on_error must be callable, got {on_error!r}")
        self._executor_func = executor_func
        self.name = name or getattr(executor_func, "__name__", None) or type(self).__name__
        self.priority = check_priority(priority)
        self.delay = check_seconds("delay", delay) if delay is not None else 0.0
        self.delay_before = (check_seconds("delay_before", delay_before)
                             if delay_before is not None else 0.0)
        self.interval = check_seconds("interval", interval, positive=True) \
            if interval is not None else None
        self.on_error = on_error
        self.o = o
        self.supervisor = supervisor
        self._loop_ref = loop
        # Guards _active, _future and the wake-up hand-shake state of subclasses.
        self._lock = threading.Lock()
        self._active = False
        self._future: concurrent.futures.Future | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None  # created on the worker's loop
        self._waiting = False  # loop() sleeps on _wake and wants a set() to go on
        self._args: tuple = ()
        self._kwargs: dict = {}
        self.runs = 0
        self._loop_runs = 0  # executions since the current loop() began
        self.errors = 0
        self.last_run: float | None = None  # time.time() of the last execution's end

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {'active' if self._active else 'stopped'}>"

    # -- the executor ------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The executor; override it or pass ``executor_func``."""
        if self._executor_func is None:
            raise NotImplementedError(f"{type(self).__name__} has no executor: override run() "
                                      f"or pass executor_func")
        return self._executor_func(*args, **kwargs)

    def process_result(self, result: Any) -> None:
        """Receives the result of a static ``run`` executed in the mp pool."""

    def _is_static_run(self) -> bool:
        return isinstance(inspect.getattr_static(type(self), "run"), staticmethod)

    def _is_async(self) -> bool:
        target = self._executor_func if self._executor_func is not None else self.run
        return inspect.iscoroutinefunction(target)

    # -- life cycle --------------------------------------------------------------
    def is_active(self) -> bool:
        return self._active

    def start(self, *args: Any, **kwargs: Any) -> None:
        """Start the worker; ``args``/``kwargs`` go to every execution.

        ``_priority``, ``_name``, ``_loop`` and ``_interval`` override the
        constructor's settings.
        """
        priority = kwargs.pop("_priority", None)
        name = kwargs.pop("_name", None)
        loop_ref = kwargs.pop("_loop", None)
        interval = kwargs.pop("_interval", None)
        if priority is not None:
            self.priority = check_priority(priority)
        if interval is not None:
            self.interval = check_seconds("_interval", interval, positive=True)
        if name is not None:
            self.name = str(name)
        if loop_ref is not None:
            self._loop_ref = loop_ref
        sup = self.supervisor or _default_supervisor()
        loop = self._resolve_loop(sup)
        self._wait_previous_loop()
        with self._lock:
            if self._active:
                raise RuntimeError(f"worker {self.name!r} is already running")
            self._active = True
            self._args, self._kwargs = args, kwargs
            self._loop = loop
            self._sup = sup
            self._loop_runs = 0
        try:
            future = sup.register_scheduler(self, loop=loop)
        except BaseException:
            self._active = False
            raise
        with self._lock:
            self._future = future
        log.info("worker %r started", self.name)

    def _wait_previous_loop(self) -> None:
        """A worker that just stopped (its executor returned False, or stop(wait=False))
        is inactive a moment before its loop() has returned: let it finish."""
        with self._lock:
            future, loop = self._future, self._loop
        if self._active or future is None or future.done():
            return
        if _on_loop(loop):
            raise RuntimeError(f"worker {self.name!r} is still winding down on this loop: "
                               f"start it again from elsewhere or later")
        try:
            future.result(timeout=10)
        except Exception:  # its failure was logged by the supervisor
            pass

    def _resolve_loop(self, sup: TaskSupervisor) -> asyncio.AbstractEventLoop:
        if self._is_async():
            if self._loop_ref is None and sup.get_aloop() is None:
                return sup._loop  # no aloop at all: the supervisor's own loop
            return sup._resolve_loop(self._loop_ref)
        return sup._loop  # sync executors are scheduled from the supervisor's loop

    def stop(self, wait: bool | float = True) -> None:
        """Stop after the current execution; ``wait`` for it (True or seconds)."""
        with self._lock:
            if not self._active:
                return
            self._active = False
            future, loop = self._future, self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._set_wake)
        if wait is not False and future is not None and not _on_loop(loop):
            timeout = None if wait is True else check_seconds("wait", wait)
            try:
                future.result(timeout)
            except Exception:  # its failure was logged by the supervisor
                pass
        log.info("worker %r stopped", self.name)

    def restart(self) -> None:
        """Stop (waiting for the current execution), then start with the same arguments."""
        self.stop()
        self.start(*self._args, **self._kwargs)

    # -- the scheduler protocol -----------------------------------------------------
    async def loop(self) -> None:
        """Run on the worker's loop until stopped (registered by ``start``)."""
        self._wake = asyncio.Event()
        try:
            if self.delay_before and not await self._sleep(self.delay_before):
                return
            while self._active:
                if not await self._wait_due():
                    return
                if await self._execute() is False:
                    log.info("worker %r: executor returned False, stopping", self.name)
                    return
        finally:
            with self._lock:
                self._active = False

    async def _wait_due(self) -> bool:
        """Wait until the next execution is due; ``False`` once stopped."""
        if self._loop_runs and self.delay:
            return await self._sleep(self.delay)
        await asyncio.sleep(0)  # let the loop breathe between back-to-back runs
        return self._active

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on stop; ``True`` while still active."""
        if seconds > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), seconds)
            except TimeoutError:
                pass
            self._wake.clear()
        return self._active

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _execute(self, *extra: Any) -> Any:
        """One execution: a thread, coroutine or mp task; ``False`` stops."""
        sup = self._sup
        args = self._args + extra
        try:
            if self._is_static_run():
                result = await self._submit(type(self).run, args,
                                            {**self._kwargs, "_name": self.name}, TT_MP)
                self.process_result(result)
            elif self._is_async():
                coro = self.run(*args, **self._executor_kwargs())
                result = await sup._submit_coroutine(coro, asyncio.get_running_loop(),
                                                     name=self.name, priority=self.priority)
            else:
                result = await self._submit(self.run, args, self._executor_kwargs())
        except Exception as exc:
            self._report(exc)
            result = None
        self.runs += 1
        self._loop_runs += 1
        self.last_run = time.time()
        return result

    def _submit(self, target: Callable[..., Any], args: tuple, kwargs: dict,
                tt: int = TT_THREAD) -> Any:
        """A task completed when ``target`` returns, named after the worker."""
        return self._sup._submit(target, args, kwargs, None, self.priority, None, tt, None,
                                 name=self.name, auto=True)

    def _executor_kwargs(self) -> dict:
        return {**self._kwargs, "_worker": self, "_name": self.name, "o": self.o}

    def _report(self, exc: BaseException) -> None:
        self.errors += 1
        if self.on_error is None:
            log.error("worker %r: executor failed", self.name, exc_info=exc)
            return
        try:
            self.on_error(exc)
        except Exception:
            log.exception("worker %r: on_error failed", self.name)


class BackgroundAsyncWorker(BackgroundWorker):
    """A ``BackgroundWorker`` whose executor is a coroutine, run on an aloop."""

    kind = "async"


class BackgroundIntervalWorker(BackgroundWorker):
    """Runs its executor every ``interval`` seconds, on absolute ticks (no drift).

    A run that overruns skips the ticks it missed instead of bunching up.
    """

    kind = "interval"

    def __init__(self, *args: Any, interval: float | None = None, **kwargs: Any) -> None:
        if interval is None:
            interval = kwargs.pop("delay", None)
        if interval is None:
            raise ValueError("BackgroundIntervalWorker needs interval= (seconds > 0)")
        super().__init__(*args, interval=interval, **kwargs)
        self._next_tick: float | None = None

    async def _wait_due(self) -> bool:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next_tick is None or not self._loop_runs:
            self._next_tick = now
        else:
            self._next_tick += self.interval
            if self._next_tick < now:  # overran: skip missed ticks
                missed = int((now - self._next_tick) / self.interval) + 1
                self._next_tick += missed * self.interval
        return await self._sleep(self._next_tick - now)


class _WakeableWorker(BackgroundWorker):
    """A worker that sleeps until another thread hands it work."""

    async def _sleep_until_woken(self, has_work: Callable[[], bool]) -> bool:
        while True:
            with self._lock:
                if not self._active:
                    return False
                if has_work():
                    self._waiting = False
                    return True
                self._waiting = True
                self._wake.clear()
            await self._wake.wait()

    def _wake_threadsafe(self) -> None:
        """Called with ``_lock`` held, after new work was recorded."""
        if self._waiting:
            self._waiting = False
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._set_wake)


class BackgroundEventWorker(_WakeableWorker):
    """Runs its executor once per trigger; triggers during a run coalesce into one more."""

    kind = "event"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._triggered = False

    def trigger_threadsafe(self) -> None:
        with self._lock:
            self._triggered = True
            self._wake_threadsafe()

    async def trigger(self) -> None:
        self.trigger_threadsafe()

    async def _wait_due(self) -> bool:
        if not await self._sleep_until_woken(lambda: self._triggered):
            return False
        self._triggered = False
        return True


class BackgroundQueueWorker(_WakeableWorker):
    """Runs its executor on each item put, in order, as soon as the previous one ends.

    The executor gets the item as its first argument.
    """

    kind = "queue"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._items: deque = deque()  # guarded by _lock

    def put_threadsafe(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
            self._wake_threadsafe()

    async def put(self, item: Any) -> None:
        self.put_threadsafe(item)

    @property
    def qsize(self) -> int:
        return len(self._items)

    async def _wait_due(self) -> bool:
        return await self._sleep_until_woken(lambda: bool(self._items))

    async def _execute(self, *extra: Any) -> Any:
        if self._is_static_run() or self._is_async():
            with self._lock:
                item = self._items.popleft()
            return await super()._execute(item)
        # A thread task drains what is queued: no loop round trip per item.
        try:
            result = await self._submit(self._drain, (), {})
        except Exception as exc:
            self._report(exc)
            result = None
        self._loop_runs += 1
        self.last_run = time.time()
        return result

    def _drain(self) -> bool | None:
        kwargs = self._executor_kwargs()
        run, items, lock = self.run, self._items, self._lock
        while self._active:
            with lock:
                if not items:
                    return None
                item = items.popleft()
            try:
                result = run(item, *self._args, **kwargs)
            except Exception as exc:
                self._report(exc)
                result = None
            self.runs += 1
            if result is False:
                return False
        return None


def background_worker(f: Callable[..., Any] | None = None, *, interval: float | None = None,
                      delay: float | None = None, delay_before: float | None = None,
                      q: bool = False, queue: bool = False, e: bool = False, event: bool = False,
                      priority: int = TASK_NORMAL, loop: Any = None, name: str | None = None,
                      on_error: Callable[[BaseException], Any] | None = None, o: Any = None,
                      supervisor: TaskSupervisor | None = None) -> Any:
    """Turn a function into a worker (not started: call ``.start()``).

    ``q``/``queue`` → queue worker, ``e``/``event`` → event worker,
    ``interval`` → interval worker, else a worker repeating every ``delay``.
    A coroutine function runs on an aloop.
    """
    if f is None:
        return lambda func: background_worker(
            func, interval=interval, delay=delay, delay_before=delay_before, q=q, queue=queue,
            e=e, event=event, priority=priority, loop=loop, name=name, on_error=on_error, o=o,
            supervisor=supervisor)
    common = dict(name=name, executor_func=f, priority=priority, loop=loop,
                  delay_before=delay_before, on_error=on_error, o=o, supervisor=supervisor)
    if q or queue:
        return BackgroundQueueWorker(delay=delay, **common)
    if e or event:
        return BackgroundEventWorker(delay=delay, **common)
    if interval is not None:
        return BackgroundIntervalWorker(interval=interval, **common)
    if inspect.iscoroutinefunction(f):
        return BackgroundAsyncWorker(delay=delay, **common)
    return BackgroundWorker(delay=delay, **common)


def _on_loop(loop: asyncio.AbstractEventLoop | None) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
