"""``TaskSupervisor``: the public face of the engine.

The supervisor owns one lock, the ledger of tasks, three pools (threads,
processes, coroutines), the registries of aloops and schedulers, and its
main asyncio loop. The loop owns time -- releasing delayed tasks, firing
queue timeouts, running async schedulers -- and never sits on the hot path:
submitting, starting and completing a task are decisions taken under the
lock by the thread that submits or completes (see ``threads.py``, ``mp.py``).

Headless, ``start()`` runs the loop in a thread named
``supervisor_<id>_event_loop`` (a ``LoopThread``); ``start(loop=...)`` uses a
loop the caller runs (the console passes its Qt loop); if the caller closes
it without ``astop()``, the supervisor notices and stops. Every public method
may be called from any thread; ``astop`` must be awaited on the supervisor's
loop.

The edges, as promised to users:

* User code never takes it down (``usercode``): targets, callbacks, timeout
  functions, schedulers and coroutines may raise anything.
* Every public call checks all its arguments before it changes anything
  (``validate``).
* ``stop()`` is bounded (``wait=N`` returns within N s plus ``STOP_GRACE``;
  what it abandons is logged by name), refused from the supervisor's own
  threads, and exception-safe: interrupted by Ctrl+C, it still ends
  stopped. Decisions taken under the lock (hand-offs, wake-ups) are carried
  out in ``finally`` blocks, so an interrupted caller never strands a task.
* A program exits when its main thread ends: supervisors still active are
  stopped with ``stop(wait=exit_wait)`` before Python joins non-daemon
  threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from .aloop import STOP_GRACE, ALoop, CoroutinePool, remaining
from .constants import (
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TASK_TYPES,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    check_priority,
)
from .inspection import Inspection, scheduler_name
from .ledger import Ledger, run_callbacks
from .loopthread import LoopThread
from .mp import MpPool, check_picklable
from .pool import CPU_COUNT, PoolSettings
from .task import Task
from .threads import ThreadPool
from .timeouts import QueueTimeouts
from .usercode import UserExit, call_user, log_contained, shielded
from .validate import check_callable, check_flag, check_seconds, check_task_id, check_wait

log = logging.getLogger(__name__)
monotonic = time.monotonic

_STOPPED, _STARTING, _ACTIVE, _STOPPING = "stopped", "starting", "active", "stopping"
_UNSET: Any = object()  # an argument not given


class TaskSupervisor(Inspection):
    """A prioritized thread pool with reserves, processes, aloops and schedulers."""

    def __init__(self, supervisor_id: str | None = None, pool_size: int | None = None,
                 reserve_normal: int = 5, reserve_high: int = 5, min_size: int | str = 0,
                 max_size: int | None = None, poll_delay: float = 0.1,
                 thread_idle_timeout: float = 30.0) -> None:
        if supervisor_id is not None and not isinstance(supervisor_id, str):
            raise TypeError(f"supervisor_id must be a string, got {supervisor_id!r}")
        self.id = supervisor_id if supervisor_id is not None else uuid.uuid4().hex[:8]
        settings = PoolSettings(
            pool_size=CPU_COUNT * 5 if pool_size is None else pool_size,
            reserve_normal=reserve_normal, reserve_high=reserve_high,
            min_size=min_size, max_size=max_size)
        self._poll_delay = check_seconds("poll_delay", poll_delay, positive=True)
        check_seconds("thread_idle_timeout", thread_idle_timeout, positive=True)
        # The supervisor's one lock. It guards: _state, _ledger (task table,
        # history, events, waits), every pool with its admission state,
        # _thread_settings, and every Task's mutable fields.
        self._lock = threading.Lock()
        self._state = _STOPPED
        self._ledger = Ledger()
        self._thread_settings = settings
        self._threads = ThreadPool(f"supervisor_{self.id}_pool_", self._lock, settings,
                                   self._ledger, idle_timeout=thread_idle_timeout)
        self._mp = MpPool(self._lock, self._ledger)
        self._coroutines = CoroutinePool(self._lock, self._ledger)
        self._pools = {TT_THREAD: self._threads, TT_MP: self._mp, TT_COROUTINE: self._coroutines}
        self._ids = itertools.count(1)
        # Guards the registries: _aloops, _default_aloop, _aloops_to_restart,
        # _schedulers, _seen_schedulers. Never held while a loop starts or
        # stops or a scheduler runs.
        self._registry_lock = threading.Lock()
        self._aloops: dict[str, ALoop] = {}
        self._default_aloop: ALoop | None = None
        self._aloops_to_restart: list[ALoop] = []
        self._schedulers: dict[Any, concurrent.futures.Future | None] = {}
        # Every scheduler ever registered, weakly (workers unregister when they
        # stop, and can be started again by name): see Inspection.
        self._seen_schedulers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Written only by start/stop, which _state serializes. _runner is
        # None when the loop is the caller's (start(loop=...)).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: LoopThread | None = None
        self._exit_wait: bool | float = 5.0
        self._stopped = threading.Event()
        self._stopped.set()
        # Touched only on the loop's thread.
        self._timeouts = QueueTimeouts(self._lock, self._ledger,
                                       (self._threads.admission, self._mp.admission),
                                       lambda: self._poll_delay)
        _SUPERVISORS.add(self)

    def __repr__(self) -> str:
        return f"<TaskSupervisor {self.id!r} {self._state}>"

    # -- settings ------------------------------------------------------------
    @property
    def poll_delay(self) -> float:
        return self._poll_delay

    @poll_delay.setter
    def poll_delay(self, value: float) -> None:
        self._poll_delay = check_seconds("poll_delay", value, positive=True)

    @property
    def timeout_warning(self) -> float | None:
        """Seconds a task may wait in a queue before a warning; ``None`` disables."""
        return self._timeouts.warning

    @timeout_warning.setter
    def timeout_warning(self, value: float | None) -> None:
        self._timeouts.warning = value

    @property
    def timeout_critical(self) -> float | None:
        """Seconds a task may wait in a queue before a critical alert; ``None`` disables."""
        return self._timeouts.critical

    @timeout_critical.setter
    def timeout_critical(self, value: float | None) -> None:
        self._timeouts.critical = value

    @property
    def timeout_warning_func(self) -> Callable[[Task], Any] | None:
        """Called with each task that passes ``timeout_warning`` (on the loop)."""
        return self._timeouts.warning_func

    @timeout_warning_func.setter
    def timeout_warning_func(self, func: Callable[[Task], Any] | None) -> None:
        check_callable("timeout_warning_func", func)
        self._timeouts.warning_func = func

    @property
    def timeout_critical_func(self) -> Callable[[Task], Any] | None:
        """Called with each task that passes ``timeout_critical`` (on the loop)."""
        return self._timeouts.critical_func

    @timeout_critical_func.setter
    def timeout_critical_func(self, func: Callable[[Task], Any] | None) -> None:
        check_callable("timeout_critical_func", func)
        self._timeouts.critical_func = func

    def set_timeouts(self, *, poll_delay: Any = _UNSET, timeout_warning: Any = _UNSET,
                     timeout_critical: Any = _UNSET, timeout_warning_func: Any = _UNSET,
                     timeout_critical_func: Any = _UNSET) -> None:
        """Set any subset of ``poll_delay``, the two queue timeouts and their
        functions at once: every given value is checked first, and nothing
        changes if one is refused (the error names it)."""
        given = {name: value for name, value in (
            ("poll_delay", poll_delay), ("timeout_warning", timeout_warning),
            ("timeout_critical", timeout_critical),
            ("timeout_warning_func", timeout_warning_func),
            ("timeout_critical_func", timeout_critical_func)) if value is not _UNSET}
        for name, value in given.items():
            if name == "poll_delay":
                given[name] = check_seconds(name, value, positive=True)
            elif name.endswith("_func"):
                check_callable(name, value)
            else:
                given[name] = check_seconds(name, value, allow_none=True)
        for name, value in given.items():  # checked: none of these raises
            setattr(self, name, value)

    def set_thread_pool(self, pool_size: int | None = None, reserve_normal: int | None = None,
                        reserve_high: int | None = None, min_size: int | str | None = None,
                        max_size: int | None = None) -> None:
        """Change any subset of the thread pool settings, at once, even while running.

        Growing admits waiting tasks immediately; shrinking never interrupts
        running tasks (the pool drains down to the new limits).
        """
        actions: list = []
        try:
            with self._lock:
                settings = self._thread_settings.updated(
                    pool_size=pool_size, reserve_normal=reserve_normal,
                    reserve_high=reserve_high, min_size=min_size, max_size=max_size)
                self._thread_settings = settings
                self._threads.configure_locked(settings, actions)
        finally:  # what the lock decided happens even if this thread is interrupted
            self._threads.run_actions(actions)
        log.info("thread pool set: pool_size=%s reserve_normal=%s reserve_high=%s "
                 "min_size=%s max_size=%s", settings.pool_size, settings.reserve_normal,
                 settings.reserve_high, settings.effective_min_size,
                 settings.effective_max_size)

    # -- the multiprocessing pool -------------------------------------------
    @property
    def mp_pool(self) -> Any:
        """The process pool: the engine's ``ProcessPool`` (``create_mp_pool``),
        or one the caller set -- a ``multiprocessing.Pool`` or any
        ``concurrent.futures.Executor`` -- or ``None``."""
        backend = self._mp.backend
        if backend is None:
            return None
        return getattr(backend, "pool", None) or getattr(backend, "executor", None)

    @mp_pool.setter
    def mp_pool(self, pool: Any) -> None:
        self._replace_mp_backend(None if pool is None else self._mp.wrap(pool, owned=False))

    def create_mp_pool(self, *args: Any, **kwargs: Any) -> Any:
        """Create (and own) the engine's process pool, a ``ProcessPool``.

        Arguments as for ``multiprocessing.Pool``: ``processes`` (default: CPU
        count), ``initializer``, ``initargs``, ``context`` (default: the
        engine's start method). With ``maxtasksperchild`` a
        ``multiprocessing.Pool`` is created instead (the engine's pool never
        recycles its workers). A pool it replaces, if ours, is terminated.
        """
        pool = self._mp.create_pool(*args, **kwargs)
        self._replace_mp_backend(self._mp.wrap(pool, owned=True))
        return pool

    def _replace_mp_backend(self, backend: Any) -> None:
        """Install ``backend``; a pool of ours that it replaces is terminated
        (its tasks in flight fail), one of the caller's keeps running."""
        previous = self._mp.set_backend(backend)
        if previous is not None:
            self._mp.retire(previous, terminate=previous.owned,
                            reason="the mp pool was replaced and terminated")

    def set_mp_pool(self, pool_size: int | None = None, reserve_normal: int | None = None,
                    reserve_high: int | None = None) -> None:
        """Set the mp admission limits, live; create a pool of
        pool_size + reserves processes if there is none."""
        actions: list = []
        with self._lock:
            settings = self._mp.admission.settings.updated(
                pool_size=pool_size, reserve_normal=reserve_normal, reserve_high=reserve_high)
            self._mp.admission.configure(settings)
            self._mp.dispatch_locked(actions)
            need_pool = self._mp.backend is None
        self._mp.run_actions(actions)
        if need_pool:
            size = settings.pool_size + settings.reserve_normal + settings.reserve_high
            self.create_mp_pool(processes=size or CPU_COUNT)

    # -- life cycle ----------------------------------------------------------
    @property
    def exit_wait(self) -> bool | float:
        """How a supervisor still active at interpreter exit is stopped:
        ``stop(wait=exit_wait)`` (seconds, ``True`` or ``False``; default 5 s).
        It runs once the main thread has ended, before non-daemon threads
        (aloops) are joined, so a script that forgets ``stop()`` still exits."""
        return self._exit_wait

    @exit_wait.setter
    def exit_wait(self, value: bool | float) -> None:
        check_wait(value, "exit_wait")
        self._exit_wait = value

    def is_active(self) -> bool:
        if self._state == _ACTIVE and self._loop_closed():
            self._stop_after_closed_loop()
        return self._state == _ACTIVE

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start accepting tasks; run the main loop in a thread, or on ``loop``."""
        if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"loop must be an asyncio event loop, got {loop!r}")
        if loop is not None and loop.is_closed():
            raise ValueError(f"loop {loop!r} is closed")
        with self._lock:
            if self._state != _STOPPED:
                raise RuntimeError(f"supervisor {self.id!r} is already {self._state}")
            self._state = _STARTING  # refuses tasks and a second start
        if self._runner is not None:  # left by a stop interrupted before it asked
            self._runner.request_stop()
            self._runner = None
        runner = None
        actions: list = []
        try:
            if loop is None:
                runner = LoopThread(f"supervisor_{self.id}_event_loop", daemon=True,
                                    on_closed=self._end_orphaned_coroutines)
                runner.start()
                loop = runner.loop
            with self._lock:
                self._loop, self._runner = loop, runner
                self._state = _ACTIVE
                self._mp.active = True
                self._stopped.clear()
                self._threads.reopen_locked(actions)
        except BaseException:  # refused thread, Ctrl+C: back to stopped, nothing left
            with self._lock:
                if self._state == _STARTING:
                    self._state = _STOPPED
            if runner is not None and self._runner is not runner:
                runner.request_stop()
            raise
        self._timeouts.attach(loop)
        self._threads.run_actions(actions)
        with self._registry_lock:
            restart, self._aloops_to_restart = self._aloops_to_restart, []
        for aloop in restart:
            if not aloop.is_active():  # an interrupted stop may have left it running
                aloop.start()
        log.info("supervisor %r started", self.id)

    def stop(self, wait: bool | float = True, stop_schedulers: bool = True,
             cancel_tasks: bool = False) -> None:
        """Stop accepting tasks, then wind down.

        ``stop_schedulers`` stops registered schedulers and workers first.
        ``wait=True`` waits for every accepted task; ``wait=<seconds>`` waits
        at most that long, then cancels what is still queued or delayed and
        abandons running threads (logged); ``wait=False`` cancels queued and
        delayed tasks and returns at once. ``cancel_tasks`` cancels queued and
        delayed tasks and pending coroutines first. Running threads are never
        killed. Aloops are stopped last.

        Bounded: with ``wait=N`` it returns within N s plus ``STOP_GRACE``
        whatever schedulers, coroutines and loops do; what it abandons is
        logged by name. Exception-safe: interrupted (Ctrl+C), it still ends
        stopped, so ``start()`` and ``stop()`` work again. From one of this
        supervisor's own threads (a task, a worker, an aloop, its loop) a
        waiting stop would wait for itself: ``RuntimeError`` at once
        (``wait=False`` is allowed there; on the loop, ``await astop()``).
        """
        deadline = self._check_stop(wait, stop_schedulers, cancel_tasks, asynchronous=False)
        if not self._begin_stop():
            if wait is not False:  # another caller is stopping it: wait for that
                self._stopped.wait(remaining(deadline))
            return
        interrupted = True
        try:
            for futures in self._stop_steps(deadline, stop_schedulers, cancel_tasks):
                concurrent.futures.wait(futures, remaining(deadline))
            interrupted = False
        finally:
            self._finish_stop(deadline, join=wait is not False and not interrupted)

    async def astop(self, wait: bool | float = True, stop_schedulers: bool = True,
                    cancel_tasks: bool = False) -> None:
        """``stop`` for the supervisor's own loop: waits without blocking it."""
        deadline = self._check_stop(wait, stop_schedulers, cancel_tasks, asynchronous=True)
        loop = asyncio.get_running_loop()
        if not self._begin_stop():
            if wait is not False:  # another caller is stopping it: wait for that
                await loop.run_in_executor(None, self._stopped.wait, remaining(deadline))
            return
        interrupted = True
        try:
            for futures in self._stop_steps(deadline, stop_schedulers, cancel_tasks):
                await asyncio.wait([asyncio.wrap_future(f) for f in futures],
                                   timeout=remaining(deadline))
            interrupted = False
        finally:
            join = wait is not False and not interrupted
            if join and self._runner is None:  # a host's loop (the console): keep it responsive
                await loop.run_in_executor(None, self._finish_stop, deadline, True)
            else:  # our own loop thread must not join itself; or no waiting
                self._finish_stop(deadline, join=False)

    def block(self) -> None:
        """Block the calling thread while the supervisor is active."""
        while not self._stopped.wait(self._poll_delay):
            pass

    def _check_stop(self, wait: object, stop_schedulers: object, cancel_tasks: object,
                    asynchronous: bool) -> float | None:
        """Validate the stop arguments and the calling thread; the deadline."""
        timeout = check_wait(wait)
        check_flag("stop_schedulers", stop_schedulers)
        check_flag("cancel_tasks", cancel_tasks)
        if asynchronous:
            if not self._on_own_loop():
                raise RuntimeError(f"astop() must be awaited on supervisor {self.id!r}'s own "
                                   f"loop; elsewhere call stop()")
        elif wait is not False:
            inside = self._own_thread()
            if inside:
                raise RuntimeError(f"stop(wait={wait!r}) called from {inside} of supervisor "
                                   f"{self.id!r} would wait for itself: call it from another "
                                   f"thread, use stop(wait=False), or 'await astop()' on the "
                                   f"supervisor's loop")
        return None if timeout is None else monotonic() + timeout

    def _own_thread(self) -> str | None:
        """What of this supervisor runs the calling thread, if anything."""
        if self._on_own_loop() or (self._runner is not None and self._runner.is_current()):
            return "the main loop"
        if self._threads.owns_current_thread():
            return "a task thread"
        with self._registry_lock:
            aloops = list(self._aloops.values())
        for aloop in aloops:
            if aloop.owns_current_thread():
                return f"aloop {aloop.name!r}"
        return None

    def _on_own_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _loop_closed(self) -> bool:
        loop = self._loop
        return loop is not None and loop.is_closed()

    def _stop_after_closed_loop(self) -> None:
        """The host's loop was closed without ``astop()``: stop without it."""
        if self._begin_stop():
            log.warning("supervisor %r: its loop was closed without stop(); stopping", self.id)
            self._finish_stop(monotonic(), join=False)

    def _begin_stop(self) -> bool:
        with self._lock:
            if self._state != _ACTIVE:
                return False
            self._state = _STOPPING
        log.info("supervisor %r stopping", self.id)
        return True

    def _stop_steps(self, deadline: float | None, stop_schedulers: bool,
                    cancel_tasks: bool) -> Iterator[list[concurrent.futures.Future]]:
        """The stop sequence shared by ``stop`` and ``astop``: yields the
        futures to wait for until ``deadline`` at each step."""
        waiting = deadline is None or deadline > monotonic()
        if stop_schedulers:
            stopping = self._stop_schedulers()
            if waiting and stopping:
                yield [f for _, f in stopping]
            self._abandon_schedulers(stopping)
        self._end_orphaned_coroutines()
        if cancel_tasks or not waiting:
            self._cancel_pending(coroutines=cancel_tasks)
        if waiting:
            drained: concurrent.futures.Future = concurrent.futures.Future()
            if not self._add_drain_listener(lambda: drained.done() or drained.set_result(None)):
                yield [drained]

    def _add_drain_listener(self, callback: Callable[[], Any]) -> bool:
        """Call ``callback`` once no task is left; ``True`` if none is left now."""
        with self._lock:
            if not self._ledger.tasks:
                return True
            self._ledger.drain_listeners.append(callback)
            return False

    def _cancel_pending(self, coroutines: bool) -> None:
        """Cancel every queued and delayed task (and running coroutines)."""
        callbacks: list = []
        now = monotonic()
        try:
            with self._lock:
                ledger = self._ledger
                doomed = [(self._threads, t) for t in self._threads.admission.drain_queued()]
                doomed += [(self._mp, t) for t in self._mp.admission.drain_queued()]
                doomed += [(self._pools[t.tt], t) for t in ledger.tasks.values()
                           if t.status == TASK_STATUS_DELAYED
                           or (t.tt == TT_COROUTINE and t.status == TASK_STATUS_QUEUED)]
                coros = [t.target for _, t in doomed if t.tt == TT_COROUTINE]
                for pool, task in doomed:
                    callbacks += ledger.finish_locked(
                        pool.admission, task, TASK_STATUS_CANCELED, None, None, now) or ()
                running = [t for t in ledger.tasks.values()
                           if coroutines and t.tt == TT_COROUTINE]
            _close_coroutines(coros)
            self._coroutines.cancel_running(running)
            if doomed:
                log.info("supervisor %r canceled %d queued or delayed task(s)", self.id,
                         len(doomed))
        finally:  # waiters are woken even if this thread is interrupted
            run_callbacks(callbacks, log)

    def _end_orphaned_coroutines(self) -> None:
        """Coroutine tasks whose loop was closed under them can never end on
        their own: they fail now."""
        callbacks: list = []
        with self._lock:
            orphans = [t for t in self._ledger.tasks.values()
                       if t.tt == TT_COROUTINE and t._handle[0].is_closed()]
            for task in orphans:
                error = RuntimeError(f"the loop of coroutine task {task.id!r} was closed "
                                     f"before it finished")
                callbacks += self._ledger.finish_locked(
                    self._coroutines.admission, task, TASK_STATUS_FAILED, None, error,
                    monotonic()) or ()
        for task in orphans:
            log.warning("supervisor %r: coroutine task %r (%s) failed: its loop was closed",
                        self.id, task.id, task.name)
        run_callbacks(callbacks, log)

    def _finish_stop(self, deadline: float | None, join: bool) -> None:
        """The last step of every stop: whatever happens, it ends STOPPED.

        With ``join``, loops get until ``deadline`` plus ``STOP_GRACE`` to end
        (``deadline=None``: ``STOP_GRACE`` once every task has ended). Each
        step runs even if an earlier one was interrupted (a second Ctrl+C):
        the first interruption is re-raised once all of them have run.
        """
        steps = (self._end_orphaned_coroutines,
                 lambda: self._cancel_pending(coroutines=False),  # what a bounded wait left
                 self._close_threads,
                 self._close_mp,
                 lambda: self._stop_aloops(deadline, join),
                 lambda: self._stop_loop(deadline, join))
        interrupted: BaseException | None = None
        try:
            for step in steps:
                try:
                    step()
                except BaseException as exc:  # noqa: BLE001 - finish the others first
                    if interrupted is None:
                        interrupted = exc
        finally:
            with self._lock:
                self._state = _STOPPED
            self._stopped.set()
            log.info("supervisor %r stopped", self.id)
        if interrupted is not None:
            raise interrupted

    def _close_threads(self) -> None:
        actions: list = []
        with self._lock:
            self._state = _STOPPED
            self._ledger.drain_listeners = []
            self._threads.close_locked(actions)
            stuck = [t for t in self._ledger.tasks.values() if t.status == TASK_STATUS_STARTED]
        self._threads.run_actions(actions)
        for task in stuck:
            log.warning("supervisor %r stopped while task %r (%s) still runs; it is "
                        "abandoned", self.id, task.id, task.name)

    def _stop_loop(self, deadline: float | None, join: bool) -> None:
        """Stop the main loop if it is ours; the host's loop only loses its timer."""
        runner = self._runner
        if runner is not None:  # first: interrupted before this, start() asks again
            runner.request_stop()
        self._loop, self._runner = None, None
        self._timeouts.detach()
        if runner is not None:
            if join and not runner.join(remaining(deadline, STOP_GRACE)):
                log.warning("supervisor %r: its loop thread is still busy after the stop "
                            "(a callback blocks it); it is abandoned", self.id)

    def _close_mp(self) -> None:
        """Terminate our own process pool; tasks still in flight on it fail."""
        self._mp.active = False
        backend = self._mp.backend
        if backend is not None and backend.owned:
            self._mp.set_backend(None)
            self._mp.retire(backend, terminate=True,
                            reason="the supervisor stopped and terminated its mp pool")

    # -- submitting -----------------------------------------------------------
    def put_task(self, target: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                 callback: Callable[[Any], Any] | None = None, priority: int = TASK_NORMAL,
                 delay: float | None = None, tt: int = TT_THREAD, task_id: Any = None) -> Task:
        """Submit ``target``; it receives ``_task_id`` and holds its slot until
        ``mark_task_completed`` is called for it (or it raises).

        ``tt=TT_MP`` runs it in the process pool: ``callback`` gets the result.
        """
        if tt == TT_COROUTINE:
            raise ValueError("put_task cannot run coroutines: use ALoop.background_task() "
                             "or background_task() on a coroutine function")
        return self._submit(target, args, kwargs, callback, priority, delay, tt, task_id,
                            name=None, auto=False)

    def submit(self, target: Callable[..., Any], *args: Any, _priority: int = TASK_NORMAL,
               _delay: float | None = None, _name: str | None = None,
               _callback: Callable[[Any], Any] | None = None, _tt: int = TT_THREAD,
               **kwargs: Any) -> Task:
        """Run ``target(*args, **kwargs)`` as a task completed when it returns
        (``_tt=TT_MP``: in the process pool)."""
        return self._submit(target, args, kwargs, _callback, _priority, _delay, _tt,
                            None, name=_name, auto=True)

    def resubmit(self, task_id: Any) -> Task:
        """Submit a task again: a new task (new id) with the same target,
        arguments, callback, priority, type and delay, completed the same way
        (a ``put_task`` task again holds its slot until marked completed).

        ``task_id`` may be a live task or one the history still holds with
        its target (only small, plain targets and arguments are kept once
        nobody holds the task): else ``LookupError`` / ``ValueError``. A
        coroutine runs once: its task cannot be re-run (``ValueError``).
        """
        check_task_id(task_id)
        with self._lock:
            task = self._ledger.tasks.get(task_id) or self._ledger.history.get(task_id)
        if task is None:
            raise LookupError(f"no task with id {task_id!r}: it is neither live nor in the "
                              f"history any more")
        if task.tt == TT_COROUTINE:
            raise ValueError(f"task {task_id!r} ({task.name}) is a coroutine task: a "
                             f"coroutine runs once, it cannot be re-run")
        if task.target is None:
            raise ValueError(f"task {task_id!r} ({task.name}) cannot be re-run: its target "
                             f"was not kept (the history keeps only small, plain targets "
                             f"and arguments once nobody holds the task)")
        kwargs = {k: v for k, v in task.kwargs.items() if k != "_task_id"}
        return self._submit(task.target, task.args, kwargs, task.callback, task.priority,
                            task.delay, task.tt, None, name=task.name, auto=task.auto)

    def _submit(self, target: Callable[..., Any], args: tuple, kwargs: dict | None,
                callback: Callable[[Any], Any] | None, priority: int, delay: float | None,
                tt: int, task_id: Any, name: str | None, auto: bool) -> Task:
        if not callable(target):
            raise TypeError(f"task target must be callable, got {target!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        check_priority(priority)
        if isinstance(tt, bool) or tt not in (TT_THREAD, TT_MP):
            raise ValueError(f"unknown task type {tt!r}: use TT_THREAD (1) or TT_MP (2)")
        if task_id is not None:
            check_task_id(task_id)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"task name must be a string, got {name!r}")
        if delay is not None:
            delay = check_seconds("delay", delay) or None
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"args must be a tuple or list, got {args!r}")
        if kwargs is None:
            kwargs = {}
        elif not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a dict, got {kwargs!r}")
        if tt == TT_MP:
            check_picklable(target)
            if self.is_active():  # else the check under the lock refuses the task
                self._ensure_mp_pool()
        if name is None:
            name = getattr(target, "__qualname__", None) or repr(target)
        numbered = task_id is None
        if numbered:
            task_id = next(self._ids)  # atomic: no lock needed
        if not auto or tt == TT_MP:
            kwargs = {**kwargs, "_task_id": task_id}
        # Built outside the lock (the lock is held as briefly as possible); it
        # becomes visible to other threads only once registered under the lock.
        task = Task(task_id, name, tt, priority, target, tuple(args), kwargs, callback, delay,
                    auto, self._lock, self.id)
        handoff = None
        try:
            with self._lock:
                self._check_active_locked()
                if numbered and task_id in self._ledger.tasks:
                    self._renumber_locked(task)
                handoff = self._admit_locked(task)
        finally:  # an accepted task is handed off even if this thread is interrupted
            if handoff is not None:
                self._hand_off(task, *handoff)
        return task

    def _renumber_locked(self, task: Task) -> None:
        """A number the caller chose (``put_task(task_id=7)``) is live: the
        next free one instead."""
        while task.id in self._ledger.tasks:
            task.id = next(self._ids)
        if "_task_id" in task.kwargs:
            task.kwargs["_task_id"] = task.id

    def _admit_locked(self, task: Task) -> tuple:
        """Register ``task`` and queue, start or delay it; what ``_hand_off``
        must do once the lock is released."""
        self._ledger.register_locked(task)
        pool = self._pools[task.tt]
        now = task.time_submitted = monotonic()
        actions: list = []
        if task.delay:
            pool.admission.submit_delayed(task)
            self._ledger.delayed_locked(task, now)
        else:
            pool.submit_locked(task, now, actions)
        return pool, actions, self._loop

    def _hand_off(self, task: Task, pool: Any, actions: list,
                  loop: asyncio.AbstractEventLoop) -> Task:
        if task.delay:
            try:
                loop.call_soon_threadsafe(self._schedule_release, loop, task,
                                          task.time_submitted + task.delay)
            except RuntimeError:  # loop closed by a concurrent stop, which canceled it
                if task.status == TASK_STATUS_DELAYED:
                    raise
        elif actions:
            pool.run_actions(actions)
        return task

    def _check_active_locked(self) -> None:
        if self._state != _ACTIVE:
            raise RuntimeError(f"supervisor {self.id!r} is not active ({self._state}): "
                               f"start() it before submitting tasks")
        if self._loop.is_closed():  # the host closed its loop without astop()
            raise RuntimeError(f"supervisor {self.id!r} is not active: its loop was closed "
                               f"without stop()")

    def _ensure_mp_pool(self) -> None:
        if self._mp.backend is None and not self._mp.rebuilding:
            self.set_mp_pool()

    def _schedule_release(self, loop: asyncio.AbstractEventLoop, task: Task, due: float) -> None:
        # A weak reference: a delayed task canceled meanwhile (with its
        # arguments) is not kept alive by its timer until the original due time.
        loop.call_later(max(0.0, due - monotonic()), self._release_delayed, weakref.ref(task))

    def _release_delayed(self, ref: weakref.ref[Task]) -> None:
        task = ref()
        if task is None:
            return  # canceled and dropped meanwhile
        actions: list = []
        pool = self._pools[task.tt]
        with self._lock:
            if task.status != TASK_STATUS_DELAYED:
                return  # canceled meanwhile
            pool.enqueue_released_locked(task, monotonic(), actions)
        pool.run_actions(actions)

    def _submit_coroutine(self, coro: Coroutine, loop: asyncio.AbstractEventLoop,
                          name: str | None = None, priority: int | None = None,
                          delay: float | None = None) -> Task:
        """A coroutine task on ``loop`` (an aloop's or any running asyncio loop)."""
        if not asyncio.iscoroutine(coro):
            raise TypeError(f"expected a coroutine object, got {coro!r}")
        handoff = None
        try:
            priority = check_priority(TASK_NORMAL if priority is None else priority)
            if delay is not None:
                delay = check_seconds("delay", delay) or None
            if loop.is_closed():
                raise RuntimeError(f"loop {loop!r} is closed")
            aloop = next((a for a in self.aloops.values() if a.get_loop() is loop), None)
            task = Task(next(self._ids), name or coro.__qualname__, TT_COROUTINE, priority,
                        coro, (), {}, None, delay, True, self._lock, self.id)
            task._handle = [loop, None]
            with self._lock:
                self._check_active_locked()
                if aloop is not None:
                    aloop._count_task_locked(task)
                handoff = self._admit_locked(task)
        except BaseException:
            if handoff is None:  # not accepted: nobody else will close it
                coro.close()
            raise
        finally:  # an accepted task is handed off even if this thread is interrupted
            if handoff is not None:
                self._hand_off(task, *handoff)
        return task

    # -- completing and canceling -------------------------------------------
    def mark_task_completed(self, task: Task | None = None, task_id: Any = None,
                            tt: int | None = None) -> None:
        """Complete a started task; with no argument, the one running in this thread."""
        if task is not None and not isinstance(task, Task):
            raise TypeError(f"task must be a Task, got {task!r}")
        if task_id is not None:
            check_task_id(task_id)
        if tt is not None and (isinstance(tt, bool) or tt not in TASK_TYPES):
            raise ValueError(f"unknown task type {tt!r}")
        if task is not None:
            task_id = task.id
        elif task_id is None:
            current = self._threads.current_task()
            if current is None:
                raise LookupError("mark_task_completed() without a task: no task of this "
                                  "supervisor runs in the current thread")
            task_id = current.id
        actions: list = []
        callbacks = pool = None
        try:
            with self._lock:
                found = self._ledger.tasks.get(task_id)
                if found is None or (tt is not None and found.tt != tt):
                    raise LookupError(f"no live task with id {task_id!r}"
                                      + (f" and type {tt!r}" if tt is not None else ""))
                if found.status != TASK_STATUS_STARTED:
                    raise RuntimeError(f"task {task_id!r} has not started: cancel_task() it "
                                       f"instead")
                pool = self._pools[found.tt]
                callbacks = pool.finish_locked(found, TASK_STATUS_COMPLETED, found.result, None,
                                               actions)
        finally:  # what the lock decided happens even if this thread is interrupted
            if pool is not None:
                pool.run_actions(actions)
            run_callbacks(callbacks, log)

    def cancel_task(self, task_id: Any) -> Task:
        """Cancel a queued or delayed task: it never runs. Returns the task."""
        check_task_id(task_id)
        callbacks = None
        try:
            with self._lock:
                task = self._ledger.tasks.get(task_id)
                if task is None:
                    raise LookupError(f"no live task with id {task_id!r}")
                if task.status == TASK_STATUS_STARTED:
                    raise RuntimeError(f"task {task_id!r} ({task.name}) has already started "
                                       f"and cannot be canceled")
                coro = task.target if task.tt == TT_COROUTINE else None
                callbacks = self._ledger.finish_locked(
                    self._pools[task.tt].admission, task, TASK_STATUS_CANCELED, None, None,
                    monotonic())
        finally:  # waiters are woken even if this thread is interrupted
            run_callbacks(callbacks, log)
        if coro is not None:
            _close_coroutines([coro])
        return task

    # -- aloops -----------------------------------------------------------------
    @property
    def aloops(self) -> dict[str, ALoop]:
        with self._registry_lock:
            return dict(self._aloops)

    def create_aloop(self, name: str, default: bool = False, daemon: bool = False,
                     start: bool = True) -> ALoop:
        """Create an asyncio loop in its own thread (started unless ``start=False``)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"aloop name must be a non-empty string, got {name!r}")
        for flag, value in (("default", default), ("daemon", daemon), ("start", start)):
            check_flag(flag, value)
        aloop = ALoop(name, self, daemon=daemon)
        with self._registry_lock:
            if name in self._aloops:
                raise ValueError(f"an aloop named {name!r} already exists")
            self._aloops[name] = aloop
            previous_default = self._default_aloop
            if default:
                self._default_aloop = aloop
        if start:
            try:
                aloop.start()
            except BaseException:  # e.g. the OS refused the thread: as if never created
                with self._registry_lock:
                    del self._aloops[name]
                    if self._default_aloop is aloop:
                        self._default_aloop = previous_default
                raise
        return aloop

    def get_aloop(self, name: str | None = None) -> ALoop | None:
        """The aloop called ``name`` (``LookupError`` if none); ``None`` → the default."""
        with self._registry_lock:
            if name is None:
                return self._default_aloop
            try:
                return self._aloops[name]
            except KeyError:
                raise LookupError(f"no aloop named {name!r}") from None

    def start_aloop(self, name: str) -> None:
        self.get_aloop(name).start()

    def stop_aloop(self, name: str, wait: bool | float = True,
                   cancel_tasks: bool = False) -> None:
        check_wait(wait)
        self.get_aloop(name).stop(wait=wait, cancel_tasks=cancel_tasks)

    def set_default_aloop(self, aloop: ALoop | str | None) -> None:
        """Make ``aloop`` (an ``ALoop`` of this supervisor or its name) the default."""
        if isinstance(aloop, str):
            aloop = self.get_aloop(aloop)
        with self._registry_lock:
            if aloop is not None and self._aloops.get(getattr(aloop, "name", None)) is not aloop:
                raise ValueError(f"{aloop!r} is not an aloop of supervisor {self.id!r}")
            self._default_aloop = aloop

    def _resolve_loop(self, ref: Any) -> asyncio.AbstractEventLoop:
        """An aloop name, an ``ALoop``, an asyncio loop, or ``None`` (the default
        aloop) → a running asyncio loop."""
        if isinstance(ref, asyncio.AbstractEventLoop):
            return ref
        aloop = self.get_aloop(ref) if ref is None or isinstance(ref, str) else ref
        if aloop is None:
            raise RuntimeError(f"supervisor {self.id!r} has no default aloop: create one with "
                               f"create_aloop(name, default=True) or pass loop=")
        if not isinstance(aloop, ALoop):
            raise TypeError(f"loop must be an aloop name, an ALoop or an asyncio loop, "
                            f"got {ref!r}")
        if not aloop.is_active():
            raise RuntimeError(f"aloop {aloop.name!r} is not running")
        return aloop.get_loop()

    def _stop_aloops(self, deadline: float | None, join: bool) -> None:
        """Stop every active aloop (they restart with the supervisor); with
        ``join``, wait for their threads until ``deadline`` plus ``STOP_GRACE``."""
        with self._registry_lock:
            active = [a for a in self._aloops.values() if a.is_active()]
            self._aloops_to_restart = active
        runners = [a._runner for a in active]
        interrupted: BaseException | None = None
        for aloop in active:  # every one is asked, even after an interruption
            try:
                aloop.stop_until(monotonic(), cancel_tasks=True, join=False)
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
        if not join:
            return
        for aloop, runner in zip(active, runners, strict=True):
            if runner is not None and not runner.join(remaining(deadline, STOP_GRACE)):
                log.warning("supervisor %r: aloop %r did not stop in time (something blocks "
                            "its loop); its thread is abandoned", self.id, aloop.name)

    def _coroutine_tasks(self, loop: asyncio.AbstractEventLoop) -> list[Task]:
        with self._lock:
            return [t for t in self._ledger.tasks.values()
                    if t.tt == TT_COROUTINE and t._handle[0] is loop]

    def _cancel_coroutines(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the coroutine tasks on ``loop``: queued ones at once, running
        ones through their asyncio task."""
        callbacks: list = []
        with self._lock:
            tasks = [t for t in self._ledger.tasks.values()
                     if t.tt == TT_COROUTINE and t._handle[0] is loop]
            unstarted = [t for t in tasks if t.status != TASK_STATUS_STARTED]
            coros = [t.target for t in unstarted]
            for task in unstarted:
                callbacks += self._ledger.finish_locked(
                    self._coroutines.admission, task, TASK_STATUS_CANCELED, None, None,
                    monotonic()) or ()
        _close_coroutines(coros)
        self._coroutines.cancel_running([t for t in tasks if t.status == TASK_STATUS_STARTED])
        run_callbacks(callbacks, log)

    # -- schedulers -------------------------------------------------------------
    def register_scheduler(self, scheduler: Any, loop: asyncio.AbstractEventLoop | None = None
                           ) -> concurrent.futures.Future:
        """Run ``scheduler.loop()`` on ``loop`` (default: the supervisor's own)
        until ``scheduler.stop()``; ``stop()`` stops it with the supervisor.

        Whatever ``loop()`` raises (``SystemExit`` included) is logged and ends
        that scheduler only; the loop keeps serving."""
        if not callable(getattr(scheduler, "loop", None)) or not callable(
                getattr(scheduler, "stop", None)):
            raise TypeError(f"a scheduler needs an async loop() and a stop() method, "
                            f"got {scheduler!r}")
        if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"loop must be an asyncio event loop, got {loop!r}")
        loop = loop or self._loop
        if loop is None or not self.is_active():
            raise RuntimeError(f"supervisor {self.id!r} is not active: start() it before "
                               f"registering schedulers")
        with self._registry_lock:
            if scheduler in self._schedulers:
                raise ValueError(f"scheduler {scheduler!r} is already registered")
            coro = scheduler.loop()
            try:
                future = asyncio.run_coroutine_threadsafe(shielded(coro), loop)
            except BaseException:
                coro.close()
                raise
            self._schedulers[scheduler] = future
        future.add_done_callback(lambda f: self._scheduler_ended(scheduler, f))
        return future

    def register_sync_scheduler(self, scheduler: Any) -> None:
        """Register a scheduler that runs itself; the supervisor only stops it."""
        if not callable(getattr(scheduler, "stop", None)):
            raise TypeError(f"a scheduler needs a stop() method, got {scheduler!r}")
        with self._registry_lock:
            if scheduler in self._schedulers:
                raise ValueError(f"scheduler {scheduler!r} is already registered")
            self._schedulers[scheduler] = None

    def unregister_scheduler(self, scheduler: Any) -> None:
        with self._registry_lock:
            if scheduler not in self._schedulers or self._schedulers[scheduler] is None:
                raise LookupError(f"scheduler {scheduler!r} is not registered")
            del self._schedulers[scheduler]

    def unregister_sync_scheduler(self, scheduler: Any) -> None:
        with self._registry_lock:
            if scheduler not in self._schedulers or self._schedulers[scheduler] is not None:
                raise LookupError(f"sync scheduler {scheduler!r} is not registered")
            del self._schedulers[scheduler]

    def get_schedulers(self) -> list[Any]:
        with self._registry_lock:
            return list(self._schedulers)

    def _scheduler_ended(self, scheduler: Any, future: concurrent.futures.Future) -> None:
        if not future.cancelled():
            exc = future.exception()
            if exc is not None:
                log_contained(f"scheduler {scheduler_name(scheduler)!r}",
                              exc.original if isinstance(exc, UserExit) else exc, log)
        with self._registry_lock:
            if self._schedulers.get(scheduler) is future:
                del self._schedulers[scheduler]

    def _stop_schedulers(self) -> list[tuple[Any, concurrent.futures.Future]]:
        """Ask every scheduler to stop, each ``stop()`` in a thread of its own
        (user code that may block); ``(scheduler, future)`` pairs to wait for:
        the end of its ``stop()`` call, and of its ``loop()`` if it has one."""
        with self._registry_lock:
            schedulers = list(self._schedulers.items())
        waits = []
        for scheduler, loop_future in schedulers:
            stopped = _StopCall()
            name = scheduler_name(scheduler)

            def call_stop(scheduler: Any = scheduler, stopped: _StopCall = stopped,
                          name: str = name) -> None:
                call_user(f"stop() of scheduler {name!r}", scheduler.stop, wait=False,
                          logger=log)
                stopped.set_result(None)

            try:
                threading.Thread(target=call_stop, name=f"supervisor_{self.id}_stop_{name}",
                                 daemon=True).start()
            except RuntimeError as exc:  # no thread left: call it here
                log.warning("no thread to stop scheduler %r in (%s): stopping it inline",
                            name, exc)
                call_stop()
            waits.append((scheduler, stopped))
            if loop_future is not None:
                waits.append((scheduler, loop_future))
        return waits

    def _abandon_schedulers(self, waits: list[tuple[Any, concurrent.futures.Future]]) -> None:
        """Log what did not stop in time; cancel the loops still running."""
        late = {}
        for scheduler, future in waits:
            if not future.done():
                late[id(scheduler)] = scheduler
                if not isinstance(future, _StopCall):
                    future.cancel()
        for scheduler in late.values():
            log.warning("supervisor %r: scheduler %r did not stop in time; it is abandoned",
                        self.id, scheduler_name(scheduler))


def _close_coroutines(coros: list[Any]) -> None:
    """Close coroutines of tasks canceled before they started (no "never
    awaited" warning; their wrapper, if it runs later, closes nothing new)."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


class _StopCall(concurrent.futures.Future):
    """The end of one scheduler's ``stop()`` call (never canceled)."""


#: Every supervisor created, for the stop at interpreter exit.
_SUPERVISORS: weakref.WeakSet[TaskSupervisor] = weakref.WeakSet()


def _stop_at_exit() -> None:
    """Stop what a program left running once its main thread has ended.

    Registered with ``threading._register_atexit`` (as ``concurrent.futures``
    does): it runs before the interpreter joins non-daemon threads, which an
    ``atexit`` hook would not.
    """
    for supervisor in list(_SUPERVISORS):
        try:
            if supervisor.is_active():
                supervisor.stop(wait=supervisor.exit_wait)
        except BaseException as exc:  # noqa: BLE001 - never break the exit of the program
            log_contained(f"the stop at exit of supervisor {supervisor.id!r}", exc, log)


_register_exit = getattr(threading, "_register_atexit", None)
if _register_exit is not None:
    _register_exit(_stop_at_exit)
else:  # pragma: no cover - every supported CPython has it
    import atexit
    atexit.register(_stop_at_exit)


__all__ = ["TaskSupervisor"]
