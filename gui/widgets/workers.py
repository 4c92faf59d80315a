"""The workers panel: registered schedulers and workers with kind, state, runs,
errors and last run; start and stop.

Workers unregister when they stop, so the panel remembers every scheduler it
has seen and can start a stopped worker again (``restart()``: same arguments).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine import SupervisorStats

from ..bridge import EngineBridge
from .tables import fill_table, make_table

COLUMNS = ("name", "kind", "state", "runs", "errors", "last run")


def describe(scheduler: Any) -> tuple[str, str, str, str, str, str]:
    name = str(getattr(scheduler, "name", None) or repr(scheduler))
    kind = getattr(scheduler, "kind", "scheduler")
    is_active = getattr(scheduler, "is_active", None)
    state = ("running" if is_active() else "stopped") if callable(is_active) else "registered"
    last = getattr(scheduler, "last_run", None)
    last_text = time.strftime("%H:%M:%S", time.localtime(last)) if last else "—"
    return (name, kind, state, str(getattr(scheduler, "runs", "—")),
            str(getattr(scheduler, "errors", "—")), last_text)


class WorkersPanel(QWidget):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._known: list[Any] = []  # every scheduler seen, in order of appearance
        self._pending: set[asyncio.Future] = set()
        self.table = make_table(COLUMNS)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start the worker again with its last arguments")
        self.start_button.clicked.connect(self.start_selected)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after its current run (waits for it)")
        self.stop_button.clicked.connect(self.stop_selected)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addLayout(row)
        bridge.stats_updated.connect(self._on_stats_updated)
        self._on_selection()

    def workers(self) -> list[Any]:
        return list(self._known)

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self._known[rows[0].row()] if rows else None

    def select(self, name: str) -> None:
        for row, scheduler in enumerate(self._known):
            if describe(scheduler)[0] == name:
                self.table.selectRow(row)
                return
        raise LookupError(f"no worker named {name!r} in the panel")

    def start_selected(self) -> None:
        worker = self.selected()
        if worker is not None:
            self._bridge.act(f"start worker {describe(worker)[0]!r}", worker.restart, wait=10)

    def stop_selected(self) -> asyncio.Future | None:
        worker = self.selected()
        if worker is None:
            return None
        future = asyncio.ensure_future(self._bridge.act_in_thread(
            f"stop worker {describe(worker)[0]!r}", worker.stop, wait=10))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def _on_stats_updated(self, stats: SupervisorStats) -> None:
        for scheduler in self._bridge.supervisor.get_schedulers():
            if not any(scheduler is known for known in self._known):
                self._known.append(scheduler)
        if not self.isVisible() and self.table.rowCount() == len(self._known):
            return
        fill_table(self.table, [describe(scheduler) for scheduler in self._known])
        self._on_selection()

    def _on_selection(self) -> None:
        worker = self.selected()
        is_active = getattr(worker, "is_active", None)
        running = bool(is_active()) if callable(is_active) else worker is not None
        self.start_button.setEnabled(worker is not None and hasattr(worker, "restart")
                                     and not running)
        self.stop_button.setEnabled(worker is not None and running)
