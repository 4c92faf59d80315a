"""GUI test fixtures: a qasync loop on the session QApplication, a supervisor
started on it, its client, the bridge, and a main window with its own
settings file; for the attach tests, a real service in a second process
(``servicekit``) on a Unix socket in a private directory, and the console
attached to it.

pytest-qt has no asyncio support: ``qloop`` installs a fresh
``gui.qtloop.ConsoleLoop`` (the console's loop) per test, records every
exception the loop reports and fails the test with them at teardown.
Qt-level waits (``qtbot.waitUntil``, ``waitSignal``) process the loop's
timers and thread-safe callbacks too, with no running loop: coroutines are
driven with ``guikit.run(qloop, coro)``.
"""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import PySide6.QtWidgets  # noqa: E402,F401  (PySide6 before qasync and pyqtgraph)
import pytest  # noqa: E402
from guikit import run  # noqa: E402,F401  (re-exported for tests)
from PySide6.QtCore import QSettings  # noqa: E402
from servicekit import WAIT, Service  # noqa: E402

from engine import TaskSupervisor  # noqa: E402
from gui.bridge import EngineBridge  # noqa: E402
from gui.client import LocalClient  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.qtloop import ConsoleLoop  # noqa: E402


@pytest.fixture
def qloop(qapp):
    qapp.setQuitOnLastWindowClosed(False)  # as in the console: closing a window ends nothing
    loop = ConsoleLoop(qapp)
    errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()
    # Free the loop's Qt timers and signal objects here, on the GUI thread: left
    # to the cycle collector they could be destroyed on an engine thread.
    gc.collect()
    if errors:
        raise AssertionError(f"the asyncio loop reported errors: {errors}")


@pytest.fixture
def supervisor(qloop):
    """A supervisor whose main loop is the Qt loop, as in the console."""
    sup = TaskSupervisor(supervisor_id="gui-test", pool_size=4, reserve_normal=2,
                         reserve_high=2, thread_idle_timeout=1.0)
    sup.start(loop=qloop)
    yield sup
    if sup.is_active():
        sup.stop(wait=2, cancel_tasks=True)


@pytest.fixture
def client(supervisor, qloop):
    """The console's door to ``supervisor``."""
    return LocalClient(supervisor, qloop)


@pytest.fixture
def bridge(client, qtbot):
    b = EngineBridge(client, refresh_hz=20)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def settings(tmp_path):
    """A settings file of the test's own."""
    return QSettings(str(tmp_path / "console.ini"), QSettings.IniFormat)


@pytest.fixture
def console(qapp, tmp_path):
    """The console as ``main.py`` builds it: its own loop and supervisor."""
    from gui.app import Console

    qapp.setQuitOnLastWindowClosed(False)
    sup = TaskSupervisor(supervisor_id="console-test")
    app = Console(supervisor=sup, settings=QSettings(str(tmp_path / "c.ini"),
                                                     QSettings.IniFormat))
    yield app
    app.restore_hooks()
    if sup.is_active():
        sup.stop(wait=2, cancel_tasks=True)
    app.window.bridge.stop()
    app.window.log_view.close_handler()
    app.window.close()
    app.loop.close()


@pytest.fixture
def window(client, settings, qtbot):
    """The main window over ``client``, shown; a scenario it runs is ended at teardown."""
    win = MainWindow(client, settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.submit_panel.end_scenario_now()
    win.bridge.stop()
    win.log_view.close_handler()


@pytest.fixture
def socket_path(tmp_path: Path) -> str:
    """A monitor address in a directory only this user may enter."""
    private = tmp_path / "run"
    private.mkdir(mode=0o700)
    return f"unix:{private / 'svc.sock'}"


@pytest.fixture
def service(socket_path: str):
    """A service process serving its monitor at ``socket_path``; ended at teardown."""
    pytest.importorskip("aiohttp")
    svc = Service(socket_path)
    yield svc
    svc.end()


@pytest.fixture
def attached_console(service, qapp, tmp_path, qtbot):
    """The console as ``main.py --attach ADDRESS`` builds it, connected, window shown."""
    from gui.app import Console

    qapp.setQuitOnLastWindowClosed(False)
    app = Console(attach=service.address, token_file=service.token_file,
                  settings=QSettings(str(tmp_path / "a.ini"), QSettings.IniFormat))
    app.window.show()
    qtbot.waitExposed(app.window)
    assert app.client.wait_connected(WAIT)
    yield app
    app.restore_hooks()
    for window in list(app.windows):
        window.bridge.stop()
        window.log_view.close_handler()
        window.close()
        window.bridge.client.close()
    app.client.close()
    app.loop.close()
