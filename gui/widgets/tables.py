"""Small read-only tables shared by the aloops and workers panels: Qt widgets
only, no engine and no client. GUI thread only."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def make_table(columns: Sequence[str]) -> QTableWidget:
    """A read-only table selecting one whole row at a time."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
    table.verticalHeader().hide()
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    return table


def fill_table(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    """Show ``rows``, touching only the cells whose text changed (keeps the selection)."""
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            item = table.item(r, c)
            if item is None:
                table.setItem(r, c, QTableWidgetItem(value))
            elif item.text() != value:
                item.setText(value)
