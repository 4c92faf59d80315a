"""``engine.compat``: the original library's return conventions, on the same engine.

Where ``engine`` raises, atasker returned ``None`` or ``False``: a task put
on a supervisor that is not active, an aloop name it does not know, a worker
started twice, a scheduler that is not registered. A script written for
atasker that tests those results keeps working with only its import line
changed::

    from atasker import task_supervisor, background_task, background_worker
    from engine.compat import task_supervisor, background_task, background_worker

**One engine, two faces.** Nothing here changes the engine: no switch, no
patched class. ``engine.compat.task_supervisor`` is a *facade* over
``engine.task_supervisor`` -- the same supervisor, one pool, one set of
threads, one main loop, the same aloops, tasks, stats and events. A task
put through one face is seen, waited for and completed through the other;
``stop()`` on either stops both. Plain ``engine`` users see no difference.
``TaskSupervisor(...)`` here builds an engine supervisor and its facade
(``TaskSupervisor.wrap(sup)`` makes the facade of one that exists; its
engine supervisor is ``engine_supervisor``). The facade forwards every
attribute it does not define to its engine supervisor, reads and writes
alike (``poll_delay``, ``timeout_warning``, ``timeout_warning_func``,
``mp_pool``, ``default_aloop``, ``default_async_job_scheduler``,
``set_thread_pool``, ``start``, ``stop``, ``block``, ``create_mp_pool``, ...).

What the facade answers the library's way:

* ``put_task`` (and ``submit``, ``submit_many``) → ``None`` when the
  supervisor is not active or ``target`` is ``None``;
* ``mark_task_completed`` → ``True``, also for a task that has already
  finished; an unknown ``task_id`` is a ``LookupError``, as in the library;
* ``get_task`` → ``None`` once the task has finished (the library forgot
  it at once; the engine's history is on ``engine_supervisor``);
* ``get_tasks`` → a dict, id → task;
* ``get_info(tt=None, aloops=True, schedulers=True,
  async_job_schedulers=True)`` → the library's shape (``SupervisorInfo``
  below): the aloops and schedulers as objects, fields present only where
  the library set them;
* ``get_schedulers`` → a dict keyed by the schedulers;
* ``get_aloop(name=None, default=True)`` → ``None`` for an unknown name;
* ``create_aloop(name, daemon=False, start=True, default=False)`` (the
  library's order of arguments) and ``create_async_job_scheduler`` →
  ``False`` for a name in use (logged);
* ``start_aloop`` / ``stop_aloop`` → ``True``, ``False`` for an unknown
  name (logged); ``start_aloop`` of a running aloop is ``True``;
* ``register_scheduler`` → ``True``, ``False`` while not active;
  ``register_sync_scheduler`` → ``True``; ``unregister_scheduler`` /
  ``unregister_sync_scheduler`` → ``True``, ``False`` if not registered;
* ``cancel_async_job(job=None)`` logs a warning and returns ``None``.

And the module's functions and classes, whose ``supervisor=`` takes a
facade or an engine supervisor (default: the default supervisor):

* ``background_task(f)(...)`` → ``None`` instead of a ``RuntimeError``
  when the supervisor is not active (thread and process tasks; a coroutine
  on an aloop that is not running raises, as in the library);
* ``wait_completed`` → the result, or ``None`` for a task that failed (the
  library's failed task completed with result ``None``) or was canceled,
  instead of re-raising; ``TimeoutError`` as both;
* ``co_mp_apply`` → ``None`` when the supervisor is not active;
* ``BackgroundWorker``, ``BackgroundAsyncWorker``,
  ``BackgroundIntervalWorker``, ``BackgroundQueueWorker``,
  ``BackgroundEventWorker`` and ``background_worker``: the engine's
  workers, whose ``start()`` returns ``True``, and ``False`` for a worker
  already running;
* ``TaskCollection``, taking a facade as ``supervisor``.

The rest of the library's names are the engine's own, re-exported:
constants, ``ALoop``, ``FunctionCollection``, ``Locker``, ``g``,
``LocalProxy``, ``set_debug``. What no face can hide is listed in
``docs/migration.md``: ``TASK_STATUS_FAILED``, ``Task`` objects,
monotonic times, forkserver, thread names (the same threads:
``supervisor_<id>_pool_<n>``, ``supervisor_aloop_<name>`` for the default
supervisor's aloops), worker names without the library's
``_background_worker_`` prefix.

Bad input is still refused as the engine refuses it (``TypeError`` /
``ValueError`` naming the parameter): only the library's ``None`` / ``False``
cases are answered its way.

Threads: a facade holds no state but its engine supervisor, set once when
it is made, so it needs no lock; each of its methods may be called from the
threads the engine's method of that name allows (any thread, except a
waiting ``stop`` from the supervisor's own threads). The module functions
and worker methods: as their ``engine`` counterparts.
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from . import tasks as _tasks
from .aloop import ALoop
from .constants import (
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
)
from .debug import set_debug
from .default import task_supervisor as _default_supervisor
from .fcollections import FunctionCollection
from .fcollections import TaskCollection as _TaskCollection
from .jobs import AsyncJobScheduler, AsyncScheduledJob
from .local import LocalProxy, g
from .locker import Locker
from .supervisor import TaskSupervisor as _EngineSupervisor
from .task import Task
from .validate import check_flag, check_seconds
from .worker_kinds import BackgroundAsyncWorker as _AsyncWorker
from .worker_kinds import BackgroundEventWorker as _EventWorker
from .worker_kinds import BackgroundIntervalWorker as _IntervalWorker
from .worker_kinds import BackgroundQueueWorker as _QueueWorker
from .worker_kinds import _decorator_kind
from .worker_kinds import background_worker as _background_worker
from .workers import BackgroundWorker as _Worker

log = logging.getLogger("engine.compat")

_STOPPED = "stopped"  # an async job scheduler's state once stopped (engine.jobs)


def _engine(supervisor: Any) -> _EngineSupervisor | None:
    """The engine supervisor behind ``supervisor`` (a facade, an engine
    supervisor or ``None``: the default); else ``TypeError``."""
    if supervisor is None or isinstance(supervisor, _EngineSupervisor):
        return supervisor
    if isinstance(supervisor, TaskSupervisor):
        return supervisor.engine_supervisor
    raise TypeError(f"supervisor must be a TaskSupervisor (engine.compat's or engine's) or "
                    f"None, got {supervisor!r}")


class SupervisorInfo:
    """What ``TaskSupervisor.get_info()`` returns here: the library's shape.

    Always ``id``, ``active``, ``started``. With ``tt`` ``None``, ``False``
    or ``TT_THREAD``: ``thread_pool_size``, ``thread_reserve_normal``,
    ``thread_reserve_high``, ``thread_tasks_count`` and (unless
    ``tt=False``) ``thread_tasks``, the running tasks' ids; likewise
    ``mp_*`` with ``None``, ``False`` or ``TT_MP`` (the pool's sizes only
    if there is a process pool). ``tasks`` (id → task, of ``tt``) unless
    ``tt=False``; ``aloops`` (name → ``ALoop``), ``schedulers`` (a dict
    keyed by the schedulers), ``async_job_schedulers`` (name → scheduler)
    when asked. A field the library did not set in a case is absent, as there.
    """

    def __repr__(self) -> str:
        return f"<SupervisorInfo {vars(self)!r}>"


class TaskSupervisor:
    """The library's return conventions over an engine ``TaskSupervisor``
    (see the module docstring).

    ``TaskSupervisor(supervisor_id=None, pool_size=None, reserve_normal=5,
    reserve_high=5, min_size=0, max_size=None, poll_delay=0.1,
    thread_idle_timeout=30.0)`` makes a new engine supervisor with those
    arguments (as ``engine.TaskSupervisor``) and this face of it;
    ``TaskSupervisor.wrap(supervisor)`` the face of an existing one. Meant
    to be subclassed, as the library's was: an attribute a subclass sets is
    its own unless the engine supervisor has one of that name.
    """

    def __init__(self, supervisor_id: str | None = None, pool_size: int | None = None,
                 reserve_normal: int = 5, reserve_high: int = 5, min_size: int | str = 0,
                 max_size: int | None = None, poll_delay: float = 0.1,
                 thread_idle_timeout: float = 30.0) -> None:
        sup = _EngineSupervisor(supervisor_id, pool_size, reserve_normal, reserve_high,
                                min_size, max_size, poll_delay, thread_idle_timeout)
        object.__setattr__(self, "_sup", sup)

    @classmethod
    def wrap(cls, supervisor: _EngineSupervisor) -> TaskSupervisor:
        """The face of the engine ``supervisor`` (no new supervisor, no new thread)."""
        if not isinstance(supervisor, _EngineSupervisor):
            raise TypeError(f"supervisor must be an engine TaskSupervisor, got {supervisor!r}")
        face = cls.__new__(cls)
        object.__setattr__(face, "_sup", supervisor)
        return face

    @property
    def engine_supervisor(self) -> _EngineSupervisor:
        """The engine supervisor this faces (its conventions: errors, not ``None``)."""
        return self._sup

    def __getattr__(self, name: str) -> Any:
        if name == "_sup":  # not set yet (a subclass's __init__ before ours)
            raise AttributeError(name)
        return getattr(self._sup, name)

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            sup = object.__getattribute__(self, "_sup")
        except AttributeError:  # a subclass's __init__ before ours: its own attribute
            sup = None
        if sup is not None and hasattr(sup, name):
            setattr(sup, name, value)
        else:
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<engine.compat face of {self._sup!r}>"

    # -- submitting ----------------------------------------------------------------------------
    def _refused(self) -> bool:
        """After a ``RuntimeError``: was it the refusal of a supervisor that
        is not active (stopped meanwhile)?"""
        return not self._sup.is_active()

    def put_task(self, target: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                 callback: Callable[[Any], Any] | None = None, priority: int = TASK_NORMAL,
                 delay: float | None = None, tt: int = TT_THREAD, task_id: Any = None,
                 worker: Any = None) -> Task | None:
        """The engine's ``put_task`` (``target``, ``args``, ``kwargs``,
        ``callback``, ``priority``, ``delay``, ``tt``, ``task_id``,
        ``worker``); ``None`` when the supervisor is not active or ``target``
        is ``None``."""
        if target is None or not self._sup.is_active():
            return None
        try:
            return self._sup.put_task(target, args, kwargs, callback, priority, delay, tt,
                                      task_id, worker)
        except RuntimeError:
            if self._refused():
                return None
            raise

    def submit(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Task | None:
        """The engine's ``submit(target, *args, _priority=, _delay=, _name=,
        _callback=, _tt=, **kwargs)``; ``None`` when the supervisor is not active."""
        if not self._sup.is_active():
            return None
        try:
            return self._sup.submit(target, *args, **kwargs)
        except RuntimeError:
            if self._refused():
                return None
            raise

    def submit_many(self, target: Callable[..., Any], args_iterable: Iterable[Any],
                    **options: Any) -> list[Task] | None:
        """The engine's ``submit_many(target, args_iterable, priority=, delay=,
        name=, callback=, tt=, kwargs=)``; ``None`` when the supervisor is not active."""
        if not self._sup.is_active():
            return None
        try:
            return self._sup.submit_many(target, args_iterable, **options)
        except RuntimeError:
            if self._refused():
                return None
            raise

    def mark_task_completed(self, task: Task | None = None, task_id: Any = None,
                            tt: int | None = None) -> bool:
        """Complete ``task`` (or the task ``task_id``, of type ``tt``; with
        neither, the one running in this thread); ``True``, also for a
        ``task`` that has already finished. An unknown ``task_id``:
        ``LookupError``, as in the library."""
        if isinstance(task, Task) and task.is_completed():
            return True
        try:
            self._sup.mark_task_completed(task, task_id, tt)
        except LookupError:
            if isinstance(task, Task) and task.is_completed():  # finished meanwhile
                return True
            raise
        return True

    # -- reading -------------------------------------------------------------------------------
    def get_task(self, task_id: Any) -> Task | None:
        """The unfinished task ``task_id``, else ``None`` (finished tasks are
        forgotten, as in the library)."""
        task = self._sup.get_task(task_id)
        return task if isinstance(task, Task) and not task.is_completed() else None

    def get_tasks(self, tt: int | None = None) -> dict[Any, Task]:
        """The unfinished tasks (of type ``tt``, or all) by id."""
        return {task.id: task for task in self._sup.get_tasks(tt)}

    def get_info(self, tt: Any = None, aloops: bool = True, schedulers: bool = True,
                 async_job_schedulers: bool = True) -> SupervisorInfo:
        """The library's ``get_info``: see ``SupervisorInfo`` for what ``tt``
        (``None``, ``False``: counts only, ``TT_THREAD``, ``TT_MP``),
        ``aloops``, ``schedulers`` and ``async_job_schedulers`` put in it."""
        check_flag("async_job_schedulers", async_job_schedulers)
        info = self._sup.get_info(tt, aloops, schedulers)  # checks tt, aloops, schedulers
        every = tt is None or tt is False
        result = SupervisorInfo()
        result.id, result.active, result.started = info.id, info.active, info.started
        if every or tt == TT_THREAD:
            result.thread_pool_size = info.thread_pool_size
            result.thread_reserve_normal = info.thread_reserve_normal
            result.thread_reserve_high = info.thread_reserve_high
            if tt is not False:
                result.thread_tasks = info.thread_tasks
            result.thread_tasks_count = info.thread_tasks_count
        if every or tt == TT_MP:
            if info.mp_pool_size is not None:
                result.mp_pool_size = info.mp_pool_size
                result.mp_reserve_normal = info.mp_reserve_normal
                result.mp_reserve_high = info.mp_reserve_high
            if tt is not False:
                result.mp_tasks = info.mp_tasks
            result.mp_tasks_count = info.mp_tasks_count
        if aloops:
            result.aloops = self._sup.get_aloops()
        if schedulers:
            result.schedulers = self.get_schedulers()
        if async_job_schedulers:
            result.async_job_schedulers = self._sup.async_job_schedulers
        if tt is not False:
            result.tasks = info.tasks
        return result

    def get_schedulers(self) -> dict[Any, None]:
        """The registered schedulers, as the keys of a dict (the library's
        values were its internals: here ``None``)."""
        return dict.fromkeys(self._sup.get_schedulers())

    # -- aloops --------------------------------------------------------------------------------
    def get_aloop(self, name: str | None = None, default: bool = True) -> ALoop | None:
        """The aloop ``name``, or ``None`` if there is none; ``name=None``:
        the default aloop (``None`` with ``default=False``)."""
        check_flag("default", default)
        if name is None:
            return self._sup.get_aloop() if default else None
        if not isinstance(name, str):
            raise TypeError(f"name must be an aloop name (a string) or None, got {name!r}")
        return self._sup.get_aloops().get(name)

    def create_aloop(self, name: str, daemon: bool = False, start: bool = True,
                     default: bool = False) -> ALoop | bool:
        """Create aloop ``name`` (``daemon``; started unless ``start=False``;
        the default one with ``default=True``: the library's order of
        arguments); ``False`` if an aloop of that name exists (logged)."""
        if isinstance(name, str) and name in self._sup.get_aloops():
            return self._exists("aloop", name)
        try:
            return self._sup.create_aloop(name, default=default, daemon=daemon, start=start)
        except ValueError:
            if isinstance(name, str) and name in self._sup.get_aloops():  # made meanwhile
                return self._exists("aloop", name)
            raise

    def _exists(self, what: str, name: str) -> bool:
        log.error("supervisor %s %s %s already exists", self._sup.id, what, name)
        return False

    def start_aloop(self, name: str) -> bool:
        """Start aloop ``name`` if it is not running; ``False`` if there is none (logged)."""
        aloop = self._named_aloop(name)
        if aloop is None:
            return self._not_found(name)
        if not aloop.is_active():
            try:
                aloop.start()
            except RuntimeError:
                if not aloop.is_active():
                    raise
        return True

    def stop_aloop(self, name: str, wait: bool | float = True,
                   cancel_tasks: bool = False) -> bool:
        """Stop aloop ``name`` (``wait``, ``cancel_tasks`` as the engine's);
        ``False`` if there is none (logged)."""
        if self._named_aloop(name) is None:
            return self._not_found(name)
        self._sup.stop_aloop(name, wait=wait, cancel_tasks=cancel_tasks)
        return True

    def _named_aloop(self, name: Any) -> ALoop | None:
        if not isinstance(name, str):
            raise TypeError(f"name must be an aloop name (a string), got {name!r}")
        return self._sup.get_aloops().get(name)

    def _not_found(self, name: str) -> bool:
        log.error("supervisor %s loop %s not found", self._sup.id, name)
        return False

    # -- schedulers ----------------------------------------------------------------------------
    def register_scheduler(self, scheduler: Any, loop: Any = None) -> bool:
        """Run ``scheduler.loop()`` on ``loop`` (default: the supervisor's);
        ``True``, ``False`` while the supervisor is not active."""
        if not self._sup.is_active():
            return False
        try:
            self._sup.register_scheduler(scheduler, loop)
        except RuntimeError:
            if self._refused():
                return False
            raise
        return True

    def register_sync_scheduler(self, scheduler: Any) -> bool:
        """Register ``scheduler`` to be stopped with the supervisor; ``True``."""
        self._sup.register_sync_scheduler(scheduler)
        return True

    def unregister_scheduler(self, scheduler: Any) -> bool:
        """``True``, ``False`` if ``scheduler`` was not registered."""
        try:
            self._sup.unregister_scheduler(scheduler)
        except LookupError:
            return False
        return True

    def unregister_sync_scheduler(self, scheduler: Any) -> bool:
        """``True``, ``False`` if ``scheduler`` was not registered."""
        try:
            self._sup.unregister_sync_scheduler(scheduler)
        except LookupError:
            return False
        return True

    # -- async job schedulers ------------------------------------------------------------------
    def create_async_job_scheduler(self, name: str, aloop: ALoop | str | None = None,
                                   start: bool = True, default: bool = False,
                                   daemon: bool = False) -> AsyncJobScheduler | bool:
        """The engine's (``name``, ``aloop``, ``start``, ``default``,
        ``daemon``); ``False`` if a scheduler of that name exists and is not
        stopped (logged)."""
        if self._scheduler_in_use(name):
            return self._exists("async job scheduler", name)
        try:
            return self._sup.create_async_job_scheduler(name, aloop, start, default, daemon)
        except ValueError:
            if self._scheduler_in_use(name):  # made meanwhile
                return self._exists("async job scheduler", name)
            raise

    def _scheduler_in_use(self, name: Any) -> bool:
        found = self._sup.async_job_schedulers.get(name) if isinstance(name, str) else None
        return found is not None and found.stats().state != _STOPPED

    def cancel_async_job(self, scheduler: Any = None, job: Any = None) -> None:
        """Cancel ``job`` (on ``scheduler``, or the one it belongs to); no
        ``job``: a warning is logged, as the library did."""
        if job is None:
            log.warning("supervisor %s async job cancellation requested but job not specified",
                        self._sup.id)
            return
        self._sup.cancel_async_job(scheduler, job)


#: The default supervisor's face: the same supervisor as ``engine.task_supervisor``.
task_supervisor = TaskSupervisor.wrap(_default_supervisor)


# -- tasks -------------------------------------------------------------------------------------
def background_task(f: Callable[..., Any] | None = None, *, name: str | None = None,
                    priority: int = TASK_NORMAL, tt: int = TT_THREAD,
                    delay: float | None = None, callback: Callable[[Any], Any] | None = None,
                    loop: Any = None, supervisor: Any = None, daemon: Any = None) -> Any:
    """``engine.background_task`` (``f``, ``name``, ``priority``, ``tt``,
    ``delay``, ``callback``, ``loop``, ``supervisor`` -- a facade or an engine
    supervisor -- and ``daemon``, which only warns); each call returns the
    ``Task``, or ``None`` when the supervisor is not active (thread and
    process tasks)."""
    if daemon is not None:
        check_flag("daemon", daemon)
        warnings.warn(f"background_task(daemon={daemon!r}) has no effect: tasks run on the "
                      f"supervisor's pool threads; remove the argument", DeprecationWarning,
                      stacklevel=2)
    sup = _engine(supervisor)
    if f is None:
        return functools.partial(background_task, name=name, priority=priority, tt=tt,
                                 delay=delay, callback=callback, loop=loop, supervisor=sup)
    submit = _tasks.background_task(f, name=name, priority=priority, tt=tt, delay=delay,
                                    callback=callback, loop=loop, supervisor=sup)
    if _tasks._is_coroutine_function(f):
        return submit  # an aloop that is not running raises, as in the library

    @functools.wraps(f)
    def submit_or_none(*args: Any, **kwargs: Any) -> Task | None:
        target = sup or _default_supervisor
        if not target.is_active():
            return None
        try:
            return submit(*args, **kwargs)
        except RuntimeError:
            if not target.is_active():
                return None
            raise

    return submit_or_none


def wait_completed(tasks: Task | Iterable[Task], timeout: float | None = None) -> Any:
    """Wait for one task or several (at most ``timeout`` seconds in all,
    else ``TimeoutError``); the result, or the list of results, with
    ``None`` for a task that failed or was canceled."""
    check_seconds("timeout", timeout, allow_none=True)
    single = isinstance(tasks, Task)
    task_list = [tasks] if single else list(tasks)
    for task in task_list:
        if not isinstance(task, Task):
            raise TypeError(f"wait_completed expects Task objects, got {task!r}")
    deadline = None if timeout is None else time.monotonic() + timeout
    for task in task_list:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not task.wait(left):
            raise TimeoutError(f"task {task.id!r} ({task.name}) did not finish within "
                               f"{timeout} s")
    results = [task.result if task.status == TASK_STATUS_COMPLETED else None
               for task in task_list]
    return results[0] if single else results


async def co_mp_apply(f: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                      priority: int | None = None, delay: float | None = None,
                      supervisor: Any = None) -> Any:
    """``engine.co_mp_apply`` (``f``, ``args``, ``kwargs``, ``priority``,
    ``delay``, ``supervisor``: a facade or an engine supervisor); ``None``
    when the supervisor is not active."""
    sup = _engine(supervisor) or _default_supervisor
    if not sup.is_active():
        return None
    return await _tasks.co_mp_apply(f, args, kwargs, priority, delay, sup)


# -- workers -----------------------------------------------------------------------------------
class BackgroundWorker(_Worker):
    """``engine.BackgroundWorker`` whose ``start()`` returns ``True``, and
    ``False`` for a worker already running; ``supervisor`` may be a facade.
    The kinds below are built on it, so each is also an instance of it."""

    def __init__(self, *args: Any, supervisor: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, supervisor=_engine(supervisor), **kwargs)

    def start(self, *args: Any, **kwargs: Any) -> bool:
        """``engine.BackgroundWorker.start``; ``True``, ``False`` if it runs already."""
        if self.is_active():
            return False
        try:
            super().start(*args, **kwargs)
        except RuntimeError:
            if self.is_active():  # started by another thread meanwhile
                return False
            raise
        return True


class BackgroundAsyncWorker(BackgroundWorker, _AsyncWorker):
    """``engine.BackgroundAsyncWorker`` with ``start()`` → ``True`` / ``False``."""


class BackgroundIntervalWorker(BackgroundWorker, _IntervalWorker):
    """``engine.BackgroundIntervalWorker`` with ``start()`` → ``True`` / ``False``."""


class BackgroundQueueWorker(BackgroundWorker, _QueueWorker):
    """``engine.BackgroundQueueWorker`` with ``start()`` → ``True`` / ``False``."""


class BackgroundEventWorker(BackgroundWorker, _EventWorker):
    """``engine.BackgroundEventWorker`` with ``start()`` → ``True`` / ``False``."""


def background_worker(f: Callable[..., Any] | None = None, *, interval: float | None = None,
                      delay: float | None = None, delay_before: float | None = None,
                      q: Any = False, queue: Any = False, e: bool = False, event: bool = False,
                      priority: int = TASK_NORMAL, loop: Any = None, name: str | None = None,
                      on_error: Callable[..., Any] | None = None,
                      on_error_kwargs: dict | None = None, o: Any = None,
                      supervisor: Any = None) -> Any:
    """``engine.background_worker`` (``interval``, ``delay``,
    ``delay_before``, ``q``/``queue``, ``e``/``event``, ``priority``,
    ``loop``, ``name``, ``on_error``, ``o``, ``supervisor`` -- a facade or an
    engine supervisor) making the workers of this module; ``on_error_kwargs``
    as the workers take it (``on_error(**on_error_kwargs)``)."""
    sup = _engine(supervisor)
    # Every option checked the engine's way, nothing built yet.
    _background_worker(None, interval=interval, delay=delay, delay_before=delay_before, q=q,
                       queue=queue, e=e, event=event, priority=priority, loop=loop, name=name,
                       on_error=on_error, o=o, supervisor=sup)
    if on_error_kwargs is not None and not isinstance(on_error_kwargs, dict):
        raise TypeError(f"on_error_kwargs must be a dict, got {on_error_kwargs!r}")
    if f is None:
        return lambda func: background_worker(
            func, interval=interval, delay=delay, delay_before=delay_before, q=q, queue=queue,
            e=e, event=event, priority=priority, loop=loop, name=name, on_error=on_error,
            on_error_kwargs=on_error_kwargs, o=o, supervisor=sup)
    if not callable(f):
        raise TypeError(f"f must be callable, got {f!r}")
    kind = _decorator_kind(q, queue, e, event, interval, delay)
    common = dict(name=name, executor_func=f, priority=priority, loop=loop,
                  delay_before=delay_before, on_error=on_error, on_error_kwargs=on_error_kwargs,
                  o=o, supervisor=sup)
    if kind == "queue":
        return BackgroundQueueWorker(delay=delay, q=q if q is not False else queue, **common)
    if kind == "event":
        return BackgroundEventWorker(delay=delay, **common)
    if kind == "interval":
        return BackgroundIntervalWorker(interval=interval, **common)
    if _tasks._is_coroutine_function(f):
        return BackgroundAsyncWorker(delay=delay, **common)
    return BackgroundWorker(delay=delay, **common)


# -- collections -------------------------------------------------------------------------------
class TaskCollection(_TaskCollection):
    """``engine.TaskCollection`` (``on_error``, ``on_error_kwargs``,
    ``include_exceptions``, ``poll_delay``) whose ``supervisor`` may be a facade."""

    def __init__(self, *, on_error: Callable[..., Any] | None = None,
                 on_error_kwargs: dict | None = None, include_exceptions: bool = False,
                 supervisor: Any = None, poll_delay: float | None = None) -> None:
        super().__init__(on_error=on_error, on_error_kwargs=on_error_kwargs,
                         include_exceptions=include_exceptions, supervisor=_engine(supervisor),
                         poll_delay=poll_delay)


__all__ = [
    "TASK_LOW", "TASK_NORMAL", "TASK_HIGH", "TASK_CRITICAL", "TT_COROUTINE", "TT_THREAD",
    "TT_MP", "TASK_STATUS_QUEUED", "TASK_STATUS_DELAYED", "TASK_STATUS_STARTED",
    "TASK_STATUS_COMPLETED", "TASK_STATUS_CANCELED", "TASK_STATUS_FAILED",
    "TaskSupervisor", "SupervisorInfo", "task_supervisor", "ALoop", "Task",
    "background_task", "wait_completed", "co_mp_apply",
    "BackgroundWorker", "BackgroundAsyncWorker", "BackgroundIntervalWorker",
    "BackgroundQueueWorker", "BackgroundEventWorker", "background_worker",
    "FunctionCollection", "TaskCollection", "Locker", "LocalProxy", "g", "set_debug",
    "AsyncJobScheduler", "AsyncScheduledJob",
]
