"""Bootstrap of the console: QApplication, the qasync loop, the supervisor on
that loop (or the service it attaches to), its client, the main window,
Ctrl+C, and a clean -- always bounded -- exit.

This is the one place of the console that names a supervisor and builds
clients: it starts a supervisor on the Qt loop and wraps it in a
``LocalClient`` (``gui.client``), or -- attached (``Console(attach=ADDRESS,
token_file=...)``, ``main.py --attach``) -- builds a ``RemoteClient``
(``gui.remote``) for a service's monitor; either is the door the window and
every panel use. Everything after that -- the scripted stop, the stop at
shutdown -- goes through the client.

Attached, the console never stops the service on its own: closing the
window, Ctrl+C, a ``--duration``'s end and "Exit now" detach (the window
closes, the remote client is closed, the service runs on); only the stop
dialog, used on purpose, sends the stop command. A service that is not up
yet is no error (the status bar says "connecting…"); a bad address or a
token file that cannot be read is a ``ValueError`` before any window
(``run_console``: one line on stderr, exit code 2).

File > Connect to… (``attach``) opens one more window, on a service, beside
the first; the console ends once every window has closed. ``window`` is the
first one (the one ``--screenshot`` takes).

The supervisor's main loop is the Qt loop (``start(loop=qt_loop)``). Loop
exceptions and uncaught exceptions in Qt slots are logged and shown to the
operator (one error box, coalesced), never swallowed. The process exits once
the window has closed, which it does after the supervisor has stopped, or at
once on "Exit now" or a second Ctrl+C.

Ctrl+C (``gui.interrupts``): the first stops the supervisor as a scripted
run does (``SCRIPTED_STOP``: a bounded wait, queued tasks canceled) and
exits; the second exits at once. Both exit with ``CTRL_C_EXIT`` (130, what a
shell reports for a program ended by Ctrl+C). The previous SIGINT handler is
restored on shutdown. ``run_console`` then gives the interpreter
``EXIT_GRACE`` seconds to finish: a thread stuck in user code must not keep
a closed console alive.

A duration (``--duration``, ``Console.run``, ``start_scenario``) is checked
by ``runner.scenario.check_duration``: a finite number of seconds, at most a
day; anything else is refused with a message naming the value.

Everything here runs on the main (GUI) thread.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from engine import TaskSupervisor, task_supervisor
from runner import scenario as scenarios
from runner.taskscript import describe_error

from .client import LocalClient, SupervisorClient
from .formatting import format_traceback
from .interrupts import InterruptWatcher
from .main_window import MainWindow
from .qtloop import ConsoleLoop
from .remote import RemoteClient

log = logging.getLogger("gui")

SCRIPTED_STOP = {"wait": 10.0, "stop_schedulers": True, "cancel_tasks": True}
CTRL_C_EXIT = 130  # 128 + SIGINT
SHUTDOWN_GRACE = 2.0  # seconds the loop gets, after the window closed, to end a stop or scenario
SHUTDOWN_STOP_WAIT = 5.0  # seconds a stop at shutdown waits for running tasks
EXIT_GRACE = 3.0  # seconds the interpreter gets to exit once the console is done
# The cyclic GC's full passes walk every live object with the loop stopped:
# with 100,000 tasks queued that took 100-200 ms, the worst loop lag measured
# while their queue timeouts fired (p99 18 ms with these thresholds, against
# 150-200 ms with Python's 700/10/10). Young passes still catch short-lived cycles.
GC_THRESHOLDS = (20_000, 50, 100)


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


def remote_client(address: str, token_file: str | None = None) -> RemoteClient:
    """The client of the monitor at ``address``; ``ValueError`` naming what is
    wrong (the address, a token file that cannot be read). A service that
    does not answer yet is no error: the client keeps trying."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"attach: address must be 'unix:PATH' or 'tcp:HOST:PORT', "
                         f"got {address!r}")
    try:
        return RemoteClient(address.strip(), token_file)
    except ValueError as exc:
        raise ValueError(f"attach: {exc}") from None


class Console:
    """The running console: app, loop, supervisor (or attached service) and windows.

    ``attach``: show the service whose monitor serves at that address (with
    the token in ``token_file``, by default the one beside a Unix socket)
    instead of a supervisor of this process; ``supervisor`` must then be
    ``None``. ``ValueError`` (before any window) for a bad address or token file.
    """

    def __init__(self, supervisor: TaskSupervisor | None = None,
                 settings: QSettings | None = None, screenshot: str | None = None,
                 size: tuple[int, int] | None = None, *, attach: str | None = None,
                 token_file: str | None = None) -> None:
        if attach is not None and supervisor is not None:
            raise ValueError("Console: give a supervisor or an address to attach to, not both")
        client: SupervisorClient
        # Before anything of Qt: a bad address is refused with no window shown.
        remote = remote_client(attach, token_file) if attach is not None else None
        self.app = QApplication.instance() or QApplication([sys.argv[0]])
        self.app.setApplicationName("Task Supervisor Console")
        self.app.setQuitOnLastWindowClosed(False)
        self.loop = ConsoleLoop(self.app)
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(self._on_loop_exception)
        self.screenshot = screenshot
        self._settings = settings
        self._size = size
        if remote is not None:
            self.supervisor: TaskSupervisor | None = None
            client = remote
        else:
            self.supervisor = supervisor or task_supervisor
            client = LocalClient(self.supervisor, self.loop)
            client.start()  # on the Qt loop
        self.client = client
        self.windows: list[MainWindow] = []  # open ones, the first window first
        self._done = self.loop.create_future()
        self.window = self._open_window(client)
        self._previous_excepthook = sys.excepthook
        sys.excepthook = self._on_uncaught
        self.interrupts = InterruptWatcher(self.app)
        self.interrupts.interrupted.connect(self._on_interrupt)
        self.exit_code = 0

    @property
    def attached(self) -> bool:
        """Whether the first window shows a service (no supervisor of this process)."""
        return self.supervisor is None

    def _open_window(self, client: SupervisorClient) -> MainWindow:
        window = MainWindow(client, settings=self._settings, connect_to=self.attach)
        if self._size is not None:  # the operator's size wins over the saved geometry
            window.resize(*self._size)
        window.closed.connect(lambda: self._on_window_closed(window))
        self.windows.append(window)
        return window

    def attach(self, address: str, token_file: str | None = None) -> MainWindow:
        """Open another console window on the service at ``address`` (File >
        Connect to…); ``ValueError`` naming what is wrong, before any window."""
        window = self._open_window(remote_client(address, token_file))
        window.show()
        log.info("console window opened on the service at %s", address)
        return window

    def run(self, scenario: str | None = None, duration: float | None = None) -> int:
        """Show the window and run until it closes; the exit code.

        ``duration`` (seconds, finite, at most a day): run the scenario that
        long, then stop and close. ``TypeError`` / ``ValueError`` naming the
        value otherwise, before anything is shown.
        """
        if duration is not None:
            duration = scenarios.check_duration(duration)
        if scenario and self.attached:
            raise ValueError(f"scenario {scenario!r}: an attached console shows the service's "
                             f"own work, it runs no scenario")
        self.interrupts.install()
        self.window.show()
        if scenario:
            QTimer.singleShot(0, lambda: self.start_scenario(scenario, duration))
        if duration is not None:
            self.loop.call_later(duration, self.exit_cleanly)
        if self.attached:
            self.loop.call_soon(log.info, "console up (pid %d), attached to %s: closing it or "
                                          "Ctrl+C detaches, the service keeps running",
                                os.getpid(), self.client.address)
        else:
            self.loop.call_soon(log.info, "console up (pid %d): Ctrl+C stops the supervisor "
                                          "and exits, twice exits at once", os.getpid())
        with self.loop:
            self.loop.run_until_complete(self._done)
            self._shutdown()
        return self.exit_code

    def start_scenario(self, ref: str, duration: float | None = None) -> bool:
        """Load a built-in scenario or a file into the Submit panel and start it;
        False (the reason shown and logged) if it cannot start."""
        panel = self.window.submit_panel
        if not panel.load_scenario(ref):  # an unknown name: said in the scenario tab
            return False
        if duration is not None and not panel.set_duration(duration):
            return False
        return panel.start_scenario()

    def _on_interrupt(self, presses: int) -> None:
        self.exit_code = CTRL_C_EXIT
        if presses == 1 and self.attached:  # every window is a service's then
            log.warning("Ctrl+C: detaching from %s (the service keeps running) and exiting",
                        self.client.address)
            self.exit_cleanly()
        elif presses == 1:
            log.warning("Ctrl+C: stopping the supervisor (waiting at most %g s, queued tasks "
                        "canceled), then exiting; Ctrl+C again exits at once",
                        SCRIPTED_STOP["wait"])
            self.exit_cleanly()
        else:
            log.warning("Ctrl+C again: exiting now")
            self.exit_now()

    def exit_now(self) -> None:
        """Close at once, whatever still runs (abandoned tasks are logged);
        attached windows just detach."""
        for window in list(self.windows):
            window.exit_now()

    def exit_cleanly(self) -> None:
        """Stop the supervisor without asking (scripted runs), then close;
        attached windows detach (their services run on).

        The screenshot, if asked for, is taken now: the window as the run left it.
        """
        if self.screenshot and self.window in self.windows:
            self.save_screenshot(self.screenshot)
            self.screenshot = None
        for window in list(self.windows):
            window.stop_and_close(**SCRIPTED_STOP)

    def _on_window_closed(self, window: MainWindow) -> None:
        if self.screenshot and window is self.window:
            self.save_screenshot(self.screenshot)
            self.screenshot = None
        if window in self.windows:
            self.windows.remove(window)
        client = window.bridge.remote
        if client is not None:  # detach: the service runs on
            client.close()
        if not self.windows and not self._done.done():
            self._done.set_result(None)

    def save_screenshot(self, path: str) -> bool:
        ok = self.window.grab().save(path)
        log.info("screenshot %s %s", path, "saved" if ok else "FAILED")
        return ok

    def restore_hooks(self) -> None:
        """Put back the SIGINT handler and ``sys.excepthook`` the console took
        over (done on shutdown; for a host that ends the console otherwise)."""
        self.interrupts.restore()
        sys.excepthook = self._previous_excepthook

    def _shutdown(self) -> None:
        self.restore_hooks()
        self._let_pending_work_end()
        if isinstance(self.client, RemoteClient):
            self.client.close()  # detach: an attached console never stops its service
        elif self.client.is_active():  # never left running behind the window
            if self.window.exiting_now:
                self.client.stop_now()
            else:  # on the loop once more: astop, bounded
                self.loop.run_until_complete(self.client.stop(wait=SHUTDOWN_STOP_WAIT,
                                                              cancel_tasks=True))
        for window in (self.window, *self.windows):
            window.deleteLater()

    def _let_pending_work_end(self) -> None:
        """Give a stop whose wait was just ended, and a scenario told to end, a
        moment on the loop: their cleanup runs there, and the loop is about to close."""
        pending = [asyncio.ensure_future(work) for window in (self.window, *self.windows)
                   for work in window.end_pending_work()]
        if pending:
            self.loop.run_until_complete(asyncio.wait(pending, timeout=SHUTDOWN_GRACE))

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        message = context.get("message", "error in the event loop")
        details = _format_exception(exc) if exc else ""
        log.error("event loop: %s\n%s", message, details)
        self._report("Event loop error", f"{message}: {describe_error(exc)}" if exc else message,
                     details)

    def _on_uncaught(self, kind, exc, tb) -> None:
        details = _format_exception(exc)
        log.error("uncaught exception\n%s", details)
        self._report("Unexpected error", describe_error(exc), details)

    def _report(self, title: str, text: str, details: str) -> None:
        window = getattr(self, "window", None)
        if window is not None:
            window.show_error(title, text, details)


def _format_exception(exc: BaseException) -> str:
    """The traceback text; never raises (an exception's ``__str__`` is anyone's code)."""
    return format_traceback(exc)


def run_console(scenario: str | None = None, duration: float | None = None,
                screenshot: str | None = None,
                settings_factory: Callable[[], QSettings] | None = None,
                size: tuple[int, int] | None = None, attach: str | None = None,
                token_file: str | None = None) -> int:
    """The console as a program: the exit code (2: it cannot start).
    ``size``: the window's (width, height) in pixels, instead of the saved one;
    ``attach``: the address of a service's monitor to show instead of a
    supervisor of this process (``token_file``: its token)."""
    problem = display_problem()
    if duration is not None and not problem:
        try:
            scenarios.check_duration(duration, "--duration")
        except (TypeError, ValueError) as exc:
            problem = str(exc)
    if attach is not None and scenario and not problem:
        problem = (f"--attach shows the service's own work: --scenario {scenario} cannot "
                   f"run with it")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = settings_factory() if settings_factory else None
    gc.set_threshold(*GC_THRESHOLDS)  # a program-wide choice: here, not in Console
    try:  # an address or token file is checked before any window
        console = Console(settings=settings, screenshot=screenshot, size=size, attach=attach,
                          token_file=token_file)
    except ValueError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    code = console.run(scenario, duration)
    _exit_within(EXIT_GRACE, code)
    return code


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _exit_within(grace: float, code: int) -> None:
    """End the process ``grace`` seconds from now if it has not exited by then.

    The console is done; what could still hold the interpreter are threads
    stuck in user code: non-daemon ones are joined at exit (and executor
    workers by ``threading._register_atexit``), so a task that never returns
    would keep a closed console alive. A daemon timer cannot be held up by them.
    """
    def force() -> None:
        stuck = [t.name for t in threading.enumerate()
                 if not t.daemon and t is not threading.main_thread()]
        log.warning("exit: still not done %g s after the console closed (threads: %s); "
                    "forcing it", grace, ", ".join(stuck) or "none")
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(grace, force)
    timer.daemon = True
    timer.start()
