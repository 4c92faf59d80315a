"""``TaskSupervisor``: the public face of the engine, a thin front.

It checks nothing twice and decides nothing itself: it wires the parts and
hands each public call to the part that owns it:

* ``dispatch.Dispatcher`` -- submitting, completing, canceling and the
  routing of tasks to the three pools, which follow one written protocol:
  ``threads.ThreadPool``, ``mp.MpPool``, ``coroutines.CoroutinePool``;
* ``ledger.Ledger`` -- the table of live tasks, the history, the events;
  ``admission.Admission`` -- each pool's rules, queues and counts;
* ``lifecycle.Lifecycle`` -- start, the one stop plan of ``stop`` and
  ``astop``, the stop at interpreter exit;
* ``registry.Registry`` -- aloops and schedulers;
* ``timeouts.QueueTimeouts`` / ``RunTimeouts`` -- the queue-timeout and
  run-time watches on the loop;
* ``stacks`` -- the live stack of a running task;
* ``inspection.Inspection`` -- snapshots, events, live and finished tasks.

The supervisor's one lock (created here, shared by the dispatcher, the
ledger, the pools and every ``Task``) guards the state, the ledger and the
pools; the registry has its own. The main asyncio loop owns time (delayed
tasks, queue timeouts, async schedulers) and never sits on the hot path:
submitting, starting and completing a task are decisions taken under the
lock by the thread that submits or completes.

Headless, ``start()`` runs the loop in a thread named
``supervisor_<id>_event_loop``; ``start(loop=...)`` uses a loop the caller
runs (the console passes its Qt loop); if the caller closes it without
``astop()``, the supervisor notices and stops.

The edges, as promised to users: user code never takes it down
(``usercode``); every public call checks all its arguments before it
changes anything (``validate``); ``stop()`` is bounded, refused from the
supervisor's own threads and exception-safe (``lifecycle``); a program
exits when its main thread ends.

**The engine-internal API** the engine's own modules (workers,
``background_task``, aloops) use: ``dispatcher`` (``submit(**kw)``, a
keyword-only submit; ``submit_coroutine``; ``loop``, the main loop) and
``registry`` (``resolve_loop``). Not public.

Threads: every public method may be called from any thread; ``astop`` must
be awaited on the supervisor's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .admission import CPU_COUNT, PoolSettings
from .aloop import ALoop
from .constants import TASK_NORMAL, TASK_TYPES, TT_COROUTINE, TT_MP, TT_THREAD
from .coroutines import CoroutinePool
from .dispatch import ACTIVE, Action, Dispatcher
from .inspection import Inspection
from .ledger import Ledger
from .lifecycle import Lifecycle, watch_at_exit
from .mp import MpPool, check_picklable
from .registry import Registry
from .stacks import TaskStack
from .stats import EventBatch, SupervisorInfo, SupervisorStats, TaskEvent, TaskState
from .suplock import SupervisorLock
from .task import FinishedTask, Task
from .threads import ThreadPool
from .timeouts import QueueTimeouts, RunTimeouts, Watches
from .validate import check_callable, check_flag, check_seconds, check_task_id, check_wait

log = logging.getLogger(__name__)

_UNSET: Any = object()  # an argument not given
_SPAWNED = itertools.count(1)  # spawn_thread's thread numbers


class TaskSupervisor:
    """A prioritized thread pool with reserves, processes, aloops and schedulers.

    ``thread_idle_timeout``: seconds a parked pool thread above ``min_size``
    waits for work before it exits.
    """

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
        # The supervisor's one lock. It guards: the dispatcher's state and
        # loop, the ledger (task table, history, events, waits), every pool
        # with its admission state, and every Task's mutable fields.
        self._lock = SupervisorLock()
        self._ledger = ledger = Ledger()
        self._threads = ThreadPool(f"supervisor_{self.id}_pool_", self._lock, settings,
                                   ledger, idle_timeout=thread_idle_timeout)
        self._mp = MpPool(self._lock, ledger)
        self._coroutines = CoroutinePool(self._lock, ledger)
        self._dispatcher = Dispatcher(
            self.id, self._lock, ledger,
            {TT_THREAD: self._threads, TT_MP: self._mp, TT_COROUTINE: self._coroutines},
            self._prepare_mp)
        self._registry = Registry(self, self._dispatcher, self._coroutines)
        self._timeouts = QueueTimeouts(self._lock, ledger,
                                       (self._threads.admission, self._mp.admission),
                                       lambda: self._poll_delay)
        self._run_timeouts = RunTimeouts(self._lock, ledger,
                                         (self._threads.admission, self._mp.admission,
                                          self._coroutines.admission),
                                         lambda: self._poll_delay)
        self._life = Lifecycle(self.id, self._dispatcher, self._threads, self._mp,
                               self._coroutines, self._registry,
                               Watches(self._timeouts, self._run_timeouts))
        self._inspection = Inspection(self, self._dispatcher, self._threads, self._mp,
                                      self._coroutines, self._registry)
        self._exit_wait: bool | float = 5.0
        watch_at_exit(self)

    def __repr__(self) -> str:
        return f"<TaskSupervisor {self.id!r} {self._dispatcher.state}>"

    # -- the engine-internal API (see the module docstring) --------------------------
    @property
    def dispatcher(self) -> Dispatcher:
        """Engine-internal: the keyword-only ``submit``, ``submit_coroutine``, ``loop``."""
        return self._dispatcher

    @property
    def registry(self) -> Registry:
        """Engine-internal: aloops and schedulers (``resolve_loop``)."""
        return self._registry

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

    @property
    def run_warning(self) -> float | None:
        """Seconds a task may run before a warning; ``None`` (the default) disables."""
        return self._run_timeouts.warning

    @run_warning.setter
    def run_warning(self, value: float | None) -> None:
        self._run_timeouts.warning = value

    @property
    def run_critical(self) -> float | None:
        """Seconds a task may run before a critical alert; ``None`` (the default) disables."""
        return self._run_timeouts.critical

    @run_critical.setter
    def run_critical(self, value: float | None) -> None:
        self._run_timeouts.critical = value

    @property
    def run_warning_func(self) -> Callable[[Task], Any] | None:
        """Called with each task that passes ``run_warning`` while running (on the loop)."""
        return self._run_timeouts.warning_func

    @run_warning_func.setter
    def run_warning_func(self, func: Callable[[Task], Any] | None) -> None:
        check_callable("run_warning_func", func)
        self._run_timeouts.warning_func = func

    @property
    def run_critical_func(self) -> Callable[[Task], Any] | None:
        """Called with each task that passes ``run_critical`` while running (on the loop)."""
        return self._run_timeouts.critical_func

    @run_critical_func.setter
    def run_critical_func(self, func: Callable[[Task], Any] | None) -> None:
        check_callable("run_critical_func", func)
        self._run_timeouts.critical_func = func

    def set_timeouts(self, *, poll_delay: Any = _UNSET, timeout_warning: Any = _UNSET,
                     timeout_critical: Any = _UNSET, timeout_warning_func: Any = _UNSET,
                     timeout_critical_func: Any = _UNSET, run_warning: Any = _UNSET,
                     run_critical: Any = _UNSET, run_warning_func: Any = _UNSET,
                     run_critical_func: Any = _UNSET) -> None:
        """Set any subset of ``poll_delay``, the queue timeouts
        ``timeout_warning`` and ``timeout_critical``, the run-time thresholds
        ``run_warning`` and ``run_critical``, and their functions
        (``timeout_warning_func``, ``timeout_critical_func``,
        ``run_warning_func``, ``run_critical_func``) at once: every given value
        is checked first, and nothing changes if one is refused (the error
        names it)."""
        given = {name: value for name, value in (
            ("poll_delay", poll_delay), ("timeout_warning", timeout_warning),
            ("timeout_critical", timeout_critical),
            ("timeout_warning_func", timeout_warning_func),
            ("timeout_critical_func", timeout_critical_func),
            ("run_warning", run_warning), ("run_critical", run_critical),
            ("run_warning_func", run_warning_func),
            ("run_critical_func", run_critical_func)) if value is not _UNSET}
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
        actions: list[Action] = []
        try:
            with self._lock:
                settings = self._threads.admission.settings.updated(
                    pool_size=pool_size, reserve_normal=reserve_normal,
                    reserve_high=reserve_high, min_size=min_size, max_size=max_size)
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
        recycles its workers). ``spin`` (keyword, the engine's pool only):
        seconds a worker looks for its next job before it blocks (see
        ``ProcessPool``). A pool it replaces, if ours, is terminated.
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
        actions: list[Action] = []
        try:
            with self._lock:
                settings = self._mp.admission.settings.updated(
                    pool_size=pool_size, reserve_normal=reserve_normal,
                    reserve_high=reserve_high)
                self._mp.admission.configure(settings)
                self._mp.dispatch_locked(actions)
                need_pool = self._mp.backend is None
        finally:  # what the lock decided happens even if this thread is interrupted
            self._mp.run_actions(actions)
        if need_pool:
            size = settings.pool_size + settings.reserve_normal + settings.reserve_high
            self.create_mp_pool(processes=size or CPU_COUNT)

    def _prepare_mp(self, target: Callable[..., Any]) -> None:
        """Before an mp task is built: its target must pickle, and an active
        supervisor gets a pool if it has none (else admission refuses it)."""
        check_picklable(target)
        if self.is_active() and self._mp.backend is None and not self._mp.rebuilding:
            self.set_mp_pool()


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
        return self._life.is_active()

    def start(self, loop: asyncio.AbstractEventLoop | None = None, daemon: Any = None) -> None:
        """Start accepting tasks; run the main loop in a thread, or on ``loop``.

        ``daemon`` (the original library's) does nothing here, which a
        ``DeprecationWarning`` says: the loop's thread is a daemon, and a
        supervisor still active when the main thread ends is stopped
        (``exit_wait``), so a program exits either way."""
        if daemon is not None:
            check_flag("daemon", daemon)
        self._life.start(loop)
        if daemon is not None:
            warnings.warn(f"start(daemon={daemon!r}) has no effect: the supervisor's loop "
                          f"thread is a daemon and the supervisor is stopped when the main "
                          f"thread ends (exit_wait); remove the argument", DeprecationWarning,
                          stacklevel=2)

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
        self._life.stop(wait, stop_schedulers, cancel_tasks)

    async def astop(self, wait: bool | float = True, stop_schedulers: bool = True,
                    cancel_tasks: bool = False) -> None:
        """``stop`` for the supervisor's own loop: waits without blocking it."""
        await self._life.astop(wait, stop_schedulers, cancel_tasks)

    def block(self) -> None:
        """Block the calling thread while the supervisor is active."""
        while not self._life.stopped.wait(self._poll_delay):
            pass

    # -- submitting -----------------------------------------------------------
    def put_task(self, target: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                 callback: Callable[[Any], Any] | None = None, priority: int = TASK_NORMAL,
                 delay: float | None = None, tt: int = TT_THREAD, task_id: Any = None,
                 worker: Any = None) -> Task:
        """Submit ``target``; it receives ``_task_id`` and holds its slot until
        ``mark_task_completed`` is called for it (or it raises).

        ``tt=TT_MP`` runs it in the process pool: ``callback`` gets the result.
        ``worker``: the worker the task works for; the task is named after it.
        """
        if tt == TT_COROUTINE:
            raise ValueError("put_task cannot run coroutines: use ALoop.background_task() "
                             "or background_task() on a coroutine function")
        name = None
        if worker is not None:
            name = getattr(worker, "name", None)
            if not isinstance(name, str):
                raise TypeError(f"worker must be a worker (with a name), got {worker!r}")
        return self._dispatcher.submit(target=target, args=args, kwargs=kwargs,
                                       callback=callback, priority=priority, delay=delay,
                                       tt=tt, task_id=task_id, auto=False, name=name)

    def mark_task_started(self, task: Task) -> bool:
        """Whether ``task`` has started. The engine marks a task started itself
        when a thread (or process, or loop) takes it; the original library's
        call is kept for code that makes it."""
        if not isinstance(task, (Task, FinishedTask)):
            raise TypeError(f"task must be a Task, got {task!r}")
        return task.is_started()

    def spawn_thread(self, target: Callable[..., Any], args: tuple = (),
                     kwargs: dict | None = None) -> concurrent.futures.Future:
        """Run ``target(*args, **kwargs)`` on a thread of its own, outside the
        pool and its priorities; a ``Future`` of its result. What it raises
        (any ``BaseException``) is set on the future, never raised here."""
        check_callable("target", target, allow_none=False)
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"args must be a tuple or list, got {args!r}")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a dict, got {kwargs!r}")
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                result = target(*args, **(kwargs or {}))
            except BaseException as exc:  # noqa: BLE001 - handed to the future's reader
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name=f"supervisor_{self.id}_spawn_{next(_SPAWNED)}",
                         daemon=True).start()
        return future

    def submit(self, target: Callable[..., Any], *args: Any, _priority: int = TASK_NORMAL,
               _delay: float | None = None, _name: str | None = None,
               _callback: Callable[[Any], Any] | None = None, _tt: int = TT_THREAD,
               **kwargs: Any) -> Task:
        """Run ``target(*args, **kwargs)`` as a task completed when it returns
        (``_tt=TT_MP``: in the process pool)."""
        return self._dispatcher.submit_call(target, args, kwargs, _callback, _priority, _delay,
                                            _tt, _name)

    def submit_many(self, target: Callable[..., Any], args_iterable: Iterable[Any], *,
                    priority: int = TASK_NORMAL, delay: float | None = None,
                    name: str | None = None, callback: Callable[[Any], Any] | None = None,
                    tt: int = TT_THREAD, kwargs: dict | None = None) -> list[Task]:
        """Submit ``target(*args, **kwargs)`` once per ``args`` tuple (or list)
        of ``args_iterable``, in order, as ``submit`` would; return the tasks.

        Much cheaper than a loop of ``submit`` (one lock hold per thousand
        tasks); every argument and item is checked before any task is
        accepted. ``kwargs`` are shared by every call (not copied).
        """
        return self._dispatcher.submit_many(
            target=target, args_iterable=args_iterable, kwargs=kwargs, callback=callback,
            priority=priority, delay=delay, tt=tt, name=name)

    def resubmit(self, task_id: Any) -> Task:
        """Submit a task again: a new task (new id) with the same target,
        arguments, callback, priority, type and delay, completed the same way
        (a ``put_task`` task again holds its slot until marked completed).

        ``task_id`` may be a live task or one the history still holds with
        its target (only small, plain targets and arguments are kept once
        nobody holds the task): else ``LookupError`` / ``ValueError``. A
        coroutine runs once: its task cannot be re-run (``ValueError``).
        """
        return self._dispatcher.resubmit(task_id)

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
        self._dispatcher.complete(task_id, tt)

    def cancel_task(self, task_id: Any) -> Task:
        """Cancel a queued or delayed task: it never runs. Returns the task."""
        return self._dispatcher.cancel(task_id)

    # -- reading (engine.inspection) -------------------------------------------
    def get_task(self, task_id: Any) -> Task | FinishedTask | None:
        """A live task, or a recently finished one from the history; else ``None``."""
        return self._inspection.get_task(task_id)

    def get_tasks(self, tt: int | None = None) -> list[Task]:
        """Live (unfinished) tasks, optionally of one type."""
        return self._inspection.get_tasks(tt)

    def get_info(self, tt: Any = None, aloops: bool = True, schedulers: bool = True
                 ) -> SupervisorInfo:
        """Counts and settings; the running and unfinished tasks of ``tt``
        (``None``: every type; ``False``: counts only, O(1))."""
        return self._inspection.get_info(tt, aloops, schedulers)

    def task_stack(self, task_id: Any) -> TaskStack:
        """Where running task ``task_id`` is now: the frames of the thread
        running it, or a coroutine's chain of awaits (``engine.stacks``).
        ``LookupError`` if it is not running; ``RuntimeError`` if its stack
        cannot be read (a process task; a started task none of whose code
        runs), saying why. Never waits."""
        return self._inspection.task_stack(task_id)

    def stats(self) -> SupervisorStats:
        """An immutable snapshot of every counter; O(1) in the number of tasks."""
        return self._inspection.stats()

    def events_since(self, seq: int = 0, limit: int | None = None) -> list[TaskEvent]:
        """Task events with a sequence number above ``seq``, oldest first."""
        return self._inspection.events_since(seq, limit)

    def event_batch(self, after_seq: int = 0, limit: int | None = None) -> EventBatch:
        """Task events after ``after_seq`` with the ring's bounds (see ``EventBatch``)."""
        return self._inspection.event_batch(after_seq, limit)

    def _event_rows(self, after_seq: int, limit: int | None) -> tuple[list[tuple], int, int]:
        """``event_batch``'s events as the ring's plain rows, with its bounds
        (engine-internal: the monitor's encoder)."""
        return self._inspection.event_rows(after_seq, limit)

    def live_tasks(self, ids: Iterable[Any] | None = None) -> dict[Any, TaskState]:
        """The unfinished tasks (all, or those of ``ids``), as frozen records."""
        return self._inspection.live_tasks(ids)

    def finished_tasks(self, ids: Iterable[Any]) -> dict[Any, FinishedTask]:
        """The history's records of those of ``ids`` it still holds."""
        return self._inspection.finished_tasks(ids)

    # -- the monitor (engine.monitor) -----------------------------------------------
    def serve_monitor(self, address: str | None = None, *, read_only: bool = False,
                      token_file: str | os.PathLike | None = None) -> Any:
        """Serve this supervisor to a console in another process; a ``Monitor``
        (``address``, ``token_file``, ``read_only``, ``close()``), closed by ``stop()``.

        ``address``: ``"unix:PATH"`` (in a directory only its owner may use;
        default: a fresh private directory) or ``"tcp:127.0.0.1:PORT"`` (loopback
        only; port 0 picks one). Every request needs the token written to
        ``token_file`` (default: beside a Unix socket as ``PATH.token``, else
        in a private directory), owner-only. ``read_only`` refuses every command. Needs the
        ``monitor`` extra (aiohttp, orjson, prometheus_client). See ``engine.monitor``.
        """
        check_flag("read_only", read_only)
        try:
            from . import monitor
        except ImportError as exc:
            raise RuntimeError(f"serve_monitor needs the 'monitor' extra: pip install "
                               f"'task-supervisor-console[monitor]' ({exc})") from None
        loop = self._dispatcher.loop
        if loop is None or not self.is_active():
            raise RuntimeError(f"supervisor {self.id!r} is not active: start() it before "
                               f"serving a monitor")
        served = monitor.serve(self, loop, address, read_only, token_file, time.monotonic)
        with self._lock:
            active = self._dispatcher.state == ACTIVE
            if active:
                self._life.monitors.append(served)
        if not active:  # stopped meanwhile: the stop did not see it
            served.close()
            raise RuntimeError(f"supervisor {self.id!r} stopped while its monitor started")
        log.info("supervisor %r: monitor serving %s", self.id, served.address)
        return served

    # -- aloops (engine.registry) -------------------------------------------------
    @property
    def aloops(self) -> dict[str, ALoop]:
        return self._registry.aloops()

    def get_aloops(self) -> dict[str, ALoop]:
        """The aloops by name (a copy)."""
        return dict(self._registry.aloops())

    @property
    def default_aloop(self) -> ALoop | None:
        """The default aloop, or ``None``; settable (an ``ALoop``, its name or
        ``None``), as ``set_default_aloop``."""
        return self._registry.get_aloop(None)

    @default_aloop.setter
    def default_aloop(self, aloop: ALoop | str | None) -> None:
        self._registry.set_default_aloop(aloop)

    def create_aloop(self, name: str, default: bool = False, daemon: bool = False,
                     start: bool = True) -> ALoop:
        """Create an asyncio loop in its own thread (started unless ``start=False``)."""
        return self._registry.create_aloop(name, default, daemon, start)

    def get_aloop(self, name: str | None = None) -> ALoop | None:
        """The aloop called ``name`` (``LookupError`` if none); ``None`` → the default."""
        return self._registry.get_aloop(name)

    def start_aloop(self, name: str) -> None:
        self._registry.get_aloop(name).start()

    def stop_aloop(self, name: str, wait: bool | float = True,
                   cancel_tasks: bool = False) -> None:
        check_wait(wait)
        self._registry.get_aloop(name).stop(wait=wait, cancel_tasks=cancel_tasks)

    def set_default_aloop(self, aloop: ALoop | str | None) -> None:
        """Make ``aloop`` (an ``ALoop`` of this supervisor or its name) the default."""
        self._registry.set_default_aloop(aloop)

    # -- schedulers (engine.registry) ---------------------------------------------
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
        loop = loop or self._dispatcher.loop
        if loop is None or not self.is_active():
            raise RuntimeError(f"supervisor {self.id!r} is not active: start() it before "
                               f"registering schedulers")
        return self._registry.register_scheduler(scheduler, loop)

    def register_sync_scheduler(self, scheduler: Any) -> None:
        """Register a scheduler that runs itself; the supervisor only stops it."""
        self._registry.register_sync_scheduler(scheduler)

    def unregister_scheduler(self, scheduler: Any) -> None:
        self._registry.unregister(scheduler, sync=False)

    def unregister_sync_scheduler(self, scheduler: Any) -> None:
        self._registry.unregister(scheduler, sync=True)

    def get_schedulers(self) -> list[Any]:
        return self._registry.schedulers()

    def get_scheduler(self, name: str) -> Any:
        """The registered scheduler or worker shown as ``name`` (``stats().
        scheduler_info``); a stopped worker stays known while it exists."""
        return self._registry.get_scheduler(name)

    # -- async job schedulers (engine.jobs) ---------------------------------------------
    # The original library's aiosched integration; everything is in engine.jobs.
    @property
    def async_job_schedulers(self) -> dict[str, Any]:
        """The async job schedulers by name (a copy)."""
        from . import jobs
        return jobs.schedulers_of(self).all()

    @property
    def default_async_job_scheduler(self) -> Any:
        """The scheduler ``create_async_job(scheduler=None)`` uses, or ``None``."""
        from . import jobs
        return jobs.schedulers_of(self).default

    @default_async_job_scheduler.setter
    def default_async_job_scheduler(self, scheduler: Any) -> None:
        self.set_default_async_job_scheduler(scheduler)

    def create_async_job_scheduler(self, name: str, aloop: ALoop | str | None = None,
                                   start: bool = True, default: bool = False,
                                   daemon: bool = False) -> Any:
        """Create an ``AsyncJobScheduler`` running on ``aloop`` (a name or an
        ``ALoop``; default: the default aloop, else an aloop of its own,
        ``daemon`` or not); started unless ``start=False`` (then ``start()``
        it); the default one with ``default=True``. See ``engine.jobs``."""
        from . import jobs
        return jobs.schedulers_of(self).create(name, aloop, start, default, daemon)

    def set_default_async_job_scheduler(self, scheduler: Any) -> None:
        """Make ``scheduler`` (one of this supervisor's, or its name; ``None``:
        none) the default async job scheduler."""
        from . import jobs
        jobs.schedulers_of(self).set_default(scheduler)

    def create_async_job(self, scheduler: Any = None, **kwargs: Any) -> Any:
        """Create a job on ``scheduler`` (a name, a scheduler, ``None``: the
        default): ``target=`` (a coroutine function), ``args=``, ``kwargs=``,
        ``interval=``, ``timer=``, ``number=``. Returns the job."""
        from . import jobs
        return jobs.schedulers_of(self).resolve(scheduler).create_threadsafe(**kwargs)

    def cancel_async_job(self, scheduler: Any = None, job: Any = None) -> None:
        """Cancel ``job``; with ``scheduler=None``, on the scheduler it belongs to."""
        from . import jobs
        if not isinstance(job, jobs.AsyncScheduledJob):
            raise TypeError(f"job must be an async job (create_async_job), got {job!r}")
        owner = job.scheduler if scheduler is None else jobs.schedulers_of(self).resolve(
            scheduler)
        owner.cancel(job)


__all__ = ["TaskSupervisor"]
