"""How the console writes values as text: durations, clock times, rates,
settings, task ids and errors (Qt-free).

One home for the formatting the panels and the status bar share, so a
duration or a timeout reads the same everywhere. Every function here is
pure and never raises on what it is given: task ids, results and exceptions
come from user code, and their ``__str__`` / ``__repr__`` are anyone's.

No Qt, nothing of the engine: a recorded error (the history's record of an
exception) is recognised by its ``type_name`` / ``message`` /
``traceback_text`` attributes. Any thread.
"""

from __future__ import annotations

import math
import reprlib
import time
import traceback
from typing import Any

SUMMARY_CHARS = 120  # one-line summaries (errors, results) are cut here
NONE_TEXT = "—"  # shown for a value that does not exist (never ran, no counter)


def one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_repr(value: Any, reprs: reprlib.Repr | None = None) -> str:
    """``repr(value)`` bounded by ``reprs`` (default: ``reprlib``'s limits);
    a failing ``__repr__`` is named, not raised, in the words the engine's
    records use (``<T object: repr() raised E>``)."""
    try:
        return (reprs or reprlib.aRepr).repr(value)
    except BaseException as exc:  # noqa: BLE001 - user __repr__, sys.exit() in it included
        return f"<{type(value).__name__} object: repr() raised {type(exc).__name__}>"


def id_text(task_id: Any) -> str:
    """A task id as text: ids given to put_task may be any hashable, with any __str__."""
    if isinstance(task_id, (int, str)):
        return str(task_id)
    try:
        return str(task_id)
    except BaseException:  # noqa: BLE001 - user __str__
        return short_repr(task_id)


def format_duration(seconds: float | None) -> str:
    """``12 µs``, ``3.4 ms``, ``1.250 s``, ``2m 05.0s``; "" for ``None``."""
    if seconds is None:
        return ""
    if seconds < 0:
        seconds = 0.0
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 60:
        return f"{seconds:.3f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m {rest:04.1f}s"


def format_wall(wall: float | None) -> str:
    """``HH:MM:SS.mmm`` local time of a ``time.time()`` value; "" for ``None``."""
    if wall is None:
        return ""
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"


def format_clock(wall: float | None) -> str:
    """``HH:MM:SS`` local time of a ``time.time()`` value; "—" for ``None`` or 0."""
    if not wall:
        return NONE_TEXT
    return time.strftime("%H:%M:%S", time.localtime(wall))


def format_count(value: int | None) -> str:
    """``1,234``; "—" where there is no such counter (``None``)."""
    return NONE_TEXT if value is None else f"{value:,}"


def format_rate(per_second: float) -> str:
    """Tasks per second as the status bar shows them: ``1,234 tasks/s``."""
    return f"{per_second:,.0f} tasks/s"


def format_seconds(value: float | None, off: str = "off") -> str:
    """A setting in seconds: ``2.5 s``; ``off`` for ``None`` (a disabled timeout)."""
    return off if value is None else f"{value:g} s"


def format_wait(wait: bool | float) -> str:
    """A stop's ``wait`` option: ``until done``, ``no wait`` or ``10 s``."""
    if wait is True:
        return "until done"
    if wait is False:
        return "no wait"
    return f"{wait:g} s"


def readable_result(text: str) -> str:
    """A completed task's result (its repr) for a table cell: a float with six
    significant digits (``0.0280952`` for ``0.028095182140392742``), anything
    else as it is. The full text stays in the tooltip, the detail pane and the
    export."""
    if 8 < len(text) < 40 and text[0] in "-.0123456789" and any(c in text for c in ".e"):
        try:
            value = float(text)
        except ValueError:
            return text
        if repr(value) == text:
            return f"{value:.6g}"
    return text


def format_number(value: float) -> str:
    """A setting's value in an action's description: ``8``, ``0.25``."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def describe_changes(changes: dict[str, Any], before: dict[str, Any]) -> str:
    """``pool_size 4 → 8, reserve_high 2 → 0``: what an operator action changes."""
    parts = []
    for name, value in changes.items():
        old = before.get(name)
        old_text = "?" if old is None else format_number(old)
        parts.append(f"{name} {old_text} → {format_number(value)}")
    return ", ".join(parts)


def describe_request(changes: dict[str, Any]) -> str:
    """``set pool_size 8, reserve_high 0``: what an operator action asks for
    (said of a refusal: nothing changed, so no arrow)."""
    return "set " + ", ".join(f"{name} {format_number(value)}" for name, value in changes.items())


def _is_recorded(exc: BaseException) -> bool:
    return all(hasattr(exc, name) for name in ("type_name", "message", "traceback_text"))


def error_summary(exc: BaseException | None) -> str:
    """``Type: message`` on one short line; "" for ``None``."""
    if exc is None:
        return ""
    if _is_recorded(exc):  # the history's record of an exception: text already
        return one_line(f"{exc.type_name}: {exc.message}" if exc.message else exc.type_name)
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - user __str__, sys.exit() in it included
        message = ""
    return one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def format_traceback(exc: BaseException | None) -> str:
    """The full traceback text (a worker process's own appended); "" for ``None``."""
    if exc is None:
        return ""
    if _is_recorded(exc):
        return exc.traceback_text or error_summary(exc)
    try:
        text = "".join(traceback.format_exception(exc))
        remote = getattr(exc, "remote_traceback", "")
    except BaseException:  # noqa: BLE001 - formatting runs the exception's own code
        return f"{type(exc).__name__} (its traceback cannot be formatted)"
    if remote:  # an mp child's traceback, sent back as text
        text += "\nTraceback in the worker process:\n" + remote
    return text


__all__ = [
    "NONE_TEXT", "SUMMARY_CHARS", "describe_changes", "error_summary", "format_clock",
    "format_count", "format_duration", "format_number", "format_rate", "format_seconds",
    "format_traceback", "format_wait", "format_wall", "id_text", "one_line", "short_repr",
]
