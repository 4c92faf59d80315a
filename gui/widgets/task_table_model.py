"""The task table's Qt model: ``gui.task_model.TaskRows`` as a table, filtered and sorted.

``TaskTableModel`` is the Qt face of ``TaskRows`` (the Qt-free rows: plain
records, bounded, reconciled against the engine): it is the rows' listener,
forwarding their insertions, removals and changes as Qt model signals, and it
draws the cells (text, priority tints, timeout colours, failed rows in red;
a still-queued task's wait so far and a running task's run time so far,
counting up to the engine's clock given with ``set_now`` at each snapshot).

Two kinds of lateness, kept apart: a task that waited in its queue past
``timeout_warning`` / ``timeout_critical`` is amber / red while it waits, and
its wait cell stays so; a task running past ``run_warning`` /
``run_critical`` (stuck) is amber / red while it runs (its wait cell keeps
the queue's colour), and once finished only its run-time cell stays so.
``TaskFilterProxy`` filters (status, priority, free text over id, name and
error) and sorts with typed keys. ``TaskTablePanel`` (``task_table``) is the
widget around them.

GUI thread only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from engine.constants import PRIORITY_NAMES, TASK_TYPE_NAMES

from ..client import SupervisorClient, TaskEvent, safe_repr
from ..formatting import format_duration, readable_result
from ..task_model import (
    GONE,
    LATE_CRITICAL,
    LATE_TIPS,
    LATE_WARNING,
    SORT_KEYS,
    WAITING,
    TaskRow,
    TaskRows,
    id_text,
    row_matches,
)
from ..theme import (
    FAILED_COLOR,
    PRIORITY_COLORS,
    TIMEOUT_CRITICAL_COLOR,
    TIMEOUT_WARNING_COLOR,
)

# -- columns ------------------------------------------------------------------------
COL_ID, COL_NAME, COL_PRIORITY, COL_TYPE, COL_STATUS, COL_QUEUED, COL_WAIT, COL_RUN, \
    COL_RESULT = range(9)
COLUMNS = ("id", "name", "priority", "type", "status", "queued at", "wait", "run time",
           "result / error")
COLUMN_TIPS = (
    "Task id",
    "Task name",
    "Priority (cell tinted with the priority colour)",
    "Task type: thread, mp (process pool) or coroutine",
    "Last known status ('finished': the console missed how it ended and the engine's "
    "history no longer holds it)",
    "Wall-clock time the task entered its queue (submission time while delayed)",
    "Time in the queue, queued → started; amber / red: waited past timeout_warning / "
    "timeout_critical",
    "Run time, started → finished (so far, for a running task); amber / red: ran past "
    "run_warning / run_critical",
    "Short repr of the result, or the error of a failed task",
)
COLUMN_WIDTHS = (52, 150, 74, 70, 78, 96, 66, 66, 140)

#: Role returning the task id of a row (any hashable the engine accepts).
TASK_ID_ROLE = Qt.ItemDataRole.UserRole + 1

_DISPLAY = Qt.ItemDataRole.DisplayRole
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole

_LATE_BACKGROUND = {LATE_WARNING: QColor(TIMEOUT_WARNING_COLOR),
                    LATE_CRITICAL: QColor(TIMEOUT_CRITICAL_COLOR)}
# Readable text on the late tints, in the light and the dark theme alike.
_LATE_FOREGROUND = {LATE_WARNING: QColor("#1b1b1b"), LATE_CRITICAL: QColor("#ffffff")}
_FAILED_FOREGROUND = QColor(FAILED_COLOR)


def _tint(hex_color: str) -> QColor:
    color = QColor(hex_color)
    color.setAlpha(80)  # a tint: the theme's text stays readable on it
    return color


_PRIORITY_TINTS = {p: _tint(c) for p, c in PRIORITY_COLORS.items()}
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ROOT = QModelIndex()


WAITING_MARK = " …"  # after a wait still counting up

# -- the model ----------------------------------------------------------------------
class TaskTableModel(QAbstractTableModel):
    """``TaskRows`` as a Qt table model (see the module docstring)."""

    def __init__(self, client: SupervisorClient | None = None, max_finished: int = 5000,
                 max_failed: int = 2000, max_unfinished: int = 5000,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.store = TaskRows(client, max_finished=max_finished, max_failed=max_failed,
                              max_unfinished=max_unfinished, listener=self)
        self.now: float | None = None  # the engine's clock at the last snapshot

    def set_now(self, now: float) -> None:
        """The engine's clock (a snapshot's ``time``): a queued task's wait cell
        counts up to it. No signal: the view repaints the cells it shows (a
        dataChanged over the column would make the filter proxy re-check every
        row, thousands of them under a flood, at every refresh)."""
        self.now = now

    def set_run_limits(self, stats: Any) -> bool:
        """A snapshot's ``run_warning`` / ``run_critical``; whether they changed
        (then every row is redrawn: the colours of running rows follow them)."""
        if not self.store.set_run_limits(stats.run_warning, stats.run_critical):
            return False
        if len(self.store):
            self.rows_changed(0, len(self.store) - 1)
        return True

    def running_for(self, row: TaskRow) -> float | None:
        """Seconds a running task has run so far (``None``: not running)."""
        if row.status != "started" or row.t_started is None or self.now is None:
            return None
        return max(0.0, self.now - row.t_started)

    def waiting_for(self, row: TaskRow) -> float | None:
        """Seconds a still-queued task has waited so far (``None``: not waiting)."""
        if (row.status != "queued" or row.t_started is not None or row.t_queued is None
                or self.now is None):
            return None
        return max(0.0, self.now - row.t_queued)

    # -- the rows' listener: their changes as Qt signals -------------------------
    def rows_inserting(self, first: int, last: int) -> None:
        self.beginInsertRows(_ROOT, first, last)

    def rows_inserted(self) -> None:
        self.endInsertRows()

    def rows_removing(self, first: int, last: int) -> None:
        self.beginRemoveRows(_ROOT, first, last)

    def rows_removed(self) -> None:
        self.endRemoveRows()

    def rows_resetting(self) -> None:
        self.beginResetModel()

    def rows_reset(self) -> None:
        self.endResetModel()

    def rows_changed(self, first: int, last: int) -> None:
        self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))

    # -- the rows, read and fed ------------------------------------------------
    @property
    def rows(self) -> list[TaskRow]:
        return self.store.rows

    def row_at(self, row: int) -> TaskRow:
        return self.store.row_at(row)

    def row_of(self, task_id: Any) -> int | None:
        return self.store.row_of(task_id)

    def task_row(self, task_id: Any) -> TaskRow | None:
        return self.store.task_row(task_id)

    def wall_time(self, monotonic_time: float | None) -> float | None:
        return self.store.wall_time(monotonic_time)

    @property
    def dropped(self) -> int:
        return self.store.dropped

    def apply_events(self, events: list[TaskEvent]) -> set[Any]:
        return self.store.apply_events(events)

    # -- Qt model interface --------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.store)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = _DISPLAY) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == _DISPLAY:
            return COLUMNS[section]
        if role == _TOOLTIP:
            return COLUMN_TIPS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self.store.row_at(index.row())
        column = index.column()
        if role == _DISPLAY:
            return self.display_text(row, column)
        level = self._late_level(row, column)
        if role == _BACKGROUND:
            if level:
                return _LATE_BACKGROUND[level]
            return _PRIORITY_TINTS.get(row.priority) if column == COL_PRIORITY else None
        if role == _FOREGROUND:
            if level:
                return _LATE_FOREGROUND[level]
            if row.status == "failed" and column != COL_PRIORITY:  # keep the tint legible
                return _FAILED_FOREGROUND
            return None
        if role == _TOOLTIP:
            return self._tooltip(row, column)
        if role == _ALIGN:
            if column in (COL_WAIT, COL_RUN, COL_QUEUED) or (
                    column == COL_ID and isinstance(row.task_id, int)):
                return _RIGHT
            return None
        if role == TASK_ID_ROLE:
            return row.task_id
        return None

    def _late_level(self, row: TaskRow, column: int) -> int:
        """The colour level of a cell: the queue's in the wait cell and over a
        waiting row, the run time's over a running row and in a finished
        row's run-time cell."""
        if column == COL_WAIT or row.status in WAITING:
            return row.late
        if row.ran_over and (row.status == "started" or column == COL_RUN):
            return self.store.stuck_level(row)
        return 0

    def display_text(self, row: TaskRow, column: int) -> str:
        if column == COL_ID:
            return id_text(row.task_id)
        if column == COL_NAME:
            return row.name
        if column == COL_PRIORITY:
            return PRIORITY_NAMES.get(row.priority, str(row.priority))
        if column == COL_TYPE:
            return TASK_TYPE_NAMES.get(row.tt, str(row.tt))
        if column == COL_STATUS:
            return row.status
        if column == COL_QUEUED:
            return self.store.queued_text(row)
        if column == COL_WAIT:
            so_far = self.waiting_for(row)
            if so_far is not None:  # still waiting: the wait so far, counting up
                return format_duration(so_far) + WAITING_MARK
            return format_duration(row.wait)
        if column == COL_RUN:
            so_far = self.running_for(row)
            if so_far is not None:  # still running: the run time so far, counting up
                return format_duration(so_far) + WAITING_MARK
            return format_duration(row.run_time)
        if column == COL_RESULT:
            return readable_result(row.result) if row.status == "completed" else row.summary()
        return ""

    def _tooltip(self, row: TaskRow, column: int) -> str | None:
        if column == COL_WAIT and not row.late and self.waiting_for(row) is not None:
            return "Still waiting in its queue: the wait so far"
        if row.late and (column == COL_WAIT or row.status in WAITING):
            return f"task {safe_repr(row.task_id)} {LATE_TIPS[row.late]}"
        if self._late_level(row, column):
            return f"task {safe_repr(row.task_id)} {self.store.stuck_text(row)}"
        if column == COL_RUN and self.running_for(row) is not None:
            return "Still running: the run time so far"
        if column == COL_RESULT and row.status == GONE:
            return ("The console missed how this task ended (the engine's event ring "
                    "dropped its events) and the engine's bounded history no longer "
                    "holds it")
        if column == COL_RESULT and row.status in ("failed", "completed"):
            return row.summary() or None
        return None


# -- filtering and sorting ------------------------------------------------------------
_KEEP = object()  # set_filters: leave this filter as it is


class TaskFilterProxy(QSortFilterProxyModel):
    """Status, priority and free-text (id / name / error) filters; typed sorting."""

    def __init__(self, model: TaskTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self._store = model.store
        self.statuses: frozenset[str] | None = None
        self.priorities: frozenset[int] | None = None
        self.text = ""
        self.setSourceModel(model)

    def set_filters(self, statuses: Any = _KEEP, priorities: Any = _KEEP,
                    text: Any = _KEEP) -> None:
        """Change the given filters (``None``: no filter on that field); refilter once."""
        begin = getattr(self, "beginFilterChange", None)
        if begin is not None:
            begin()
        if statuses is not _KEEP:
            self.statuses = statuses
        if priorities is not _KEEP:
            self.priorities = priorities
        if text is not _KEEP:
            self.text = text.strip().lower()
        if begin is not None:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # Qt < 6.9
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        return row_matches(self._store.row_at(source_row), self.statuses, self.priorities,
                           self.text)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        rows = self._store.rows
        key = SORT_KEYS[left.column()]
        return key(rows[left.row()]) < key(rows[right.row()])


