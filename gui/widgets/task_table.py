"""The task table: every task the console has seen, filtered, inspected and acted on.

``TaskTableModel`` owns the rows. It is fed only by batches of ``TaskEvent``
(``apply_events``, one call per bridge refresh, GUI thread only) and never
walks the engine's tasks: a row is created by a task's first event and updated
in place by its later ones, found through a ``task_id -> row`` dict. When a
task finishes the model fetches that one task with ``get_task`` to keep its
result, or its exception and formatted traceback, and the ``Task`` itself (so
it can be re-run after the engine's own history has dropped it).

Cost per batch: O(events · log rows), one ``beginInsertRows`` for the new
tasks, a few ``dataChanged`` ranges for the updated ones, and at most one
removal pass for the rows that fell out of the bounds.

Bounds: at most ``max_finished`` completed or canceled rows and, separately,
``max_failed`` failed rows are kept (the oldest go first), so failures
survive a flood of successes. Unfinished rows are never dropped.

``TaskTablePanel`` is the widget: a ``QTableView`` over ``TaskFilterProxy``
(status, priority and free-text filters), a detail pane, and the operator
actions (cancel, re-run, export CSV) which go through ``bridge.act``. While
hidden it keeps feeding the model (nothing is lost) but stops re-filtering,
re-sorting and redrawing its labels; it catches up once when shown.
"""

from __future__ import annotations

import bisect
import csv
import reprlib
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine import (
    PRIORITY_NAMES,
    TASK_TYPE_NAMES,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    FinishedTask,
    RecordedError,
    Task,
    TaskEvent,
)
from engine.usercode import safe_repr

from ..bridge import EngineBridge
from ..theme import (
    FAILED_COLOR,
    PRIORITY_COLORS,
    TIMEOUT_CRITICAL_COLOR,
    TIMEOUT_WARNING_COLOR,
)

# -- columns, statuses ---------------------------------------------------------
COL_ID, COL_NAME, COL_PRIORITY, COL_TYPE, COL_STATUS, COL_QUEUED, COL_WAIT, COL_RUN, \
    COL_RESULT = range(9)
COLUMNS = ("id", "name", "priority", "type", "status", "queued at", "wait", "run time",
           "result / error")
COLUMN_TIPS = (
    "Task id",
    "Task name",
    "Priority (cell tinted with the priority colour)",
    "Task type: thread, mp (process pool) or coroutine",
    "Last known status",
    "Wall-clock time the task entered its queue (submission time while delayed)",
    "Time in the queue, queued → started; amber / red: waited past timeout_warning / "
    "timeout_critical",
    "Run time, started → finished",
    "Short repr of the result, or the error of a failed task",
)
COLUMN_WIDTHS = (52, 150, 74, 70, 78, 96, 66, 66, 140)

WAITING = frozenset(("queued", "delayed"))
UNFINISHED = frozenset(("queued", "delayed", "started"))
FINISHED = frozenset(("completed", "failed", "canceled"))
STATUSES = ("queued", "delayed", "started", "completed", "failed", "canceled")
STATUS_GROUPS = {"waiting": WAITING, "unfinished": UNFINISHED, "finished": FINISHED}
_STATUS_ORDER = {s: i for i, s in enumerate(STATUSES)}

#: Role returning the task id of a row (any hashable the engine accepts).
TASK_ID_ROLE = Qt.ItemDataRole.UserRole + 1

# Timeout levels a row can carry.
LATE_NONE, LATE_WARNING, LATE_CRITICAL = 0, 1, 2

_DISPLAY = Qt.ItemDataRole.DisplayRole
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole

_LATE_BACKGROUND = {LATE_WARNING: QColor(TIMEOUT_WARNING_COLOR),
                    LATE_CRITICAL: QColor(TIMEOUT_CRITICAL_COLOR)}
# Readable text on the late tints, in the light and the dark theme alike.
_LATE_FOREGROUND = {LATE_WARNING: QColor("#1b1b1b"), LATE_CRITICAL: QColor("#ffffff")}
_LATE_TIPS = {LATE_WARNING: "waited in its queue past timeout_warning",
              LATE_CRITICAL: "waited in its queue past timeout_critical"}
_FAILED_FOREGROUND = QColor(FAILED_COLOR)


def _tint(hex_color: str) -> QColor:
    color = QColor(hex_color)
    color.setAlpha(80)  # a tint: the theme's text stays readable on it
    return color


_PRIORITY_TINTS = {p: _tint(c) for p, c in PRIORITY_COLORS.items()}
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

# Removing more separate row ranges than this in one batch costs more in
# signals than one model reset (which loses the selection). Measured: 100
# range removals from 7,000 rows cost less than one reset, so this is rare.
MAX_REMOVE_RANGES = 1000
# Neighbouring changed rows closer than this share one dataChanged range.
_CHANGE_GAP = 8
_MAX_CHANGE_RANGES = 32



def _repr_with(**limits: int) -> reprlib.Repr:
    r = reprlib.Repr()  # keyword arguments only since Python 3.12
    for name, value in limits.items():
        setattr(r, name, value)
    return r


_short = _repr_with(maxstring=80, maxother=80, maxlist=6, maxtuple=6, maxdict=4, maxset=6,
                    maxlevel=2)
_long = _repr_with(maxstring=2000, maxother=2000, maxlist=50, maxtuple=50, maxdict=50,
                   maxset=50, maxlevel=4)
_SUMMARY_CHARS = 120
_ROOT = QModelIndex()


def _safe_repr(r: reprlib.Repr, value: Any) -> str:
    try:
        return r.repr(value)
    except BaseException as exc:  # noqa: BLE001 - user __repr__, sys.exit() in it included
        return f"<repr failed: {type(exc).__name__}>"


def _id_text(task_id: Any) -> str:
    """A task id as text: ids given to put_task may be any hashable, with any __str__."""
    if isinstance(task_id, (int, str)):
        return str(task_id)
    try:
        return str(task_id)
    except BaseException:  # noqa: BLE001 - user __str__
        return safe_repr(task_id)


def _one_line(text: str, limit: int = _SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def result_text(task: Task | FinishedTask, reprs: reprlib.Repr) -> str:
    """A task's result as text: the history's record already holds its repr."""
    if isinstance(task, FinishedTask):
        return task.result or ""
    return _safe_repr(reprs, task.result)


def error_summary(exc: BaseException | None) -> str:
    """``Type: message`` on one short line."""
    if exc is None:
        return ""
    if isinstance(exc, RecordedError):  # the history's record of an exception
        return _one_line(f"{exc.type_name}: {exc.message}" if exc.message else exc.type_name)
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - user __str__, sys.exit() in it included
        message = ""
    return _one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def format_traceback(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, RecordedError):
        return exc.traceback_text or error_summary(exc)
    try:
        text = "".join(traceback.format_exception(exc))
        remote = getattr(exc, "remote_traceback", "")
    except BaseException:  # noqa: BLE001 - formatting runs the exception's own code
        return f"{type(exc).__name__} (its traceback cannot be formatted)"
    if remote:  # an mp child's traceback, sent back as text
        text += "\nTraceback in the worker process:\n" + remote
    return text


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0:
        seconds = 0.0
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 60:
        return f"{seconds:.3f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m {rest:04.1f}s"


def format_wall(wall: float | None) -> str:
    """``HH:MM:SS.mmm`` local time of a ``time.time()`` value."""
    if wall is None:
        return ""
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"


# -- rows ---------------------------------------------------------------------------
class TaskRow:
    """What the table knows of one task, built from its events.

    ``serial`` orders rows (first seen first) and locates a row in the
    model's list by bisection; ``task`` is the engine's ``Task`` once the task
    has finished (``None`` before, or if the engine no longer held it).
    """

    __slots__ = ("serial", "task_id", "name", "tt", "priority", "status", "late",
                 "t_submitted", "t_queued", "t_started", "t_finished", "task", "error",
                 "traceback", "alive", "_summary", "_queued_text")

    def __init__(self, serial: int, event: TaskEvent) -> None:
        self.serial = serial
        self.task_id = event.task_id
        self.name = event.name
        self.tt = event.tt
        self.priority = event.priority
        self.status = ""
        self.late = LATE_NONE
        self.t_submitted = event.time
        self.t_queued: float | None = None
        self.t_started: float | None = None
        self.t_finished: float | None = None
        self.task: Task | None = None
        self.error = ""
        self.traceback = ""
        self.alive = True
        self._summary: str | None = None
        self._queued_text: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def wait(self) -> float | None:
        if self.t_started is None:
            return None
        start = self.t_queued if self.t_queued is not None else self.t_submitted
        return self.t_started - start

    @property
    def run_time(self) -> float | None:
        if self.t_started is None or self.t_finished is None:
            return None
        return self.t_finished - self.t_started

    def summary(self) -> str:
        """The result / error cell (computed once, when first drawn)."""
        if self._summary is None:
            if self.status == "failed":
                self._summary = self.error or "failed (the engine no longer held the task)"
            elif self.status == "completed" and self.task is not None:
                self._summary = _one_line(result_text(self.task, _short))
            else:
                return ""
        return self._summary


def _id_key(row: TaskRow) -> tuple:
    task_id = row.task_id
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        return (0, task_id, "")
    return (1, 0, _id_text(task_id))  # ids given to put_task may be anything


def _or_minus_one(value: float | None) -> float:
    return -1.0 if value is None else value


#: Column → sort key of a row (the proxy calls these, keep them cheap).
SORT_KEYS: tuple[Callable[[TaskRow], Any], ...] = (
    _id_key,
    lambda r: r.name.lower(),
    attrgetter("priority"),
    lambda r: TASK_TYPE_NAMES.get(r.tt, str(r.tt)),
    lambda r: _STATUS_ORDER.get(r.status, len(STATUSES)),
    lambda r: r.t_queued if r.t_queued is not None else r.t_submitted,
    lambda r: _or_minus_one(r.wait),
    lambda r: _or_minus_one(r.run_time),
    lambda r: r.summary().lower(),
)


# -- the model ----------------------------------------------------------------------
class TaskTableModel(QAbstractTableModel):
    """Rows of tasks fed by batches of task events; see the module docstring."""

    def __init__(self, fetch_task: Callable[[Any], Task | None] | None = None,
                 max_finished: int = 5000, max_failed: int = 2000,
                 parent: Any = None) -> None:
        super().__init__(parent)
        for label, cap in (("max_finished", max_finished), ("max_failed", max_failed)):
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
                raise ValueError(f"{label} must be an integer >= 0, got {cap!r}")
        self.max_finished = max_finished
        self.max_failed = max_failed
        self.dropped = 0  # finished rows dropped to stay within the bounds
        self._fetch_task = fetch_task
        # Monotonic event times → wall clock, with one offset taken now.
        self._wall_offset = time.time() - time.monotonic()
        self._rows: list[TaskRow] = []  # sorted by serial
        self._by_id: dict[Any, TaskRow] = {}
        self._serial = 0
        # Finished rows in the order they finished: the trim candidates.
        self._done: deque[TaskRow] = deque()  # completed and canceled
        self._failed: deque[TaskRow] = deque()

    # -- Qt model interface --------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

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
        row = self._rows[index.row()]
        column = index.column()
        if role == _DISPLAY:
            return self.display_text(row, column)
        if role == _BACKGROUND:
            if row.late and (column == COL_WAIT or row.status in WAITING):
                return _LATE_BACKGROUND[row.late]
            if column == COL_PRIORITY:
                return _PRIORITY_TINTS.get(row.priority)
            return None
        if role == _FOREGROUND:
            if row.late and (column == COL_WAIT or row.status in WAITING):
                return _LATE_FOREGROUND[row.late]
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

    # -- reading rows (GUI thread) ---------------------------------------------
    @property
    def rows(self) -> list[TaskRow]:
        """The rows in table order (read only: the model owns them)."""
        return self._rows

    def row_at(self, row: int) -> TaskRow:
        return self._rows[row]

    def row_of(self, task_id: Any) -> int | None:
        """Row number of ``task_id``, or ``None`` if the table has no such row."""
        found = self._by_id.get(task_id)
        return None if found is None else self._index_of(found)

    def task_row(self, task_id: Any) -> TaskRow | None:
        return self._by_id.get(task_id)

    def wall_time(self, monotonic_time: float | None) -> float | None:
        return None if monotonic_time is None else monotonic_time + self._wall_offset

    def display_text(self, row: TaskRow, column: int) -> str:
        if column == COL_ID:
            return _id_text(row.task_id)
        if column == COL_NAME:
            return row.name
        if column == COL_PRIORITY:
            return PRIORITY_NAMES.get(row.priority, str(row.priority))
        if column == COL_TYPE:
            return TASK_TYPE_NAMES.get(row.tt, str(row.tt))
        if column == COL_STATUS:
            return row.status
        if column == COL_QUEUED:
            if row._queued_text is None:
                start = row.t_queued if row.t_queued is not None else row.t_submitted
                row._queued_text = format_wall(self.wall_time(start))
            return row._queued_text
        if column == COL_WAIT:
            return format_duration(row.wait)
        if column == COL_RUN:
            return format_duration(row.run_time)
        if column == COL_RESULT:
            return row.summary()
        return ""

    def sort_key(self, row: TaskRow, column: int) -> Any:
        """What the proxy sorts ``column`` by (comparable within a column)."""
        return SORT_KEYS[column](row)

    def _tooltip(self, row: TaskRow, column: int) -> str | None:
        if row.late and (column == COL_WAIT or row.status in WAITING):
            return f"task {safe_repr(row.task_id)} {_LATE_TIPS[row.late]}"
        if column == COL_RESULT and row.status == "failed":
            return row.error or None
        if column == COL_RESULT and row.status == "completed":
            return row.summary() or None
        return None

    # -- feeding (GUI thread) ----------------------------------------------------
    def apply_events(self, events: Sequence[TaskEvent]) -> set[Any]:
        """Apply one batch of events, oldest first; the ids of the tasks touched."""
        touched: set[Any] = set()
        if not events:
            return touched
        by_id = self._by_id
        new_rows: list[TaskRow] = []
        first_new = self._serial + 1  # rows from here on are not in the table yet
        changed: set[TaskRow] = set()
        for event in events:
            task_id = event.task_id
            row = by_id.get(task_id)
            if row is None or (row.finished and event.kind in WAITING):
                # A new task (or a finished task's id given to a new one).
                self._serial += 1
                row = TaskRow(self._serial, event)
                by_id[task_id] = row
                new_rows.append(row)
            elif row.serial < first_new:
                changed.add(row)
            touched.add(task_id)
            self._apply(row, event)
        self._remove([r for r in self._pick_victims() if r.serial < first_new])
        new_rows = [r for r in new_rows if r.alive]
        if new_rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new_rows) - 1)
            self._rows.extend(new_rows)
            self.endInsertRows()
        self._announce_changes([r for r in changed if r.alive])
        return touched

    def _apply(self, row: TaskRow, event: TaskEvent) -> None:
        kind = event.kind
        if kind == "queued":
            row.t_queued = event.time
            row._queued_text = None
            row.status = "queued"
        elif kind == "started":
            row.t_started = event.time
            row.status = "started"
        elif kind in FINISHED:
            if row.finished:
                return  # a task ends exactly once; never count it twice
            row.t_finished = event.time
            row.status = kind
            row._summary = None
            self._fetch_result(row)
            (self._failed if kind == "failed" else self._done).append(row)
        elif kind == "delayed":
            row.status = "delayed"
        elif kind == "timeout_warning":
            row.late = max(row.late, LATE_WARNING)
        elif kind == "timeout_critical":
            row.late = LATE_CRITICAL

    def _fetch_result(self, row: TaskRow) -> None:
        if self._fetch_task is None:
            return
        task = self._fetch_task(row.task_id)
        if task is None:
            return
        row.task = task
        if row.status == "failed":
            row.error = error_summary(task.exception)
            row.traceback = format_traceback(task.exception)

    def _pick_victims(self) -> list[TaskRow]:
        victims: list[TaskRow] = []
        for done, cap in ((self._done, self.max_finished), (self._failed, self.max_failed)):
            while len(done) > cap:
                row = done.popleft()
                row.alive = False
                if self._by_id.get(row.task_id) is row:  # not a reused id's new row
                    del self._by_id[row.task_id]
                victims.append(row)
        self.dropped += len(victims)
        return victims

    def _index_of(self, row: TaskRow) -> int:
        return bisect.bisect_left(self._rows, row.serial, key=_SERIAL)

    def _remove(self, victims: list[TaskRow]) -> None:
        """Take dead rows out of the list: a few range removals, or one reset."""
        if not victims:
            return
        indices = sorted(self._index_of(r) for r in victims)
        ranges = _ranges(indices, gap=1)
        if len(ranges) > MAX_REMOVE_RANGES:
            self.beginResetModel()
            self._rows = [r for r in self._rows if r.alive]
            self.endResetModel()
            return
        for first, last in reversed(ranges):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first:last + 1]
            self.endRemoveRows()

    def _announce_changes(self, rows: list[TaskRow]) -> None:
        if not rows:
            return
        indices = sorted(self._index_of(r) for r in rows)
        ranges = _ranges(indices, gap=_CHANGE_GAP)
        if len(ranges) > _MAX_CHANGE_RANGES:
            ranges = [(indices[0], indices[-1])]
        last_column = len(COLUMNS) - 1
        for first, last in ranges:
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))


_SERIAL = attrgetter("serial")


def _ranges(indices: list[int], gap: int) -> list[tuple[int, int]]:
    """Sorted indices → (first, last) ranges, merging neighbours closer than ``gap``."""
    ranges: list[tuple[int, int]] = []
    first = last = indices[0]
    for i in indices[1:]:
        if i - last <= gap:
            last = i
        else:
            ranges.append((first, last))
            first = last = i
    ranges.append((first, last))
    return ranges


# -- filtering and sorting ------------------------------------------------------------
_KEEP = object()  # set_filters: leave this filter as it is


class TaskFilterProxy(QSortFilterProxyModel):
    """Status, priority and free-text (id / name / error) filters; typed sorting."""

    def __init__(self, model: TaskTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self._model = model
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
        row = self._model.row_at(source_row)
        if self.statuses is not None and row.status not in self.statuses:
            return False
        if self.priorities is not None and row.priority not in self.priorities:
            return False
        text = self.text
        if text:
            return (text in _id_text(row.task_id).lower() or text in row.name.lower()
                    or (row.status == "failed" and text in row.error.lower()))
        return True

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        rows = self._model.rows
        key = SORT_KEYS[left.column()]
        return key(rows[left.row()]) < key(rows[right.row()])


# -- the panel -----------------------------------------------------------------------
STATUS_CHOICES: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("All statuses", None),
    ("Unfinished", UNFINISHED),
    ("Waiting (queued + delayed)", WAITING),
    *((s, frozenset((s,))) for s in STATUSES),
    ("Finished", FINISHED),
)
PRIORITY_CHOICES: tuple[tuple[str, frozenset[int] | None], ...] = (
    ("All priorities", None),
    *((name, frozenset((p,))) for p, name in PRIORITY_NAMES.items()),
)


def _statuses(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None or value == "all":
        return None
    names = [value] if isinstance(value, str) else list(value)
    statuses: set[str] = set()
    for name in names:
        if name in STATUS_GROUPS:
            statuses |= STATUS_GROUPS[name]
        elif name in STATUSES:
            statuses.add(name)
        else:
            raise ValueError(f"unknown status filter {name!r}: use one of "
                             f"{', '.join((*STATUSES, *STATUS_GROUPS))} or 'all'")
    return frozenset(statuses)


def _priorities(value: int | str | Iterable[int | str] | None) -> frozenset[int] | None:
    if value is None or value == "all":
        return None
    values = [value] if isinstance(value, (int, str)) else list(value)
    by_name = {name.lower(): p for p, name in PRIORITY_NAMES.items()}
    priorities: set[int] = set()
    for v in values:
        if isinstance(v, str) and v.lower() in by_name:
            priorities.add(by_name[v.lower()])
        elif not isinstance(v, bool) and v in PRIORITY_NAMES:
            priorities.add(v)  # type: ignore[arg-type]
        else:
            raise ValueError(f"unknown priority filter {v!r}: use TASK_CRITICAL (0), "
                             f"TASK_HIGH (50), TASK_NORMAL (100), TASK_LOW (200) or a "
                             f"name, or 'all'")
    return frozenset(priorities)


class TaskTablePanel(QWidget):
    """The task table with its filters, detail pane and operator actions."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None, *,
                 max_finished: int = 5000, max_failed: int = 2000) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._model = TaskTableModel(bridge.supervisor.get_task, max_finished=max_finished,
                                     max_failed=max_failed, parent=self)
        self._proxy = TaskFilterProxy(self._model, self)
        self._detail_id: Any = None
        self._stale = False  # events arrived while hidden: catch up when shown
        self._dialog: QFileDialog | None = None
        self.last_message = ""
        self._build()
        bridge.events_arrived.connect(self._on_events)

    # -- layout -------------------------------------------------------------
    def _build(self) -> None:
        self.status_combo = QComboBox()
        for label, statuses in STATUS_CHOICES:
            self.status_combo.addItem(label, statuses)
        self.status_combo.setToolTip("Show tasks with this status")
        self.status_combo.currentIndexChanged.connect(self._on_status_chosen)
        self.priority_combo = QComboBox()
        for label, priorities in PRIORITY_CHOICES:
            self.priority_combo.addItem(label, priorities)
        self.priority_combo.setToolTip("Show tasks of this priority")
        self.priority_combo.currentIndexChanged.connect(self._on_priority_chosen)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter by id, name or error…")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.textChanged.connect(self._on_text_typed)
        self.count_label = QLabel()
        self.cancel_button = QPushButton("Cancel selected")
        self.cancel_button.setToolTip("Cancel the selected queued or delayed tasks "
                                      "(a started task cannot be canceled)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip("Submit the selected finished tasks again: same target, "
                                     "arguments, priority and type")
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Write the rows shown, in view order, to a CSV file")
        self.export_button.clicked.connect(self._choose_export_path)

        bar = QHBoxLayout()
        bar.addWidget(self.status_combo)
        bar.addWidget(self.priority_combo)
        bar.addWidget(self.text_edit, 1)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.rerun_button)
        bar.addWidget(self.export_button)

        self.view = QTableView()
        self.view.setModel(self._proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.view.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row sizing
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setHighlightSections(False)
        for column, width in enumerate(COLUMN_WIDTHS):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # arrival order at first
        self.view.setSortingEnabled(True)
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail.setPlaceholderText("Select a task to see all its fields and, for a "
                                       "failed task, its full traceback.")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.view)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([820, 340])

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        foot = QHBoxLayout()
        foot.addWidget(self.message_label, 1)
        foot.addWidget(self.count_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addLayout(foot)
        self._update_buttons()
        self._update_count()

    # -- public API ----------------------------------------------------------------
    def model(self) -> TaskTableModel:
        return self._model

    def proxy(self) -> TaskFilterProxy:
        return self._proxy

    def set_status_filter(self, statuses: str | Iterable[str] | None) -> None:
        """A status (``"queued"``…), a group (``"waiting"``, ``"unfinished"``,
        ``"finished"``), several of them, or ``None`` / ``"all"``."""
        wanted = _statuses(statuses)
        self._sync_combo(self.status_combo, wanted)
        self._proxy.set_filters(statuses=wanted)
        self._after_filter()

    def set_priority_filter(self, priorities: int | str | Iterable[int | str] | None) -> None:
        """A priority constant or name, several of them, or ``None`` / ``"all"``."""
        wanted = _priorities(priorities)
        self._sync_combo(self.priority_combo, wanted)
        self._proxy.set_filters(priorities=wanted)
        self._after_filter()

    def set_text_filter(self, text: str) -> None:
        """Case-insensitive substring of the id, the name or the error."""
        if self.text_edit.text() != text:
            self.text_edit.setText(text)  # → _on_text_typed
        else:
            self._on_text_typed(text)

    def selected_task_ids(self) -> list[Any]:
        """Ids of the selected rows, in view order."""
        rows = sorted(self.view.selectionModel().selectedRows(), key=lambda i: i.row())
        return [i.data(TASK_ID_ROLE) for i in rows]

    def select_task(self, task_id: Any) -> bool:
        """Select and show the row of ``task_id``; False if it is not in the view."""
        source_row = self._model.row_of(task_id)
        if source_row is None:
            return False
        index = self._proxy.mapFromSource(self._model.index(source_row, 0))
        if not index.isValid():
            return False
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)
        return True

    def cancel_selected(self) -> list[tuple[Any, bool]]:
        """Cancel every selected unfinished task through the bridge: ``(id, ok)``.

        The engine refuses a started task; its message reaches the operator
        through ``bridge.error_raised`` and this panel's message line.
        """
        results: list[tuple[Any, bool]] = []
        refusals: list[str] = []
        supervisor = self._bridge.supervisor
        for task_id in self.selected_task_ids():
            row = self._model.task_row(task_id)
            if row is None or row.finished:
                continue
            ok, answer = self._bridge.act(f"cancel task {safe_repr(task_id)} ({row.name})",
                                          supervisor.cancel_task, task_id)
            results.append((task_id, ok))
            if not ok:
                refusals.append(answer if isinstance(answer, str)
                                else f"task {safe_repr(task_id)}: refused")
        done = sum(ok for _, ok in results)
        if not results:
            self._say("No unfinished task selected: nothing to cancel.")
        elif refusals:
            self._say(f"Canceled {done} of {len(results)}; refused: " + "; ".join(refusals),
                      error=True)
        else:
            self._say(f"Canceled {done} task{'s' if done != 1 else ''}.")
        self._update_buttons()
        return results

    def rerun_selected(self) -> list[Task]:
        """Submit each selected finished task again; the new ``Task`` objects."""
        new_tasks: list[Task] = []
        problems: list[str] = []
        for task_id in self.selected_task_ids():
            row = self._model.task_row(task_id)
            if row is None or not row.finished:
                continue
            task, problem = self._rerun(row)
            if task is not None:
                new_tasks.append(task)
            else:
                problems.append(problem)
        if problems:
            ids = ", ".join(safe_repr(t.id) for t in new_tasks)
            ran = f"Re-ran as {ids}. " if new_tasks else ""
            self._say(ran + " ".join(problems), error=True)
        elif new_tasks:
            self._say("Re-ran as task " + ", ".join(safe_repr(t.id) for t in new_tasks) + ".")
        else:
            self._say("No finished task selected: nothing to re-run.")
        return new_tasks

    def export_csv(self, path: str) -> int:
        """Write the rows the view shows, in view order, to ``path``; the row count."""
        self._catch_up()
        proxy, model = self._proxy, self._model
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            count = proxy.rowCount()
            for r in range(count):
                row = model.row_at(proxy.mapToSource(proxy.index(r, 0)).row())
                writer.writerow([model.display_text(row, c) for c in range(len(COLUMNS))])
        self._say(f"Exported {count} row{'s' if count != 1 else ''} to {path}.")
        return count

    # -- actions ----------------------------------------------------------------------
    def _rerun(self, row: TaskRow) -> tuple[Task | None, str]:
        what = f"re-run task {safe_repr(row.task_id)} ({row.name})"
        if row.tt == TT_COROUTINE:
            why = (f"task {safe_repr(row.task_id)} ({row.name}) is a coroutine task: its coroutine "
                   f"object was consumed when it ran, so it cannot be re-run; submit a new "
                   f"coroutine instead")
            self._bridge.error_raised.emit(what, why)
            return None, f"Cannot re-run: {why}."
        task = row.task or self._bridge.supervisor.get_task(row.task_id)
        if task is None or task.target is None:
            why = (f"the engine no longer holds task {safe_repr(row.task_id)}, so its target and "
                   f"arguments are unknown")
            self._bridge.error_raised.emit(what, why)
            return None, f"Cannot re-run: {why}."
        supervisor = self._bridge.supervisor
        kwargs = dict(task.kwargs)
        put_style = "_task_id" in kwargs
        kwargs.pop("_task_id", None)  # the engine gives the new task its own id
        if task.tt == TT_THREAD and put_style:
            ok, answer = self._bridge.act(
                what, supervisor.put_task, task.target, args=task.args, kwargs=kwargs,
                callback=task.callback, priority=task.priority, tt=TT_THREAD)
        else:
            tt = TT_MP if task.tt == TT_MP else TT_THREAD
            ok, answer = self._bridge.act(
                what, supervisor.submit, task.target, *task.args, _priority=task.priority,
                _name=task.name, _callback=task.callback, _tt=tt, **kwargs)
        if ok:
            return answer, ""
        return None, f"Re-run of {safe_repr(row.task_id)} refused: {answer or 'see the log'}."

    def _choose_export_path(self) -> None:
        # Not the static getSaveFileName: a nested modal loop breaks qasync.
        if self._dialog is None:
            dialog = QFileDialog(self, "Export tasks as CSV", "tasks.csv",
                                 "CSV files (*.csv)")
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.setDefaultSuffix("csv")
            dialog.setOption(QFileDialog.Option.DontUseNativeDialog)  # same everywhere
            dialog.fileSelected.connect(self._export_chosen)
            self._dialog = dialog
        self._dialog.open()

    def _export_chosen(self, path: str) -> None:
        try:
            self.export_csv(path)
        except OSError as exc:
            message = f"{type(exc).__name__}: {exc}"
            self._bridge.error_raised.emit(f"export CSV to {path}", message)
            self._say(f"Export failed: {message}", error=True)

    def _say(self, text: str, error: bool = False) -> None:
        self.last_message = text
        self.message_label.setStyleSheet(f"color: {FAILED_COLOR};" if error else "")
        self.message_label.setText(text)

    # -- events and selection -------------------------------------------------------
    def _on_events(self, events: list[TaskEvent]) -> None:
        touched = self._model.apply_events(events)
        if not self.isVisible():
            self._stale = True
            return
        if self._detail_id is not None and self._detail_id in touched:
            self._show_detail()
        self._update_buttons()
        self._update_count()

    def _on_selection_changed(self, *_: Any) -> None:
        # The detail pane follows the current row, or the last selected one.
        selection = self.view.selectionModel()
        current = selection.currentIndex()
        if current.isValid() and selection.isRowSelected(current.row()):
            self._detail_id = current.data(TASK_ID_ROLE)
        else:
            ids = self.selected_task_ids()
            self._detail_id = ids[-1] if ids else None
        self._show_detail()
        self._update_buttons()

    def _show_detail(self) -> None:
        task_id = self._detail_id
        row = None if task_id is None else self._model.task_row(task_id)
        if row is None:
            self.detail.setPlainText("" if task_id is None else
                                     f"Task {safe_repr(task_id)} is no longer in the table.")
            return
        task = row.task if row.task is not None else self._bridge.supervisor.get_task(task_id)
        self.detail.setPlainText(self._detail_text(row, task))

    def _detail_text(self, row: TaskRow, task: Task | None) -> str:
        model = self._model
        lines = [
            f"id:          {safe_repr(row.task_id)}",
            f"name:        {row.name}",
            f"status:      {row.status}"
            + (f"  ({_LATE_TIPS[row.late]})" if row.late else ""),
            f"type:        {TASK_TYPE_NAMES.get(row.tt, row.tt)}",
            f"priority:    {PRIORITY_NAMES.get(row.priority, row.priority)} ({row.priority})",
            f"submitted:   {format_wall(model.wall_time(row.t_submitted))}",
            f"queued at:   {format_wall(model.wall_time(row.t_queued))}",
            f"started at:  {format_wall(model.wall_time(row.t_started))}",
            f"finished at: {format_wall(model.wall_time(row.t_finished))}",
            f"wait:        {format_duration(row.wait)}",
            f"run time:    {format_duration(row.run_time)}",
        ]
        if task is None:
            lines.append("")
            lines.append("(the engine no longer holds this task: target and arguments "
                         "unknown)")
        else:
            lines += [
                f"target:      {_safe_repr(_long, task.target)}",
                f"args:        {_safe_repr(_long, task.args)}",
                f"kwargs:      {_safe_repr(_long, task.kwargs)}",
                f"callback:    {_safe_repr(_long, task.callback)}",
                f"delay:       {task.delay}",
            ]
            if row.status == "completed":
                lines.append(f"result:      {result_text(task, _long)}")
        if row.status == "failed":
            lines.append(f"error:       {row.error}")
            if row.traceback:
                lines += ["", row.traceback.rstrip()]
        return "\n".join(lines)

    def _update_buttons(self) -> None:
        rows = [self._model.task_row(i) for i in self.selected_task_ids()]
        rows = [r for r in rows if r is not None]
        self.cancel_button.setEnabled(any(not r.finished for r in rows))
        self.rerun_button.setEnabled(any(r.finished for r in rows))

    def _update_count(self) -> None:
        shown, total = self._proxy.rowCount(), self._model.rowCount()
        text = f"{shown:,} of {total:,} tasks shown"
        if self._model.dropped:
            text += f" · {self._model.dropped:,} older finished rows dropped"
        self.count_label.setText(text)

    # -- filters ------------------------------------------------------------------
    def _on_status_chosen(self, index: int) -> None:
        self._proxy.set_filters(statuses=self.status_combo.itemData(index))
        self._after_filter()

    def _on_priority_chosen(self, index: int) -> None:
        self._proxy.set_filters(priorities=self.priority_combo.itemData(index))
        self._after_filter()

    def _on_text_typed(self, text: str) -> None:
        self._proxy.set_filters(text=text)
        self._after_filter()

    def _after_filter(self) -> None:
        self._update_count()
        self._update_buttons()

    @staticmethod
    def _sync_combo(combo: QComboBox, value: frozenset | None) -> None:
        """Show ``value`` in ``combo`` without signalling: its entry, or a
        trailing "custom" entry for a set the combo does not offer."""
        index = next((i for i in range(combo.count()) if combo.itemData(i) == value), -1)
        custom = combo.count() - 1 if combo.itemText(combo.count() - 1).startswith(
            "custom:") else -1
        combo.blockSignals(True)
        if index < 0:
            label = "custom: " + ", ".join(sorted(str(PRIORITY_NAMES.get(v, v))
                                                  for v in value or ()))
            if custom < 0:
                combo.addItem(label, value)
                custom = combo.count() - 1
            combo.setItemText(custom, label)
            combo.setItemData(custom, value)
            index = custom
        combo.setCurrentIndex(index)
        combo.blockSignals(False)

    # -- visibility: cheap while hidden ------------------------------------------
    def hideEvent(self, event: Any) -> None:
        # Rows keep coming in and are still filtered as they are inserted, but
        # changed rows are not re-filtered and nothing is sorted (sorting each
        # batch is the dearest part) until the panel is shown again.
        self._proxy.setDynamicSortFilter(False)
        if self._proxy.sortColumn() >= 0:
            self._proxy.sort(-1)  # the header keeps its indicator
        super().hideEvent(event)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._catch_up()
        self._update_buttons()
        self._update_count()

    def _catch_up(self) -> None:
        """Refilter and re-sort once what changed while hidden."""
        if self._proxy.dynamicSortFilter():
            return
        self._proxy.setDynamicSortFilter(True)
        if self._stale:
            self._proxy.set_filters()  # same filters, all rows again
        header = self.view.horizontalHeader()
        if self.view.isSortingEnabled() and header.sortIndicatorSection() >= 0:
            self._proxy.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())
        if self._stale:
            self._stale = False
            self._show_detail()
