"""The graphs panel records what the engine reports, draws it, and its controls work.

A real supervisor runs on the Qt loop (see conftest); tasks are held running
by ``threading.Event`` gates, released before the fixtures stop the supervisor.
"""

from __future__ import annotations

import csv
import math
import threading
import time

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from engine import PRIORITIES, PRIORITY_NAMES, TASK_HIGH, TASK_LOW
from gui.series import CAPACITY, RAW_COLUMNS, SeriesRing, decimate, drop_flat_points, nice_ceiling
from gui.widgets.graphs import GraphsPanel

WAIT = 3000  # ms: generous bound for anything the 20 Hz bridge should show at once


@pytest.fixture
def panel(bridge, qtbot):
    widget = GraphsPanel(bridge)
    qtbot.addWidget(widget)
    widget.resize(1200, 560)
    return widget


@pytest.fixture
def shown(panel, qtbot):
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture
def gate():
    """Holds gated tasks running; opened at teardown, before the supervisor stops."""
    event = threading.Event()
    yield event
    event.set()


def latest(panel: GraphsPanel, name: str) -> float:
    values = panel.series()[name]
    return values[-1] if len(values) else math.nan


def curve(panel: GraphsPanel, plot: str, column: str) -> pg.PlotCurveItem:
    return next(item for item in panel.plots()[plot].items
                if isinstance(item, pg.PlotCurveItem) and item.name() == column)


def markers_on(panel: GraphsPanel, plot: str) -> list[pg.InfiniteLine]:
    return [item for item in panel.plots()[plot].items if isinstance(item, pg.InfiniteLine)]


def choose(qtbot, combo, text: str) -> None:
    """Select ``text`` in ``combo`` with the keyboard, as an operator would."""
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentText() == text:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    raise AssertionError(f"{text!r} is not offered by the combo box")


def hold(supervisor, gate, priority: int, count: int) -> list:
    return [supervisor.submit(gate.wait, 10, _priority=priority) for _ in range(count)]


# -- recording ------------------------------------------------------------------
def test_one_sample_is_recorded_per_stats_update(bridge, panel, qtbot):
    seen = []
    bridge.stats_updated.connect(seen.append)
    before = panel.sample_count
    qtbot.waitUntil(lambda: len(seen) >= 5, timeout=WAIT)
    assert panel.sample_count - before == len(seen)
    data = panel.series()
    assert set(data) == set(RAW_COLUMNS)
    assert np.all(np.diff(data["time"]) > 0)
    assert data["time"][-1] == seen[-1].time
    assert data["thread_pool_size"][-1] == 4
    assert data["thread_reserve_normal"][-1] == 2
    assert data["thread_reserve_high"][-1] == 2
    assert data["thread_max_size"][-1] == seen[-1].thread.max_size


def test_running_and_queued_series_follow_the_engine_per_priority(supervisor, panel, qtbot,
                                                                   gate):
    high = hold(supervisor, gate, TASK_HIGH, 4)  # fills pool_size 4
    low = hold(supervisor, gate, TASK_LOW, 3)  # LOW may not use the reserves: queued
    qtbot.waitUntil(lambda: latest(panel, "thread_running_HIGH") == 4
                    and latest(panel, "thread_queued_LOW") == 3, timeout=WAIT)
    data = panel.series()
    assert data["thread_running_LOW"][-1] == 0
    assert data["thread_queued_HIGH"][-1] == 0
    for p in PRIORITIES:
        assert data[f"mp_running_{PRIORITY_NAMES[p]}"][-1] == 0

    gate.set()
    qtbot.waitUntil(lambda: all(t.is_completed() for t in high + low), timeout=WAIT)
    qtbot.waitUntil(lambda: latest(panel, "thread_completed") == 7, timeout=WAIT)
    assert latest(panel, "thread_running_HIGH") == 0
    assert latest(panel, "thread_queued_LOW") == 0


def test_stacked_areas_add_up_the_running_tasks(supervisor, shown, qtbot, gate):
    hold(supervisor, gate, TASK_HIGH, 2)
    hold(supervisor, gate, TASK_LOW, 1)
    qtbot.waitUntil(lambda: latest(shown, "thread_running_LOW") == 1
                    and latest(shown, "thread_running_HIGH") == 2, timeout=WAIT)
    qtbot.waitUntil(lambda: curve(shown, "thread", "thread_stack_LOW").isVisible(), timeout=WAIT)
    assert curve(shown, "thread", "thread_stack_HIGH").getData()[1][-1] == 2
    assert curve(shown, "thread", "thread_stack_LOW").getData()[1][-1] == 3  # on top of all
    # An area with no task in view would be exactly covered: it is not drawn at all.
    assert not curve(shown, "thread", "thread_stack_CRITICAL").isVisible()
    assert not curve(shown, "thread", "thread_stack_NORMAL").isVisible()


def test_rates_and_waits_are_recorded(supervisor, bridge, panel, qtbot):
    tasks = [supervisor.submit(lambda: None) for _ in range(20)]
    tasks.append(supervisor.submit(lambda: 1 / 0))
    qtbot.waitUntil(lambda: all(t.is_completed() for t in tasks), timeout=WAIT)
    qtbot.waitUntil(lambda: latest(panel, "thread_completed") == 20
                    and latest(panel, "thread_failed") == 1, timeout=WAIT)
    data = panel.series()
    assert data["started_per_s"].max() > 0
    assert data["completed_per_s"].max() > 0
    assert data["failed_per_s"].max() > 0
    assert np.all(data["completed_per_s"] >= 0)
    assert data["wait_p95_ms"][-1] == pytest.approx(bridge.last_stats.wait_p95 * 1000)
    assert data["wait_p50_ms"][-1] == pytest.approx(bridge.last_stats.wait_p50 * 1000)


# -- limits and markers ---------------------------------------------------------
def test_resizing_the_pool_moves_the_limit_lines_and_marks_the_action(supervisor, bridge,
                                                                      shown, qtbot):
    qtbot.waitUntil(lambda: shown.sample_count >= 2, timeout=WAIT)
    ok, _ = bridge.act("thread pool_size 4 → 9", lambda c: c.set_thread_pool(pool_size=9))
    assert ok
    data = shown.series()
    assert data["thread_pool_size"][0] == 4
    assert data["thread_pool_size"][-1] == 9

    [(when, description)] = shown.markers()
    assert description == "thread pool_size 4 → 9"
    assert data["time"][-2] <= when <= data["time"][-1]
    for plot in shown.plots():
        assert len(markers_on(shown, plot)) == 1
    assert markers_on(shown, "thread")[0].toolTip() == "thread pool_size 4 → 9"

    # The lines step up at once; the right axis names their current values.
    for limit, value in (("pool_size", 9), ("reserve_normal", 11), ("reserve_high", 13)):
        ys = curve(shown, "thread", f"thread_line_{limit}").getData()[1]
        assert ys[0] < value and ys[-1] == value
    assert shown.limit_labels("thread") == ["pool 9", "normal 11", "high = max 13"]
    assert shown.plots()["thread"].vb.viewRange()[1][1] > 13  # the top line is in view


def test_unlimited_pool_hides_the_pool_and_reserve_lines(supervisor, bridge, shown, qtbot):
    qtbot.waitUntil(lambda: shown.sample_count >= 2, timeout=WAIT)
    bridge.act("thread pool_size → unlimited", lambda c: c.set_thread_pool(pool_size=0))
    max_size = latest(shown, "thread_max_size")
    for limit in ("pool_size", "reserve_normal", "reserve_high"):
        assert math.isnan(curve(shown, "thread", f"thread_line_{limit}").getData()[1][-1])
    assert curve(shown, "thread", "thread_line_max_size").getData()[1][-1] == max_size
    assert shown.limit_labels("thread") == [f"max {max_size:g}"]


def test_legend_and_titles_name_what_is_drawn(shown):
    legend = shown.legend_label.text()
    for p in PRIORITIES:
        assert PRIORITY_NAMES[p] in legend
    for name in ("queued", "pool_size", "reserve_normal", "reserve_high", "max_size"):
        assert name in legend
    titles = {key: plot.titleLabel.text for key, plot in shown.plots().items()}
    assert titles["thread"] == "Thread pool \u2014 running"
    assert titles["thread_queued"] == "Thread pool \u2014 queued"
    assert titles["mp"] == "Process pool \u2014 running"
    assert titles["mp_queued"] == "Process pool \u2014 queued"
    for name in ("started", "completed", "failed", "p50", "p95"):
        assert name in titles["rates"] + titles["waits"]


# -- export ------------------------------------------------------------------------
def test_export_csv_writes_the_raw_series(supervisor, bridge, panel, qtbot, gate, tmp_path):
    hold(supervisor, gate, TASK_HIGH, 4)
    hold(supervisor, gate, TASK_LOW, 2)
    qtbot.waitUntil(lambda: latest(panel, "thread_running_HIGH") == 4
                    and latest(panel, "thread_queued_LOW") == 2, timeout=WAIT)
    bridge.act("thread reserve_high 2 → 3", lambda c: c.set_thread_pool(reserve_high=3))
    path = tmp_path / "graphs.csv"
    panel.export_csv(str(path))
    series = panel.series()

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    header = reader.fieldnames
    assert header[:2] == ["timestamp", "seconds_since_start"] and header[-1] == "action"
    for pool in ("thread", "mp"):
        for p in PRIORITIES:
            assert f"{pool}_running_{PRIORITY_NAMES[p]}" in header
            assert f"{pool}_queued_{PRIORITY_NAMES[p]}" in header
        for limit in ("pool_size", "reserve_normal", "reserve_high", "max_size"):
            assert f"{pool}_{limit}" in header
    for name in ("started_per_s", "completed_per_s", "failed_per_s", "wait_p50_ms",
                 "wait_p95_ms"):
        assert name in header

    assert len(rows) == len(series["time"])
    start = panel.recorder.start_time
    assert [float(r["seconds_since_start"]) for r in rows] == pytest.approx(
        list(series["time"] - start), abs=1e-3)
    last = rows[-1]
    # Raw counts per priority, not the stacked sums that are drawn (LOW's would be 4).
    assert (last["thread_running_HIGH"], last["thread_running_LOW"]) == ("4", "0")
    assert (last["thread_queued_HIGH"], last["thread_queued_LOW"]) == ("0", "2")
    assert last["thread_reserve_high"] == "3"
    assert last["action"] == "thread reserve_high 2 → 3"
    assert [r["action"] for r in rows].count("") == len(rows) - 1
    assert float(last["wait_p95_ms"]) == pytest.approx(series["wait_p95_ms"][-1], abs=1e-3)


@pytest.mark.parametrize("visible", [False, True])
def test_export_png_writes_an_image(panel, qtbot, tmp_path, visible):
    if visible:
        panel.show()
        qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.sample_count >= 2, timeout=WAIT)
    path = tmp_path / "graphs.png"
    panel.export_png(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert not image.isNull() and image.width() > 400 and image.height() > 200


# -- controls ------------------------------------------------------------------------
def test_pause_freezes_the_graphs_while_recording_goes_on(shown, qtbot):
    qtbot.waitUntil(lambda: shown.redraw_count >= 2, timeout=WAIT)
    assert "recorded" in shown.pause_button.toolTip()
    with qtbot.waitSignal(shown.paused_changed, timeout=WAIT) as blocker:
        qtbot.mouseClick(shown.pause_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [True]
    assert shown.paused and not shown.following and not shown.live_button.isChecked()
    redraws, samples = shown.redraw_count, shown.sample_count
    qtbot.waitUntil(lambda: shown.sample_count >= samples + 5, timeout=WAIT)
    assert shown.redraw_count == redraws

    qtbot.mouseClick(shown.pause_button, Qt.MouseButton.LeftButton)
    assert not shown.paused and shown.following
    qtbot.waitUntil(lambda: shown.redraw_count > redraws, timeout=WAIT)
    shown.set_paused(True)
    assert shown.pause_button.isChecked()
    shown.set_paused(False)
    assert not shown.pause_button.isChecked()


def test_scrolling_back_stops_following_and_live_jumps_back(shown, qtbot):
    qtbot.waitUntil(lambda: shown.redraw_count >= 2, timeout=WAIT)
    view = shown.findChild(pg.GraphicsLayoutWidget)
    vb = shown.plots()["rates"].vb
    centre = view.mapFromScene(vb.mapRectToScene(vb.boundingRect()).center())
    wheel = QWheelEvent(QPointF(centre), QPointF(view.viewport().mapToGlobal(centre)),
                        QPoint(0, 0), QPoint(0, -240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)  # the operator zooms out
    assert not shown.following
    assert not shown.live_button.isChecked() and shown.live_button.text() == "Go live"
    lo, hi = shown.plots()["thread"].vb.viewRange()[0]
    assert hi - lo > 61  # zoomed out, and the view stays there
    samples = shown.sample_count
    qtbot.waitUntil(lambda: shown.sample_count >= samples + 3, timeout=WAIT)
    assert shown.plots()["thread"].vb.viewRange()[0] == pytest.approx([lo, hi])

    qtbot.mouseClick(shown.live_button, Qt.MouseButton.LeftButton)
    assert shown.following and shown.live_button.isChecked()
    lo, hi = shown.plots()["thread"].vb.viewRange()[0]
    assert hi - lo == pytest.approx(60)
    assert abs(hi - time.time()) < 5  # ends at the newest data (clock time)


def test_time_window_combo_sets_the_span_in_view(shown, qtbot):
    qtbot.waitUntil(lambda: shown.redraw_count >= 2, timeout=WAIT)
    assert shown.window == 60
    choose(qtbot, shown.window_combo, "30 min")
    assert shown.window_combo.currentText() == "30 min" and shown.window == 1800
    lo, hi = shown.plots()["waits"].vb.viewRange()[0]  # every graph shows the same span
    assert hi - lo == pytest.approx(1800)
    choose(qtbot, shown.window_combo, "5 min")
    assert shown.window == 300
    shown.set_window(60)
    assert shown.window_combo.currentText() == "1 min"
    with pytest.raises(ValueError, match="-1"):
        shown.set_window(-1)


def test_refresh_combo_sets_the_bridge_rate(bridge, panel, qtbot):
    combo = panel.refresh_combo
    assert combo.currentText() == "20 Hz"  # read from the bridge
    choose(qtbot, combo, "5 Hz")
    assert bridge.refresh_hz == 5
    choose(qtbot, combo, "paused")
    assert bridge.refresh_hz == 0
    choose(qtbot, combo, "10 Hz")
    assert bridge.refresh_hz == 10
    samples = panel.sample_count
    qtbot.waitUntil(lambda: panel.sample_count >= samples + 2, timeout=WAIT)


def test_hidden_panel_records_but_does_not_redraw(panel, qtbot):
    qtbot.waitUntil(lambda: panel.sample_count >= 5, timeout=WAIT)
    assert panel.redraw_count == 0
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.redraw_count >= 1  # caught up when shown
    assert curve(panel, "thread", "thread_line_pool_size").getData()[1][-1] == 4
    panel.hide()
    redraws, samples = panel.redraw_count, panel.sample_count
    qtbot.waitUntil(lambda: panel.sample_count >= samples + 5, timeout=WAIT)
    assert panel.redraw_count == redraws


# -- the ring buffer ------------------------------------------------------------------
def test_ring_keeps_the_newest_samples_in_order():
    assert CAPACITY == 30 * 60 * 20  # 30 minutes at 20 Hz
    ring = SeriesRing(("a", "b"), capacity=10)
    for i in range(37):
        ring.append(np.array([i, -i], dtype=float))
        assert len(ring) == min(i + 1, 10)
        assert ring.column("a")[-1] == i
    assert list(ring.column("a")) == list(range(27, 37))
    assert list(ring.column("b")) == [-i for i in range(27, 37)]
    assert ring.appended == 37
    with pytest.raises(ValueError):
        ring.column("a")[0] = 5  # views are read-only


def test_decimation_keeps_peaks():
    values = np.zeros(1000)
    values[517] = 9
    reduced = decimate(values, 0, 1000, 10)
    assert len(reduced) == 100 and reduced.max() == 9
    assert list(decimate(values, 3, 8, 1)) == list(values[3:8])


def test_flat_runs_are_drawn_with_their_ends_only():
    xs = np.arange(8.0)
    ys = np.array([0, 0, 0, 2, 2, 2, 2, 1.0])
    kept_x, kept_y = drop_flat_points(xs, ys)
    assert list(kept_x) == [0, 2, 3, 6, 7] and list(kept_y) == [0, 0, 2, 2, 1]


def test_y_ranges_end_on_round_numbers():
    assert [nice_ceiling(v) for v in (0.7, 1, 4.2, 12.96, 130)] == [0.8, 1, 5, 15, 150]
