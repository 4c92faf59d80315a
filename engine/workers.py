"""Background workers: schedulers that keep generating tasks.

This module holds ``BackgroundWorker``, the base every kind builds on, and
the checks they share; the kinds (async, interval, event, queue) and the
``background_worker`` decorator live in ``engine.worker_kinds``.

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

The executor receives ``_worker``, ``_name`` and ``o`` in its kwargs, and
a thread executor ``_task_id``, the id of the task that runs it.

**Hooks**, for subclasses: ``before_start()`` runs in the caller of
``start`` before anything changes (what it raises refuses the start),
``after_start()`` once the worker is registered, ``before_stop()`` and
``after_stop()`` around a ``stop``; what the last three raise is one error
of the worker (counted, logged), the start or stop goes on.

**The original library's arguments**: ``on_error_kwargs=`` calls
``on_error(**on_error_kwargs)`` instead of ``on_error(exc)``; ``daemon=`` and
``poll_delay=`` are accepted and do nothing here (nothing polls, and the
threads are the supervisor's), which a ``DeprecationWarning`` says.

**User code never takes the worker, its loop or the engine down** (DESIGN
rule 7, ``engine.usercode``). Whatever the executor, ``process_result`` or
``on_error`` raise -- any ``BaseException``: ``SystemExit``,
``KeyboardInterrupt``, ``GeneratorExit`` included -- is one error of the
worker: it is counted in ``errors``, passed to ``on_error(exc)`` (or logged
on the ``engine.workers`` logger with the worker's name) and the worker goes
on with its next execution. ``SystemExit`` from an executor is *not* a way
to stop a worker: return ``False`` (or call ``stop()``). An ``on_error``
that raises is logged and counted too. The executor's own exception comes
from its task (the pool, the aloop or the mp child caught it there), so the
worker never re-raises it; a ``KeyboardInterrupt`` raised on the main thread
by user code the worker calls itself (``process_result``, ``on_error``,
when the supervisor's loop is the main thread's, as in the console) is
counted, reported, then handed to that loop so that Ctrl+C still reaches
the program.

**Arguments are checked first** (DESIGN rule 6): the constructor, ``start``,
``stop``, ``restart`` and the ``background_worker`` options check every
argument before changing anything, with a message naming the parameter and
the value; a refused call leaves the worker as it was (active, priority,
interval, name, loop, arguments).

**Stopping is bounded**: ``stop(wait=N)`` returns within about ``N`` seconds
whatever the executor does; an execution still running then is abandoned
(it finishes on its own, the worker does not run again) and logged with the
worker's name and its task. ``stop()`` from inside the worker's own
execution or loop does not wait (that would wait for itself).

Threads: ``start``, ``stop``, ``restart``, ``put_threadsafe`` and
``trigger_threadsafe`` may be called from any thread, ``put`` and
``trigger`` from any running asyncio loop; ``loop()`` runs on the worker's
loop, a thread executor (and a queue worker's drain) on a pool thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from .aloop import ALoop
from .constants import (
    TASK_NORMAL,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TT_MP,
    TT_THREAD,
    check_priority,
)
from .default import task_supervisor
from .loopthread import running_on
from .supervisor import TaskSupervisor
from .task import Task, TaskCanceledError
from .usercode import call_user, is_main_interrupt, log_contained, safe_repr
from .validate import check_callable, check_seconds, check_wait

log = logging.getLogger(__name__)

#: The longest worker name accepted (it is shown in stats, logs and the console).
MAX_NAME_LENGTH = 200
#: Seconds ``start()`` waits for the previous run's ``loop()`` to return after
#: a stop (it normally takes one loop iteration); longer means an execution
#: abandoned by ``stop(wait=False)`` or ``stop(wait=N)`` is still running.
PREVIOUS_RUN_GRACE = 2.0
#: Keyword arguments the worker itself gives its executor.
_RESERVED_KWARGS = ("_worker", "o", "_task_id")
_START_OPTIONS = ("_priority", "_name", "_loop", "_interval", "_delay_before")
#: What ``_attempt`` returns when the supervisor, stopping, refused an execution.
STOPPING = object()


def _default_supervisor() -> TaskSupervisor:
    return task_supervisor


# -- argument checks (pure, any thread) ---------------------------------------------------------
def check_name(value: object, name: str = "name") -> str:
    """``value`` if it is a non-empty string of at most ``MAX_NAME_LENGTH`` characters."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {safe_repr(value)}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{name} must be at most {MAX_NAME_LENGTH} characters, got "
                         f"{len(value)}: {safe_repr(value, 60)}")
    return value


def check_loop_ref(value: object, name: str = "loop") -> Any:
    """``value`` if it can name a loop: ``None``, an aloop name, an ``ALoop`` or an asyncio loop."""
    if value is None or isinstance(value, (ALoop, asyncio.AbstractEventLoop)):
        return value
    if isinstance(value, str):
        return check_name(value, name)
    raise TypeError(f"{name} must be an aloop name, an ALoop or an asyncio loop, "
                    f"got {safe_repr(value)}")


def check_supervisor(value: object) -> TaskSupervisor | None:
    if value is not None and not isinstance(value, TaskSupervisor):
        raise TypeError(f"supervisor must be a TaskSupervisor, got {safe_repr(value)}")
    return value


def optional_seconds(name: str, value: object, positive: bool = False) -> float | None:
    return None if value is None else check_seconds(name, value, positive=positive)


class BackgroundWorker:
    """Runs its executor over and over, ``delay`` seconds apart.

    ``executor_func`` is the executor (else override ``run``); ``delay_before``
    seconds pass before the first execution; ``on_error``, ``on_error_kwargs``,
    ``daemon`` and ``poll_delay``: see the module docstring.

    Public counters: ``runs`` (executions that ended), ``errors`` (exceptions
    raised by its user code: executor, ``process_result``, ``on_error``) and
    ``last_run`` (``time.time()`` of the last execution's end).
    """

    kind = "worker"

    def __init__(self, name: str | None = None, executor_func: Callable[..., Any] | None = None,
                 *, priority: int = TASK_NORMAL, loop: Any = None, delay: float | None = None,
                 delay_before: float | None = None, interval: float | None = None,
                 on_error: Callable[[BaseException], Any] | None = None, o: Any = None,
                 supervisor: TaskSupervisor | None = None,
                 on_error_kwargs: dict | None = None, daemon: Any = None,
                 poll_delay: float | None = None) -> None:
        check_callable("executor_func", executor_func)
        if on_error_kwargs is not None:
            if not isinstance(on_error_kwargs, dict):
                raise TypeError(f"on_error_kwargs must be a dict, got {on_error_kwargs!r}")
            if on_error is None:
                raise TypeError("on_error_kwargs= needs on_error= (the function that gets them)")
        if poll_delay is not None:
            check_seconds("poll_delay", poll_delay)
        if executor_func is None and _has_no_run(type(self)):
            raise TypeError(f"{type(self).__name__} needs an executor: pass executor_func= "
                            f"or override run()")
        if name is None:
            name = getattr(executor_func, "__name__", None) or type(self).__name__
        self.name = check_name(name)
        self.priority = check_priority(priority)
        self._loop_ref = check_loop_ref(loop)
        self.delay = optional_seconds("delay", delay) or 0.0
        self.delay_before = optional_seconds("delay_before", delay_before) or 0.0
        self.interval = optional_seconds("interval", interval, positive=True)
        check_callable("on_error", on_error)
        self.supervisor = check_supervisor(supervisor)
        self._executor_func = executor_func
        self.on_error = on_error
        self.on_error_kwargs = on_error_kwargs
        self.o = o
        for obsolete, value, why in (
                ("daemon", daemon, "a worker runs on the supervisor's loop and pool threads"),
                ("poll_delay", poll_delay, "workers wake on their events and never poll")):
            if value is not None:
                warnings.warn(f"{type(self).__name__}({obsolete}={value!r}) has no effect: "
                              f"{why}; remove the argument", DeprecationWarning, stacklevel=3)
        # Guards _active, _generation, _future, _loop, _sup, _args, _kwargs,
        # errors, the wake-up hand-shake (_waiting) and the work subclasses
        # record for the loop (queued items, triggers). Never held while user
        # code runs or while waiting.
        self._lock = threading.Lock()
        self._active = False
        self._generation = 0  # bumped by each start(); a loop() ends only its own run
        self._ended_generation = 0  # the last run whose loop() has finished its work
        self._future: concurrent.futures.Future | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sup: TaskSupervisor | None = None
        self._wake: asyncio.Event | None = None  # created on the worker's loop
        self._waiting = False  # loop() sleeps on _wake and wants a set() to go on
        self._args: tuple = ()
        self._kwargs: dict = {}
        # The execution in progress (written by loop() only): its task, and the
        # pool thread running a thread executor (so that stop() from there
        # does not wait for itself).
        self._current: Task | None = None
        self._exec_thread: int | None = None
        self.runs = 0
        self._loop_runs = 0  # executions since the current loop() began
        self.errors = 0
        self.last_run: float | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {'active' if self._active else 'stopped'}>"

    # -- the executor ------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The executor; override it or pass ``executor_func``."""
        return self._executor_func(*args, **kwargs)  # type: ignore[misc]

    def process_result(self, result: Any) -> None:
        """Receives the result of a static ``run`` executed in the mp pool."""

    def _is_static_run(self) -> bool:
        return isinstance(inspect.getattr_static(type(self), "run"), staticmethod)

    def _is_async(self) -> bool:
        target = self._executor_func if self._executor_func is not None else self.run
        return inspect.iscoroutinefunction(target)

    # -- hooks (override) ----------------------------------------------------------
    def before_start(self) -> None:
        """Called by ``start`` before anything changes; raising refuses the start."""

    def after_start(self) -> None:
        """Called by ``start`` once the worker runs."""

    def before_stop(self) -> None:
        """Called by ``stop`` before the worker is asked to stop."""

    def after_stop(self) -> None:
        """Called by ``stop`` once it has stopped (or ``stop`` stopped waiting)."""

    def _hook(self, name: str) -> None:
        """Run hook ``name``: what it raises is one error of the worker."""
        hook = getattr(self, name)
        ok, error = call_user(f"{name} of worker {self.name!r}", hook, logger=log)
        if not ok:
            with self._lock:
                self.errors += 1
            if is_main_interrupt(error):
                raise error

    # -- life cycle --------------------------------------------------------------
    def is_active(self) -> bool:
        return self._active

    def is_started(self) -> bool:
        """Started and not stopped since (its loop may not have begun yet)."""
        return self._active

    def is_stopped(self) -> bool:
        """Not active, and the loop of its last run (if any) has ended."""
        with self._lock:
            future, active = self._future, self._active
        return not active and (future is None or future.done() or
                               self._ended_generation == self._generation)

    def start(self, *args: Any, **kwargs: Any) -> None:
        """Start the worker; ``args``/``kwargs`` go to every execution.

        ``_priority``, ``_name``, ``_loop`` and ``_interval`` (interval
        workers only) override the constructor's settings from now on.
        Everything is checked before anything changes: a refused start leaves
        the worker as it was.
        """
        settings = self._check_start_kwargs(kwargs)
        self.before_start()
        sup = self.supervisor or _default_supervisor()
        if not sup.is_active():
            raise RuntimeError(f"supervisor {sup.id!r} is not active: start() it before "
                               f"starting worker {settings['name']!r}")
        loop = self._resolve_loop(sup, settings["_loop_ref"])
        self._wait_previous_loop()
        with self._lock:
            if self._active:
                raise RuntimeError(f"worker {self.name!r} is already running")
            previous = self._apply_locked(settings)
            self._active = True
            self._generation += 1
            self._args, self._kwargs = args, kwargs
            self._loop, self._sup = loop, sup
            self._loop_runs = 0
        try:
            future = sup.register_scheduler(self, loop=loop)
        except BaseException:
            with self._lock:
                self._active = False
                self._apply_locked(previous)
            raise
        with self._lock:
            self._future = future
        log.info("worker %r started", self.name)
        self._hook("after_start")

    def _check_start_kwargs(self, kwargs: dict) -> dict:
        """Take ``start``'s own options out of ``kwargs``; the settings they make."""
        options = {key: kwargs.pop(key) for key in _START_OPTIONS if key in kwargs}
        for key in _RESERVED_KWARGS:
            if key in kwargs:
                raise TypeError(f"start() got {key}={safe_repr(kwargs[key])}: {key!r} is given "
                                f"to the executor by the worker itself")
        return self._settings_with(options)

    def _settings_with(self, options: dict) -> dict:
        """The worker's settings with ``start``'s overrides, all checked."""
        settings = {"priority": self.priority, "name": self.name,
                    "_loop_ref": self._loop_ref, "interval": self.interval,
                    "delay_before": self.delay_before}
        if options.get("_delay_before") is not None:
            settings["delay_before"] = check_seconds("_delay_before", options["_delay_before"])
        if options.get("_priority") is not None:
            settings["priority"] = check_priority(options["_priority"])
        if options.get("_name") is not None:
            settings["name"] = check_name(options["_name"], "_name")
        if options.get("_loop") is not None:
            settings["_loop_ref"] = check_loop_ref(options["_loop"], "_loop")
        if options.get("_interval") is not None:
            if self.kind != "interval":
                raise TypeError(f"_interval={safe_repr(options['_interval'])}: only interval "
                                f"workers take _interval, {self.name!r} is a {self.kind} worker")
            settings["interval"] = check_seconds("_interval", options["_interval"],
                                                 positive=True)
        return settings

    def _apply_locked(self, settings: dict) -> dict:
        """Set ``settings``; return the ones they replaced."""
        previous = {key: getattr(self, key) for key in settings}
        for key, value in settings.items():
            setattr(self, key, value)
        return previous

    def _wait_previous_loop(self) -> None:
        """A worker that just stopped (its executor returned False, or
        ``stop(wait=False)``) is inactive a moment before its ``loop()`` has
        returned: let it finish, for at most ``PREVIOUS_RUN_GRACE`` seconds."""
        with self._lock:
            future, loop, active = self._future, self._loop, self._active
            wound_down = self._ended_generation == self._generation
        if active or wound_down or future is None or future.done():
            return
        if running_on(loop) or self._in_own_execution():
            raise RuntimeError(f"worker {self.name!r} is still winding down and this is its "
                               f"own loop or execution: start it again from elsewhere or later")
        done, _ = concurrent.futures.wait([future], PREVIOUS_RUN_GRACE)
        if not done:
            current = self._current
            raise RuntimeError(
                f"worker {self.name!r} cannot start: its previous execution"
                f"{'' if current is None else f' (task {current.id!r})'} is still running "
                f"after stop(); start it once that ends, or stop(wait=True) first")

    def _resolve_loop(self, sup: TaskSupervisor, loop_ref: Any) -> asyncio.AbstractEventLoop:
        if self._is_async():
            if loop_ref is None and sup.get_aloop() is None:
                return sup.dispatcher.loop  # no aloop at all: the supervisor's own loop
            return sup.registry.resolve_loop(loop_ref)
        return sup.dispatcher.loop  # sync executors are scheduled from the supervisor's loop

    def stop(self, wait: bool | float = True) -> None:
        """Stop after the current execution and wait for it: ``wait=True``
        without bound, ``wait=N`` at most ``N`` seconds (what is still running
        then is abandoned and logged), ``wait=False`` not at all.

        From inside the worker's own execution or loop it never waits.
        """
        timeout = check_wait(wait)
        if not self._active:
            return
        self._hook("before_stop")
        with self._lock:
            if not self._active:
                return
            self._active = False
            future, loop = self._future, self._loop
        call_soon_threadsafe(loop, self._set_wake)
        try:
            if (timeout != 0.0 and future is not None and not running_on(loop)
                    and not self._in_own_execution()):
                done, _ = concurrent.futures.wait([future], timeout)
                if not done:
                    self._log_abandoned(timeout)
                    return
            log.info("worker %r stopped", self.name)
        finally:
            self._hook("after_stop")

    def _log_abandoned(self, timeout: float | None) -> None:
        current = self._current
        what = ("its loop" if current is None
                else f"its execution, task {current.id!r} ({current.name})")
        log.warning("worker %r: stop(wait=%s) gave up after %.3g s; %s is still running and "
                    "is abandoned (the worker will not run again)", self.name, timeout, timeout,
                    what)

    def restart(self, *args: Any, wait: bool | float = True, **kwargs: Any) -> None:
        """``stop(wait)``, then ``start`` again: with ``args``/``kwargs`` if any
        are given (as ``start`` takes them), else with the last start's.

        Refused (``RuntimeError``, nothing changed) from inside the worker's
        own execution or loop while it runs: that stop would wait for itself.
        """
        check_wait(wait)
        with self._lock:
            active, loop = self._active, self._loop
        if active and (running_on(loop) or self._in_own_execution()):
            raise RuntimeError(f"worker {self.name!r} cannot restart from inside its own "
                               f"execution or loop: return False and start it from elsewhere")
        if args or kwargs:
            self._check_start_kwargs(dict(kwargs))
        self.stop(wait)
        if args or kwargs:
            self.start(*args, **kwargs)
        else:
            self.start(*self._args, **self._kwargs)

    def _in_own_execution(self) -> bool:
        return self._exec_thread == threading.get_ident()

    # -- the scheduler protocol -----------------------------------------------------
    async def loop(self) -> None:
        """Run on the worker's loop until stopped (registered by ``start``)."""
        generation = self._generation
        self._wake = asyncio.Event()
        try:
            if self.delay_before and not await self._sleep(self.delay_before):
                return
            while self._active:
                if not await self._wait_due():
                    return
                if await self._execute() is False:
                    if self._active:
                        log.info("worker %r: executor returned False, stopping", self.name)
                    return
        finally:
            self._loop_ended(generation)

    def _loop_ended(self, generation: int) -> None:
        """The end of run ``generation``'s ``loop()``: it leaves the registry
        itself, so that ``start()`` may register the worker again at once
        (before the supervisor hears that this loop's future is done)."""
        with self._lock:
            if self._generation != generation:
                return  # a newer run owns the state
            sup = self._sup
        try:
            sup.unregister_scheduler(self)
        except LookupError:  # already gone (the supervisor is stopping)
            pass
        with self._lock:
            if self._generation == generation:
                self._active = False
                self._ended_generation = generation

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
        value = await self._attempt(lambda: self._run_execution(self._args + extra))
        if value is STOPPING:
            return False
        self.runs += 1
        self._loop_runs += 1
        self.last_run = time.time()
        return value

    async def _attempt(self, execution: Callable[[], Awaitable[tuple[bool, Any]]]) -> Any:
        """The result of ``await execution()``; a failure is reported and
        gives ``None``; ``STOPPING`` if the stopping supervisor refused it."""
        try:
            ok, value = await execution()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - run() itself, or a refused submission
            if self._refused_by_stopping_supervisor(exc):
                return STOPPING
            ok, value = False, exc
        if not ok:
            self._report(value)
            return None
        return value

    async def _run_execution(self, args: tuple) -> tuple[bool, Any]:
        """Submit one execution and wait for it: ``(True, result)`` or
        ``(False, exception)``."""
        if self._is_static_run():
            ok, value = await self._await_task(self._submit(
                type(self).run, args, {**self._kwargs, "_name": self.name}, TT_MP))
            if ok:
                done, error = call_user(f"process_result of worker {self.name!r}",
                                        self.process_result, value, logger=log)
                if not done:
                    self._forward_main_interrupt(error)
                    return False, error
            return ok, value
        if self._is_async():
            coro = self.run(*args, **self._executor_kwargs())
            return await self._await_task(self._sup.dispatcher.submit_coroutine(
                coro, asyncio.get_running_loop(), name=self.name, priority=self.priority))
        return await self._await_task(self._submit(self._run_in_thread, args,
                                                   self._executor_kwargs()))

    def _run_in_thread(self, *args: Any, **kwargs: Any) -> Any:
        """A thread executor's task target: ``run``, with its thread recorded
        and its task's id as ``_task_id``."""
        self._exec_thread = threading.get_ident()
        task = self._sup.dispatcher.pools[TT_THREAD].current_task()
        try:
            return self.run(*args, _task_id=None if task is None else task.id, **kwargs)
        finally:
            self._exec_thread = None

    async def _await_task(self, task: Task) -> tuple[bool, Any]:
        """Wait for ``task`` without re-raising its exception on this loop."""
        self._current = task
        try:
            await task.finished()
        finally:
            self._current = None
        if task.status == TASK_STATUS_COMPLETED:
            return True, task.result
        if task.status == TASK_STATUS_FAILED:
            return False, task.exception
        return False, TaskCanceledError(f"execution task {task.id!r} of worker {self.name!r} "
                                        f"was canceled")

    def _refused_by_stopping_supervisor(self, exc: BaseException) -> bool:
        """A submission refused because the supervisor is stopping ends the worker quietly."""
        sup = self._sup
        if isinstance(exc, RuntimeError) and sup is not None and not sup.is_active():
            log.info("worker %r: supervisor %r is stopping, the worker stops", self.name, sup.id)
            return True
        return False

    def _submit(self, target: Callable[..., Any], args: tuple, kwargs: dict,
                tt: int = TT_THREAD) -> Task:
        """A task completed when ``target`` returns, named after the worker."""
        return self._sup.dispatcher.submit(target=target, args=args, kwargs=kwargs,
                                           priority=self.priority, tt=tt, name=self.name)

    def _executor_kwargs(self) -> dict:
        return {**self._kwargs, "_worker": self, "_name": self.name, "o": self.o}

    def _report(self, exc: BaseException) -> None:
        """One error of the worker's user code: count it, then ``on_error`` or log."""
        with self._lock:
            self.errors += 1
        if self.on_error is None:
            log_contained(f"the executor of worker {self.name!r}", exc, log)
            return
        if self.on_error_kwargs is not None:  # the original library's convention
            ok, error = call_user(f"on_error of worker {self.name!r}",
                                  functools.partial(self.on_error, **self.on_error_kwargs),
                                  logger=log)
        else:
            ok, error = call_user(f"on_error of worker {self.name!r}", self.on_error, exc,
                                  logger=log)
        if not ok:
            with self._lock:
                self.errors += 1
            self._forward_main_interrupt(error)

    def _forward_main_interrupt(self, exc: BaseException) -> None:
        """Ctrl+C raised on the main thread by user code this worker called:
        after the bookkeeping, raise it from a callback of the running loop,
        which asyncio lets out of ``run_forever`` to the program."""
        if not is_main_interrupt(exc):
            return
        try:
            asyncio.get_running_loop().call_soon(_raise, exc)
        except RuntimeError:  # no running loop on this thread: nobody to hand it to
            pass


def _raise(exc: BaseException) -> None:
    raise exc


def _has_no_run(cls: type) -> bool:
    return inspect.getattr_static(cls, "run") is BackgroundWorker.__dict__["run"]


def call_soon_threadsafe(loop: asyncio.AbstractEventLoop | None,
                         callback: Callable[[], Any]) -> None:
    """``loop.call_soon_threadsafe(callback)`` unless there is no loop, or it closed."""
    if loop is None:
        return
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # closed meanwhile: its loop() is gone, nothing to wake
        pass


# The kinds of worker live in engine.worker_kinds (imported last: they build on this).
from .worker_kinds import (  # noqa: E402
    BackgroundAsyncWorker,
    BackgroundEventWorker,
    BackgroundIntervalWorker,
    BackgroundQueueWorker,
    background_worker,
)

__all__ = ["MAX_NAME_LENGTH", "BackgroundAsyncWorker", "BackgroundEventWorker",
           "BackgroundIntervalWorker", "BackgroundQueueWorker", "BackgroundWorker",
           "STOPPING", "background_worker", "call_soon_threadsafe", "check_loop_ref", "check_name",
           "check_supervisor", "optional_seconds"]
