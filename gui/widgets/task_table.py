"""The task table: the rows of ``gui.task_model`` shown, filtered, inspected and acted on.

``TaskTableModel`` is the Qt face of ``TaskRows`` (the Qt-free rows: plain
records, bounded, reconciled against the engine): it forwards the rows'
insertions, removals and changes as Qt model signals and draws the cells.
``TaskFilterProxy`` filters (status, priority, free text) and sorts.

``TaskTablePanel`` is the widget. It feeds the rows from the bridge:
``events_arrived`` → ``apply_events``; ``events_gap`` (the engine's event
ring dropped events the console never read) → every unfinished row is
reconciled at once; ``stats_updated`` → ``tick``, which reconciles rows left
unfinished for a few refreshes, and the engine's clock for the wait cells of
queued tasks (while shown). Opening a task asks the client for its
record (``client.task_record``): the table itself keeps no results, arguments
or tracebacks; for a running task, the detail pane also shows its live stack
(``StackView``: ``client.task_stack``, refreshed while it is selected).
Operator actions go through ``bridge.act`` with the client's typed
commands: cancel (``client.cancel(ids)``), re-run
(``client.resubmit(ids)``), and CSV export of the rows shown; the answer to
each shows under the table for ``MESSAGE_MS``. While hidden it
keeps feeding the rows (nothing is lost) but stops re-filtering, re-sorting
and redrawing its labels; it catches up once when shown.

GUI thread only.
"""

from __future__ import annotations

import csv
import reprlib
from collections.abc import Callable, Collection, Iterable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QRect, Qt, QTimer
from PySide6.QtGui import QFontDatabase
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

from engine.constants import PRIORITY_NAMES, STATUS_NAMES, TASK_TYPE_NAMES

from ..bridge import EngineBridge
from ..client import FinishedTask, TaskEvent, safe_repr
from ..formatting import format_duration, format_traceback, format_wall, short_repr
from ..remote import MonitorUnavailable
from ..task_model import (
    EXPORT_COLUMNS,
    FINISHED,
    GONE,
    LATE_TIPS,
    STATUSES,
    UNFINISHED,
    WAITING,
    TaskRow,
    parse_priorities,
    parse_statuses,
)
from ..theme import FAILED_COLOR
from .stack_view import StackView
from .task_table_model import (  # noqa: F401  (the columns, re-exported for callers)
    COL_ID,
    COL_NAME,
    COL_PRIORITY,
    COL_QUEUED,
    COL_RESULT,
    COL_RUN,
    COL_STATUS,
    COL_TYPE,
    COL_WAIT,
    COLUMN_WIDTHS,
    COLUMNS,
    TASK_ID_ROLE,
    TaskFilterProxy,
    TaskTableModel,
)


def _repr_with(**limits: int) -> reprlib.Repr:
    r = reprlib.Repr()  # keyword arguments only since Python 3.12
    for name, value in limits.items():
        setattr(r, name, value)
    return r


_long = _repr_with(maxstring=2000, maxother=2000, maxlist=50, maxtuple=50, maxdict=50,
                   maxset=50, maxlevel=4)


# -- the panel -----------------------------------------------------------------------
SERVICE_GONE_TEXT = "ended with the old service (it restarted)"
MESSAGE_MS = 8000  # how long the answer to an action (export, cancel, re-run) stays shown
STATUS_CHOICES: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("All statuses", None),
    ("Unfinished", UNFINISHED),
    ("Waiting (queued + delayed)", WAITING),
    *((s if s != GONE else f"{GONE} (details not kept)", frozenset((s,))) for s in STATUSES),
    ("Finished", FINISHED),
)
PRIORITY_CHOICES: tuple[tuple[str, frozenset[int] | None], ...] = (
    ("All priorities", None),
    *((name, frozenset((p,))) for p, name in PRIORITY_NAMES.items()),
)


def _describe(verb: str, rows: list[TaskRow]) -> str:
    if len(rows) == 1:
        return f"{verb} task {safe_repr(rows[0].task_id)} ({rows[0].name})"
    return f"{verb} {len(rows)} tasks"


def _each_or_raise(command: Callable[[Collection[Any]], dict[Any, Any]], ids: list[Any],
                   answers: dict[Any, Any]) -> dict[Any, Any]:
    """Run a per-id command, keep its answers; raise the first refusal if every
    id was refused (so the bridge reports it as the engine's refusal)."""
    answers.update(command(ids))
    refusals = [a for a in answers.values() if isinstance(a, Exception)]
    if refusals and len(refusals) == len(answers):
        raise refusals[0]
    return answers


class TaskTablePanel(QWidget):
    """The task table with its filters, detail pane and operator actions."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None, *,
                 max_finished: int = 5000, max_failed: int = 2000,
                 max_unfinished: int = 5000) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._client = bridge.client
        self._model = TaskTableModel(bridge.client, max_finished=max_finished,
                                     max_failed=max_failed, max_unfinished=max_unfinished,
                                     parent=self)
        self._proxy = TaskFilterProxy(self._model, self)
        self._detail_id: Any = None
        self._stale = False  # events arrived while hidden: catch up when shown
        self._dialog: QFileDialog | None = None
        self.last_message = ""
        self._build()
        bridge.events_arrived.connect(self._on_events)
        bridge.events_gap.connect(self._on_gap)
        bridge.service_restarted.connect(self._on_service_restarted)
        bridge.stats_updated.connect(self._on_refresh)

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

        self.stack_view = StackView(self._bridge)
        side = QSplitter(Qt.Orientation.Vertical)
        side.setChildrenCollapsible(False)
        side.addWidget(self.detail)
        side.addWidget(self.stack_view)
        side.setStretchFactor(0, 1)
        side.setStretchFactor(1, 3)
        self._side = side
        self._stack_sized = False  # the stack gets most of the side once, when first shown

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([760, 400])

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._message_timer = QTimer(self)  # a message is transient: it answers one action
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self.message_label.clear)
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
        wanted = parse_statuses(statuses)
        self._sync_combo(self.status_combo, wanted)
        self._proxy.set_filters(statuses=wanted)
        self._after_filter()

    def set_priority_filter(self, priorities: int | str | Iterable[int | str] | None) -> None:
        """A priority constant or name, several of them, or ``None`` / ``"all"``."""
        wanted = parse_priorities(priorities)
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

    def reconcile(self) -> int:
        """Check every unfinished row against the engine now; rows corrected."""
        changed = self._model.store.reconcile_all()
        self._after_rows_changed()
        return changed

    def cancel_selected(self) -> dict[Any, str | None]:
        """Cancel the selected unfinished tasks in one ``client.cancel``: id →
        ``None`` (canceled) or why not, in words."""
        rows = self._selected_rows(finished=False)
        if not rows:
            self._say("No unfinished task selected: nothing to cancel.")
            return {}
        ids = [r.task_id for r in rows]
        answers: dict[Any, Any] = {}
        self._bridge.act(_describe("cancel", rows),
                         lambda c: _each_or_raise(c.cancel, ids, answers))
        refused = {i: a for i, a in answers.items() if isinstance(a, Exception)}
        # A task the engine no longer has live ended meanwhile: learn how, say so.
        self._model.store.reconcile_ids([i for i, a in refused.items()
                                         if isinstance(a, LookupError)])
        words = {i: (None if i not in refused else self._why_not(i, refused[i], "cancel"))
                 for i in ids if i in answers}
        done = sum(w is None for w in words.values())
        if not answers:
            self._say("Cancel failed: see the log.", error=True)
        elif refused:
            head = f"Canceled {done} of {len(words)}. " if len(words) > 1 else ""
            self._say(head + " ".join(w for w in words.values() if w), error=True)
        else:
            self._say(f"Canceled {done} task{'s' if done != 1 else ''}.")
        self._after_rows_changed()
        return words

    def rerun_selected(self) -> list[Any]:
        """Submit the selected finished tasks again (``client.resubmit``, one
        call); the new task ids."""
        rows = self._selected_rows(finished=True)
        if not rows:
            self._say("No finished task selected: nothing to re-run.")
            return []
        ids = [r.task_id for r in rows]
        answers: dict[Any, Any] = {}
        self._bridge.act(_describe("re-run", rows),
                         lambda c: _each_or_raise(c.resubmit, ids, answers))
        new_ids = [a for a in answers.values() if not isinstance(a, Exception)]
        problems = [self._why_not(i, a, "re-run") for i, a in answers.items()
                    if isinstance(a, Exception)]
        ran = ("Re-ran as task " + ", ".join(safe_repr(i) for i in new_ids) + "."
               if new_ids else "")
        if problems or not answers:
            self._say(" ".join([ran, *problems]).strip() or "Re-run failed: see the log.",
                      error=True)
        else:
            self._say(ran)
        return new_ids

    def export_csv(self, path: str) -> int:
        """Write the rows the view shows, in view order, to ``path`` as
        machine-readable values (``EXPORT_COLUMNS``: ISO 8601 times, seconds
        as numbers); the row count."""
        self._catch_up()
        proxy, model = self._proxy, self._model
        store = model.store
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(EXPORT_COLUMNS)
            count = proxy.rowCount()
            for r in range(count):
                row = model.row_at(proxy.mapToSource(proxy.index(r, 0)).row())
                writer.writerow(store.export_record(row))
        self._say(f"Exported {count} row{'s' if count != 1 else ''} to {path}.")
        return count

    # -- actions ----------------------------------------------------------------------
    def _selected_rows(self, finished: bool) -> list[TaskRow]:
        rows = (self._model.task_row(i) for i in self.selected_task_ids())
        return [r for r in rows if r is not None and r.finished == finished]

    def _why_not(self, task_id: Any, exc: Exception, verb: str) -> str:
        """A refusal in words; for a task that had already ended, how it ended."""
        row = self._model.task_row(task_id)
        name = f"task {safe_repr(task_id)}" + (f" ({row.name})" if row else "")
        if verb == "cancel" and isinstance(exc, LookupError) and row is not None \
                and row.finished:
            how = row.gone_text if row.status == GONE else row.status
            return f"{name.capitalize()} had already finished ({how}): nothing to cancel."
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - an engine error's text, but be safe
            message = type(exc).__name__
        return f"Cannot {verb} {name}: {type(exc).__name__}: {message}."

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
        self._message_timer.start(MESSAGE_MS)

    # -- feeding -------------------------------------------------------------------
    def _on_events(self, events: list[TaskEvent]) -> None:
        touched = self._model.apply_events(events)
        self._after_rows_changed(touched)

    def _on_gap(self, lost: int) -> None:
        # The ring dropped events before they were read: whatever they said, the
        # engine's own answer for every unfinished row replaces it now.
        self._model.store.reconcile_all()
        self._after_rows_changed()

    def _on_service_restarted(self) -> None:
        # Another service answers at the address: the old one's unfinished tasks
        # ended with it (the new one's ids may be the same numbers).
        ended = self._model.store.end_unfinished(SERVICE_GONE_TEXT)
        if ended:
            self._say(f"The service restarted: {ended:,} unfinished task"
                      f"{'s' if ended != 1 else ''} of the old one marked ended.")
        self._after_rows_changed()

    def _on_refresh(self, stats: Any) -> None:
        if self._model.set_run_limits(stats) and self._detail_id is not None:
            self._show_detail()
        if self._model.store.tick():
            self._after_rows_changed()
        if self.isVisible() and self._model.store.unfinished_count():
            self._model.set_now(stats.time)  # the wait and run cells shown count up
            viewport = self.view.viewport()
            for column in (COL_WAIT, COL_RUN):
                x = self.view.columnViewportPosition(column)
                viewport.update(QRect(x, 0, self.view.columnWidth(column), viewport.height()))

    def _after_rows_changed(self, touched: Collection[Any] | None = None) -> None:
        if not self.isVisible():
            self._stale = True
            return
        if self._detail_id is not None and (touched is None or self._detail_id in touched):
            self._show_detail()
        self._update_buttons()
        self._update_count()

    # -- selection and detail ---------------------------------------------------------
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
            self.stack_view.follow(None, None)
            return
        self.stack_view.follow(task_id, row.status, row.tt)
        if self.stack_view.isVisibleTo(self) and not self._stack_sized:
            self._stack_sized = True
            QTimer.singleShot(0, self._size_side)  # once the splitter has taken it in
        try:
            record = self._client.task_record(task_id)
        except MonitorUnavailable:  # an attached console whose service is away
            text = self._detail_text(row, None, known=False)
        else:
            text = self._detail_text(row, record)
        self.detail.setPlainText(text)

    def _size_side(self) -> None:
        total = sum(self._side.sizes())
        if total > 0:
            self._side.setSizes([total * 3 // 10, total - total * 3 // 10])

    def _detail_text(self, row: TaskRow, record: Any, known: bool = True) -> str:
        """The detail pane; ``known=False``: the service did not answer (the
        table's own knowledge only)."""
        model = self._model
        status = row.status
        if record is not None and STATUS_NAMES.get(record.status, status) != status:
            status += f" (the engine says: {STATUS_NAMES.get(record.status)})"
        lines = [
            f"id:          {safe_repr(row.task_id)}",
            f"name:        {row.name}",
            f"status:      {status}" + (f"  ({LATE_TIPS[row.late]})" if row.late else ""),
            *([f"             {stuck}"] if (stuck := model.store.stuck_text(row)) else []),
            f"type:        {TASK_TYPE_NAMES.get(row.tt, row.tt)}",
            f"priority:    {PRIORITY_NAMES.get(row.priority, row.priority)} ({row.priority})",
            f"submitted:   {format_wall(model.wall_time(row.t_submitted))}",
            f"queued at:   {format_wall(model.wall_time(row.t_queued))}",
            f"started at:  {format_wall(model.wall_time(row.t_started))}",
            f"finished at: {format_wall(model.wall_time(row.t_finished))}",
            f"wait:        {format_duration(row.wait)}",
            f"run time:    {format_duration(row.run_time)}",
        ]
        if not known:
            lines += ["", "(the service does not answer: details when it is back)"]
        elif record is None:
            lines += ["", "(the engine no longer holds this task: "
                      + (row.gone_text if row.finished else "details unknown") + ")"]
        elif isinstance(record, FinishedTask):
            if record.target is not None:
                lines += [f"target:      {short_repr(record.target, _long)}",
                          f"args:        {short_repr(record.args, _long)}",
                          f"kwargs:      {short_repr(record.kwargs, _long)}",
                          f"callback:    {short_repr(record.callback, _long)}"]
            else:
                lines.append("target:      (not kept: only small, plain targets and "
                             "arguments are)")
            lines.append(f"delay:       {record.delay}")
            if record.status == STATUS_CODES["completed"]:
                lines.append(f"result:      {record.result}")
            if record.exception is not None:
                lines += [f"error:       {row.error or record.exception}", "",
                          format_traceback(record.exception).rstrip()]
        else:  # a live task's state
            lines.append(f"delay:       {record.delay}")
        if row.status == "failed" and (record is None or not isinstance(record, FinishedTask)):
            lines.append(f"error:       {row.error or 'not kept'}")
        return "\n".join(lines)

    def _update_buttons(self) -> None:
        rows = [self._model.task_row(i) for i in self.selected_task_ids()]
        rows = [r for r in rows if r is not None]
        self.cancel_button.setEnabled(any(not r.finished for r in rows))
        self.rerun_button.setEnabled(any(r.finished for r in rows))

    def _update_count(self) -> None:
        store = self._model.store
        shown, total = self._proxy.rowCount(), len(store)
        text = f"{shown:,} of {total:,} tasks shown"
        if store.dropped:
            text += f" · {store.dropped:,} older finished rows dropped"
        if store.skipped:
            text += (f" · {store.skipped:,} tasks not shown (already "
                     f"{store.max_unfinished:,} unfinished rows)")
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


STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}
