"""The workers panel: registered schedulers and workers with kind, state, runs,
errors and last run; start and stop.

Everything shown comes from the snapshot's ``scheduler_info`` (name →
``SchedulerStats``), redrawn when the bridge says it changed
(``schedulers_changed``). The engine keeps a stopped worker in it (not
registered, not active) so that it can be started again by name
(``client.start_worker``: the same arguments). Start and stop are awaitable
commands (``bridge.act_async``): the panel keeps drawing while a worker
finishes its current run. While there are none, a hint says what workers
are and how they appear, in place of an empty table. GUI thread only.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..bridge import EngineBridge
from ..client import COMMAND_WAIT, SchedulerStats, SupervisorStats
from ..formatting import format_clock, format_count
from .tables import fill_table, make_table

COLUMNS = ("name", "kind", "state", "runs", "errors", "last run")
#: Kinds that are workers (``start_worker`` / ``stop_worker`` apply to them).
WORKER_KINDS = ("worker",)
HINT_WIDTH = 720  # px
EMPTY_HINT = (
    "<b>No workers or schedulers yet.</b><br>"
    "Workers are background jobs the supervisor runs again and again: on an interval, "
    "for each item put on a queue, or whenever an event is triggered "
    "(<code>BackgroundIntervalWorker</code>, <code>BackgroundQueueWorker</code>, "
    "<code>BackgroundEventWorker</code>, the <code>@background_worker</code> decorator). "
    "They appear here once code starts one on this supervisor (or registers a "
    "scheduler), with their runs and errors; then you can stop and start them.<br>"
    "To see some now: Submit → Scenarios → <i>workers</i> → Start.")


def describe(info: SchedulerStats) -> tuple[str, str, str, str, str, str]:
    """One row of the table."""
    if info.active:
        state = "running"
    else:
        state = "stopped" if info.registered or is_worker(info) else "registered"
    return (info.name, info.kind, state, format_count(info.runs), format_count(info.errors),
            format_clock(info.last_run))


def is_worker(info: SchedulerStats) -> bool:
    """A worker can be started again; a plain scheduler only runs while registered."""
    return info.kind.endswith(WORKER_KINDS)


class WorkersPanel(QWidget):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._rows: list[SchedulerStats] = []  # what the table shows, in its order
        self._pending: set[asyncio.Future] = set()
        self.table = make_table(COLUMNS)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start the worker again with its last arguments")
        self.start_button.clicked.connect(self.start_selected)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            f"Stop after its current run (waits for it, at most {COMMAND_WAIT:g} s)")
        self.stop_button.clicked.connect(self.stop_selected)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        self.empty_hint = QLabel(EMPTY_HINT)
        self.empty_hint.setObjectName("workers_empty_hint")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setTextFormat(Qt.TextFormat.RichText)
        self.empty_hint.setStyleSheet("color: palette(placeholder-text); padding: 12px;")
        self.empty_hint.setMaximumWidth(HINT_WIDTH)  # lines short enough to read
        hint_page = QWidget()
        hint_layout = QHBoxLayout(hint_page)
        hint_layout.addWidget(self.empty_hint)
        self._stack = QStackedWidget()  # the hint while there is nothing, else the table
        self._stack.addWidget(hint_page)
        self._stack.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._stack)
        layout.addLayout(row)
        bridge.schedulers_changed.connect(self._show)
        if bridge.last_stats is not None:  # else the hint, until the first snapshot
            self._show(bridge.last_stats)
        self._on_selection()

    def workers(self) -> list[SchedulerStats]:
        """What the table shows, one ``SchedulerStats`` a row."""
        return list(self._rows)

    def selected(self) -> SchedulerStats | None:
        rows = self.table.selectionModel().selectedRows()
        return self._rows[rows[0].row()] if rows else None

    def select(self, name: str) -> None:
        for row, info in enumerate(self._rows):
            if info.name == name:
                self.table.selectRow(row)
                return
        raise LookupError(f"no worker named {name!r} in the panel")

    def start_selected(self) -> asyncio.Future | None:
        """Start the selected worker again; the command's future, or ``None``."""
        info = self.selected()
        if info is None:
            return None
        name = info.name
        return self._run(self._bridge.act_async(
            f"start worker {name!r}", lambda client: client.start_worker(name)))

    def stop_selected(self) -> asyncio.Future | None:
        """Stop the selected worker; the command's future, or ``None``."""
        info = self.selected()
        if info is None:
            return None
        name = info.name
        return self._run(self._bridge.act_async(
            f"stop worker {name!r}", lambda client: client.stop_worker(name, wait=COMMAND_WAIT)))

    def _run(self, command) -> asyncio.Future:
        future = asyncio.ensure_future(command)
        self._pending.add(future)  # a task nobody references may be collected
        future.add_done_callback(self._pending.discard)
        return future

    def _show(self, stats: SupervisorStats) -> None:
        selected = self.selected()
        self._rows = list(stats.scheduler_info.values())
        fill_table(self.table, [describe(info) for info in self._rows])
        self._stack.setCurrentIndex(1 if self._rows else 0)  # the table, or the hint
        if selected is not None and self.selected() is None:
            names = [info.name for info in self._rows]
            if selected.name in names:
                self.select(selected.name)
        self._on_selection()

    def _on_selection(self) -> None:
        info = self.selected()
        self.start_button.setEnabled(info is not None and is_worker(info) and not info.active)
        self.stop_button.setEnabled(info is not None and info.active)
