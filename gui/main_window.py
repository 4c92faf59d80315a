"""The main window: the graphs in the middle, panels in docks, health in the status bar.

The window is given the console's ``SupervisorClient`` (``gui.client``) and
never names a supervisor: it builds the ``EngineBridge`` over that client,
and every panel reads snapshots and signals from the bridge and sends
commands through ``bridge.act``. It owns the layout, the actions (start,
stop, submit, pause graphs, theme, quit), their shortcuts, persisted settings
(geometry, dock layout, the operator's pool settings -- what operator
commands changed, never what a scenario set --, refresh rate, theme; read and
written through ``gui.settings.ConsoleSettings``, so a bad value in the
file falls back to its default with a log line), the series recorder the graphs and the status bar
share (``gui.series``: rates computed once per snapshot), the status bar
(state, threads, rate, queue, loop lag, the stuck tasks while a run
threshold is on -- clicking them selects the longest-running task --, and
events the console skipped when the engine's event ring outran it; for a
few seconds, "Submitted …" for a batch the engine took and "Refused: …"
for a command it refused), the window's one error box
(``ErrorDialog``: errors are coalesced while it is open) and the close
sequence: closing (the window's close button, File > Quit, Ctrl+Q) while
the supervisor runs opens the stop dialog as the close confirmation, with
the last choice: "Stop and quit" stops, and the window closes once the
supervisor has stopped; "Cancel" (Escape) keeps the window open
(``close_when_stopped``) -- or at once with ``exit_now()`` (the dialog's
"Exit now", a second Ctrl+C), which ends any stop's wait and names the
running tasks it abandons in the log.

Attached to a service (the client is a remote one: ``bridge.attached``),
the window shows that service's supervisor with the same graphs, table,
log and controls, and differs only where the work is not its own: the
Submit panel (task scripts, scenarios, batches run in the console's own
process) is disabled with its reason shown, Start is off (the service
starts its supervisor), the pool settings are neither restored onto the
service nor saved as the operator's, and closing -- the close button,
File > Quit, Ctrl+C, a ``--duration``'s end, "Exit now" -- detaches: the
window closes and the service runs on. Only the stop dialog, used on
purpose, stops the service (a command like any other). The status bar then
leads with the connection: the address, the latency, "connecting…" or
"disconnected — retrying" while the service does not answer (the panels
keep what they showed; the outage is said once, never as error boxes).

File > Connect to… (when the app gives the window a ``connect_to``)
asks for a service's address and token file and has the app open another
console window on it: a window shows one supervisor for its whole life, so
that its graphs, rows, markers and settings never mix two supervisors, and
a console hosting a supervisor of its own keeps it in view. GUI thread only.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from engine.constants import TASK_STATUS_STARTED

from .bridge import Connection, EngineBridge
from .client import MAX_SIZE, SupervisorClient, SupervisorStats, safe_repr
from .formatting import format_rate
from .series import SeriesRecorder
from .settings import POOL_KEYS, ConsoleSettings
from .theme import THEMES, apply_theme
from .widgets.aloops import AloopsPanel
from .widgets.connect_dialog import ConnectDialog
from .widgets.error_dialog import ErrorDialog
from .widgets.graphs import GraphsPanel
from .widgets.log_view import LogView
from .widgets.pool_controls import PoolControls
from .widgets.stop_dialog import StopDialog
from .widgets.stuck_label import StuckLabel, describe
from .widgets.submit import SubmitPanel
from .widgets.task_table import TaskTablePanel
from .widgets.timeouts import TimeoutsPanel
from .widgets.workers import WorkersPanel

log = logging.getLogger("gui")

ABANDONED_NAMED = 20  # running tasks named in the log by exit_now (the rest counted)
LAG_WARNING = 0.05  # loop lag p99 (s) above which the console itself is unhealthy
SHORTCUTS = {"start": "F5", "stop": "Shift+F5", "submit": "Ctrl+Return",
             "pause": "Ctrl+P", "connect": "Ctrl+Shift+O"}
#: Why an attached console's Submit panel is off (shown in it, one line).
ATTACHED_SUBMIT = "attached to a service: it runs its own work"
ATTACHED_SUBMIT_TIP = ("Task scripts, batches and scenarios run in the console's own "
                       "supervisor; the service submits its own tasks. Re-run a finished "
                       "task from the task table: the service runs it again.")
LATENCY_SAMPLES = 20  # refreshes whose snapshot round trips the status bar's latency sums up
ADDRESS_SHOWN = 48  # characters of a long address shown in the status bar (all in its tip)
CONNECTION_COLORS = {"connected": "#2ca02c", "connecting": "#ff7f0e",
                     "disconnected": "#c0392b"}


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, client: SupervisorClient,
                 settings: ConsoleSettings | QSettings | None = None,
                 refresh_hz: float = 10,
                 connect_to: Callable[[str, str | None], Any] | None = None) -> None:
        """``connect_to(address, token_file)``: opens a console on that service
        (``ValueError`` naming what is wrong); without it File > Connect to… is off."""
        super().__init__()
        self.setObjectName("MainWindow")
        self.settings = ConsoleSettings.of(settings) or ConsoleSettings()
        self._close_when_stopped = False  # the window closes once the supervisor stops
        self._exiting_now = False  # close without waiting for the supervisor
        self._closed = False
        self._sized_docks = False  # the first-run sizing is queued (or not needed)
        self.first_run_layout_done = False  # ... and was applied
        # The pool settings the operator chose (restored at start, changed from the
        # pool panels), kept apart from what a scenario sets: only these are saved.
        self._operator_pools: dict[str, dict[str, int]] = {"thread": {}, "mp": {}}
        self.series = SeriesRecorder()  # shared by the graphs and the status bar
        self.errors = ErrorDialog(self)
        self.settings.check()
        hz = self.settings.refresh_hz(refresh_hz)
        self.bridge = EngineBridge(client, refresh_hz=hz, parent=self)
        self.attached = self.bridge.attached  # a service's supervisor, not this process's
        self._connect_to = connect_to
        self.connect_dialog: ConnectDialog | None = None
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)  # shown: their median
        remote = self.bridge.remote
        self.setWindowTitle("Task Supervisor Console" if remote is None else
                            f"Task Supervisor Console — attached to {remote.address}")
        self._build_panels()
        self._build_actions()
        self._build_status_bar()
        self.stop_dialog = StopDialog(self.bridge, self.settings, parent=self)
        self.stop_dialog.stopped.connect(self._on_stopped)
        self.stop_dialog.exit_requested.connect(self.exit_now)
        self.stop_dialog.rejected.connect(self._on_stop_dialog_rejected)
        self.bridge.stats_updated.connect(self._on_stats_updated)
        self.bridge.lag_measured.connect(self._on_lag_measured)
        self.bridge.error_raised.connect(self._on_error_raised)
        self.bridge.events_gap.connect(self._on_events_gap)
        self.bridge.action_applied.connect(self._on_action_applied)
        self.bridge.connection_changed.connect(self._on_connection_changed)
        # Submit may be pressed in the toolbar (or Ctrl+Return) with the Submit
        # dock elsewhere: the confirmation is said where the eye is, too.
        self.submit_panel.submitted.connect(self._on_submitted)
        self.resize(1440, 900)
        self._restore_settings()
        self.bridge.start()

    # -- layout ---------------------------------------------------------------
    def _build_panels(self) -> None:
        b = self.bridge
        self.graphs = GraphsPanel(b, recorder=self.series)
        self.setCentralWidget(self.graphs)
        self.thread_controls = PoolControls(b, "thread")
        self.mp_controls = PoolControls(b, "mp")
        self.timeouts = TimeoutsPanel(b)
        pools = QTabWidget()
        pools.addTab(self.thread_controls, "Threads")
        pools.addTab(self.mp_controls, "Processes")
        pools.addTab(self.timeouts, "Timeouts")
        self.submit_panel = SubmitPanel(b, errors=self.errors)
        if self.attached:
            self.submit_panel.set_unavailable(ATTACHED_SUBMIT, ATTACHED_SUBMIT_TIP)
        self.task_table = TaskTablePanel(b)
        self.log_view = LogView()
        self.aloops = AloopsPanel(b)
        self.workers = WorkersPanel(b)
        self.docks: dict[str, QDockWidget] = {}
        self._dock("Pools", pools, Qt.RightDockWidgetArea)
        self._dock("Submit", self.submit_panel, Qt.RightDockWidgetArea)
        self._dock("Tasks", self.task_table, Qt.BottomDockWidgetArea)
        self._dock("Log", self.log_view, Qt.BottomDockWidgetArea)
        self._dock("Aloops", self.aloops, Qt.BottomDockWidgetArea)
        self._dock("Workers", self.workers, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["Tasks"], self.docks["Log"])
        self.tabifyDockWidget(self.docks["Log"], self.docks["Aloops"])
        self.tabifyDockWidget(self.docks["Aloops"], self.docks["Workers"])
        self.docks["Tasks"].raise_()
        self.splitDockWidget(self.docks["Pools"], self.docks["Submit"], Qt.Vertical)


    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock

    def _build_actions(self) -> None:
        self.start_action = QAction("Start", self, shortcut=QKeySequence(SHORTCUTS["start"]))
        self.start_action.setToolTip(
            "The service starts its own supervisor" if self.attached else
            f"Start the supervisor ({SHORTCUTS['start']})")
        self.start_action.triggered.connect(self.start_supervisor)
        self.stop_action = QAction("Stop…", self, shortcut=QKeySequence(SHORTCUTS["stop"]))
        self.stop_action.setToolTip(
            f"Stop the service's supervisor ({SHORTCUTS['stop']}); closing only detaches"
            if self.attached else f"Stop the supervisor ({SHORTCUTS['stop']})")
        self.stop_action.triggered.connect(lambda: self.open_stop_dialog())
        self.quit_action = QAction("&Detach and close" if self.attached else "&Quit", self)
        self.quit_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.Quit)
                                      or [QKeySequence("Ctrl+Q")])  # none offscreen
        self.quit_action.setMenuRole(QAction.QuitRole)
        self.quit_action.setToolTip(
            "Close this console and detach: the service keeps running" if self.attached else
            "Quit the console: stop the supervisor first, as closing the window does")
        self.quit_action.triggered.connect(self.close)
        self.addAction(self.quit_action)  # the shortcut works with the menu bar hidden
        self.submit_action = QAction("Submit", self, shortcut=QKeySequence(SHORTCUTS["submit"]))
        self.submit_action.setToolTip(f"Submit the task set up in the Submit panel "
                                      f"({SHORTCUTS['submit']})")
        self.submit_action.triggered.connect(self.submit_panel.submit)
        self.pause_action = QAction("Pause graphs", self, checkable=True,
                                    shortcut=QKeySequence(SHORTCUTS["pause"]))
        self.pause_action.setToolTip(f"Freeze the graphs ({SHORTCUTS['pause']})")
        self.pause_action.toggled.connect(self.graphs.set_paused)
        self.graphs.paused_changed.connect(self.pause_action.setChecked)
        toolbar = self.addToolBar("Supervisor")
        toolbar.setObjectName("toolbar_supervisor")
        for action in (self.start_action, self.stop_action, self.submit_action,
                       self.pause_action):
            toolbar.addAction(action)
        self.connect_action = QAction("&Connect to…", self,
                                      shortcut=QKeySequence(SHORTCUTS["connect"]))
        self.connect_action.setToolTip(
            f"Open a console on a service's monitor ({SHORTCUTS['connect']})"
            if self._connect_to else "Connecting is offered by the console app only")
        self.connect_action.setEnabled(self._connect_to is not None)
        self.connect_action.triggered.connect(self.open_connect_dialog)
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.connect_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        supervisor_menu = menu.addMenu("&Supervisor")
        for action in (self.start_action, self.stop_action, self.submit_action):
            supervisor_menu.addAction(action)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.pause_action)
        # One choice of theme: an exclusive group (choosing the current one keeps it).
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_group = QActionGroup(self)
        self.theme_group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            action = QAction(name.title(), self.theme_group, checkable=True)
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            theme_menu.addAction(action)
            self.theme_actions[name] = action
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())

    def _build_status_bar(self) -> None:
        self.health: dict[str, QLabel] = {}
        tips = {
            "connection": "The service this console is attached to: its monitor's address "
                          "and the round trip of the last snapshot",
            "state": "Supervisor state",
            "threads": "OS threads of the pool: alive / running a task",
            "rate": "Tasks finished per second (all pools)",
            "queue": "Tasks waiting in the queues (all pools)",
            "lag": "How late a 100 ms timer fires on the console's loop: the console's own "
                   "health",
            "events": "Task events the engine's event ring dropped before the console read "
                      "them (the task table then re-checks its unfinished rows)",
        }
        for key, tip in tips.items():
            label = QLabel()
            label.setToolTip(tip)
            label.setObjectName(f"health_{key}")
            self.statusBar().addPermanentWidget(label)
            self.health[key] = label
        self.health["events"].hide()  # shown once events were skipped
        # Stuck tasks (running past run_warning): shown while a run threshold is on.
        self.stuck = StuckLabel()
        self.stuck.task_clicked.connect(self.show_task)
        self.statusBar().insertPermanentWidget(5, self.stuck)  # after the queue
        self.health["connection"].setVisible(self.attached)
        if self.attached:
            self._on_connection_changed(Connection(self.bridge.remote.address, "connecting"))

    # -- supervisor -------------------------------------------------------------
    def start_supervisor(self) -> bool:
        ok, _ = self.bridge.act("start supervisor", lambda client: client.start())
        self._update_actions()
        return ok

    def close_when_stopped(self, close: bool = True) -> None:
        """Close the window once the supervisor has stopped (``False``: keep it)."""
        self._close_when_stopped = close
        self.stop_dialog.set_quitting(close)  # its buttons say so

    def _active_now(self) -> bool:
        """Whether the supervisor is active, from a snapshot taken now (the
        refresh may be paused, or a stop may have just ended)."""
        self.bridge.refresh()
        return self._active()

    def _active(self) -> bool:
        stats = self.bridge.last_stats
        return stats is not None and stats.active

    def open_stop_dialog(self, quitting: bool | None = None) -> StopDialog:
        """Show the stop dialog; ``quitting``: as the close confirmation (the
        window closes once stopped) or not; ``None``: as a pending quit says."""
        if quitting is not None:
            self.close_when_stopped(quitting)
        self.stop_dialog.show()
        self.stop_dialog.raise_()
        return self.stop_dialog

    def _on_stop_dialog_rejected(self) -> None:
        """Cancel (Escape, the dialog's close button): a pending quit is called off;
        a stop under way goes on."""
        if self._closed or self._exiting_now or not self._close_when_stopped:
            return
        self.close_when_stopped(False)
        self.statusBar().showMessage("Quit canceled: the console stays open", 5000)

    def _on_stopped(self) -> None:
        if self._closed:
            return
        self.bridge.refresh()  # the status bar and panels show "stopped" at once
        self._update_actions()
        if self._close_when_stopped:
            self.close()

    def _update_actions(self) -> None:
        active = self._active()
        if self.attached:  # the service starts its supervisor and submits its own work
            self.start_action.setEnabled(False)
            self.stop_action.setEnabled(active and self.bridge.connected())
            self.submit_action.setEnabled(False)
            return
        self.start_action.setEnabled(not active and not self.stop_dialog.is_stopping())
        self.stop_action.setEnabled(active)
        self.submit_action.setEnabled(active)

    # -- health -------------------------------------------------------------------
    def _on_stats_updated(self, stats: SupervisorStats) -> None:
        self.series.record(stats)  # once per snapshot, whoever asks first
        pools = (stats.thread, stats.mp, stats.coroutine)
        queued = sum(sum(p.queued.values()) for p in pools)
        state = "active" if stats.active else (
            "stopping" if self.stop_dialog.is_stopping() else "stopped")
        color = {"active": "#2ca02c", "stopping": "#ff7f0e", "stopped": "#888888"}[state]
        self.health["state"].setText(f"<b style='color:{color}'>● {state}</b>")
        self.health["threads"].setText(f"threads {stats.thread.threads_alive} alive / "
                                       f"{stats.thread.threads_busy} busy")
        self.health["rate"].setText(format_rate(self.series.rates().finished))
        self.health["queue"].setText(f"{queued:,} queued")
        self.stuck.update_from(stats)
        self._update_actions()

    def show_task(self, task_id: Any) -> bool:
        """Select ``task_id``'s row in the task table (its detail pane shows it,
        and its live stack while it runs); False, said in the status bar, if the
        table does not show it (filtered out, or no row)."""
        self.docks["Tasks"].show()
        self.docks["Tasks"].raise_()
        if self.task_table.select_task(task_id):
            return True
        longest = self.stuck.longest
        what = describe(longest) if longest is not None and longest.id == task_id else (
            f"task {safe_repr(task_id)}")
        self.statusBar().showMessage(f"The task table does not show {what} "
                                     f"(filtered out, or it has no row)", 8000)
        return False

    def _on_connection_changed(self, connection: Connection) -> None:
        """The status bar's connection: address, latency, or why it is away."""
        address = connection.address
        shown = short_address(address)
        color = CONNECTION_COLORS.get(connection.state, "#888888")
        if connection.state == "connected":
            self._latencies.append(connection.latency or 0.0)
            latency = sorted(self._latencies)[len(self._latencies) // 2]  # steady to read
            what = (f"connected · {latency * 1000:.0f} ms" if latency >= 0.001
                    else "connected · &lt;1 ms")
        elif connection.state == "connecting":
            what = "connecting… no answer yet" if connection.error else "connecting…"
        else:
            what = "disconnected — retrying"
        if connection.state != "connected":
            self._latencies.clear()
        label = self.health["connection"]
        text = (f"<span style='color:{color}'>●</span> <b>{what}</b> "
                f"<span style='color:gray'>{_html(shown)}</span>")
        if text != label.text():
            label.setText(text)
        tip = f"Attached to the service at {address}"
        if connection.error:
            tip += f"\nNot answering: {connection.error}\nThe console retries every second."
        label.setToolTip(tip)
        connected = connection.state == "connected"
        if not connected:  # what the last snapshot said is not news
            self.health["state"].setText("<b style='color:#888888'>● state unknown</b>")
        for key in ("threads", "rate", "queue"):  # greyed: the last values known
            self.health[key].setEnabled(connected)
        self._update_actions()

    def _on_lag_measured(self, lag: float) -> None:
        p99 = self.bridge.lag_p99()
        text = f"loop lag {lag * 1000:.0f} ms (p99 {p99 * 1000:.0f} ms)"
        if p99 > LAG_WARNING:
            text = f"<span style='color:#c0392b'>{text}</span>"
        self.health["lag"].setText(text)

    def _on_events_gap(self, lost: int) -> None:
        total = self.bridge.events_lost
        self.health["events"].setText(
            f"<span style='color:#c0392b'>{total:,} events skipped</span>")
        self.health["events"].show()
        self.statusBar().showMessage(
            f"The console fell behind the engine: {lost:,} task events were skipped "
            f"({total:,} in all); the task table re-checks its unfinished rows", 8000)

    def _on_submitted(self, description: str, ids: Any) -> None:
        what = description.removeprefix("submit ")  # "20 × sleep (HIGH, thread)"
        self.statusBar().showMessage(f"Submitted {what}: {len(ids):,} task"
                                     f"{'s' if len(ids) != 1 else ''} accepted", 5000)

    def _on_error_raised(self, what: str, message: str) -> None:
        # One line in the status bar: an exception's notes follow its message.
        self.statusBar().showMessage(
            f"Refused: {what}: {' — '.join(message.splitlines())}", 8000)

    def show_error(self, title: str, text: str, details: str = "") -> QMessageBox:
        """A non-modal message for the operator, coalesced into the open one if any."""
        return self.errors.show(title, text, details)

    @property
    def error_box(self) -> QMessageBox | None:
        """The open error box, or ``None``."""
        return self.errors.box

    # -- settings -------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        apply_theme(QApplication.instance(), name)
        for widget in self.findChildren(QWidget):
            if widget.styleSheet():  # "palette(...)" in a style sheet is resolved once
                widget.setStyleSheet(widget.styleSheet())
        for key, action in self.theme_actions.items():
            action.setChecked(key == name)
        self.settings.save_theme(name)

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.geometry()
        if geometry is not None and not self.restoreGeometry(geometry):
            log.warning("setting window/geometry is not a saved window geometry: ignored")
        state = s.window_state()
        if state is not None and not self.restoreState(state):
            log.warning("setting window/state is not a saved dock layout: ignored")
        self.set_theme(s.theme("light", THEMES))
        # An attached console leaves a service's pools as the service set them.
        for kind in () if self.attached else ("thread", "mp"):
            saved = s.pool(kind, MAX_SIZE)
            self._operator_pools[kind] = dict(saved)
            if saved:  # mp: only saved while a process pool existed; this recreates it
                self.bridge.act(f"restore {kind} pool settings",
                                lambda client, kind=kind, saved=saved:
                                _set_pool(client, kind, saved))
        self._update_actions()

    def save_settings(self) -> None:
        s = self.settings
        s.save_window(self.saveGeometry(), self.saveState())
        s.save_refresh_hz(self.bridge.refresh_hz)
        if not self._closed:
            self.bridge.refresh()  # the pools as they are now (the refresh may be paused)
        stats = self.bridge.last_stats
        if self.attached:  # a service's pools are not the operator's settings
            s.sync()
            return
        s.save_pool("thread", self._operator_pools["thread"])
        # No process pool: none was needed, and restoring its settings would create one.
        has_mp = stats is not None and stats.has_mp_pool
        s.save_pool("mp", self._operator_pools["mp"] if has_mp else None)
        s.sync()

    def operator_pools(self) -> dict[str, dict[str, int]]:
        """The pool settings the operator chose, per pool: what is saved."""
        return {kind: dict(values) for kind, values in self._operator_pools.items()}

    def _on_action_applied(self, description: str) -> None:
        # What an operator command changed in the pools is the operator's (the
        # snapshot before it against one taken now); a scenario's set_thread_pool /
        # set_mp_pool runs on the loop, outside any operator command.
        before = self.bridge.last_stats
        if before is None or self.attached:
            return
        self.bridge.refresh()  # the command has run; act() refreshes only after this
        after = self.bridge.last_stats
        for kind, old, new, existed in (
                ("thread", before.thread, after.thread, True),
                ("mp", before.mp, after.mp, before.has_mp_pool)):
            if kind == "mp" and not after.has_mp_pool:
                continue
            changed = {key: getattr(new, key) for key in POOL_KEYS[kind]
                       if not existed or getattr(old, key) != getattr(new, key)}
            self._operator_pools[kind].update(changed)
            if kind == "thread" and _derived_max(new):
                # The engine's own max_size (pool + reserves): saved, it would be pinned.
                self._operator_pools[kind].pop("max_size", None)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if not self._sized_docks and self.settings.window_state() is None:
            # First run: give the task table room (later runs restore the layout).
            self._sized_docks = True
            QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        # A third of the height for the task table (nine rows or more at 900 px,
        # beside a task's details and live stack), the rest for the graphs.
        self.resizeDocks([self.docks["Tasks"]], [max(260, self.height() // 3)], Qt.Vertical)
        self.resizeDocks([self.docks["Pools"]], [360], Qt.Horizontal)
        self.first_run_layout_done = True

    # -- connecting -----------------------------------------------------------------
    def open_connect_dialog(self) -> ConnectDialog | None:
        """File > Connect to…: the dialog (``None`` if the app offers no connecting)."""
        if self._connect_to is None:
            return None
        if self.connect_dialog is None:
            self.connect_dialog = ConnectDialog(self._connect_to, parent=self)
            remote = self.bridge.remote
            if remote is not None:
                self.connect_dialog.set_values(remote.address, remote.token_file)
        self.connect_dialog.open()
        self.connect_dialog.raise_()
        return self.connect_dialog

    # -- closing ---------------------------------------------------------------------
    @property
    def exiting_now(self) -> bool:
        """True once ``exit_now`` was asked for: the window closes without waiting."""
        return self._exiting_now

    def exit_now(self) -> None:
        """Close at once: end the wait of any stop (or stop without waiting), log
        the running tasks that are abandoned, and close the window."""
        if self._closed:
            return
        self._exiting_now = True
        if self.attached:  # the service's tasks are not abandoned: it runs on
            log.info("exit now: detaching from %s; the service keeps running",
                     self.bridge.remote.address)
            self.close()
            return
        live = self.bridge.client.live_tasks(None)  # all unfinished tasks, once
        abandoned = [t for t in live.values() if t.status == TASK_STATUS_STARTED]
        if abandoned:
            named = ", ".join(f"{safe_repr(t.id, 40)} ({safe_repr(t.name, 60)})"
                              for t in abandoned[:ABANDONED_NAMED])
            more = len(abandoned) - ABANDONED_NAMED
            log.warning("exit now: %d running task(s) abandoned: %s%s", len(abandoned), named,
                        f" and {more} more" if more > 0 else "")
        else:
            log.info("exit now: no running task is abandoned")
        if self.stop_dialog.stop_waiting() is None and self._active_now():
            # No stop under way: one that does not wait (a loop-side call, it cannot block).
            self.bridge.act("stop (exit now: no wait, cancel queued)",
                            lambda client: client.stop_now())
        self.close()

    def stop_and_close(self, wait: bool | float, stop_schedulers: bool = True,
                       cancel_tasks: bool = False) -> None:
        """A scripted end: ask the scenario to stop, stop the supervisor with
        these options (a stop already under way goes on as it is) and close
        once it has stopped -- at once if it is not active. Attached, it
        detaches: the window closes and the service runs on."""
        if self.attached:
            self.detach()
            return
        self.submit_panel.stop_scenario()
        dialog = self.stop_dialog
        active = self.bridge.client.is_active()
        if active and not dialog.is_stopping():
            dialog.set_options(wait, stop_schedulers, cancel_tasks)
        self.close_when_stopped()
        if active or dialog.is_stopping():
            dialog.start_stopping(remember=False)  # the script's options, not the operator's
        else:
            self.close()

    def detach(self) -> None:
        """Close an attached window without stopping its service (a stop the
        operator started from the stop dialog goes on in the service)."""
        if self._closed:
            return
        self._exiting_now = True  # nothing of this process is left to wait for
        log.info("detaching from %s; the service keeps running", self.bridge.remote.address)
        self.close()

    def end_pending_work(self) -> list[Awaitable[Any]]:
        """Before the loop closes: cancel a running scenario; what must still
        run on the loop to end (that scenario, a stop under way)."""
        scenario = self.submit_panel.end_scenario_now()  # None if none runs
        pending: list[Awaitable[Any]] = [] if scenario is None else [scenario]
        stop = self.stop_dialog.future()
        if stop is not None and not stop.done():
            if self.attached:  # only the console's watch of the service's stop: the stop
                stop.cancel()  # itself runs on in the service
            pending.append(stop)
        return pending

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if self._closed:
            return
        if self.attached:  # closing a view of a service never stops it
            self._exiting_now = True
        if not self._exiting_now and (self.stop_dialog.is_stopping() or self._active_now()):
            event.ignore()
            dialog = self.open_stop_dialog(quitting=True)
            dialog.set_status("The supervisor is still running: Stop and quit stops it, "
                              "then closes the console; Cancel keeps the console open."
                              if not dialog.is_stopping() else
                              "The console closes once the supervisor has stopped "
                              "(or press Exit now).")
            return
        self._closed = True
        self.save_settings()
        self.bridge.stop()
        self.log_view.close_handler()
        self.stop_dialog.close()
        if self.connect_dialog is not None:
            self.connect_dialog.close()
        super().closeEvent(event)
        self.closed.emit()


def short_address(address: str, limit: int = ADDRESS_SHOWN) -> str:
    """``address`` in at most about ``limit`` characters: a long socket path
    keeps its first directory and its file name (``unix:/tmp/…/monitor.sock``)."""
    if len(address) <= limit:
        return address
    kind, _, path = address.partition(":")
    parts = path.split("/")
    if kind == "unix" and len(parts) > 3:
        short = f"{kind}:{'/'.join(parts[:2])}/…/{parts[-1]}"
        if len(short) <= limit:
            return short
    return "…" + address[-(limit - 1):]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _derived_max(pool: Any) -> bool:
    """Whether a thread pool's max_size is the one the engine derives (pool + reserves)."""
    return bool(pool.pool_size) and pool.max_size == (
        pool.pool_size + pool.reserve_normal + pool.reserve_high)


def _set_pool(client: SupervisorClient, kind: str, changes: dict) -> None:
    if kind == "thread":
        client.set_thread_pool(**changes)
    else:
        client.set_mp_pool(**changes)
