"""The ``Task`` object: one unit of work accepted by a supervisor, and the
slim ``FinishedTask`` record the supervisor's history keeps of it.

A task's mutable fields (status, times, result, exception and its list of
done callbacks) are written only by its supervisor, under the supervisor's
lock, which the task shares (``Task._lock``). Readers on other threads may
read single fields at any time; ``wait()`` and ``await task`` take the lock to
register a wake-up, so a task that finishes concurrently is never missed.

Done callbacks run exactly once, after the supervisor releases its lock, on
the thread that finished the task.

**The engine-internal API of a task** (used by the engine's own modules,
not public; the names carry no underscore so that no module reaches into
another's privates):

* ``auto`` -- True for a ``submit`` task (completed when its target
  returns), False for a ``put_task`` one.
* ``handle`` -- the pool's own per-task handle, written under the
  supervisor's lock: ``None`` for a thread task, the ``Backend`` an mp task
  was sent to, the ``CoroutineHandle`` (loop, asyncio task) of a coroutine.
* ``timeouts_fired`` -- bits of the queue-timeout levels already fired
  (``admission.TIMEOUT_WARNING`` / ``TIMEOUT_CRITICAL``), under the lock.
* ``add_done_callback_locked(fn)`` -- with the supervisor's lock held:
  ``fn()`` runs once the task finishes, unlocked.
* ``done_callbacks`` -- the list of those callbacks (``None``: none), under
  the lock; the ledger takes it, and sets ``None``, as it finishes the task.
* ``call_when_done(fn)`` -- any thread, no lock held: register ``fn()``
  unless the task has finished already (then ``False``, ``fn`` not called);
  ``call_when_all_done(tasks, fn)`` does it for many tasks, one lock hold
  per chunk of them.
* ``await task.finished()`` -- wait on the running loop until the task
  finishes, without raising its exception (the workers read it as data).

**What a finished task keeps alive, and for how long** (DESIGN rule 9).
A ``Task`` keeps everything -- its result, its exception (with the
traceback, hence the frames and their locals), target, args, kwargs and
callback -- for as long as somebody holds it: the caller who submitted it,
a ``wait_completed`` list, the console's row. The console's re-run needs
target, args and kwargs of a held task, so they are not dropped. The engine
itself does not hold a finished ``Task``: its done callbacks are released
when it finishes, and the supervisor's history (``engine.ledger``) keeps
only a weak reference to it plus a ``FinishedTask``: id, name, type,
priority, status, times, a short repr of the result (``safe_repr``, at most
``RESULT_REPR_LIMIT`` characters) and, for a failure, a ``RecordedError``
with the exception's type, message (at most ``MESSAGE_LIMIT``) and formatted
traceback (at most ``TRACEBACK_LIMIT`` characters) -- text, never the
objects. So once every caller drops a task, its payload is freed (a failed
task's exception usually sits in a reference cycle with a frame, so it goes
at the next garbage collection), and ``get_task`` answers with the record.

The record is filled on the thread that finished the task, after the
supervisor's lock is released (the result's ``__repr__`` and the
exception's ``__str__`` are user code), before the task's waiters wake.
``FinishedTask`` objects are immutable once filled and may be read from any
thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import operator
import threading
import traceback
import types
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
from .usercode import log_contained, reraise_if_main_interrupt, safe_repr

_log = logging.getLogger(__name__)

#: The longest repr of a result the history keeps.
RESULT_REPR_LIMIT = 200
#: The longest exception message the history keeps.
MESSAGE_LIMIT = 500
#: The longest formatted traceback the history keeps (its start and its end).
TRACEBACK_LIMIT = 4000


class TaskCanceledError(concurrent.futures.CancelledError):
    """Raised when the outcome of a canceled task is asked for."""


class Task:
    """A task accepted by a :class:`~engine.TaskSupervisor`.

    Public read-only attributes: ``id``, ``name``, ``tt``, ``priority``,
    ``status``, ``time_submitted``, ``time_queued``, ``time_started``,
    ``time_completed`` (``time.monotonic()`` values or ``None``), ``result``,
    ``exception``, ``target``, ``args``, ``kwargs``, ``callback``, ``delay``.

    A finished task keeps all of them while it is held (see the module
    docstring); the supervisor's history keeps a ``FinishedTask`` instead.
    """

    __slots__ = (
        "id", "name", "tt", "priority", "status", "target", "args", "kwargs",
        "callback", "delay", "time_submitted", "time_queued", "time_started",
        "time_completed", "result", "exception", "supervisor_id",
        "auto", "handle", "timeouts_fired", "done_callbacks", "_lock",
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
        # Engine-internal (see the module docstring). True: the supervisor
        # completes the task when its target returns; False (put_task): the
        # target holds its slot until mark_task_completed.
        self.auto = auto
        # The pool's per-task handle (None, an mp Backend, a CoroutineHandle).
        self.handle: Any = None
        # Bit 1: timeout_warning fired, bit 2: timeout_critical fired.
        self.timeouts_fired = 0
        # The supervisor's lock: it guards every mutable field of the task.
        self._lock = lock
        self.done_callbacks: list[Callable[[], Any]] | None = None

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
            self.add_done_callback_locked(event.set)
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
        await self.finished()
        return self.outcome()

    async def finished(self) -> None:
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

            self.add_done_callback_locked(wake)
        await future

    def add_done_callback(self, fn: Callable[[Task], Any]) -> None:
        """Call ``fn(task)`` once the task has finished: at once if it has,
        else on the thread that finishes it, after the engine's lock is
        released. Whatever ``fn`` raises is logged, never propagated."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        with self._lock:
            if self.status not in FINAL_STATUSES:
                self.add_done_callback_locked(functools.partial(fn, self))
                return
        try:
            fn(self)
        except BaseException as exc:  # noqa: BLE001 - contained like every done callback
            reraise_if_main_interrupt(exc)  # Ctrl+C on the main thread still reaches it
            log_contained(f"task done callback {fn!r}", exc, _log)

    # -- engine-internal ------------------------------------------------------
    def add_done_callback_locked(self, fn: Callable[[], Any]) -> None:
        """With the supervisor's lock held: ``fn()`` once the task finishes."""
        if self.done_callbacks is None:
            self.done_callbacks = [fn]
        else:
            self.done_callbacks.append(fn)

    def call_when_done(self, fn: Callable[[], Any]) -> bool:
        """Any thread: ``fn()`` once the task finishes; ``False`` (and ``fn``
        not called) if it has finished already."""
        if self.status in FINAL_STATUSES:  # final is for good: no lock needed to see it
            return False
        with self._lock:
            if self.status in FINAL_STATUSES:
                return False
            self.add_done_callback_locked(fn)
            return True

    def __repr__(self) -> str:
        return (
            f"<Task {self.id!r} {self.name!r} {TASK_TYPE_NAMES.get(self.tt, self.tt)} "
            f"{PRIORITY_NAMES.get(self.priority, self.priority)} "
            f"{STATUS_NAMES.get(self.status, self.status)}>"
        )


#: At most this many registrations per lock hold in ``call_when_all_done``:
#: a finishing worker never waits long behind a big wait.
REGISTER_CHUNK = 256


def call_when_all_done(tasks: list[Task], fn: Callable[[], Any]) -> int:
    """Any thread, no lock held: ``call_when_done(fn)`` for each of ``tasks``,
    with one hold of a supervisor's lock per ``REGISTER_CHUNK`` tasks of it
    instead of one per task, and none for a task already finished (a final
    status never changes). Returns how many registrations were made: ``fn``
    will be called that many times."""
    groups: dict[int, tuple[Any, list[Task]]] = {}
    for task in tasks:
        if task.status not in FINAL_STATUSES:
            lock = task._lock
            group = groups.get(id(lock))
            if group is None:
                groups[id(lock)] = (lock, [task])
            else:
                group[1].append(task)
    registered = 0
    for lock, group in groups.values():
        for start in range(0, len(group), REGISTER_CHUNK):
            with lock:
                for task in group[start:start + REGISTER_CHUNK]:
                    if task.status not in FINAL_STATUSES:
                        callbacks = task.done_callbacks
                        if callbacks is None:
                            task.done_callbacks = [fn]
                        else:
                            callbacks.append(fn)
                        registered += 1
    return registered


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


# -- what the history keeps --------------------------------------------------------
class RecordedError(Exception):
    """What the history keeps of a failed task's exception: text only.

    ``type_name`` (``module.QualName``, builtins unqualified), ``message``
    (``str(exc)``, at most ``MESSAGE_LIMIT`` characters) and
    ``traceback_text`` (the formatted traceback, chained exceptions and notes
    included, at most ``TRACEBACK_LIMIT`` characters). ``str()`` is
    ``"Type: message"``; the original traceback text is also its note, so a
    standard traceback print of the record shows it.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text
        if traceback_text:
            self.add_note(f"original traceback:\n{traceback_text.rstrip()}")

    def __reduce__(self) -> tuple:
        return type(self), (self.type_name, self.message, self.traceback_text)

    @classmethod
    def of(cls, exc: BaseException) -> RecordedError:
        """The record of ``exc``; never raises (its ``__str__`` is user code)."""
        kind = type(exc)
        module = getattr(kind, "__module__", None)
        type_name = kind.__qualname__ if module in (None, "builtins") else (
            f"{module}.{kind.__qualname__}")
        try:
            message = str(exc)
        except BaseException as error:  # noqa: BLE001 - user __str__ is user code
            message = f"<str() raised {type(error).__name__}>"
        try:  # each frame and exception line clipped, so the end keeps the type
            text = "".join(_clip(chunk, TRACEBACK_LIMIT // 4, "...\n")
                           for chunk in traceback.format_exception(exc))
        except BaseException as error:  # noqa: BLE001 - e.g. a __str__ raising in a chain
            text = f"<the traceback could not be formatted: {type(error).__name__}>"
        return cls(type_name, _clip(message, MESSAGE_LIMIT), _clip_middle(text, TRACEBACK_LIMIT))


class ResultDroppedError(LookupError):
    """``outcome()`` of a completed task the history no longer holds: its
    result was freed once nobody held the ``Task`` (``result`` is its repr)."""


class FinishedTask:
    """The history's record of a finished task nobody holds any more.

    The same public read-only attributes as ``Task``: ``id``, ``name``,
    ``tt``, ``priority``, ``status``, ``delay``, the four times,
    ``supervisor_id``; ``result`` is a short repr of the result (a ``str``,
    at most ``RESULT_REPR_LIMIT`` characters) or ``None``; ``exception`` a
    ``RecordedError`` or ``None``. ``target``, ``args``, ``kwargs`` and
    ``callback`` are kept only when they are small and plain (functions
    without closures, and numbers, short strings and bytes, small tuples,
    lists and dicts of them: see ``_re_runnable``), so that such a task can
    still be re-run; otherwise ``None``, ``()``, ``{}`` and ``None``.
    ``is_completed()`` and ``wait()`` are ``True``; ``outcome()`` (and
    ``await``) raises: ``RecordedError`` for a failed task,
    ``TaskCanceledError`` for a canceled one, ``ResultDroppedError`` for a
    completed one (the value itself is gone, only its repr is left).
    """

    __slots__ = ("id", "name", "tt", "priority", "status", "delay", "time_submitted",
                 "time_queued", "time_started", "time_completed", "supervisor_id", "auto",
                 "result", "exception", "target", "args", "_kwargs", "callback")

    def __init__(self, fields: tuple, kept: tuple | None) -> None:
        """From ``plain_fields(task)`` and ``kept_of(task)`` (``None``: not
        known yet, the task's thread is still recording it)."""
        (self.id, self.name, self.tt, self.priority, self.status, self.delay,
         self.time_submitted, self.time_queued, self.time_started, self.time_completed,
         self.supervisor_id, self.auto) = fields
        (result, self.exception, self.target, self.args, self._kwargs,
         self.callback) = kept or NOTHING_KEPT
        # A plain number is kept as itself (``kept_without_user_code``): its
        # repr is built here, when somebody reads the record.
        self.result = result if result is None or type(result) is str else repr(result)

    @property
    def kwargs(self) -> dict:
        return dict(self._kwargs)

    def is_started(self) -> bool:
        return self.time_started is not None

    def is_completed(self) -> bool:
        return True

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def outcome(self) -> Any:
        if self.status == TASK_STATUS_FAILED:
            raise self.exception or RecordedError("unknown", "", "")
        if self.status == TASK_STATUS_CANCELED:
            raise TaskCanceledError(f"task {self.id!r} ({self.name}) was canceled")
        raise ResultDroppedError(
            f"task {self.id!r} ({self.name}) completed, but nobody held it any more, so its "
            f"result was freed; the history keeps only its repr: {self.result}")

    def __await__(self):
        return self._outcome().__await__()

    async def _outcome(self) -> Any:
        return self.outcome()

    def __repr__(self) -> str:
        return (
            f"<FinishedTask {self.id!r} {self.name!r} {TASK_TYPE_NAMES.get(self.tt, self.tt)} "
            f"{PRIORITY_NAMES.get(self.priority, self.priority)} "
            f"{STATUS_NAMES.get(self.status, self.status)}>"
        )


#: A finished task's plain fields, in ``FinishedTask``'s order: one C call.
plain_fields = operator.attrgetter(
    "id", "name", "tt", "priority", "status", "delay", "time_submitted", "time_queued",
    "time_started", "time_completed", "supervisor_id", "auto")

#: What a record keeps when nothing is: no result, no error, no re-run.
NOTHING_KEPT: tuple = (None, None, None, (), {}, None)


def kept_without_user_code(task: Task) -> tuple | None:
    """What the record of finished ``task`` keeps (see ``kept_of``), when
    finding it runs no user code: no error, a result of a plain built-in type
    (or none), plain scalar arguments, a plain target and callback -- the
    common cases, decided under the lock; else ``None`` (``kept_of`` runs
    later, unlocked)."""
    if task.exception is not None:
        return None
    result = task.result
    kind = type(result)
    if (result is None or kind is float or kind is bool
            or (kind is int and -_BIG_INT < result < _BIG_INT)):
        text = result  # kept as itself: FinishedTask makes its repr when it is read
    elif kind is str and len(result) <= RESULT_REPR_LIMIT // 2:
        text = short_repr(result)
    else:
        return None
    args, kwargs, callback, target = task.args, task.kwargs, task.callback, task.target
    if (_plain_function(target) and (callback is None or _plain_function(callback))
            and len(args) + len(kwargs) <= _MAX_ARG_ITEMS - 2
            and (_scalar_types(map(type, args)) or _scalars(args))
            and (_scalar_types(map(type, kwargs.values())) or _scalars(kwargs.values()))):
        return (text, None, target, args, kwargs, callback)
    if not _plain_repr_only(args) or not _plain_repr_only(kwargs.values()):
        return None  # maybe containers: _re_runnable decides, unlocked
    return (text, None, None, (), {}, None)


def _scalars(values: Any) -> bool:
    """Every value a plain scalar (a short str or bytes at most): kept for a re-run."""
    for value in values:
        kind = type(value)
        if kind in _SCALAR_ARGS:
            continue
        if (kind is str or kind is bytes) and len(value) <= _MAX_ARG_LEN:
            continue
        return False
    return True


def _plain_repr_only(values: Any) -> bool:
    """No container among the values (so ``_re_runnable`` would refuse them
    for a reason other than their contents)."""
    return all(type(v) not in (tuple, list, dict) for v in values)


def kept_of(task: Task) -> tuple:
    """What the record of finished ``task`` keeps: ``(result repr, error
    record, target, args, kwargs, callback)``, the last four only when the
    task can be re-run from them (``_re_runnable``). Runs user code (the
    result's ``__repr__``, the exception's ``__str__``): never under the
    lock; never raises."""
    result, exc = task.result, task.exception
    if _re_runnable(task):
        target, args, kwargs, callback = task.target, task.args, task.kwargs, task.callback
    else:
        target, args, kwargs, callback = None, (), {}, None
    return (None if result is None else short_repr(result),
            None if exc is None else RecordedError.of(exc), target, args, kwargs, callback)


#: Results below this magnitude are recorded under the lock (a cheap repr).
_BIG_INT = 10**60
#: Exact scalar argument types a record keeps for a re-run (str, bytes: if short).
_SCALAR_ARGS = frozenset({type(None), bool, int, float, complex})
#: ``_scalar_types(map(type, values))``: every value of a type in ``_SCALAR_ARGS``
#: (one C call; ``_scalars`` also takes short strings and bytes).
_scalar_types = _SCALAR_ARGS.issuperset

#: Types of the arguments a record keeps for a re-run, and their bounds.
_PLAIN_ARGS = frozenset({type(None), bool, int, float, complex, str, bytes})
_MAX_ARG_LEN = 1000  # characters of a str, bytes of a bytes
_MAX_ARG_ITEMS = 64  # values in all of a task's args and kwargs together


def _re_runnable(task: Task) -> bool:
    """True when a finished task's target, callback and arguments are small
    and plain enough for its record to keep them (they cost next to nothing
    and keep no large payload alive). Runs once per finished task: the
    common cases (no arguments, a few plain ones) take no loop."""
    if not _plain_function(task.target):
        return False
    callback = task.callback
    if callback is not None and not _plain_function(callback):
        return False
    args, kwargs = task.args, task.kwargs
    if not args and not kwargs:
        return True
    budget = [_MAX_ARG_ITEMS]
    return _plain_value(args, budget, 3) and _plain_value(kwargs, budget, 3)


def _plain_function(fn: Any) -> bool:
    """A module-level style function: nothing of its own kept alive by it."""
    kind = type(fn)
    if kind is _FUNCTION:
        return fn.__closure__ is None
    if kind is _BUILTIN:
        owner = fn.__self__
        return owner is None or type(owner) is _MODULE
    return False


_FUNCTION, _BUILTIN, _MODULE = types.FunctionType, types.BuiltinFunctionType, types.ModuleType


def _plain_value(value: Any, budget: list[int], depth: int) -> bool:
    budget[0] -= 1
    if budget[0] < 0:
        return False
    kind = type(value)
    if kind in _PLAIN_ARGS:
        return kind not in (str, bytes) or len(value) <= _MAX_ARG_LEN
    if depth <= 0:
        return False
    if kind in (tuple, list):
        for item in value:
            if not _plain_value(item, budget, depth - 1):
                return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _plain_value(item, budget, depth - 1):
                return False
        return True
    return False


#: Exact types whose repr is built in, short and cheap (no user code).
_PLAIN_REPR = frozenset({bool, float, complex})


def short_repr(value: Any, limit: int = RESULT_REPR_LIMIT) -> str:
    """``safe_repr`` with fast paths for plain values (it runs once per
    finished task) that stays cheap for large bytes (``reprlib`` would build
    the whole repr of a 1 MiB ``bytes`` before cutting it)."""
    kind = type(value)
    if kind in _PLAIN_REPR or (kind is int and -10**60 < value < 10**60):
        return repr(value)
    if kind is str and len(value) <= limit // 2:
        return _clip(repr(value), limit)
    if isinstance(value, (bytes, bytearray)) and len(value) > limit // 8:
        tail = f"... ({type(value).__name__}, {len(value):,} bytes)"
        head = repr(bytes(value[:limit // 8]))  # plain bytes: no user __repr__, <= limit / 2
        return _clip(head + tail, limit)
    return safe_repr(value, limit)


def _clip(text: str, limit: int, ellipsis: str = "...") -> str:
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis


def _clip_middle(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters: its start and, mostly, its end
    (the innermost frames and the exception line)."""
    if len(text) <= limit:
        return text
    head = limit // 5
    marker = f"\n[... {len(text) - limit:,} characters dropped ...]\n"
    return text[:head] + marker + text[len(text) - (limit - head - len(marker)):]


__all__ = ["MESSAGE_LIMIT", "RESULT_REPR_LIMIT", "TRACEBACK_LIMIT", "FinishedTask",
           "RecordedError", "ResultDroppedError", "Task", "TaskCanceledError", "short_repr"]
