"""Checks of the arguments of public calls, shared by every module.

The rule (DESIGN rule 6): a public call checks all its arguments first, with
a message naming the parameter and the value, and changes no state when it
refuses. Times are finite numbers of seconds and at most
``threading.TIMEOUT_MAX`` (what ``Lock.acquire`` and ``Event.wait`` accept);
sizes and counts are integers below ``MAX_SIZE``, a bound far above any
real pool and small enough that no loop over it can spin under a lock.

Pure functions: callable from any thread.
"""

from __future__ import annotations

import math
import threading

#: The most seconds any time argument may be (about 49 days on Linux).
MAX_SECONDS = float(threading.TIMEOUT_MAX)
#: The largest pool size, reserve, OS thread or process count accepted.
MAX_SIZE = 100_000
#: The most OS threads a pool may be told to keep (``min_size`` / ``max_size``).
MAX_THREADS = 10_000


def check_seconds(name: str, value: object, *, allow_none: bool = False,
                  positive: bool = False) -> float | None:
    """``value`` as float seconds: a finite number ``>= 0`` (``> 0`` with
    ``positive``) and at most ``MAX_SECONDS``; ``None`` if ``allow_none``.

    ``TypeError`` for a non-number (``bool`` included), ``ValueError`` for
    nan, inf, a negative, zero when ``positive``, or too large a number.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    bound = "> 0" if positive else ">= 0"
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} must be at most {MAX_SECONDS:g} s, got {value!r}") from None
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    if seconds < 0 or (positive and seconds == 0):
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"{name} must be at most {MAX_SECONDS:g} s, got {value!r}")
    return seconds


def check_wait(value: object, name: str = "wait") -> float | None:
    """``wait`` of the stop methods: ``True`` → ``None`` (no bound), ``False``
    → ``0.0``, else validated seconds."""
    if value is True:
        return None
    if value is False:
        return 0.0
    return check_seconds(name, value)


def check_count(name: str, value: object, *, minimum: int = 0,
                maximum: int = MAX_SIZE) -> int:
    """``value`` if it is an ``int`` (not ``bool``) in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum:,}, got {value!r}")
    return value


def check_flag(name: str, value: object) -> bool:
    """``value`` if it is a ``bool`` (flags such as ``cancel_tasks``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_task_id(value: object, name: str = "task_id") -> None:
    """``TypeError`` unless ``value`` can be a task id: hashable, not a ``bool``
    (``True == 1`` would name task 1)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must not be a bool, got {value!r}")
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"{name} must be hashable, got {value!r}") from None


def check_callable(name: str, value: object, *, allow_none: bool = True) -> None:
    """``TypeError`` unless ``value`` is callable (or ``None`` if allowed)."""
    if value is None and allow_none:
        return
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")


__all__ = ["MAX_SECONDS", "MAX_SIZE", "MAX_THREADS", "check_callable", "check_count", "check_flag",
           "check_seconds", "check_task_id", "check_wait"]
