"""The submit panel, driven like an operator: choose, type, click; the engine
(a real supervisor on the Qt loop) must get exactly the tasks asked for, and
they must end. Broken scripts and scenarios show their traceback and leave the
console working."""

from __future__ import annotations

import ast
import asyncio
import textwrap
import time
from pathlib import Path

import pytest
from guikit import run
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QMessageBox

from engine import (
    PRIORITY_NAMES,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_FAILED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    FinishedTask,
)
from gui.client import BACKGROUND_BATCH
from gui.widgets.scenario_panel import ScenarioPanel
from gui.widgets.submit import SubmitPanel
from gui.widgets.task_script_panel import TaskScriptPanel
from runner.scenario import builtin_scenarios
from runner.taskscript import builtin_task_scripts

WAIT_MS = 5000
MP_WAIT_MS = 20000  # the first mp task starts the forkserver and its child


@pytest.fixture
def dock(bridge, qtbot):
    """The Submit dock as the window holds it: both panels."""
    widget = SubmitPanel(bridge)
    qtbot.addWidget(widget)
    widget.resize(450, 900)
    widget.show()
    yield widget
    if widget.scenario_running():  # never leave a task pending on a closing loop
        widget.end_scenario_now()


@pytest.fixture
def panel(dock, supervisor) -> TaskScriptPanel:
    dock.tasks.setProperty("test_supervisor_id", supervisor.id)
    _SUPERVISORS[supervisor.id] = supervisor
    yield dock.tasks
    _SUPERVISORS.clear()


_SUPERVISORS: dict = {}  # the tests' supervisor, to check the engine side of a submission


@pytest.fixture
def spanel(dock) -> ScenarioPanel:
    return dock.scenarios


# -- driving the panel ------------------------------------------------------------

def choose(combo: QComboBox, text: str) -> None:
    index = combo.findText(text, Qt.MatchStartsWith)
    assert index >= 0, f"{text!r} not in {[combo.itemText(i) for i in range(combo.count())]}"
    combo.setCurrentIndex(index)


def type_param(qtbot, panel: TaskScriptPanel, name: str, text: str) -> None:
    edit = panel.param_edits[name]
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key_Delete)
    qtbot.keyClicks(edit, text)
    assert edit.text() == text


def set_spin(qtbot, spin, text: str) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, text)
    spin.interpretText()


def click(qtbot, button) -> None:
    assert button.isEnabled() and button.isVisible()
    qtbot.mouseClick(button, Qt.LeftButton)


def submit(qtbot, panel: TaskScriptPanel) -> tuple[str, list]:
    """Click Submit; the description and the tasks (live ``Task`` objects, held
    from here on, or the history's records of those already finished)."""
    with qtbot.waitSignal(panel.submitted, timeout=WAIT_MS) as blocker:
        click(qtbot, panel.submit_button)
    description, ids = blocker.args
    sup = _SUPERVISORS[panel.property("test_supervisor_id")]
    return description, [sup.get_task(i) for i in ids]


def result_of(task):
    """A task's result; a history record keeps it as a repr."""
    return ast.literal_eval(task.result) if isinstance(task, FinishedTask) else task.result


def wait_done(qtbot, tasks, timeout=WAIT_MS) -> None:
    qtbot.waitUntil(lambda: all(t.is_completed() for t in tasks), timeout=timeout)


def close_error(qtbot, panel) -> None:
    box = panel.error_box
    assert box is not None and box.isVisible()
    qtbot.mouseClick(box.button(QMessageBox.Ok), Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.error_box is None, timeout=WAIT_MS)


def run_until(loop, predicate, timeout: float = 5.0) -> None:
    """Drive the asyncio (Qt) loop until ``predicate()`` holds: scenarios are
    coroutines and need the loop running, which qtbot waits do not provide."""
    async def poll():
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not met in time"
            await asyncio.sleep(0.01)
    loop.run_until_complete(poll())


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


# -- the form -----------------------------------------------------------------------

def test_panel_lists_builtins_with_defaults(panel):
    scripts = [panel.script_combo.itemText(i) for i in range(panel.script_combo.count())]
    assert scripts == builtin_task_scripts()
    assert {"sleep", "cpu_burn", "io_wait", "fail", "async_sleep"} <= set(scripts)
    assert panel.script_combo.currentText() == "sleep"
    assert panel.description_label.text().startswith("Sleep for a while")
    assert list(panel.param_edits) == ["seconds"]
    assert panel.param_edits["seconds"].text() == "0.5"
    assert panel.priority_combo.currentData() == TASK_NORMAL
    assert panel.type_combo.currentData() == TT_THREAD
    assert not panel.aloop_row.isVisible()
    assert panel.count_spin.value() == 1 and panel.count_spin.maximum() == 100_000
    assert panel.delay_spin.value() == 0 and panel.delay_spin.text() == "none"


def test_scenario_panel_lists_builtins(spanel):
    scenarios = [spanel.scenario_combo.itemText(i) for i in range(spanel.scenario_combo.count())]
    assert scenarios == builtin_scenarios()
    assert spanel.scenario_description.text()


def test_choosing_a_script_rebuilds_the_parameters(panel):
    choose(panel.script_combo, "io_wait")
    assert {n: e.text() for n, e in panel.param_edits.items()} == {
        "seconds": "0.5", "size_kb": "256", "chunk_kb": "32"}
    assert "Simulated I/O" in panel.description_label.text()


def test_async_scripts_run_only_as_coroutines_and_plain_ones_never(panel):
    model = panel.type_combo.model()
    choose(panel.script_combo, "async_sleep")
    assert panel.type_combo.currentData() == TT_COROUTINE
    assert [model.item(i).isEnabled() for i in range(3)] == [False, False, True]
    choose(panel.script_combo, "sleep")
    assert panel.type_combo.currentData() == TT_THREAD
    assert [model.item(i).isEnabled() for i in range(3)] == [True, True, False]


# -- submitting each built-in ---------------------------------------------------------

def test_submit_a_batch_of_sleeps_with_priority_count_and_delay(panel, supervisor, bridge,
                                                                qtbot):
    before = supervisor.stats().thread.submitted
    applied = []
    bridge.action_applied.connect(applied.append)
    type_param(qtbot, panel, "seconds", "0.01")
    choose(panel.priority_combo, "HIGH")
    set_spin(qtbot, panel.count_spin, "20")
    set_spin(qtbot, panel.delay_spin, "0.05")
    description, tasks = submit(qtbot, panel)
    assert description == "submit 20 × sleep (HIGH, thread) after 0.05 s"
    assert applied == [description]
    assert len(tasks) == 20 and panel.last_ids == [t.id for t in tasks]
    assert supervisor.stats().thread.submitted == before + 20
    assert all(t.priority == TASK_HIGH and t.tt == TT_THREAD and t.name == "sleep"
               for t in tasks)
    assert all(t.status == TASK_STATUS_DELAYED for t in tasks)  # delayed, not yet queued
    wait_done(qtbot, tasks)
    assert {t.status for t in tasks} == {TASK_STATUS_COMPLETED}
    assert {result_of(t) for t in tasks} == {0.01}
    assert all(t.time_started - t.time_queued >= 0 for t in tasks)
    assert "Submitted 20 × sleep" in panel.status_label.text()


@pytest.mark.parametrize("script, params, priority, count, expected", [
    ("cpu_burn", {"iterations": "1000"}, TASK_LOW, 5, sum(i * i for i in range(1000))),
    ("io_wait", {"seconds": "0.02", "size_kb": "64", "chunk_kb": "16"}, TASK_CRITICAL, 3,
     64 * 1024),
    ("sleep", {"seconds": "0.01"}, TASK_NORMAL, 50, 0.01),
])
def test_submit_each_plain_script_as_thread_tasks(panel, qtbot, script, params, priority,
                                                  count, expected):
    choose(panel.script_combo, script)
    for name, text in params.items():
        type_param(qtbot, panel, name, text)
    choose(panel.priority_combo, PRIORITY_NAMES[priority])
    set_spin(qtbot, panel.count_spin, str(count))
    description, tasks = submit(qtbot, panel)
    assert description == f"submit {count} × {script} ({PRIORITY_NAMES[priority]}, thread)"
    assert len(tasks) == count
    assert all(t.priority == priority and t.tt == TT_THREAD for t in tasks)
    wait_done(qtbot, tasks)
    assert [result_of(t) for t in tasks] == [expected] * count


def test_submit_cpu_burn_as_mp_tasks(panel, supervisor, qtbot):
    supervisor.create_mp_pool(processes=1)
    choose(panel.script_combo, "cpu_burn")
    type_param(qtbot, panel, "iterations", "2000")
    choose(panel.type_combo, "mp")
    set_spin(qtbot, panel.count_spin, "3")
    description, tasks = submit(qtbot, panel)
    assert description == "submit 3 × cpu_burn (NORMAL, mp)"
    assert [t.tt for t in tasks] == [TT_MP] * 3
    wait_done(qtbot, tasks, timeout=MP_WAIT_MS)
    assert [t.status for t in tasks] == [TASK_STATUS_COMPLETED] * 3
    assert [result_of(t) for t in tasks] == [sum(i * i for i in range(2000))] * 3
    assert supervisor.stats().mp.completed == 3


def test_fail_script_ends_as_a_failed_task(panel, supervisor, qtbot):
    choose(panel.script_combo, "fail")
    type_param(qtbot, panel, "message", "disk on fire")
    _, tasks = submit(qtbot, panel)
    wait_done(qtbot, tasks)
    (task,) = tasks
    assert task.status == TASK_STATUS_FAILED
    assert str(task.exception).endswith("disk on fire")  # the exception, or its record
    assert supervisor.stats().thread.failed == 1
    assert panel.error_box is None  # a failing task is the engine's news, not a UI error


def test_async_sleep_runs_as_coroutines_on_the_chosen_aloop(panel, supervisor, qtbot):
    supervisor.create_aloop("other", daemon=True)
    supervisor.create_aloop("work", default=True, daemon=True)
    choose(panel.script_combo, "async_sleep")
    assert panel.aloop_row.isVisible()
    qtbot.waitUntil(lambda: panel.aloop_combo.count() == 2, timeout=WAIT_MS)
    assert panel.aloop_combo.currentData() == "work"  # the default, preselected
    assert panel.aloop_combo.currentText() == "work (default)"
    assert not panel.create_aloop_button.isVisible()
    type_param(qtbot, panel, "seconds", "0.02")
    choose(panel.priority_combo, "LOW")
    set_spin(qtbot, panel.count_spin, "10")
    description, tasks = submit(qtbot, panel)
    assert description == "submit 10 × async_sleep (LOW, coroutine on work)"
    assert all(t.tt == TT_COROUTINE and t.priority == TASK_LOW for t in tasks)
    wait_done(qtbot, tasks)
    assert [result_of(t) for t in tasks] == [0.02] * 10


def test_without_an_aloop_the_panel_offers_to_create_one(panel, supervisor, qtbot):
    choose(panel.script_combo, "async_sleep")
    assert panel.aloop_note.isVisible() and "No aloop" in panel.aloop_note.text()
    click(qtbot, panel.submit_button)  # nothing to run it on: explained, nothing submitted
    assert "no aloop" in panel.last_error
    assert supervisor.stats().coroutine.submitted == 0
    close_error(qtbot, panel)
    click(qtbot, panel.create_aloop_button)
    assert supervisor.get_aloop().name == "console"
    assert panel.aloop_combo.currentData() == "console"
    assert not panel.aloop_note.isVisible()
    type_param(qtbot, panel, "seconds", "0.01")
    _, tasks = submit(qtbot, panel)
    wait_done(qtbot, tasks)
    assert tasks[0].status == TASK_STATUS_COMPLETED


# -- errors ---------------------------------------------------------------------------

BROKEN = {
    "syntax": ("def run(:\n    pass\n", ["has a syntax error (line 1)", "SyntaxError",
                                          "def run(:"]),
    "import": ("import no_such_module_for_tests\n\ndef run():\n    pass\n",
               ["failed to import", "ModuleNotFoundError", "Traceback",
                "import no_such_module_for_tests"]),
    "no_run": ('"""Nothing to run."""\nPARAMS = {}\n', ["has no entry point"]),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_script_shows_its_traceback_and_the_console_keeps_working(
        panel, qtbot, tmp_path, kind):
    source, expected = BROKEN[kind]
    path = write(tmp_path, f"broken_{kind}.py", source)
    errors = []
    panel.error_shown.connect(errors.append)
    assert panel.load_script(path) is False
    assert errors == [panel.last_error]
    assert path.name in panel.last_error and str(path) in panel.last_error
    for text in expected:
        assert text in panel.last_error
    box = panel.error_box
    assert box.isVisible() and box.windowModality() != Qt.ApplicationModal  # open(), no exec()
    assert path.name in box.text() and str(path) in box.detailedText()
    assert panel.status_label.isVisible() and path.name in panel.status_label.text()
    assert panel.script_combo.currentText() == "sleep"  # the choice did not change
    close_error(qtbot, panel)
    type_param(qtbot, panel, "seconds", "0.01")
    _, tasks = submit(qtbot, panel)
    wait_done(qtbot, tasks)
    assert tasks[0].status == TASK_STATUS_COMPLETED


def test_open_button_loads_a_script_chosen_in_the_file_dialog(panel, qtbot, tmp_path):
    path = write(tmp_path, "hello.py", '''
        """Say hello to someone."""
        PARAMS = {"who": "world", "times": 1}

        def run(who, times):
            return ", ".join(["hello " + who] * times)
    ''')
    click(qtbot, panel.open_script_button)
    dialog = panel.findChild(QFileDialog)
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    dialog.fileSelected.emit(str(path))  # what choosing the file and Open do
    dialog.reject()
    assert panel.script_combo.currentText() == "hello.py (opened)"
    assert panel.description_label.text() == "Say hello to someone."
    type_param(qtbot, panel, "who", "ops")
    type_param(qtbot, panel, "times", "2")
    _, tasks = submit(qtbot, panel)
    wait_done(qtbot, tasks)
    assert result_of(tasks[0]) == "hello ops, hello ops" and tasks[0].name == "hello"


def test_bad_parameter_value_shows_the_message_and_submits_nothing(panel, supervisor, qtbot):
    choose(panel.script_combo, "cpu_burn")
    type_param(qtbot, panel, "iterations", "lots")
    assert "border" in panel.param_edits["iterations"].styleSheet()  # marked as you type
    set_spin(qtbot, panel.count_spin, "10")
    submitted = []
    panel.submitted.connect(lambda *args: submitted.append(args))
    click(qtbot, panel.submit_button)
    assert submitted == [] and panel.last_ids == []
    assert supervisor.stats().thread.submitted == 0
    assert "'iterations'" in panel.last_error and "'lots'" in panel.last_error
    assert panel.error_box.isVisible() and "'lots'" in panel.error_box.text()
    close_error(qtbot, panel)
    type_param(qtbot, panel, "iterations", "10")
    assert panel.param_edits["iterations"].styleSheet() == ""
    _, tasks = submit(qtbot, panel)
    assert len(tasks) == 10


def test_engine_refusal_is_reported_in_the_panel(panel, supervisor, bridge, qtbot):
    supervisor.stop(wait=1)
    with qtbot.waitSignal(bridge.error_raised, timeout=WAIT_MS):
        click(qtbot, panel.submit_button)
    assert panel.last_ids == []
    assert "refused" in panel.status_label.text() and "not active" in panel.last_error
    assert panel.submit_button.isEnabled()


# -- scenarios --------------------------------------------------------------------------

TINY = '''
    """Tiny: one short task every 20 ms."""
    from runner.workloads import work

    DEFAULT_DURATION = 30.0


    async def run(ctx):
        while ctx.running:
            ctx.submit(work, 0.001, name="tiny")
            await ctx.sleep(0.02)
'''


def test_scenario_shows_progress_and_can_be_stopped(spanel, qloop, qtbot, tmp_path):
    assert spanel.load_scenario(write(tmp_path, "tiny.py", TINY))
    assert spanel.scenario_combo.currentText() == "tiny.py (opened)"
    assert spanel.scenario_description.text() == "Tiny: one short task every 20 ms."
    assert spanel.duration_spin.value() == 30.0
    states = []
    spanel.scenario_state_changed.connect(states.append)
    click(qtbot, spanel.start_button)
    assert spanel.scenario_state == "running" and not spanel.start_button.isEnabled()
    run_until(qloop, lambda: spanel.run.tasks_submitted >= 5
              and spanel.progress_bar.value() > 0)
    assert "running" in spanel.scenario_label.text()
    assert "tasks submitted" in spanel.scenario_label.text()
    assert spanel.progress_bar.format().endswith("/ 30 s")
    click(qtbot, spanel.stop_button)
    run_until(qloop, lambda: not spanel.scenario_running())
    assert states == ["running", "stopping", "stopped"]
    assert "stopped" in spanel.scenario_label.text()
    assert 0 < spanel.progress_bar.value() < 1000
    assert spanel.start_button.isEnabled() and not spanel.stop_button.isEnabled()
    wait_done(qtbot, spanel.run.context.tasks)  # those still unfinished
    assert f"{spanel.run.tasks_submitted} tasks submitted" in spanel.scenario_label.text()
    assert spanel.error_box is None


def test_builtin_scenario_runs_to_its_duration(spanel, qloop, qtbot):
    choose(spanel.scenario_combo, "burst")
    set_spin(qtbot, spanel.duration_spin, "0.3")  # before its first flood at 1 s
    assert spanel.start_scenario()
    run_until(qloop, lambda: spanel.scenario_state == "finished")
    assert spanel.progress_bar.value() == 1000
    assert "burst: finished" in spanel.scenario_label.text()
    wait_done(qtbot, spanel.run.context.tasks)


def test_a_scenario_that_raises_shows_the_error(dock, spanel, panel, qloop, qtbot, tmp_path):
    path = write(tmp_path, "explodes.py", '''
        """Explodes after a moment."""

        async def run(ctx):
            await ctx.sleep(0.05)
            raise ValueError("scenario exploded")
    ''')
    assert spanel.load_scenario(path)
    click(qtbot, spanel.start_button)
    run_until(qloop, lambda: spanel.scenario_state == "failed")
    assert "ValueError: scenario exploded" in spanel.last_error
    assert str(path) in spanel.last_error and 'raise ValueError("scenario exploded")' \
        in spanel.last_error
    assert spanel.error_box.isVisible() and "scenario exploded" in spanel.error_box.text()
    assert "failed" in spanel.scenario_label.text()
    assert spanel.start_button.isEnabled()
    close_error(qtbot, spanel)
    assert dock.current_panel() is spanel  # how it failed is in front
    dock.show_tab(panel)
    type_param(qtbot, panel, "seconds", "0.01")
    _, tasks = submit(qtbot, panel)  # the console keeps working
    wait_done(qtbot, tasks)


def test_a_broken_scenario_file_shows_its_traceback(spanel, tmp_path):
    path = write(tmp_path, "typo.py", "async def run(ctx)\n    pass\n")
    assert spanel.load_scenario(path) is False
    assert "SyntaxError" in spanel.last_error and str(path) in spanel.last_error
    assert spanel.error_box.isVisible()
    path = write(tmp_path, "sync.py", "def run(ctx):\n    pass\n")
    assert spanel.load_scenario(path) is False
    assert "must define 'async def run(ctx)'" in spanel.last_error
    assert spanel.scenario_combo.currentText() == builtin_scenarios()[0]


def test_a_large_batch_is_submitted_without_freezing_the_console(panel, supervisor, qloop,
                                                                  qtbot):
    supervisor.set_thread_pool(pool_size=0)
    type_param(qtbot, panel, "seconds", "0")
    set_spin(qtbot, panel.count_spin, str(BACKGROUND_BATCH * 2))
    submitted = []
    panel.submitted.connect(lambda description, ids: submitted.append(ids))
    ticks = []

    async def operate():
        assert panel.submit()  # returns at once; the batch goes in from a worker thread
        assert not panel.submit_button.isEnabled()
        while not submitted:
            ticks.append(1)  # the loop keeps turning while the batch is submitted
            await asyncio.sleep(0.005)

    run(qloop, operate(), timeout=60)
    ids = submitted[0]
    assert len(ids) == BACKGROUND_BATCH * 2 and panel.last_ids == ids
    assert ticks and panel.submit_button.isEnabled()
    assert "Submitted" in panel.status_label.text()
    qtbot.waitUntil(lambda: supervisor.stats().thread.completed >= len(ids), timeout=30_000)
    assert supervisor.live_tasks(ids) == {}


def test_the_dock_offers_methods_not_widgets(dock, supervisor, qloop, qtbot):
    assert dock.set_duration(2.5) and dock.duration() == 2.5
    assert not dock.set_duration(float("nan")) and "duration" in dock.last_error
    close_error(qtbot, dock)
    assert dock.duration() == 2.5
    before = supervisor.stats().thread.submitted
    assert dock.submit()
    qtbot.waitUntil(lambda: supervisor.stats().thread.submitted == before + 1, timeout=WAIT_MS)
    assert dock.start_scenario() and dock.scenario_running()
    assert dock.scenario_state == "running"
    ending = dock.end_scenario_now()
    run(qloop, ending)
    assert not dock.scenario_running() and dock.scenario_state == "canceled"
    assert dock.end_scenario_now() is None
