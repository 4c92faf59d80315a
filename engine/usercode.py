"""Calling user code: the engine's containment policy, in one place.

The engine calls code it does not own everywhere: task targets, ``callback=``
functions, timeout functions, worker executors and ``on_error``, scheduler
``loop()`` / ``stop()``, coroutines, done callbacks, and the ``__repr__`` of
results it shows. The rules, for every such call:

* **Any ``BaseException`` is contained** where the engine makes the call --
  ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` included. An
  ``except Exception`` there would let ``SystemExit`` end a worker thread
  (its task then never ends and its slot is lost) or stop an asyncio loop
  (asyncio re-raises ``SystemExit`` and ``KeyboardInterrupt`` out of
  ``run_forever``).
* **The engine's bookkeeping happens first.** The task ends exactly once:
  FAILED with the exception when it is the task's own code (its target or
  coroutine); a callback's or a hook's error is logged on the ``engine``
  logger with what was called, and the task keeps the outcome of its target.
  The pool, the loop and the worker keep serving.
* **A ``KeyboardInterrupt`` for the main thread still reaches it.** Python
  delivers Ctrl+C to the main thread only; when user code running there
  raises ``KeyboardInterrupt``, the engine finishes its bookkeeping and then
  re-raises it (``reraise_if_main_interrupt``). On any other thread a
  ``KeyboardInterrupt`` is just the user code's exception.

``call_user`` and ``safe_repr`` may be called from any thread; they take no lock.
"""

from __future__ import annotations

import logging
import reprlib
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("engine")

_reprs = reprlib.Repr()
_reprs.maxstring = 200
_reprs.maxother = 200
_reprs.maxlevel = 3


def call_user(what: str, fn: Callable[..., Any], *args: Any,
              logger: logging.Logger = log, **kwargs: Any) -> tuple[bool, Any]:
    """``(True, fn(*args, **kwargs))``, or ``(False, exc)`` once whatever it
    raised -- any ``BaseException`` -- is logged as the failure of ``what``.

    The caller finishes its bookkeeping, then calls
    ``reraise_if_main_interrupt(exc)``.
    """
    try:
        return True, fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the containment policy above
        log_contained(what, exc, logger)
        return False, exc


def log_contained(what: str, exc: BaseException, logger: logging.Logger = log) -> None:
    """Log ``exc`` raised by user code as the failure of ``what``."""
    try:
        logger.error("%s raised %s", what, type(exc).__name__, exc_info=exc)
    except BaseException:  # noqa: BLE001 - a broken __str__ must not escape either
        logger.error("%s raised %s", what, type(exc).__name__)


def is_main_interrupt(exc: BaseException | None) -> bool:
    """True for a ``KeyboardInterrupt`` caught on the main thread (Ctrl+C)."""
    return (isinstance(exc, KeyboardInterrupt)
            and threading.current_thread() is threading.main_thread())


def reraise_if_main_interrupt(exc: BaseException | None) -> None:
    """Re-raise ``exc`` if it is Ctrl+C on the main thread; else do nothing."""
    if is_main_interrupt(exc):
        raise exc  # type: ignore[misc]


class UserExit(Exception):
    """``SystemExit`` or ``KeyboardInterrupt`` raised by a coroutine, carried
    as an ordinary exception (``original``) so that it cannot stop the loop."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original


async def shielded(coro: Any) -> Any:
    """Await ``coro`` and return its result; a ``SystemExit`` or
    ``KeyboardInterrupt`` it raises comes out as ``UserExit``.

    asyncio re-raises those two out of ``run_forever``, which would stop the
    loop that runs every other coroutine; every other exception, and
    cancellation, passes through unchanged.
    """
    try:
        return await coro
    except (SystemExit, KeyboardInterrupt) as exc:
        raise UserExit(exc) from exc


def safe_repr(value: Any, limit: int = 200) -> str:
    """A short ``repr`` of ``value`` that never raises (whatever its
    ``__repr__`` does, ``SystemExit`` included) and is at most ``limit``
    characters long."""
    try:
        text = _reprs.repr(value)
    except BaseException as exc:  # noqa: BLE001 - user __repr__ is user code
        text = f"<{type(value).__name__} object: repr() raised {type(exc).__name__}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


__all__ = ["UserExit", "call_user", "is_main_interrupt", "log_contained",
           "reraise_if_main_interrupt", "safe_repr", "shielded"]
