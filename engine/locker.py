"""``Locker``: a lock for user code with a timeout and a critical callback
(the original library's, ``doc/locker.rst``, ``atasker/threads.py``).

Used as a decorator (``@lock1`` runs the function holding the lock) or as a
context manager (``with lock1:``). If the lock cannot be acquired within
``timeout`` seconds, the lock is taken to be broken (a deadlock, a stuck
holder): a CRITICAL line ``"<mod>/<function> locking broken"`` is logged on
the ``engine.locker`` logger and ``critical()`` is called -- override it, or
assign ``lock1.critical = function`` as the library's documentation does.
Then the decorated call returns ``None`` (the function does not run), and
``with`` raises ``TimeoutError``.

Differences from the library: whatever ``critical()`` raises is contained
and logged like all user code (Ctrl+C on the main thread still reaches it);
arguments are checked (``timeout`` finite seconds ``>= 0``); decorating a
coroutine function is refused, since a thread lock held while a coroutine
is only created protects nothing.

Threads: any; the lock is the user's, never taken by the engine itself.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from .usercode import call_user, reraise_if_main_interrupt
from .validate import check_callable, check_flag, check_seconds

log = logging.getLogger("engine.locker")


class Locker:
    """A lock with a timeout: ``mod`` names it in the log, ``timeout`` is the
    most seconds to wait for it (default 5) before ``critical()``,
    ``relative=True`` (default) makes it re-entrant (an ``RLock``), ``False``
    a plain ``Lock``."""

    def __init__(self, mod: str = "main", timeout: float = 5, relative: bool = True) -> None:
        if not isinstance(mod, str):
            raise TypeError(f"mod must be a string, got {mod!r}")
        seconds = check_seconds("timeout", timeout)
        check_flag("relative", relative)
        self.mod = mod
        self.timeout = seconds
        self.relative = relative
        # Guards whatever the user's code protects with this Locker; the engine never takes it.
        self.lock: Any = threading.RLock() if relative else threading.Lock()

    def __repr__(self) -> str:
        return f"<Locker {self.mod!r} timeout={self.timeout:g}>"

    def critical(self) -> None:
        """Called when the lock is not acquired in time; override it (or assign
        ``locker.critical = function``). Does nothing by default."""

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        check_callable("f", f, allow_none=False)
        if inspect.iscoroutinefunction(f):
            raise TypeError(f"Locker cannot guard a coroutine function ({f!r}): a thread lock "
                            f"held while the coroutine is created protects nothing; use an "
                            f"asyncio.Lock")

        @functools.wraps(f)
        def locked(*args: Any, **kwargs: Any) -> Any:
            if not self.lock.acquire(timeout=self.timeout):
                self._broken(f"{self.mod}/{getattr(f, '__name__', '?')}")
                return None
            try:
                return f(*args, **kwargs)
            finally:
                self.lock.release()

        return locked

    def __enter__(self) -> Locker:
        if not self.lock.acquire(timeout=self.timeout):
            self._broken(self.mod)
            raise TimeoutError(f"{self.mod}: lock not acquired within {self.timeout:g} s")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.lock.release()

    def _broken(self, what: str) -> None:
        log.critical("%s locking broken", what)
        ok, exc = call_user(f"critical() of {self!r}", self.critical, logger=log)
        if not ok:
            reraise_if_main_interrupt(exc)


__all__ = ["Locker"]
