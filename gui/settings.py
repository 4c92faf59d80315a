"""The console's settings, typed: every key read and written here, every
value read checked, a bad one replaced by its default.

``ConsoleSettings`` is the one place that names a key: the window's
geometry and dock layout, the theme, the graphs' refresh rate, the last
pool settings, the stop dialog's last choice -- each read as its type and
written from it. The widgets and the window call its methods; none of them
reads or writes the store itself. The ``read_*`` functions below are what
it reads with.

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
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from .client import safe_repr

log = logging.getLogger("gui")

T = TypeVar("T")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_reported: set[tuple[str, str, str]] = set()  # (file, key, value) already logged

#: The pool settings kept per pool, as ``PoolStats`` names them.
THREAD_POOL_KEYS = ("pool_size", "reserve_normal", "reserve_high", "min_size", "max_size")
MP_POOL_KEYS = ("pool_size", "reserve_normal", "reserve_high")
POOL_KEYS = {"thread": THREAD_POOL_KEYS, "mp": MP_POOL_KEYS}
MAX_REFRESH_HZ = 100  # what the bridge accepts
#: How the stop dialog may wait, as stored.
WAIT_ALL, WAIT_SECONDS, WAIT_NONE = "all", "seconds", "none"
MIN_WAIT, MAX_WAIT = 0.1, 3600.0  # seconds offered for "wait at most"


@dataclass(frozen=True)
class StopChoice:
    """The stop dialog's options as remembered: ``wait_mode`` one of
    ``WAIT_ALL`` / ``WAIT_SECONDS`` / ``WAIT_NONE``, ``wait_seconds`` the
    number offered for "wait at most" (kept whatever the mode)."""

    wait_mode: str = WAIT_ALL
    wait_seconds: float = 10.0
    stop_schedulers: bool = True
    cancel_tasks: bool = False

    @property
    def wait(self) -> bool | float:
        """As ``stop(wait=...)`` takes it."""
        return {WAIT_ALL: True, WAIT_NONE: False}.get(self.wait_mode, self.wait_seconds)


class ConsoleSettings:
    """The console's settings over one ``QSettings`` store (default: the
    platform's store for "TaskSupervisor" / "Console")."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings("TaskSupervisor", "Console")

    @classmethod
    def of(cls, settings: ConsoleSettings | QSettings | None) -> ConsoleSettings | None:
        """``settings`` as ``ConsoleSettings`` (a bare store is wrapped); ``None`` stays."""
        if settings is None or isinstance(settings, ConsoleSettings):
            return settings
        return cls(settings)

    def check(self) -> bool:
        """Log (once) if the store cannot be read at all; True if it reads fine."""
        return check_store(self.store)

    def sync(self) -> None:
        self.store.sync()

    # -- the window ------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        return read_bytes(self.store, "window/geometry")

    def window_state(self) -> QByteArray | None:
        """The saved dock layout; ``None`` on a first run."""
        return read_bytes(self.store, "window/state")

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)

    def theme(self, default: str, choices: Collection[str]) -> str:
        return read_choice(self.store, "view/theme", default, choices)

    def save_theme(self, name: str) -> None:
        self.store.setValue("view/theme", name)

    def refresh_hz(self, default: float) -> float:
        """The graphs' refresh rate, 0 (paused) to ``MAX_REFRESH_HZ``."""
        return read_float(self.store, "graphs/refresh_hz", default, 0, MAX_REFRESH_HZ)

    def save_refresh_hz(self, hz: float) -> None:
        self.store.setValue("graphs/refresh_hz", hz)

    # -- the pools ---------------------------------------------------------------
    def pool(self, kind: str, maximum: int) -> dict[str, int]:
        """The saved settings of pool ``kind`` (``"thread"`` or ``"mp"``) that
        read well, each an integer from 0 to ``maximum``."""
        saved = {key: read_int(self.store, f"pools/{kind}/{key}", None, 0, maximum)
                 for key in POOL_KEYS[kind]}
        return {key: value for key, value in saved.items() if value is not None}

    def save_pools(self, thread: Any, mp: Any | None) -> None:
        """The pools' settings (``PoolStats``); ``mp=None``: there is no
        process pool, and none is saved (restoring would create one)."""
        self.save_pool("thread", {key: getattr(thread, key) for key in THREAD_POOL_KEYS})
        self.save_pool("mp", None if mp is None
                       else {key: getattr(mp, key) for key in MP_POOL_KEYS})

    def save_pool(self, kind: str, values: dict[str, int] | None) -> None:
        """The settings of pool ``kind`` to restore next time, only the keys
        given (the rest are left to the engine's defaults); ``None`` or empty:
        none are kept."""
        self.store.remove(f"pools/{kind}")
        for key in POOL_KEYS[kind]:
            if values and key in values:
                self.store.setValue(f"pools/{kind}/{key}", int(values[key]))

    # -- the stop dialog ---------------------------------------------------------
    def stop_choice(self) -> StopChoice:
        s = self.store
        default = StopChoice()
        return StopChoice(
            read_choice(s, "stop/wait_mode", default.wait_mode,
                        (WAIT_ALL, WAIT_SECONDS, WAIT_NONE)),
            read_float(s, "stop/wait_seconds", default.wait_seconds, MIN_WAIT, MAX_WAIT),
            read_bool(s, "stop/stop_schedulers", default.stop_schedulers),
            read_bool(s, "stop/cancel_tasks", default.cancel_tasks))

    def save_stop_choice(self, choice: StopChoice) -> None:
        self.store.setValue("stop/wait_mode", choice.wait_mode)
        self.store.setValue("stop/wait_seconds", choice.wait_seconds)
        self.store.setValue("stop/stop_schedulers", choice.stop_schedulers)
        self.store.setValue("stop/cancel_tasks", choice.cancel_tasks)


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
