"""The task table: rows from live events, timeout colours, filters, cancel,
re-run, detail pane, CSV export and the bound on finished rows.

A real supervisor runs on the Qt loop (fixtures in conftest). Tasks that must
stay queued wait behind a one-slot pool held by a gated target that the test
releases (and the ``gate`` fixture releases at teardown, whatever happens).
"""

from __future__ import annotations

import csv
import re
import threading
import time
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFileDialog

from engine import (
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
    TT_THREAD,
    TaskEvent,
)
from gui.task_model import EXPORT_COLUMNS
from gui.theme import (
    FAILED_COLOR,
    PRIORITY_COLORS,
    TIMEOUT_CRITICAL_COLOR,
    TIMEOUT_WARNING_COLOR,
)
from gui.widgets.task_table import (
    COL_ID,
    COL_NAME,
    COL_PRIORITY,
    COL_QUEUED,
    COL_RESULT,
    COL_RUN,
    COL_STATUS,
    COL_TYPE,
    COL_WAIT,
    COLUMNS,
    TaskTableModel,
    TaskTablePanel,
)

WAIT_MS = 5000


# -- fixtures and helpers ------------------------------------------------------------
@pytest.fixture
def gate(supervisor):
    """A threading.Event gating targets; released at teardown before the supervisor stops."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def panel(bridge, qtbot):
    widget = TaskTablePanel(bridge, max_finished=50, max_failed=20)
    qtbot.addWidget(widget)
    widget.resize(1200, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def one_slot(supervisor, gate, qtbot):
    """Fill a one-slot pool with a gated task: later tasks stay queued."""
    supervisor.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    blocker = supervisor.submit(gated, gate, _name="blocker")
    qtbot.waitUntil(blocker.is_started, timeout=WAIT_MS)
    return blocker


def gated(event: threading.Event) -> str:
    if not event.wait(20):
        raise TimeoutError("the test never released its gate")
    return "released"


def boom(code: int) -> None:
    raise ValueError(f"boom {code}")


def add(a: int, b: int, *, scale: int) -> int:
    return (a + b) * scale


def cell(panel: TaskTablePanel, task_id, column: int, role=Qt.DisplayRole):
    model = panel.model()
    row = model.row_of(task_id)
    assert row is not None, f"no row for task {task_id!r}"
    return model.data(model.index(row, column), role)


def wait_status(qtbot, panel: TaskTablePanel, task_id, status: str) -> None:
    def has_status() -> bool:
        row = panel.model().task_row(task_id)
        return row is not None and row.status == status
    qtbot.waitUntil(has_status, timeout=WAIT_MS)


def color_of(value) -> str | None:
    return None if value is None else QColor(value).name()


def choose(qtbot, combo, text: str) -> None:
    """Pick an entry with the keyboard, as an operator would."""
    index = combo.findText(text)
    assert index >= 0, f"{text!r} is not offered"
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key_Home)
    for _ in range(index):
        qtbot.keyClick(combo, Qt.Key_Down)
    assert combo.currentText() == text


def click_row(qtbot, panel: TaskTablePanel, task_id, modifier=Qt.NoModifier) -> None:
    model, proxy, view = panel.model(), panel.proxy(), panel.view
    index = proxy.mapFromSource(model.index(model.row_of(task_id), COL_NAME))
    assert index.isValid(), f"task {task_id!r} is not shown"
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, modifier, view.visualRect(index).center())


def shown_ids(panel: TaskTablePanel) -> list:
    proxy = panel.proxy()
    return [proxy.index(r, COL_ID).data(Qt.UserRole + 1) for r in range(proxy.rowCount())]


# -- rows ------------------------------------------------------------------------------
def test_completed_task_row_has_every_column(supervisor, panel, qtbot):
    assert [panel.model().headerData(c, Qt.Horizontal) for c in range(len(COLUMNS))] == list(
        COLUMNS)
    task = supervisor.submit(add, 2, 3, scale=7, _priority=TASK_HIGH, _name="answer")
    wait_status(qtbot, panel, task.id, "completed")
    assert cell(panel, task.id, COL_ID) == str(task.id)
    assert cell(panel, task.id, COL_NAME) == "answer"
    assert cell(panel, task.id, COL_PRIORITY) == "HIGH"
    assert cell(panel, task.id, COL_TYPE) == "thread"
    assert cell(panel, task.id, COL_STATUS) == "completed"
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", cell(panel, task.id, COL_QUEUED))
    assert re.fullmatch(r"[\d.]+ (µs|ms|s)", cell(panel, task.id, COL_WAIT))
    assert re.fullmatch(r"[\d.]+ (µs|ms|s)", cell(panel, task.id, COL_RUN))
    assert cell(panel, task.id, COL_RESULT) == "35"
    # The priority cell is tinted with the priority's colour.
    assert color_of(cell(panel, task.id, COL_PRIORITY, Qt.BackgroundRole)) == PRIORITY_COLORS[
        TASK_HIGH]
    # Queued-at is the wall clock of the queued event (one offset from monotonic).
    queued = panel.model().task_row(task.id).t_queued
    wall = panel.model().wall_time(queued)
    assert abs(wall - (time.time() - (time.monotonic() - queued))) < 0.5
    assert panel.select_task(task.id)
    detail = panel.detail.toPlainText()
    assert "answer" in detail and "args:        (2, 3)" in detail and "'scale': 7" in detail
    assert "result:      35" in detail


def test_failed_task_shows_error_and_traceback(supervisor, panel, qtbot):
    task = supervisor.submit(boom, 7, _name="exploder")
    wait_status(qtbot, panel, task.id, "failed")
    assert cell(panel, task.id, COL_RESULT) == "ValueError: boom 7"
    assert color_of(cell(panel, task.id, COL_STATUS, Qt.ForegroundRole)) == FAILED_COLOR
    assert color_of(cell(panel, task.id, COL_NAME, Qt.ForegroundRole)) == FAILED_COLOR
    assert color_of(cell(panel, task.id, COL_RESULT, Qt.ForegroundRole)) == FAILED_COLOR
    row = panel.model().task_row(task.id)
    assert not hasattr(row, "task")  # a plain record: the engine keeps the exception
    click_row(qtbot, panel, task.id)
    detail = panel.detail.toPlainText()
    assert "status:      failed" in detail
    assert "error:       ValueError: boom 7" in detail
    assert "Traceback (most recent call last)" in detail
    assert 'raise ValueError(f"boom {code}")' in detail


def test_canceled_task_row(supervisor, panel, qtbot, one_slot):
    waiting = supervisor.submit(add, 1, 1, scale=1, _priority=TASK_LOW, _name="never")
    wait_status(qtbot, panel, waiting.id, "queued")
    qtbot.waitUntil(lambda: cell(panel, waiting.id, COL_WAIT).endswith("…"),
                    timeout=WAIT_MS)  # still waiting: the wait so far
    supervisor.cancel_task(waiting.id)
    wait_status(qtbot, panel, waiting.id, "canceled")
    assert cell(panel, waiting.id, COL_WAIT) == ""  # it never started: no wait
    assert cell(panel, waiting.id, COL_PRIORITY) == "LOW"
    assert cell(panel, waiting.id, COL_RUN) == ""
    assert cell(panel, waiting.id, COL_RESULT) == ""


def test_rows_update_in_place(supervisor, panel, qtbot, gate, one_slot):
    wait_status(qtbot, panel, one_slot.id, "started")
    rows_before = panel.model().rowCount()
    gate.set()
    wait_status(qtbot, panel, one_slot.id, "completed")
    assert panel.model().rowCount() == rows_before
    assert cell(panel, one_slot.id, COL_RESULT) == "'released'"


# -- timeouts -------------------------------------------------------------------------
def test_waiting_row_turns_amber_then_red(supervisor, panel, qtbot, gate, one_slot):
    # Amber first (critical off, so both levels cannot land in one refresh),
    # then red once the critical level is switched on.
    supervisor.timeout_critical = None
    supervisor.timeout_warning = 0.05
    waiting = supervisor.submit(add, 1, 2, scale=1, _name="late")

    def background(column: int = COL_NAME) -> str | None:
        return color_of(cell(panel, waiting.id, column, Qt.BackgroundRole))

    wait_status(qtbot, panel, waiting.id, "queued")
    qtbot.waitUntil(lambda: background() == TIMEOUT_WARNING_COLOR, timeout=WAIT_MS)
    assert background(COL_STATUS) == TIMEOUT_WARNING_COLOR  # the whole row
    assert "timeout_warning" in cell(panel, waiting.id, COL_NAME, Qt.ToolTipRole)
    supervisor.timeout_critical = 0.1
    qtbot.waitUntil(lambda: background() == TIMEOUT_CRITICAL_COLOR, timeout=WAIT_MS)
    # Once it runs, only the wait cell keeps the colour: it tells how long it waited.
    gate.set()
    wait_status(qtbot, panel, waiting.id, "completed")
    assert background(COL_NAME) is None
    assert background(COL_WAIT) == TIMEOUT_CRITICAL_COLOR


# -- filters ---------------------------------------------------------------------------
def test_filters_driven_through_the_widgets(supervisor, panel, qtbot, one_slot):
    alpha = supervisor.submit(add, 1, 1, scale=1, _priority=TASK_HIGH, _name="alpha")
    beta = supervisor.submit(add, 1, 2, scale=1, _priority=TASK_LOW, _name="beta")
    wait_status(qtbot, panel, alpha.id, "queued")
    supervisor.set_thread_pool(pool_size=3)  # let alpha and beta run, blocker holds one
    wait_status(qtbot, panel, beta.id, "completed")
    wait_status(qtbot, panel, alpha.id, "completed")
    gamma = supervisor.submit(lambda: {}["needle"], _priority=TASK_NORMAL, _name="gamma")
    wait_status(qtbot, panel, gamma.id, "failed")
    supervisor.set_thread_pool(pool_size=1)
    delta = supervisor.submit(add, 0, 0, scale=1, _name="delta")
    wait_status(qtbot, panel, delta.id, "queued")
    everyone = {one_slot.id, alpha.id, beta.id, gamma.id, delta.id}
    assert set(shown_ids(panel)) == everyone

    choose(qtbot, panel.status_combo, "failed")
    assert shown_ids(panel) == [gamma.id]
    choose(qtbot, panel.status_combo, "Unfinished")
    assert set(shown_ids(panel)) == {one_slot.id, delta.id}
    choose(qtbot, panel.status_combo, "completed")
    assert set(shown_ids(panel)) == {alpha.id, beta.id}
    choose(qtbot, panel.priority_combo, "HIGH")
    assert shown_ids(panel) == [alpha.id]
    choose(qtbot, panel.status_combo, "All statuses")
    choose(qtbot, panel.priority_combo, "LOW")
    assert shown_ids(panel) == [beta.id]
    choose(qtbot, panel.priority_combo, "All priorities")

    qtbot.keyClicks(panel.text_edit, "NEEDLE")  # the error text, any case
    assert shown_ids(panel) == [gamma.id]
    panel.text_edit.clear()
    qtbot.keyClicks(panel.text_edit, "alp")  # the name
    assert shown_ids(panel) == [alpha.id]
    panel.text_edit.clear()
    qtbot.keyClicks(panel.text_edit, str(delta.id))  # the id
    assert delta.id in shown_ids(panel)
    panel.text_edit.clear()
    assert set(shown_ids(panel)) == everyone
    assert panel.count_label.text().startswith(f"{len(everyone)} of {len(everyone)}")

    # A row that changes status leaves a status filter that no longer matches.
    choose(qtbot, panel.status_combo, "Waiting (queued + delayed)")
    assert shown_ids(panel) == [delta.id]
    supervisor.cancel_task(delta.id)
    qtbot.waitUntil(lambda: shown_ids(panel) == [], timeout=WAIT_MS)


def test_filter_setters_sync_the_widgets_and_reject_bad_values(supervisor, panel, qtbot):
    task = supervisor.submit(add, 1, 1, scale=1, _name="x")
    wait_status(qtbot, panel, task.id, "completed")
    panel.set_status_filter("finished")
    assert panel.status_combo.currentText() == "Finished"
    panel.set_status_filter(["queued", "failed"])
    assert panel.status_combo.currentText() == "custom: failed, queued"
    assert shown_ids(panel) == []
    panel.set_status_filter(None)
    panel.set_priority_filter(TASK_NORMAL)
    assert panel.priority_combo.currentText() == "NORMAL"
    assert shown_ids(panel) == [task.id]
    panel.set_text_filter("no such thing")
    assert panel.text_edit.text() == "no such thing" and shown_ids(panel) == []
    panel.set_text_filter("")
    with pytest.raises(ValueError, match="'runing'"):
        panel.set_status_filter("runing")
    with pytest.raises(ValueError, match="75"):
        panel.set_priority_filter(75)
    assert shown_ids(panel) == [task.id]  # a refused filter changed nothing


# -- operator actions ------------------------------------------------------------------
def test_cancel_selected_queued_tasks(supervisor, bridge, panel, qtbot, one_slot):
    first = supervisor.submit(add, 1, 1, scale=1, _name="first")
    second = supervisor.submit(add, 2, 2, scale=1, _name="second")
    wait_status(qtbot, panel, second.id, "queued")
    click_row(qtbot, panel, first.id)
    click_row(qtbot, panel, second.id, Qt.ControlModifier)
    assert set(panel.selected_task_ids()) == {first.id, second.id}
    assert panel.cancel_button.isEnabled()
    with qtbot.waitSignal(bridge.action_applied, timeout=WAIT_MS):
        qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    assert first.status == TASK_STATUS_CANCELED and second.status == TASK_STATUS_CANCELED
    wait_status(qtbot, panel, first.id, "canceled")
    wait_status(qtbot, panel, second.id, "canceled")
    assert panel.last_message == "Canceled 2 tasks."
    assert one_slot.status == TASK_STATUS_STARTED  # not selected, untouched


def test_cancel_of_a_running_task_shows_the_refusal(supervisor, bridge, panel, qtbot, gate,
                                                     one_slot):
    wait_status(qtbot, panel, one_slot.id, "started")
    click_row(qtbot, panel, one_slot.id)
    with qtbot.waitSignal(bridge.error_raised, timeout=WAIT_MS) as refused:
        qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    what, why = refused.args
    assert str(one_slot.id) in what
    assert "RuntimeError" in why and "already started" in why
    assert "already started" in panel.last_message
    assert panel.message_label.text() == panel.last_message
    # The console keeps working.
    assert one_slot.status == TASK_STATUS_STARTED
    gate.set()
    wait_status(qtbot, panel, one_slot.id, "completed")
    after = supervisor.submit(add, 1, 1, scale=1, _name="after")
    wait_status(qtbot, panel, after.id, "completed")


def test_rerun_of_a_finished_thread_task(supervisor, bridge, panel, qtbot):
    original = supervisor.submit(add, 2, 3, scale=10, _priority=TASK_HIGH, _name="adder")
    wait_status(qtbot, panel, original.id, "completed")
    assert panel.select_task(original.id)
    assert panel.rerun_button.isEnabled()
    with qtbot.waitSignal(bridge.action_applied, timeout=WAIT_MS):
        qtbot.mouseClick(panel.rerun_button, Qt.LeftButton)
    rerun_ids = [r.task_id for r in panel.model().rows
                 if r.name == "adder" and r.task_id != original.id]
    assert len(rerun_ids) == 1
    wait_status(qtbot, panel, rerun_ids[0], "completed")
    again = supervisor.get_task(rerun_ids[0])
    # Nobody holds the re-run Task: the history gives its record, whose result is a repr.
    assert again.status == TASK_STATUS_COMPLETED and again.result in (50, "50")
    assert original.result == 50
    assert (again.priority, again.tt, again.args, again.kwargs) == (
        TASK_HIGH, TT_THREAD, (2, 3), {"scale": 10})
    assert cell(panel, again.id, COL_RESULT) == "50"
    assert f"task {again.id!r}" in panel.last_message


def test_rerun_of_a_put_task_style_task(supervisor, panel, qtbot):
    calls = []

    def job(x, _task_id):
        calls.append((x, _task_id))
        supervisor.mark_task_completed(task_id=_task_id)

    original = supervisor.put_task(job, args=("payload",), priority=TASK_LOW, task_id="job-1")
    wait_status(qtbot, panel, "job-1", "completed")
    assert panel.select_task("job-1")
    [again_id] = panel.rerun_selected()
    assert again_id != original.id
    wait_status(qtbot, panel, again_id, "completed")
    assert calls == [("payload", "job-1"), ("payload", again_id)]
    again = supervisor.get_task(again_id)  # the history's record: a put_task task again
    assert again.priority == TASK_LOW and again.status == TASK_STATUS_COMPLETED


def test_rerun_of_a_coroutine_task_is_refused_clearly(supervisor, bridge, panel, qtbot):
    aloop = supervisor.create_aloop("table-test", daemon=True)
    try:
        async def nap():
            return "rested"

        task = aloop.background_task(nap())
        wait_status(qtbot, panel, task.id, "completed")
        assert cell(panel, task.id, COL_TYPE) == "coroutine"
        assert panel.model().task_row(task.id).tt == TT_COROUTINE
        assert panel.select_task(task.id)
        with qtbot.waitSignal(bridge.error_raised, timeout=WAIT_MS) as refused:
            qtbot.mouseClick(panel.rerun_button, Qt.LeftButton)
        assert "coroutine" in refused.args[1] and "cannot be re-run" in refused.args[1]
        assert "cannot be re-run" in panel.last_message
    finally:
        supervisor.stop_aloop("table-test")


def test_export_csv_writes_the_filtered_rows_in_view_order(supervisor, panel, qtbot,
                                                           tmp_path):
    tasks = [supervisor.submit(add, i, 0, scale=1, _name=f"{kind}-{i}")
             for i, kind in enumerate(["keep", "skip", "keep", "keep", "skip"])]
    for task in tasks:
        wait_status(qtbot, panel, task.id, "completed")
    qtbot.keyClicks(panel.text_edit, "keep")
    panel.view.sortByColumn(COL_NAME, Qt.DescendingOrder)
    path = tmp_path / "tasks.csv"
    assert panel.export_csv(str(path)) == 3
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [r["name"] for r in rows] == ["keep-3", "keep-2", "keep-0"]
    assert [r["result"] for r in rows] == ["3", "2", "0"]
    assert all(r["status"] == "completed" and r["type"] == "thread" and r["priority"] == "NORMAL"
               and r["error"] == "" for r in rows)
    for r in rows:  # machine-readable: ISO 8601 with date and zone, seconds as numbers
        submitted = datetime.fromisoformat(r["submitted_at"])
        finished = datetime.fromisoformat(r["finished_at"])
        assert submitted.tzinfo is not None and submitted <= finished
        assert abs((datetime.now(UTC) - finished).total_seconds()) < 60
        assert 0 <= float(r["wait_s"]) < 10 and 0 <= float(r["run_s"]) < 10
    assert f"Exported 3 rows to {path}" in panel.last_message


def test_export_button_asks_for_a_file_and_reports_failures(supervisor, bridge, panel,
                                                            qtbot, tmp_path):
    task = supervisor.submit(add, 1, 1, scale=1, _name="only")
    wait_status(qtbot, panel, task.id, "completed")
    qtbot.mouseClick(panel.export_button, Qt.LeftButton)
    dialog = panel.findChild(QFileDialog)
    assert dialog is not None and dialog.isVisible()  # open(), not a nested exec()
    dialog.selectFile(str(tmp_path / "chosen.csv"))
    dialog.accept()
    with open(tmp_path / "chosen.csv", newline="", encoding="utf-8") as f:
        assert [r[COL_NAME] for r in csv.reader(f)] == ["name", "only"]
    # A path that cannot be written: the operator is told, nothing crashes.
    with qtbot.waitSignal(bridge.error_raised, timeout=WAIT_MS) as refused:
        dialog.fileSelected.emit(str(tmp_path / "missing-dir" / "tasks.csv"))
    assert "FileNotFoundError" in refused.args[1]
    assert panel.last_message.startswith("Export failed")


# -- hidden panel -------------------------------------------------------------------
def test_hidden_panel_keeps_consuming_and_catches_up_when_shown(supervisor, panel, qtbot,
                                                                gate, one_slot):
    waiting = supervisor.submit(add, 4, 4, scale=1, _name="later")
    wait_status(qtbot, panel, waiting.id, "queued")
    panel.set_status_filter("waiting")
    panel.view.sortByColumn(COL_NAME, Qt.AscendingOrder)
    assert shown_ids(panel) == [waiting.id]
    panel.hide()
    assert not panel.proxy().dynamicSortFilter()  # cheap while hidden
    gate.set()
    extra = supervisor.submit(add, 5, 5, scale=1, _name="while hidden")
    wait_status(qtbot, panel, waiting.id, "completed")  # the model still follows
    wait_status(qtbot, panel, extra.id, "completed")
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.proxy().dynamicSortFilter()
    assert shown_ids(panel) == []  # refiltered once on show
    panel.set_status_filter(None)
    names = [panel.proxy().index(r, COL_NAME).data() for r in range(panel.proxy().rowCount())]
    assert names == sorted(names)


# -- the bound ------------------------------------------------------------------------
class EventFeed:
    """Synthetic events, as ``events_since`` returns them."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(self, kind: str, task_id, priority: int = TASK_NORMAL) -> TaskEvent:
        self.seq += 1
        return TaskEvent(self.seq, time.monotonic(), kind, task_id, f"t{task_id}", TT_THREAD,
                         priority)

    def life(self, task_id, end: str) -> list[TaskEvent]:
        return [self("queued", task_id), self("started", task_id), self(end, task_id)]


def test_finished_rows_are_bounded_and_failures_outlive_successes(qapp, qtmodeltester):
    model = TaskTableModel(max_finished=20, max_failed=5)
    qtmodeltester.check(model)  # and it keeps checking every later change
    inserts, resets = [], []
    model.rowsInserted.connect(lambda *a: inserts.append(a))
    model.modelReset.connect(lambda: resets.append(1))
    feed = EventFeed()
    failed = [f"f{i}" for i in range(5)]
    model.apply_events([e for tid in failed for e in feed.life(tid, "failed")])
    pending = [f"p{i}" for i in range(3)]
    model.apply_events([feed("queued", tid) for tid in pending])
    done = list(range(100))
    for start in range(0, 100, 30):  # batches that interleave with the kept rows
        batch = [e for tid in done[start:start + 30] for e in feed.life(tid, "completed")]
        model.apply_events(batch)
    ids = {r.task_id for r in model.rows}
    assert model.rowCount() == 20 + 5 + 3
    assert set(failed) <= ids and set(pending) <= ids
    assert ids - set(failed) - set(pending) == set(done[-20:])
    assert len(inserts) == 2 + 4  # one insert per batch, never one per event
    # Newer failures push out the oldest ones; unfinished rows never go.
    model.apply_events([e for i in range(5, 12) for e in feed.life(f"f{i}", "failed")])
    ids = {r.task_id for r in model.rows}
    assert {r.task_id for r in model.rows if r.status == "failed"} == {
        f"f{i}" for i in range(7, 12)}
    assert set(pending) <= ids and model.rowCount() == 28
    assert model.dropped == 80 + 7
    assert resets == []
    # Rows found by id after the removals point to the right task.
    for tid in ("p0", "f9", 99):
        assert model.rows[model.row_of(tid)].task_id == tid
    # A late event for an unfinished row updates it in place.
    model.apply_events([feed("started", "p1"), feed("completed", "p1")])
    assert model.task_row("p1").status == "completed"


def test_a_float_result_reads_short_in_the_table_and_whole_elsewhere(supervisor, panel, qtbot,
                                                                    tmp_path):
    from gui.formatting import readable_result

    assert readable_result("0.028095182140392742") == "0.0280952"
    assert readable_result("-1.5e-07") == "-1.5e-07" and readable_result("42") == "42"
    assert readable_result("'0.028095182140392742'") == "'0.028095182140392742'"  # a str
    assert readable_result("(0.1, 0.2)") == "(0.1, 0.2)"
    task = supervisor.submit(lambda: 0.028095182140392742, _name="precise")
    wait_status(qtbot, panel, task.id, "completed")
    model = panel.model()
    row = model.row_of(task.id)
    cell = model.index(row, COL_RESULT)
    assert model.data(cell, Qt.DisplayRole) == "0.0280952"
    assert model.data(cell, Qt.ToolTipRole) == "0.028095182140392742"  # the whole value
    path = tmp_path / "tasks.csv"
    panel.export_csv(str(path))
    with open(path, newline="", encoding="utf-8") as f:
        assert [r["result"] for r in csv.DictReader(f)] == ["0.028095182140392742"]


def test_a_failed_rows_error_recorded_after_its_event_still_shows() -> None:
    """The engine records a failure's error just after the failure's event: a
    row whose error was not there yet reads "failed …" and asks again."""
    from engine import TASK_NORMAL, TT_THREAD, RecordedError, TaskEvent
    from gui.task_model import OUTCOME_RETRIES, TaskRows

    class Late:
        def __init__(self) -> None:
            self.asks = 0
            self.recorded = False

        def finished_tasks(self, ids):
            self.asks += 1
            return {i: _Failed(RecordedError("SystemExit", "3", "") if self.recorded else None)
                    for i in ids}

    class _Failed:
        result = None

        def __init__(self, exception) -> None:
            self.exception = exception

    client = Late()
    rows = TaskRows(client)
    rows.apply_events([TaskEvent(1, 0.0, "started", 7, "quits", TT_THREAD, TASK_NORMAL),
                       TaskEvent(2, 0.1, "failed", 7, "quits", TT_THREAD, TASK_NORMAL)])
    row = rows.task_row(7)
    assert row.summary() == "failed …"
    client.recorded = True
    rows.tick()
    assert "SystemExit" in row.summary() and not row.awaiting
    asks = client.asks
    rows.tick()
    assert client.asks == asks  # asked no more once it had it
    # never recorded (the history dropped it): it gives up and says so
    client.recorded = False
    rows.apply_events([TaskEvent(3, 0.2, "started", 8, "quits", TT_THREAD, TASK_NORMAL),
                       TaskEvent(4, 0.3, "failed", 8, "quits", TT_THREAD, TASK_NORMAL)])
    for _ in range(OUTCOME_RETRIES + 1):
        rows.tick()
    assert rows.task_row(8).summary() == "failed (error not kept)"
