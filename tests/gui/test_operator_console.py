"""The console as an operator sees it at 1440×900: the Submit dock's two tabs,
one live indicator, a readable error box, transient messages, refusals that
read as refusals, the workers hint, the graphs CSV's time columns and a wait
cell that counts up."""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from guikit import until
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QScrollArea

from engine import TASK_LOW, background_worker
from gui.widgets import graphs as graphs_module
from gui.widgets import task_table as task_table_module
from gui.widgets.error_dialog import ErrorDialog
from gui.widgets.task_table import COL_WAIT, TaskTablePanel
from gui.widgets.workers import WorkersPanel

WAIT_MS = 5000
ROOT = Path(__file__).resolve().parents[2]


def run_until(loop, predicate, timeout: float = 5.0) -> None:
    """Drive the asyncio (Qt) loop until ``predicate()`` holds (scenarios are coroutines)."""
    async def poll():
        await until(predicate, timeout)
    loop.run_until_complete(poll())


def in_view(widget) -> bool:
    """Whether some of ``widget`` is on screen (not scrolled away, not in a hidden tab)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


@pytest.fixture
def screen(window, qtbot):
    """The main window at 1440×900, as an operator's laptop shows it."""
    window.resize(1440, 900)
    qtbot.waitUntil(lambda: window.width() == 1440 and window.height() == 900, timeout=WAIT_MS)
    return window


def click_tab(qtbot, tabs, title: str) -> None:
    bar = tabs.tabBar()
    index = next(i for i in range(bar.count()) if bar.tabText(i) == title)
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(index).center())
    qtbot.waitUntil(lambda: tabs.currentIndex() == index, timeout=WAIT_MS)


# -- 1. the Submit dock ----------------------------------------------------------------
def test_the_scenarios_are_one_click_away_not_below_the_fold(screen, qtbot):
    dock = screen.submit_panel
    click_tab(qtbot, dock.tabs, "Scenarios")
    scenarios = dock.scenarios
    for widget in (scenarios.scenario_combo, scenarios.start_button, scenarios.progress_bar):
        qtbot.waitUntil(lambda w=widget: in_view(w), timeout=WAIT_MS)
    click_tab(qtbot, dock.tabs, "Tasks")
    assert in_view(dock.tasks.submit_button) and not in_view(scenarios.start_button)


def test_start_keeps_the_progress_in_view(screen, qtbot, qloop):
    dock = screen.submit_panel
    scenarios = dock.scenarios
    click_tab(qtbot, dock.tabs, "Scenarios")
    # A short (floating) dock: the scenario form must scroll to reach Start.
    submit_dock = screen.docks["Submit"]
    submit_dock.setFloating(True)
    submit_dock.resize(450, 170)
    area = next(a for a in dock.findChildren(QScrollArea) if a.widget() is scenarios)
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0, timeout=WAIT_MS)
    area.ensureWidgetVisible(scenarios.progress_bar)
    qtbot.waitUntil(lambda: in_view(scenarios.start_button), timeout=WAIT_MS)
    scroll = area.verticalScrollBar().value()
    assert scroll > 0
    qtbot.mouseClick(scenarios.start_button, Qt.LeftButton)
    assert scenarios.scenario_running()
    run_until(qloop, lambda: scenarios.progress_bar.value() > 0)
    assert area.verticalScrollBar().value() == scroll  # nothing scrolled the progress away
    assert in_view(scenarios.progress_bar) and scenarios.stop_button.hasFocus()
    qloop.run_until_complete(scenarios.end_now())


def test_the_submitted_confirmation_is_where_the_operator_looks(screen, qtbot):
    tasks = screen.submit_panel.tasks
    assert in_view(tasks.submit_button)
    with qtbot.waitSignal(tasks.submitted, timeout=WAIT_MS):
        qtbot.mouseClick(tasks.submit_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "Submitted" in tasks.status_label.text(), timeout=WAIT_MS)
    assert in_view(tasks.status_label)  # under the button that was pressed
    # ... and in the status bar, for a Submit pressed in the toolbar
    assert screen.statusBar().currentMessage().startswith("Submitted 1 × sleep")


def test_the_toolbar_submit_confirms_in_the_status_bar_from_the_scenarios_tab(screen, qtbot):
    dock = screen.submit_panel
    click_tab(qtbot, dock.tabs, "Scenarios")
    with qtbot.waitSignal(dock.tasks.submitted, timeout=WAIT_MS):
        screen.submit_action.trigger()
    assert "Submitted 1 × sleep" in screen.statusBar().currentMessage()
    qtbot.waitUntil(lambda: in_view(dock.tasks.status_label), timeout=WAIT_MS)


def test_a_scenario_load_error_shows_in_the_scenario_tab(screen, qtbot, tmp_path):
    dock = screen.submit_panel
    broken = tmp_path / "broken.py"
    broken.write_text("this is not python\n", encoding="utf-8")
    assert not dock.load_scenario(broken)
    scenarios, tasks = dock.scenarios, dock.tasks
    qtbot.waitUntil(lambda: in_view(scenarios.status_label), timeout=WAIT_MS)
    assert "broken.py" in scenarios.status_label.text()
    assert not tasks.status_label.text() and not in_view(tasks.status_label)
    assert dock.current_panel() is scenarios


def test_an_unknown_scenario_from_the_command_line_is_said_in_the_scenario_tab(
        console, qtbot):
    assert console.start_scenario("no-such-scenario") is False
    scenarios = console.window.submit_panel.scenarios
    assert "no-such-scenario" in scenarios.status_label.text()
    assert scenarios.status_label.isVisibleTo(console.window)
    assert console.window.submit_panel.current_panel() is scenarios


def test_choosing_another_scenario_clears_the_last_ones_progress(screen, qtbot, qloop):
    scenarios = screen.submit_panel.scenarios
    combo = scenarios.scenario_combo
    combo.setCurrentIndex(combo.findText("burst"))
    scenarios.set_duration(0.3)
    assert scenarios.start_scenario()
    run_until(qloop, lambda: scenarios.scenario_state == "finished")
    assert scenarios.progress_bar.value() == 1000 and "burst" in scenarios.scenario_label.text()
    combo.setCurrentIndex(combo.findText("mixed"))
    assert scenarios.progress_bar.value() == 0 and scenarios.progress_bar.format() == "idle"
    assert "burst" not in scenarios.scenario_label.text()


# -- 2. one live indicator ---------------------------------------------------------------
def _live_texts(panel) -> list[str]:
    widgets = panel.findChildren(QLabel) + panel.findChildren(QPushButton)
    return [w.text() for w in widgets if w.isVisible() and "live" in w.text().lower()]


def test_live_is_said_once(window, qtbot):
    graphs = window.graphs
    qtbot.waitUntil(lambda: graphs.redraw_count >= 1, timeout=WAIT_MS)
    assert graphs.following
    assert len(_live_texts(graphs)) == 1
    assert graphs.live_button.isEnabled() and graphs.live_button.isChecked()
    qtbot.mouseClick(graphs.live_button, Qt.LeftButton)  # pressing it while live: still live
    assert graphs.following and graphs.live_button.isChecked()
    graphs.set_paused(True)
    assert not graphs.live_button.isChecked() and graphs.live_button.text() == "Go live"
    qtbot.mouseClick(graphs.live_button, Qt.LeftButton)
    assert graphs.following and not graphs.paused and len(_live_texts(graphs)) == 1


# -- 3. the error box ---------------------------------------------------------------------
def test_the_error_box_is_wide_enough_for_its_title_and_wraps(window, qtbot):
    errors = ErrorDialog(window)
    title = "Unexpected error"
    box = errors.show(title, "ZeroDivisionError: division by zero", "Traceback …")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    title_width = box.fontMetrics().horizontalAdvance(title)
    assert box.width() >= 400 and box.width() >= title_width + 150
    long_title = "Scenario a-scenario-with-a-rather-long-file-name.py failed"
    errors.show(long_title, "word " * 200)
    qtbot.waitUntil(lambda: box.width() >= box.fontMetrics().horizontalAdvance(long_title)
                    + 150, timeout=WAIT_MS)
    label = box.findChild(QLabel, "qt_msgbox_label")
    assert label.wordWrap() and box.width() < 1000  # long text wraps, not widens
    qtbot.mouseClick(box.button(QMessageBox.Ok), Qt.LeftButton)


# -- 4. transient messages ----------------------------------------------------------------
def test_the_graphs_exported_message_goes_away(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(graphs_module, "MESSAGE_MS", 300, raising=False)
    graphs = window.graphs
    path = tmp_path / "graphs.csv"
    graphs._export("csv", str(path))
    assert path.exists() and f"Exported {path.name}" in graphs.status_label.text()
    assert str(path) in graphs.status_label.toolTip()  # the whole path
    qtbot.waitUntil(lambda: "Exported" not in graphs.status_label.text(), timeout=3000)
    assert graphs.following


def test_the_task_tables_exported_message_goes_away(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(task_table_module, "MESSAGE_MS", 300, raising=False)
    table = window.task_table
    table.export_csv(str(tmp_path / "tasks.csv"))
    assert "Exported" in table.message_label.text()
    qtbot.waitUntil(lambda: not table.message_label.text(), timeout=3000)


# -- 5. a refusal reads as a refusal ---------------------------------------------------
def test_a_refused_pool_change_reads_as_a_refusal(window, supervisor, qtbot, caplog):
    controls = window.thread_controls
    before = supervisor.stats().thread
    controls.fields["min_size"].setValue(8)
    controls.fields["max_size"].setValue(4)  # below min_size: the engine refuses
    with caplog.at_level(logging.INFO, logger="gui"):
        assert not controls.apply()
    said = window.statusBar().currentMessage()
    assert said.startswith("Refused: thread pool: set ")
    assert "min_size 8" in said and "max_size 4" in said and "ValueError" in said
    assert "→" not in said
    logged = [r.getMessage() for r in caplog.records if "max_size 4" in r.getMessage()]
    assert logged and all(m.startswith("Refused: ") and "→" not in m for m in logged)
    assert not [m for m in window.graphs.markers() if "max_size" in m[1]]  # no marker
    after = supervisor.stats().thread
    assert (after.min_size, after.max_size) == (before.min_size, before.max_size)
    assert controls.error_label.text().startswith("Refused: ")


# -- 6. the workers hint ------------------------------------------------------------------
def test_the_workers_tab_explains_itself_while_empty(supervisor, bridge, qtbot, qloop):
    panel = WorkersPanel(bridge)
    qtbot.addWidget(panel)
    panel.resize(800, 250)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.empty_hint.isVisible() and not panel.table.isVisible()
    hint = panel.empty_hint.text()
    assert "worker" in hint.lower() and "appear here" in hint

    @background_worker(interval=0.05, name="hinted", supervisor=supervisor)
    def hinted(**_):
        pass

    async def scenario():
        hinted.start()
        await until(lambda: panel.table.isVisible() and panel.table.rowCount() == 1)
        assert not panel.empty_hint.isVisible()
        hinted.stop(wait=False)

    qloop.run_until_complete(scenario())


# -- 7. the graphs CSV's time -----------------------------------------------------------
def test_the_graphs_csv_says_when_each_row_was(window, qtbot, tmp_path):
    graphs = window.graphs
    qtbot.waitUntil(lambda: graphs.sample_count >= 5, timeout=WAIT_MS)
    path = tmp_path / "graphs.csv"
    graphs.export_csv(str(path))
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames[:2] == ["timestamp", "seconds_since_start"]
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in rows]
    seconds = [float(r["seconds_since_start"]) for r in rows]
    assert all(s.tzinfo is not None and s.utcoffset() is not None for s in stamps)
    assert abs((stamps[-1] - datetime.now().astimezone()).total_seconds()) < 60  # date too
    assert seconds[0] >= 0 and seconds == sorted(seconds)
    for stamp, second in zip(stamps, seconds, strict=True):  # the two columns agree
        assert (stamp - stamps[0]).total_seconds() == pytest.approx(second - seconds[0],
                                                                    abs=0.002)


# -- 8. a live wait cell -------------------------------------------------------------------
def gated(event: threading.Event) -> None:
    event.wait(20)


def test_the_wait_cell_of_a_waiting_task_counts_up(supervisor, bridge, qtbot):
    gate = threading.Event()
    try:
        supervisor.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
        blocker = supervisor.submit(gated, gate)
        qtbot.waitUntil(blocker.is_started, timeout=WAIT_MS)
        waiting = supervisor.submit(gated, gate, priority=TASK_LOW)
        panel = TaskTablePanel(bridge)
        qtbot.addWidget(panel)
        panel.resize(1200, 400)
        panel.show()
        qtbot.waitExposed(panel)

        def wait_text() -> str:
            row = panel._model.row_of(waiting.id)
            return "" if row is None else panel._model.index(row, COL_WAIT).data()

        qtbot.waitUntil(lambda: wait_text() != "", timeout=WAIT_MS)
        first = wait_text()
        assert first.endswith("…")  # still counting
        qtbot.waitUntil(lambda: wait_text() != first, timeout=WAIT_MS)  # it moved on
        rect = panel.view.visualRect(panel.view.model().index(0, COL_WAIT))
        assert panel.view.viewport().rect().contains(rect.center() + QPoint(0, 0))
        gate.set()
        qtbot.waitUntil(lambda: waiting.is_completed(), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: not wait_text().endswith("…"), timeout=WAIT_MS)
    finally:
        gate.set()


# -- 9. --size ---------------------------------------------------------------------------
def test_size_sets_the_window_and_the_screenshot(tmp_path):
    shot = tmp_path / "shot.png"
    settings = tmp_path / "s.ini"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "main.py", "--duration", "1", "--screenshot", str(shot),
               "--settings", str(settings)]
    proc = subprocess.run([*command, "--size", "1600x1000"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1600, 1000)
    proc = subprocess.run([*command, "--size", "1600by1000"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "'1600by1000'" in proc.stderr and "--size" in proc.stderr


# -- 10. what looking at it showed -----------------------------------------------------
def test_an_idle_count_graph_has_whole_ticks(window, qtbot):
    graphs = window.graphs
    qtbot.waitUntil(lambda: graphs.redraw_count >= 2, timeout=WAIT_MS)
    for key in ("thread_queued", "rates"):  # nothing queued, nothing finished
        top = graphs.plots()[key].vb.viewRange()[1][1]
        assert top >= 5, key  # 0..5: ticks 0, 1, 2, ... never "0.2 tasks"


def test_live_reads_green_in_either_theme(window, qtbot):
    graphs = window.graphs
    for theme in ("dark", "light"):
        window.set_theme(theme)
        text = graphs.live_button.palette().color(graphs.live_button.foregroundRole())
        assert text.name() == graphs_module.LIVE_COLOR
    graphs.set_paused(True)
    text = graphs.live_button.palette().color(graphs.live_button.foregroundRole())
    assert text.name() != graphs_module.LIVE_COLOR


def test_a_marker_flag_near_the_left_edge_goes_right_of_its_line(window, qtbot):
    graphs = window.graphs
    qtbot.waitUntil(lambda: graphs.redraw_count >= 2, timeout=WAIT_MS)
    window.bridge.announce("resize the pool")  # a marker now, at the right edge
    qtbot.waitUntil(lambda: graphs._markers.flag_sides() != [], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: graphs._markers.flag_sides()[-1]["thread"] == "left",
                    timeout=WAIT_MS)
    when = graphs.markers()[-1][0] + graphs.recorder.clock_offset
    graphs.set_paused(True)  # the view stays where the operator puts it
    vb = graphs.plots()["thread"].vb
    vb.setXRange(when - 0.5, when + 59.5, padding=0)  # the line 0.5 s from the left edge
    graphs._redraw()
    assert graphs._markers.flag_sides()[-1] == {"thread": "right", "mp": "right"}
    vb.setXRange(when - 30, when + 30, padding=0)
    graphs._redraw()
    assert graphs._markers.flag_sides()[-1]["thread"] == "left"


def test_the_graphs_status_is_never_clipped_at_1440(screen, qtbot, tmp_path):
    graphs = screen.graphs
    label = graphs.status_label

    def fits() -> bool:
        return label.width() >= label.fontMetrics().horizontalAdvance(label.text())

    graphs.set_paused(True)
    qtbot.waitUntil(lambda: label.text() and fits(), timeout=WAIT_MS)
    assert "scroll back" in label.toolTip()
    deep = tmp_path / ("a-rather-long-directory-name-" * 3)
    deep.mkdir()
    graphs._export("csv", str(deep / "graphs-20261203-143000.csv"))
    qtbot.waitUntil(lambda: "Exported" in label.text() and fits(), timeout=WAIT_MS)
    graphs.set_paused(False)
