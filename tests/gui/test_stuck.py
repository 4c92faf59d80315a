"""Why is it stuck, in the console: running rows past the run thresholds turn
amber / red, the status bar counts them and names the longest-running task,
the detail pane of a running task shows its live stack (thread frames, a
coroutine's awaits, a process task's refusal), and the Timeouts panel sets
and clears the run thresholds."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from guikit import run, until
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from stuck_targets import awaiting_outer, blocked_in_a_known_function

from engine import TT_MP
from gui.theme import TIMEOUT_CRITICAL_COLOR, TIMEOUT_WARNING_COLOR
from gui.widgets.stack_view import AUTO_MS, HIGHLIGHT_BACKGROUND, frames_html
from gui.widgets.task_table import COL_NAME, COL_RUN, COL_STATUS, COL_WAIT, TaskTablePanel
from gui.widgets.timeouts import TimeoutsPanel
from runner.workloads import work

WAIT = 15.0
MS = int(WAIT * 1000)
AMBER, RED = QColor(TIMEOUT_WARNING_COLOR), QColor(TIMEOUT_CRITICAL_COLOR)


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()


def cell(panel, task_id, column, role):
    model = panel.model()
    return model.data(model.index(model.row_of(task_id), column), role)


def background(panel, task_id, column=COL_STATUS):
    return cell(panel, task_id, column, Qt.ItemDataRole.BackgroundRole)


def tooltip(panel, task_id, column=COL_STATUS):
    return cell(panel, task_id, column, Qt.ItemDataRole.ToolTipRole)


def row_of(panel, task_id):
    return panel.model().task_row(task_id)


def type_into(qtbot, box, value) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), str(value))
    box.interpretText()


# -- rows and status bar ---------------------------------------------------------------
def test_a_blocked_task_turns_amber_then_red_and_the_status_bar_counts_it(
        window, supervisor, gate, qtbot):
    table, stuck = window.task_table, window.stuck
    assert not stuck.isVisible()  # no run threshold on: nothing to count
    supervisor.set_timeouts(run_warning=0.4, run_critical=1.2)
    quick = supervisor.submit(time.sleep, 0.01, _name="quick")
    task = supervisor.submit(blocked_in_a_known_function, gate, _name="blocked")
    qtbot.waitUntil(lambda: stuck.isVisible() and "none stuck" in stuck.text(), timeout=MS)
    qtbot.waitUntil(lambda: background(table, task.id) == AMBER, timeout=MS)
    assert row_of(table, task.id).status == "started"
    assert tooltip(table, task.id) == f"task {task.id} running past run_warning (0.4 s)"
    assert background(table, task.id, COL_NAME) == AMBER  # the whole running row
    assert background(table, task.id, COL_WAIT) is None  # the queue's state: not late
    qtbot.waitUntil(lambda: "1 stuck" in stuck.text(), timeout=MS)
    assert "critical" not in stuck.text()
    qtbot.waitUntil(lambda: background(table, task.id) == RED, timeout=MS)
    assert tooltip(table, task.id) == f"task {task.id} running past run_critical (1.2 s)"
    qtbot.waitUntil(lambda: "1 stuck (1 critical)" in stuck.text(), timeout=MS)
    assert f"Longest running: task {task.id} (blocked, NORMAL), running" in stuck.toolTip()
    assert row_of(table, quick.id).ran_over == {}  # it ended well before the threshold
    # Its run time counts up while it runs.
    text = cell(table, task.id, COL_RUN, Qt.ItemDataRole.DisplayRole)
    assert text.endswith(" …")
    # The status bar names the longest-running task: a click selects it, and the
    # detail pane shows where it is.
    qtbot.mouseClick(stuck, Qt.MouseButton.LeftButton)
    assert table.selected_task_ids() == [task.id]
    view = table.stack_view
    assert view.isVisible() and view.stack is not None and view.stack.task_id == task.id
    assert "blocked_in_a_known_function" in [f.function for f in view.stack.user_frames]
    assert "running past run_critical (1.2 s)" in table.detail.toPlainText()
    gate.set()
    qtbot.waitUntil(lambda: row_of(table, task.id).status == "completed", timeout=MS)
    # Finished: the row keeps its colour only in its run-time cell, saying so.
    assert background(table, task.id) is None and background(table, task.id, COL_NAME) is None
    assert background(table, task.id, COL_RUN) == RED
    assert tooltip(table, task.id, COL_RUN) == f"task {task.id} ran past run_critical (1.2 s)"
    qtbot.waitUntil(lambda: "none stuck" in stuck.text(), timeout=MS)
    supervisor.set_timeouts(run_warning=None, run_critical=None)
    qtbot.waitUntil(lambda: not stuck.isVisible(), timeout=MS)


def test_queue_late_and_run_late_are_kept_apart(window, supervisor, gate, qtbot):
    table = window.task_table
    supervisor.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    supervisor.set_timeouts(timeout_warning=0.2, timeout_critical=None, run_warning=0.3)
    first = supervisor.submit(blocked_in_a_known_function, gate, _name="first")
    waiting = supervisor.submit(blocked_in_a_known_function, gate, _name="waits")
    qtbot.waitUntil(lambda: row_of(table, waiting.id) is not None
                    and row_of(table, waiting.id).late, timeout=MS)
    qtbot.waitUntil(lambda: background(table, first.id) == AMBER, timeout=MS)
    assert "waited in its queue" in tooltip(table, waiting.id)
    supervisor.set_thread_pool(pool_size=2)  # the waiting one starts, late, then runs long
    qtbot.waitUntil(lambda: bool(row_of(table, waiting.id).ran_over), timeout=MS)
    assert background(table, waiting.id, COL_WAIT) == AMBER  # the queue's, kept
    assert "waited in its queue past timeout_warning" in tooltip(table, waiting.id, COL_WAIT)
    assert tooltip(table, waiting.id) == f"task {waiting.id} running past run_warning (0.3 s)"
    # A running row's stuck colour goes when the operator turns run_warning off.
    supervisor.run_warning = None
    qtbot.waitUntil(lambda: background(table, first.id) is None, timeout=MS)
    assert background(table, waiting.id, COL_WAIT) == AMBER


# -- live stacks -----------------------------------------------------------------------
@pytest.fixture
def panel(bridge, qtbot):
    widget = TaskTablePanel(bridge)
    qtbot.addWidget(widget)
    widget.resize(1200, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def select(panel, qtbot, task_id) -> None:
    qtbot.waitUntil(lambda: row_of(panel, task_id) is not None
                    and row_of(panel, task_id).status == "started", timeout=MS)
    assert panel.select_task(task_id)


def test_a_running_thread_task_shows_its_stack_with_its_own_frame_highlighted(
        panel, supervisor, gate, qtbot):
    task = supervisor.submit(blocked_in_a_known_function, gate, _name="blocked")
    select(panel, qtbot, task.id)
    view = panel.stack_view
    assert view.isVisible() and not view.message
    stack = view.stack
    assert stack.kind == "thread" and stack.where.startswith(f"supervisor_{supervisor.id}_")
    assert [f.function for f in stack.user_frames] == ["blocked_in_a_known_function"]
    shown = view.text.toPlainText()
    assert "▶ blocked_in_a_known_function  tests/stuck_targets.py:" in shown
    assert "gate.wait(BOUND)" in shown
    # The engine's and Python's frames are one grey line per run, until asked for.
    assert "engine frame" in shown and "engine/" not in shown
    assert f"thread {stack.where} · read " in shown
    assert view.plain_text().startswith("Live stack · running ")
    view.all_box.setChecked(True)
    shown = view.text.toPlainText()
    assert "engine/" in shown and "threading.py" in shown and "engine frame" not in shown
    html = frames_html(stack)
    assert HIGHLIGHT_BACKGROUND in html  # the innermost user frame
    # Refresh reads it again: the seconds have grown.
    view.auto_box.setChecked(False)
    assert not view.auto_refreshing
    first = view.stack.seconds
    qtbot.waitUntil(lambda: supervisor.task_stack(task.id).seconds > first + 0.3, timeout=MS)
    qtbot.mouseClick(view.refresh_button, Qt.MouseButton.LeftButton)
    assert view.stack.seconds > first + 0.3
    # Auto-refresh reads it every second while it is selected and running.
    view.auto_box.setChecked(True)
    assert view.auto_refreshing
    reads, seconds = view.reads, view.stack.seconds
    qtbot.waitUntil(lambda: view.reads >= reads + 2, timeout=4 * AUTO_MS)
    assert view.stack.seconds > seconds
    # Finished: the last stack read stays, saying so; no more reading.
    gate.set()
    qtbot.waitUntil(lambda: row_of(panel, task.id).status == "completed", timeout=MS)
    assert not view.auto_refreshing
    assert "finished — the last stack read" in view.plain_text()
    # Another task that is not running: no stack view at all.
    done = supervisor.submit(time.sleep, 0)
    qtbot.waitUntil(lambda: row_of(panel, done.id) is not None
                    and row_of(panel, done.id).status == "completed", timeout=MS)
    assert panel.select_task(done.id)
    assert not view.isVisible() and view.task_id == done.id


def test_a_coroutine_task_shows_its_chain_of_awaits(panel, supervisor, qtbot):
    aloop = supervisor.create_aloop("stacks")
    loop = aloop.get_loop()
    gate = asyncio.run_coroutine_threadsafe(_make_event(), loop).result(WAIT)
    task = aloop.background_task(awaiting_outer(gate))
    try:
        select(panel, qtbot, task.id)
        view = panel.stack_view
        assert view.stack.kind == "coroutine"
        assert [f.function for f in view.stack.user_frames] == ["awaiting_outer",
                                                                "awaited_inner"]
        shown = view.text.toPlainText()
        assert shown.index("  awaiting_outer") < shown.index("▶ awaited_inner")
        assert "await gate.wait()" in shown
        assert "coroutine on the loop of thread" in shown
        assert view.header.isVisible() and "awaiting" in view.header.text()
    finally:
        loop.call_soon_threadsafe(gate.set)
    assert task.wait(WAIT)


async def _make_event() -> asyncio.Event:
    return asyncio.Event()


def test_a_process_task_says_why_its_stack_cannot_be_read(panel, supervisor, qtbot):
    supervisor.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    task = supervisor.submit(work, 2.0, _tt=TT_MP)  # an importable target, for the worker
    select(panel, qtbot, task.id)
    view = panel.stack_view
    assert view.isVisible() and view.stack is None
    assert view.message.startswith(f"Task {task.id} runs in a worker process")
    assert view.message_label.isVisible() and view.message_label.text() == view.message
    assert "\n" not in view.message
    assert not view.auto_refreshing  # asking every second would only say so again
    assert task.wait(WAIT) and task.result == 2.0


def test_a_task_not_running_any_more_is_said_in_one_line(panel, supervisor, gate, qtbot):
    task = supervisor.submit(blocked_in_a_known_function, gate)
    select(panel, qtbot, task.id)
    view = panel.stack_view
    view.auto_box.setChecked(False)
    gate.set()
    assert task.wait(WAIT)
    view.refresh()  # before the console heard that it finished
    assert view.message.startswith(f"Task {task.id} is not a live task")
    assert view.stack is not None  # the last one read stays, greyed


# -- the Timeouts panel ----------------------------------------------------------------
def test_the_timeouts_panel_sets_and_clears_the_run_thresholds(supervisor, bridge, qtbot):
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    warning, critical = panel.fields["run_warning"], panel.fields["run_critical"]
    assert warning.text() == "off" and critical.text() == "off"  # off by default
    type_into(qtbot, warning, 30)
    type_into(qtbot, critical, 90.5)
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert (supervisor.run_warning, supervisor.run_critical) == (30.0, 90.5)
    assert not panel.error_label.isVisible()
    # Read back from the snapshot when it changes elsewhere.
    supervisor.run_warning = 12.0
    qtbot.waitUntil(lambda: warning.value() == 12.0, timeout=MS)
    # Cleared: 0 is "off", None in the engine.
    type_into(qtbot, critical, 0)
    assert panel.apply()
    assert supervisor.run_critical is None and critical.text() == "off"
    assert supervisor.run_warning == 12.0


def test_a_refused_run_threshold_shows_why_and_puts_the_engines_value_back(
        supervisor, bridge, qtbot):
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    supervisor.set_timeouts(run_warning=5.0)
    qtbot.waitUntil(lambda: panel.fields["run_warning"].value() == 5.0, timeout=MS)
    type_into(qtbot, panel.fields["run_warning"], 9_999_999_999)  # past threading.TIMEOUT_MAX
    type_into(qtbot, panel.fields["run_critical"], 20)
    assert not panel.apply()
    assert "run_warning must be at most" in panel.error_label.text()
    assert "The engine keeps run_warning 5 s" in panel.error_label.text()
    assert (supervisor.run_warning, supervisor.run_critical) == (5.0, None)  # neither changed
    assert panel.fields["run_warning"].value() == 5.0
    assert panel.fields["run_critical"].text() == "off"


# -- the built-in scenario -------------------------------------------------------------
def test_the_stuck_scenario_shows_stuck_tasks_and_ends_them(window, supervisor, qloop):
    # A scenario is a coroutine: the whole check runs on the loop, which keeps
    # running (qtbot waits, or returning to the test between steps, would not).
    panel = window.submit_panel
    stuck = window.stuck

    async def watch() -> None:
        assert panel.load_scenario("stuck") and panel.set_duration(4.0)
        assert panel.start_scenario()
        await until(lambda: "stuck" in stuck.text() and "none" not in stuck.text(), WAIT)
        longest = stuck.longest
        assert longest is not None and longest.name == "fetch-report"
        assert window.show_task(longest.id)
        view = window.task_table.stack_view
        assert [f.function for f in view.stack.user_frames] == ["wait_for_upstream"]
        await until(lambda: panel.scenario_state == "finished", WAIT)
        context = panel.scenarios.run.context
        await until(lambda: not context.tasks, WAIT)  # the long ones ended too
        await until(lambda: "none stuck" in stuck.text(), WAIT)

    run(qloop, watch(), 3 * WAIT)
