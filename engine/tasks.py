"""Module-level helpers: ``background_task``, ``wait_completed``, ``co_mp_apply``.

They add no state of their own: ``background_task`` submits through a
supervisor, ``wait_completed`` waits on one latch released by the tasks'
done callbacks, and ``co_mp_apply`` awaits an mp task.

Threads: ``background_task`` wrappers and ``wait_completed`` from any
thread; ``co_mp_apply`` from any running asyncio loop.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import threading
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .constants import PRIORITY_NAMES, TASK_NORMAL, TT_MP, TT_THREAD, check_priority
from .default import task_supervisor
from .supervisor import TaskSupervisor
from .task import Task, call_when_all_done
from .validate import check_callable, check_flag, check_seconds


def _default_supervisor() -> TaskSupervisor:
    return task_supervisor


def background_task(f: Callable[..., Any] | None = None, *, name: str | None = None,
                    priority: int = TASK_NORMAL, tt: int = TT_THREAD,
                    delay: float | None = None, callback: Callable[[Any], Any] | None = None,
                    loop: Any = None, supervisor: TaskSupervisor | None = None,
                    daemon: Any = None) -> Any:
    """Make ``f`` submit itself as a task each time it is called.

    Use as ``@background_task``, ``@background_task(priority=TASK_HIGH)`` or
    ``background_task(f, name='x')(args...)``. Each call returns the ``Task``;
    the task completes when ``f`` returns (its result) or fails when it raises,
    and ``callback(result)`` is called on success. ``tt=TT_MP`` runs ``f`` in
    the process pool (it gets ``_task_id``). A coroutine function runs on
    ``loop`` (an aloop name, an ``ALoop`` or an asyncio loop), else on the
    supervisor's default aloop (``RuntimeError`` if it has none). ``daemon``
    (the original library's) does nothing here, which a ``DeprecationWarning``
    says: tasks run on the supervisor's pool threads.
    """
    if daemon is not None:
        check_flag("daemon", daemon)
        warnings.warn(f"background_task(daemon={daemon!r}) has no effect: tasks run on the "
                      f"supervisor's pool threads; remove the argument", DeprecationWarning,
                      stacklevel=2)
    if f is None:
        return functools.partial(background_task, name=name, priority=priority, tt=tt,
                                 delay=delay, callback=callback, loop=loop,
                                 supervisor=supervisor)
    # The seed's idiom, background_task(f, priority=p)() per call: a plain
    # function, a thread task, nothing else to check. The checks below, written out.
    if (type(f) is _FUNCTION and not f.__code__.co_flags & _CO_COROUTINE
            and type(priority) is int and priority in PRIORITY_NAMES and tt == TT_THREAD
            and tt is not True and name is None and delay is None and callback is None
            and (supervisor is None or type(supervisor) is TaskSupervisor)):
        wrapper = _new_submitter(_Submitter)  # __init__'s stores, without its frame
        wrapper.__wrapped__ = wrapper._target = f
        wrapper._supervisor = supervisor
        wrapper._priority = priority
        wrapper._delay = wrapper._callback = None
        wrapper._name = f.__qualname__
        wrapper._tt = TT_THREAD
        return wrapper
    if not callable(f):
        raise TypeError(f"background_task target must be callable, got {f!r}")
    check_priority(priority)
    if callback is not None:
        check_callable("callback", callback)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if delay is not None:
        delay = check_seconds("delay", delay) or None
    if supervisor is not None and not isinstance(supervisor, TaskSupervisor):
        raise TypeError(f"supervisor must be a TaskSupervisor, got {supervisor!r}")
    task_name = name or getattr(f, "__qualname__", None) or repr(f)

    if _is_coroutine_function(f):
        @functools.wraps(f)
        def submit_coroutine(*args: Any, **kwargs: Any) -> Task:
            sup = supervisor or _default_supervisor()
            target_loop = sup.registry.resolve_loop(loop)
            coro = f(*args, **kwargs)
            if callback is not None:
                coro = _then(coro, callback)
            return sup.dispatcher.submit_coroutine(coro, target_loop, name=task_name,
                                                   priority=priority, delay=delay)

        return submit_coroutine
    if tt == TT_THREAD and type(tt) is int:
        return _Submitter(f, f, supervisor, priority, delay, task_name, callback, tt)
    if isinstance(tt, bool) or tt != TT_MP:
        raise ValueError(f"background_task: tt must be TT_THREAD or TT_MP for a plain "
                         f"function, got {tt!r}")
    by_name = "<" not in getattr(f, "__qualname__", "<")  # not a lambda/local
    return _Submitter(f, _ByName(f) if by_name else f, supervisor, priority, delay, task_name,
                      callback, tt)


def _is_coroutine_function(f: Any) -> bool:
    if type(f) is _FUNCTION:  # the common case, without inspect's unwrapping
        return bool(f.__code__.co_flags & _CO_COROUTINE)
    return inspect.iscoroutinefunction(f)


_FUNCTION = types.FunctionType
_CO_COROUTINE = inspect.CO_COROUTINE


class _Submitter:
    """What ``background_task`` returns for a plain function: calling it
    submits ``f(*args, **kwargs)`` and returns the ``Task``.

    It stands for ``f`` the way ``functools.wraps`` would make it (name,
    qualified name, module, docstring, ``__wrapped__``, and ``f``'s other
    attributes are read through), and binds as a method; but it costs one
    small object, not a copy of ``f``'s attributes, so that the seed's idiom
    ``background_task(f, priority=p)()`` per call stays cheap.
    """

    # __dict__: attributes set on it later, as on a function (made only then).
    __slots__ = ("__wrapped__", "_target", "_supervisor", "_priority", "_delay", "_name",
                 "_callback", "_tt", "__dict__")

    def __init__(self, f: Callable[..., Any], target: Callable[..., Any],
                 supervisor: TaskSupervisor | None, priority: int, delay: float | None,
                 name: str, callback: Callable[[Any], Any] | None, tt: int) -> None:
        self.__wrapped__ = f
        self._target = target
        self._supervisor = supervisor
        self._priority = priority
        self._delay = delay
        self._name = name
        self._callback = callback
        self._tt = tt

    def __call__(self, *args: Any, **kwargs: Any) -> Task:
        sup = self._supervisor or _default_supervisor()
        if self._tt == TT_THREAD:  # checked when this wrapper was made: not again per call
            return sup.dispatcher.submit_checked(self._target, args, kwargs, self._callback,
                                                 self._priority, self._delay, self._name)
        return sup.dispatcher.submit_call(self._target, args, kwargs, self._callback,
                                          self._priority, self._delay, self._tt, self._name)

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    def __getattr__(self, name: str) -> Any:
        # What an instance lacks -- __name__, __qualname__, f's own attributes
        # -- is f's, as functools.wraps would have copied it.
        return getattr(self.__wrapped__, name)

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]  # f's, not this class's
        return getattr(self.__wrapped__, "__doc__", None)

    def __reduce__(self) -> tuple:  # pickled by reference, as the function it stands for
        f = self.__wrapped__
        return _module_attribute, (f.__module__, f.__qualname__)

    def __repr__(self) -> str:
        return f"<background task {self._name}>"


_new_submitter = object.__new__


def _module_attribute(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class _ByName:
    """An mp target decorated in place with ``@background_task(tt=TT_MP)``:
    its module attribute is now the wrapper, so it is pickled by module and
    name and resolves, in the child, to the undecorated function."""

    def __init__(self, f: Callable[..., Any]) -> None:
        self.f = f

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.f(*args, **kwargs)

    def __reduce__(self) -> tuple:
        return _undecorated, (self.f.__module__, self.f.__qualname__)

    def __repr__(self) -> str:
        return repr(self.f)


def _undecorated(module: str, qualname: str) -> Callable[..., Any]:
    obj = _module_attribute(module, qualname)
    return getattr(obj, "__wrapped__", obj)


async def _then(coro: Any, callback: Callable[[Any], Any]) -> Any:
    result = await coro
    callback(result)
    return result


async def co_mp_apply(f: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                      priority: int | None = None, delay: float | None = None,
                      supervisor: TaskSupervisor | None = None) -> Any:
    """Run ``f(*args, _task_id=..., **kwargs)`` in the process pool and await its result."""
    sup = supervisor or _default_supervisor()
    task = sup.submit(f, *args, _priority=TASK_NORMAL if priority is None else priority,
                      _delay=delay, _tt=TT_MP, **(kwargs or {}))
    return await task


def wait_completed(tasks: Task | Iterable[Task], timeout: float | None = None) -> Any:
    """Wait for one task or several; return the result or the list of results.

    Raises ``TimeoutError`` if they have not all finished within ``timeout``
    seconds, re-raises the exception of the first failed task (in the order
    given) and raises ``TaskCanceledError`` for a canceled one.
    """
    check_seconds("timeout", timeout, allow_none=True)
    single = isinstance(tasks, Task)
    task_list = [tasks] if single else list(tasks)
    for task in task_list:
        if not isinstance(task, Task):
            raise TypeError(f"wait_completed expects Task objects, got {task!r}")
    if not _wait_all(task_list, timeout):
        late = next(t for t in task_list if not t.is_completed())
        raise TimeoutError(f"task {late.id!r} ({late.name}) did not finish within {timeout} s")
    results = [task.outcome() for task in task_list]
    return results[0] if single else results


def _wait_all(tasks: list[Task], timeout: float | None) -> bool:
    """Wait until every task finished, with one event for all of them."""
    latch = threading.Event()
    tickets = itertools.count(1)
    last_ticket: list[int | None] = [None]

    def done() -> None:  # next() on a count is atomic: exactly one caller sees the last
        if next(tickets) == last_ticket[0]:
            latch.set()

    registered = call_when_all_done(tasks, done)
    if not registered:
        return True
    last_ticket[0] = registered + 1  # the callbacks' tickets and ours
    return next(tickets) == registered + 1 or latch.wait(timeout)
