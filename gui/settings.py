"""Reading the console's settings: every value checked, a bad one replaced by its default.

The settings store (``QSettings``: the INI file given by ``--settings``, or
the platform's store) is untrusted input: the operator edits it by hand,
another version of the console wrote it. ``QSettings.value(key, type=...)``
does not help: it turns ``refresh_hz=abc`` into ``0.0`` and ``abc`` into
``True`` without a word. So each read here takes the raw value, parses it
itself (text from an INI file, or the Python value written earlier in this
session) and checks it against what is acceptable. A value that does not
parse or is out of range is logged on the ``gui`` logger at WARNING, naming
the key and the value, and the default is used instead: nothing in the
settings can stop the console from starting. Each bad value is reported once
per process, however often the key is read.

GUI thread only, like the ``QSettings`` objects the console passes in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from .client import safe_repr

log = logging.getLogger("gui")

T = TypeVar("T")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_reported: set[tuple[str, str, str]] = set()  # (file, key, value) already logged


def check_store(settings: QSettings) -> bool:
    """Log (once) if the store cannot be read at all; True if it reads fine."""
    status = settings.status()
    if status == QSettings.Status.NoError:
        return True
    _warn_once(settings, "", f"the settings in {settings.fileName()} cannot be read "
                             f"({status.name}): defaults are used")
    return False


def read_float(settings: QSettings, key: str, default: float, minimum: float,
               maximum: float) -> float:
    """A finite number in ``[minimum, maximum]``, else ``default``."""
    def parse(raw: Any) -> float:
        value = float(raw.strip() if isinstance(raw, str) else _number(raw))
        if not math.isfinite(value) or not minimum <= value <= maximum:
            raise ValueError(f"not a number from {minimum:g} to {maximum:g}")
        return value
    return _read(settings, key, default, parse)


def read_int(settings: QSettings, key: str, default: int | None, minimum: int,
             maximum: int) -> int | None:
    """An integer in ``[minimum, maximum]``, else ``default``."""
    def parse(raw: Any) -> int:
        value = int(raw.strip()) if isinstance(raw, str) else _number(raw)
        if not isinstance(value, int) or not minimum <= value <= maximum:
            raise ValueError(f"not an integer from {minimum:,} to {maximum:,}")
        return value
    return _read(settings, key, default, parse)


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    """``true/false`` (or yes/no, on/off, 1/0), else ``default``."""
    def parse(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if isinstance(raw, (str, int)) else ""
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("not true or false")
    return _read(settings, key, default, parse)


def read_choice(settings: QSettings, key: str, default: str, choices: Collection[str]) -> str:
    """One of ``choices``, else ``default``."""
    def parse(raw: Any) -> str:
        if isinstance(raw, str) and raw in choices:
            return raw
        raise ValueError(f"not one of {', '.join(choices)}")
    return _read(settings, key, default, parse)


def read_bytes(settings: QSettings, key: str) -> QByteArray | None:
    """A saved Qt blob (geometry, dock layout), else ``None``."""
    def parse(raw: Any) -> QByteArray:
        if isinstance(raw, QByteArray):
            return raw
        raise ValueError("not saved Qt state")
    return _read(settings, key, None, parse)


def _number(raw: Any) -> int | float:
    """A number written in this session (not a ``bool``: ``True`` is no pool size)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise TypeError("not a number")
    return raw


def _read(settings: QSettings, key: str, default: T, parse: Callable[[Any], T]) -> T:
    try:
        raw = settings.value(key)
    except Exception as exc:  # a value Qt itself cannot decode
        _warn_once(settings, key, f"setting {key} cannot be read ({exc}): using the default "
                                  f"{default!r}")
        return default
    if raw is None:
        return default
    try:
        return parse(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        _warn_once(settings, key, f"setting {key}={safe_repr(raw, 80)} in "
                                  f"{settings.fileName()} is {_reason(exc)}: using the default "
                                  f"{default!r}", raw)
        return default


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if text.startswith("not ") else "not valid"


def _warn_once(settings: QSettings, key: str, message: str, raw: Any = None) -> None:
    mark = (settings.fileName(), key, safe_repr(raw, 80))
    if mark not in _reported:
        _reported.add(mark)
        log.warning("%s", message)
