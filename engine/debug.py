"""``set_debug``: the engine's debug messages on or off (the original library's call).

The engine logs on the ``engine`` logger and its children (``engine.workers``,
``engine.monitor``, ...). ``set_debug(True)`` lowers that logger to ``DEBUG``
and, if the program configured no logging at all, gives it a handler on
standard error so that the messages show; ``set_debug(False)`` puts the level
back to unset (the program's own logging decides). Callable from any thread.
"""

from __future__ import annotations

import logging

from .validate import check_flag

_logger = logging.getLogger("engine")
_handler: logging.Handler | None = None  # the one set_debug added, if any


def set_debug(mode: bool = True) -> None:
    """Show the engine's DEBUG messages (``mode=True``) or stop forcing them."""
    global _handler
    check_flag("mode", mode)
    if mode:
        _logger.setLevel(logging.DEBUG)
        if _handler is None and not logging.getLogger().handlers and not _logger.handlers:
            _handler = logging.StreamHandler()
            _handler.setFormatter(logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s"))
            _logger.addHandler(_handler)
        return
    _logger.setLevel(logging.NOTSET)
    if _handler is not None:
        _logger.removeHandler(_handler)
        _handler = None
