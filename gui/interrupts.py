"""Ctrl+C in the console: recorded by a signal handler, acted on by the Qt loop.

Python's default SIGINT handler raises ``KeyboardInterrupt`` in whatever
Python code runs next -- with Qt's C++ loop waiting, that is some slot or
asyncio callback, which then fails ("Unexpected error: KeyboardInterrupt")
while the console keeps running; and while the loop waits in C++ nothing
runs at all. So ``InterruptWatcher`` installs a handler that only counts the
request, and ``signal.set_wakeup_fd`` on one end of a socket pair makes the C
level signal handler write a byte the Qt loop sees through a
``QSocketNotifier`` on the other end: the loop wakes at once, and the
notifier's slot emits ``interrupted(n)`` (n = Ctrl+C presses so far) on the
GUI thread, where the console decides what to do (first: stop cleanly;
second: exit now).

Python runs a pending signal handler before the next Python bytecode on the
main thread, so by the time the notifier's slot runs, the handler has
counted the press; the slot re-checks on the next loop turn should it ever
run first.

``install`` and ``restore`` must be called on the main thread (Python sets
signal handlers and the wakeup fd only there); ``restore`` puts back the
previous handler and wakeup fd.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

log = logging.getLogger("gui")


class InterruptWatcher(QObject):
    """SIGINT → ``interrupted(count)`` on the GUI thread (see the module docstring)."""

    interrupted = Signal(int)  # Ctrl+C presses so far: 1, 2, ...

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._requests = 0  # written by the signal handler, on the main thread
        self._handled = 0
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._notifier: QSocketNotifier | None = None
        self._previous_handler: Any = None
        self._previous_fd = -1

    @property
    def installed(self) -> bool:
        return self._sockets is not None

    def install(self) -> bool:
        """Take over SIGINT; False (nothing changed) off the main thread."""
        if self.installed:
            return True
        if threading.current_thread() is not threading.main_thread():
            return False
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)  # a full buffer must never block the C signal handler
        self._sockets = (reader, writer)
        self._notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wakeup)
        self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._previous_handler = signal.signal(signal.SIGINT, self._on_signal)
        return True

    def restore(self) -> None:
        """Put back the previous SIGINT handler and wakeup fd (main thread)."""
        if not self.installed:
            return
        signal.signal(signal.SIGINT, self._previous_handler)
        signal.set_wakeup_fd(self._previous_fd)
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        for sock in self._sockets or ():
            sock.close()
        self._sockets = None

    def _on_signal(self, _signum: int, _frame: Any) -> None:
        # Runs between two bytecodes of whatever the main thread was doing:
        # record only. The wakeup fd has already woken the loop.
        self._requests += 1

    def _on_wakeup(self, *_: Any) -> None:
        reader = self._sockets[0] if self._sockets else None
        if reader is None:
            return
        woke = False
        try:
            while reader.recv(512):
                woke = True
        except (BlockingIOError, InterruptedError):
            pass
        if woke and self._handled == self._requests:
            QTimer.singleShot(0, self._emit_requests)  # the handler has not run yet
        self._emit_requests()

    def _emit_requests(self) -> None:
        while self._handled < self._requests:
            self._handled += 1
            self.interrupted.emit(self._handled)
