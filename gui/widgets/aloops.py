"""The aloops panel: each aloop with its state, unfinished coroutine tasks and
whether it is the default; create, start, stop and set the default.

Everything shown comes from the snapshot (``aloops``, ``aloop_tasks``,
``default_aloop``), redrawn when the bridge says it changed
(``aloops_changed``); commands go through ``bridge.act`` / ``act_async``
with the aloop's name. GUI thread only.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..bridge import EngineBridge
from ..client import COMMAND_WAIT, SupervisorStats
from .tables import fill_table, make_table

COLUMNS = ("name", "state", "unfinished tasks", "default")


class AloopsPanel(QWidget):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._pending: set[asyncio.Future] = set()
        self.table = make_table(COLUMNS)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.name_edit = QLineEdit(placeholderText="new aloop name")
        self.default_check = QCheckBox("default")
        self.create_button = QPushButton("Create")
        self.create_button.clicked.connect(self.create)
        self.name_edit.returnPressed.connect(self.create)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start_selected)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            f"Stop the aloop, waiting up to {COMMAND_WAIT:g} s for its tasks")
        self.stop_button.clicked.connect(self.stop_selected)
        self.cancel_check = QCheckBox("cancel its tasks")
        self.default_button = QPushButton("Make default")
        self.default_button.clicked.connect(self.make_default)
        create_row = QHBoxLayout()
        create_row.addWidget(self.name_edit, 1)
        create_row.addWidget(self.default_check)
        create_row.addWidget(self.create_button)
        action_row = QHBoxLayout()
        for widget in (self.start_button, self.stop_button, self.cancel_check,
                       self.default_button):
            action_row.addWidget(widget)
        action_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addLayout(action_row)
        layout.addLayout(create_row)
        bridge.aloops_changed.connect(self._show)
        if bridge.last_stats is not None:
            self._show(bridge.last_stats)
        self._on_selection()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).text() if rows else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == name:
                self.table.selectRow(row)
                return
        raise LookupError(f"no aloop named {name!r} in the panel")

    def create(self) -> None:
        name = self.name_edit.text().strip()
        default = self.default_check.isChecked()
        ok, _ = self._bridge.act(f"create aloop {name!r}", lambda client: client.create_aloop(
            name, default=default, daemon=True))
        if ok:
            self.name_edit.clear()

    def start_selected(self) -> None:
        name = self.selected_name()
        if name:
            self._bridge.act(f"start aloop {name!r}", lambda client: client.start_aloop(name))

    def stop_selected(self) -> asyncio.Future | None:
        name = self.selected_name()
        if not name:
            return None
        cancel = self.cancel_check.isChecked()
        future = asyncio.ensure_future(self._bridge.act_async(
            f"stop aloop {name!r}" + (" (cancel tasks)" if cancel else ""),
            lambda client: client.stop_aloop(name, wait=COMMAND_WAIT, cancel_tasks=cancel)))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def make_default(self) -> None:
        name = self.selected_name()
        if name:
            self._bridge.act(f"default aloop → {name!r}",
                             lambda client: client.set_default_aloop(name))

    def _show(self, stats: SupervisorStats) -> None:
        default_name = stats.default_aloop
        selected = self.selected_name()
        names = sorted(stats.aloops)
        fill_table(self.table, [
            (name, "running" if stats.aloops[name] else "stopped",
             str(stats.aloop_tasks.get(name, 0)), "✓" if name == default_name else "")
            for name in names])
        if selected in names and selected != self.selected_name():
            self.select(selected)
        self._on_selection()

    def _on_selection(self) -> None:
        name = self.selected_name()
        stats = self._bridge.last_stats
        running = name is not None and stats is not None and stats.aloops.get(name, False)
        self.start_button.setEnabled(name is not None and not running)
        self.stop_button.setEnabled(name is not None and running)
        self.default_button.setEnabled(name is not None)
