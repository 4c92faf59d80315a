"""Bootstrap of the console: QApplication, the qasync loop, the supervisor on
that loop, the main window, and a clean exit.

The supervisor's main loop is the Qt loop (``start(loop=qt_loop)``). Loop
exceptions and uncaught exceptions in Qt slots are logged and shown to the
operator, never swallowed. The process exits once the window has closed,
which it only does after the supervisor has stopped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable

import PySide6.QtWidgets  # noqa: F401  (before qasync: it picks the imported binding)
import qasync
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from engine import TaskSupervisor, task_supervisor
from runner import scenario as scenarios

from .main_window import MainWindow

log = logging.getLogger("gui")

SCRIPTED_STOP = {"wait": 10.0, "stop_schedulers": True, "cancel_tasks": True}


def display_problem() -> str | None:
    """Why no window can be shown here, or ``None`` if one can."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb")):
        return None
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                or os.environ.get("WAYLAND_DISPLAY")):
        return ("no display: set DISPLAY, run with QT_QPA_PLATFORM=offscreen, "
                "or use --headless")
    return None


class Console:
    """The running console: app, loop, supervisor and window."""

    def __init__(self, supervisor: TaskSupervisor | None = None,
                 settings: QSettings | None = None, screenshot: str | None = None) -> None:
        self.app = QApplication.instance() or QApplication([sys.argv[0]])
        self.app.setApplicationName("Task Supervisor Console")
        self.app.setQuitOnLastWindowClosed(False)
        self.loop = qasync.QEventLoop(self.app)
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(self._on_loop_exception)
        self.supervisor = supervisor or task_supervisor
        self.screenshot = screenshot
        self.supervisor.start(loop=self.loop)
        self.window = MainWindow(self.supervisor, self.loop, settings=settings)
        self._done = self.loop.create_future()
        self.window.closed.connect(self._on_window_closed)
        self._previous_excepthook = sys.excepthook
        sys.excepthook = self._on_uncaught

    def run(self, scenario: str | None = None, duration: float | None = None) -> int:
        self.window.show()
        if scenario:
            QTimer.singleShot(0, lambda: self.start_scenario(scenario, duration))
        if duration is not None:
            self.loop.call_later(duration, self.exit_cleanly)
        with self.loop:
            self.loop.run_until_complete(self._done)
            self._shutdown()
        return 0

    def start_scenario(self, ref: str, duration: float | None = None) -> bool:
        """Load a built-in scenario or a file into the Submit panel and start it."""
        panel = self.window.submit_panel
        try:
            path = scenarios.resolve(ref)
        except scenarios.ScenarioError as exc:
            log.error("%s", exc)
            self.window.show_error("Cannot start the scenario", str(exc))
            return False
        if not panel.load_scenario(path):
            return False
        if duration is not None:
            panel.duration_spin.setValue(duration)
        return panel.start_scenario()

    def exit_cleanly(self) -> None:
        """Stop the supervisor without asking (scripted runs), then close.

        The screenshot, if asked for, is taken now: the window as the run left it.
        """
        if self.screenshot:
            self.save_screenshot(self.screenshot)
            self.screenshot = None
        self.window.submit_panel.stop_scenario()
        dialog = self.window.stop_dialog
        if self.supervisor.is_active() and not dialog.is_stopping():
            dialog.set_options(**SCRIPTED_STOP)
        self.window._closing_for_good = True
        if self.supervisor.is_active() or dialog.is_stopping():
            dialog.start_stopping()
        else:
            self.window.close()

    def _on_window_closed(self) -> None:
        if self.screenshot:
            self.save_screenshot(self.screenshot)
        if not self._done.done():
            self._done.set_result(None)

    def save_screenshot(self, path: str) -> bool:
        ok = self.window.grab().save(path)
        log.info("screenshot %s %s", path, "saved" if ok else "FAILED")
        return ok

    def _shutdown(self) -> None:
        sys.excepthook = self._previous_excepthook
        if self.supervisor.is_active():  # never left running behind the window
            self.supervisor.stop(wait=5, cancel_tasks=True)
        self.window.deleteLater()

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        message = context.get("message", "error in the event loop")
        details = "".join(traceback.format_exception(exc)) if exc else ""
        log.error("event loop: %s\n%s", message, details)
        self._report("Event loop error", f"{message}: {exc}" if exc else message, details)

    def _on_uncaught(self, kind, exc, tb) -> None:
        details = "".join(traceback.format_exception(kind, exc, tb))
        log.error("uncaught exception\n%s", details)
        self._report("Unexpected error", f"{kind.__name__}: {exc}", details)

    def _report(self, title: str, text: str, details: str) -> None:
        window = getattr(self, "window", None)
        if window is not None:
            window.show_error(title, text, details)


def run_console(scenario: str | None = None, duration: float | None = None,
                screenshot: str | None = None,
                settings_factory: Callable[[], QSettings] | None = None) -> int:
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = settings_factory() if settings_factory else None
    return Console(settings=settings, screenshot=screenshot).run(scenario, duration)
