"""The console's asyncio loop: qasync's ``QEventLoop``, with the running loop
set for the callbacks of ``run_until_complete``'s last pass too.

``qasync.QEventLoop.run_until_complete`` ends with one more pass of Qt's
event dispatcher ("to process all the events") after ``run_forever`` has
returned and unset the running loop. A callback or a task step that lands in
that pass runs with no running loop: ``asyncio.get_running_loop()`` raises,
and an ``asyncio.Event`` (or lock) already used on this loop says it "is
bound to a different event loop". A scenario sleeping on its stop event
failed that way when its timer fired in that pass (and the console runs its
whole life, then its shutdown, in ``run_until_complete``).

``ConsoleLoop.run_until_complete`` makes that last pass with itself as the
running loop; nothing else differs from qasync's loop.

Used from the GUI thread only, as any Qt event loop.
"""
from __future__ import annotations

import asyncio
from typing import Any

import PySide6.QtCore  # noqa: F401  (before qasync: it picks the imported binding)
import qasync
from PySide6.QtCore import QCoreApplication, QEventLoop

_running = asyncio.events._get_running_loop
_set_running = asyncio.events._set_running_loop


class ConsoleLoop(qasync.QEventLoop):
    """``qasync.QEventLoop`` whose ``run_until_complete`` runs every callback
    with this loop as the running one."""

    def run_until_complete(self, future: Any) -> Any:
        if self.is_running():
            raise RuntimeError("Event loop already running")
        future = asyncio.ensure_future(future, loop=self)

        def stop(_future: asyncio.Future) -> None:
            self.stop()

        future.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            future.remove_done_callback(stop)
        # The last pass, for the events posted while the loop stopped.
        previous = _running()
        _set_running(self)
        try:
            QCoreApplication.eventDispatcher().processEvents(
                QEventLoop.ProcessEventsFlag.AllEvents)
        finally:
            _set_running(previous)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()
