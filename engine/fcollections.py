"""Function and task collections: ordered packs of functions run together,
e.g. at a program's start or stop (the original library's ``FunctionCollection``
and ``TaskCollection``, ``doc/collections.rst``, ``atasker/f.py``).

A collection holds functions with a priority (a number, lower = more urgent;
``TASK_NORMAL`` by default); ``execute()`` runs them in priority order (the
order of appending within one priority) and returns ``(results, all_ok)``,
``results`` mapping ``"<module>.<name>"`` to what each returned; ``run()``
returns ``results`` only. A function that raises -- any ``BaseException``,
contained as all user code -- counts as not ok; its result is ``None``, or
``(exception, traceback text)`` with ``include_exceptions=True``. Then
``on_error(**on_error_kwargs)`` is called if given (itself contained); without
it the exception is re-raised to the caller, as the library did.

``FunctionCollection`` calls the functions one by one in the caller's thread
(the first exception, with no ``on_error``, is re-raised at once: the rest do
not run). ``TaskCollection`` submits them all to a supervisor as thread
tasks with their priority (one of the ``TASK_*`` constants), waits for all,
and re-raises the first exception in priority order after all have ended.

Module named so as not to shadow the standard ``collections`` inside the
package. Threads: a collection may be used from any thread; ``append``,
``remove`` and ``execute`` take its lock only to copy or change the list,
never while a function runs (a function may append to its own collection;
that takes effect at the next ``execute``).
"""

from __future__ import annotations

import logging
import math
import threading
import traceback
from collections.abc import Callable
from typing import Any

from .constants import PRIORITIES, PRIORITY_NAMES, TASK_NORMAL
from .usercode import call_user, reraise_if_main_interrupt, safe_repr
from .validate import check_callable, check_flag

log = logging.getLogger("engine.collections")


def function_key(f: Callable[..., Any]) -> str:
    """The result key of ``f``: ``"<module>.<name>"``, as the library's."""
    module = getattr(f, "__module__", None) or "?"
    name = getattr(f, "__name__", None) or safe_repr(f, 80)
    return f"{module}.{name}"


class FunctionCollection:
    """Functions run one by one in the caller's thread; see the module docstring.

    Used as a decorator (``@collection`` or ``@collection(priority=...)``),
    with ``append(f, priority=None)``; calling it with no argument runs it.
    """

    def __init__(self, *, on_error: Callable[..., Any] | None = None,
                 on_error_kwargs: dict | None = None, include_exceptions: bool = False) -> None:
        check_callable("on_error", on_error)
        if on_error_kwargs is not None and not isinstance(on_error_kwargs, dict):
            raise TypeError(f"on_error_kwargs must be a dict or None, got {on_error_kwargs!r}")
        check_flag("include_exceptions", include_exceptions)
        self.on_error = on_error
        self.on_error_kwargs = dict(on_error_kwargs or {})
        self.include_exceptions = include_exceptions
        self.default_priority = TASK_NORMAL
        # Guards _entries: (priority, function) in the order appended.
        self._lock = threading.Lock()
        self._entries: list[tuple[float, Callable[..., Any]]] = []

    def __call__(self, f: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        if f is not None:
            if kwargs:
                raise TypeError(f"use @collection(priority=...) as a decorator, got "
                                f"{f!r} and {kwargs!r}")
            self.append(f)
            return f
        if kwargs:
            unknown = set(kwargs) - {"priority"}
            if unknown:
                raise TypeError(f"unknown argument(s) {sorted(unknown)} for a collection "
                                f"decorator (only priority=)")
            priority = kwargs["priority"]
            self._check_priority(priority)

            def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
                self.append(func, priority=priority)
                return func  # the library returned None here, losing the function

            return decorator
        return self.run()

    @property
    def functions(self) -> list[Callable[..., Any]]:
        """The functions, in the order they run."""
        return [f for _, f in self._sorted()]

    def _check_priority(self, priority: Any) -> None:
        if isinstance(priority, bool) or not isinstance(priority, (int, float)) or (
                isinstance(priority, float) and not math.isfinite(priority)):
            raise TypeError(f"priority must be a finite number (lower = more urgent), "
                            f"got {priority!r}")

    def append(self, f: Callable[..., Any], priority: float | None = None) -> None:
        """Add ``f`` with ``priority`` (``None``: ``default_priority``; 0 is
        ``TASK_CRITICAL``, not the default); a function already there is left as is."""
        check_callable("f", f, allow_none=False)
        if priority is not None:
            self._check_priority(priority)
        with self._lock:
            if any(g is f for _, g in self._entries):
                return
            self._entries.append((self.default_priority if priority is None else priority, f))

    def remove(self, f: Callable[..., Any]) -> None:
        """Remove ``f``. Not there: ``on_error(**on_error_kwargs)`` if set
        (the library's), else ``ValueError``."""
        with self._lock:
            for i, (_, g) in enumerate(self._entries):
                if g is f:
                    del self._entries[i]
                    return
        if self.on_error is None:
            raise ValueError(f"{safe_repr(f)} is not in the collection")
        self._call_on_error()

    def _sorted(self) -> list[tuple[float, Callable[..., Any]]]:
        with self._lock:
            entries = list(self._entries)
        return sorted(entries, key=lambda entry: entry[0])  # stable: appended order within one

    def run(self) -> dict[str, Any]:
        """``execute()``'s results only."""
        return self.execute()[0]

    def execute(self) -> tuple[dict[str, Any], bool]:
        """Run every function; ``(results, all_ok)``."""
        results: dict[str, Any] = {}
        all_ok = True
        for _, f in self._sorted():
            key = function_key(f)
            ok, value, text = _call(f, self._error_handler())
            results[key] = value if ok else self._failed_result(value, text)
            if not ok:
                all_ok = False
                self._after_error(value)
        return results, all_ok

    def _error_handler(self) -> Callable[[], None] | None:
        return None if self.on_error is None else self._call_on_error

    def _failed_result(self, exc: BaseException, text: str) -> Any:
        return (exc, text) if self.include_exceptions else None

    def _after_error(self, exc: BaseException) -> None:
        """After ``on_error`` (if set, ``_call`` called it): without it, re-raise."""
        if self.on_error is None:
            raise exc
        reraise_if_main_interrupt(exc)

    def _call_on_error(self) -> None:
        ok, exc = call_user(f"on_error of {self!r}", self.on_error, logger=log,
                            **self.on_error_kwargs)
        if not ok:
            reraise_if_main_interrupt(exc)


def _call(f: Callable[..., Any], on_error: Callable[[], None] | None = None
          ) -> tuple[bool, Any, str]:
    """``(True, result, "")`` or ``(False, exception, traceback text)``.

    ``on_error`` is called while the exception is being handled, as the
    library's ``error()`` was: ``traceback.print_exc()`` and ``sys.exc_info()``
    in it see the function's exception."""
    try:
        return True, f(), ""
    except BaseException as exc:  # noqa: BLE001 - user code (see engine.usercode)
        text = traceback.format_exc()
        if on_error is not None:
            on_error()
        return False, exc, text


class TaskCollection(FunctionCollection):
    """Functions run as thread tasks of a supervisor (default:
    ``engine.task_supervisor``) with their priority; ``execute`` returns when
    all have ended. Priorities must be ``TASK_*`` constants. ``poll_delay``
    (the library's) is accepted and does nothing: nothing polls."""

    def __init__(self, *, on_error: Callable[..., Any] | None = None,
                 on_error_kwargs: dict | None = None, include_exceptions: bool = False,
                 supervisor: Any = None, poll_delay: float | None = None) -> None:
        from .supervisor import TaskSupervisor
        if supervisor is not None and not isinstance(supervisor, TaskSupervisor):
            raise TypeError(f"supervisor must be a TaskSupervisor or None, got {supervisor!r}")
        if poll_delay is not None:
            from .validate import check_seconds
            check_seconds("poll_delay", poll_delay, positive=True)
        super().__init__(on_error=on_error, on_error_kwargs=on_error_kwargs,
                         include_exceptions=include_exceptions)
        if supervisor is None:
            from .default import task_supervisor as supervisor
        self.supervisor = supervisor
        self.poll_delay = poll_delay

    def _check_priority(self, priority: Any) -> None:
        if isinstance(priority, bool) or priority not in PRIORITIES:
            names = ", ".join(f"{PRIORITY_NAMES[p]}={p}" for p in PRIORITIES)
            raise ValueError(f"a task collection's priority must be a task priority "
                             f"({names}), got {priority!r}")

    def execute(self) -> tuple[dict[str, Any], bool]:
        """Submit every function, wait for all; ``(results, all_ok)``."""
        from .tasks import wait_completed
        entries = self._sorted()
        tasks = [self.supervisor.submit(self._run_task, f, _priority=priority,
                                        _name=function_key(f))
                 for priority, f in entries]
        outcomes = wait_completed(tasks) if tasks else []
        results: dict[str, Any] = {}
        first_error: BaseException | None = None
        for (_, f), (ok, value, text) in zip(entries, outcomes, strict=True):
            results[function_key(f)] = value if ok else self._failed_result(value, text)
            if not ok and first_error is None:
                first_error = value
        if first_error is not None and self.on_error is None:
            raise first_error
        return results, first_error is None

    def _run_task(self, f: Callable[..., Any]) -> tuple[bool, Any, str]:
        """In a pool thread: the call, contained; ``on_error`` right after it."""
        return _call(f, self._error_handler())


__all__ = ["FunctionCollection", "TaskCollection", "function_key"]
