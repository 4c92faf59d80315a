"""``LocalProxy`` and ``g``: a thread-local namespace (the original library's,
``doc/localproxy.rst``): each thread sees only what it set itself.

``g.set(name, value)``, ``g.get(name, default=None)``, ``g.has(name)``,
``g.clear(name)``, and plain attributes (``g.db``). Tasks run in pool
threads that are reused, so what one task sets may still be there for the
next task of the same thread: clear what a task sets, or set it on each use.

Differences from the library: a name must be a string and may not be one of
the proxy's own methods (``g.set("get", 1)`` would have hidden ``get`` in
that thread): ``TypeError`` / ``ValueError``.

Threads: any; no lock (``threading.local`` is per thread by construction).
"""

from __future__ import annotations

import threading
from typing import Any

_RESERVED = frozenset({"get", "has", "set", "clear"})


def _check_name(attr: Any) -> None:
    if not isinstance(attr, str):
        raise TypeError(f"attr must be a string, got {attr!r}")
    if attr in _RESERVED or attr.startswith("__"):
        raise ValueError(f"attr {attr!r} is reserved: it names a method of the proxy")


class LocalProxy(threading.local):
    """A ``threading.local`` namespace with ``get``, ``has``, ``set``, ``clear``
    of an attribute ``attr`` (a ``value``, a ``default``)."""

    def get(self, attr: str, default: Any = None) -> Any:
        """The value of ``attr`` in this thread, or ``default``."""
        _check_name(attr)
        return getattr(self, attr, default)

    def has(self, attr: str) -> bool:
        """True if ``attr`` is set in this thread."""
        _check_name(attr)
        return hasattr(self, attr)

    def set(self, attr: str, value: Any) -> None:
        """Set ``attr`` to ``value`` in this thread."""
        _check_name(attr)
        setattr(self, attr, value)

    def clear(self, attr: str) -> bool | None:
        """Delete ``attr`` in this thread (the library's return: ``None`` if
        it was set, ``True`` if it was not)."""
        _check_name(attr)
        if hasattr(self, attr):
            delattr(self, attr)
            return None
        return True


#: The library's shared thread-local namespace.
g = LocalProxy()

__all__ = ["LocalProxy", "g"]
