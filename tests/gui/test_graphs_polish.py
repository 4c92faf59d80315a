"""The graphs read at a glance: limit labels apart and never clipped, thin
operator markers with their full text on hover, axes wide enough for their ticks."""

from __future__ import annotations

import concurrent.futures
import math
import threading
from itertools import pairwise

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QFontMetricsF, QImage, QPainter

from engine import TASK_LOW, TT_MP
from gui.widgets.graph_markers import flag_text
from gui.widgets.graphs import GraphsPanel, merge_limits, spread_labels

WAIT = 3000  # ms


@pytest.fixture
def shown(bridge, qtbot):
    widget = GraphsPanel(bridge)
    qtbot.addWidget(widget)
    widget.resize(1200, 560)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def drawn_label_rects(panel: GraphsPanel, pool: str):
    """Draw the right axis of a pool's plot and return its label boxes."""
    axis = panel.plots()[pool].getAxis("right")
    image = QImage(200, 600, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return axis, axis.text_rects


# -- limit labels ------------------------------------------------------------------
def test_equal_limits_share_one_label():
    values = {"pool_size": 4, "reserve_normal": 5, "reserve_high": 6, "max_size": 6}
    assert merge_limits(values) == [(4, "pool 4"), (5, "normal 5"), (6, "high = max 6")]
    values = {"pool_size": 2, "reserve_normal": 2, "reserve_high": 2, "max_size": 2}
    assert merge_limits(values) == [(2, "all limits 2")]
    values = {"pool_size": 2, "reserve_normal": 4, "reserve_high": 4, "max_size": 4}
    assert merge_limits(values) == [(2, "pool 2"), (4, "normal = high = max 4")]
    unlimited = {"pool_size": math.nan, "reserve_normal": math.nan,
                 "reserve_high": math.nan, "max_size": 40}
    assert merge_limits(unlimited) == [(40, "max 40")]


def test_labels_are_spread_at_least_a_label_height_apart():
    wanted = [100.0, 104.0, 98.0, 300.0]
    placed = spread_labels(wanted, 14, 0, 500)
    ordered = sorted(placed)
    assert all(b - a >= 14 - 1e-9 for a, b in pairwise(ordered))
    assert placed[3] == 300.0  # a label with room stays where its value is
    # The crowd stays in wish order and centred on its wishes.
    assert placed[2] < placed[0] < placed[1]
    assert sum(placed[:3]) / 3 == pytest.approx(sum(wanted[:3]) / 3)


def test_labels_stay_inside_the_span():
    placed = spread_labels([-20.0, -10.0, 505.0], 14, 7, 493)
    assert min(placed) >= 7 and max(placed) <= 493
    ordered = sorted(placed)
    assert all(b - a >= 14 - 1e-9 for a, b in pairwise(ordered))


def test_labels_that_cannot_fit_share_the_span():
    placed = spread_labels([50.0] * 5, 14, 0, 28)
    assert sorted(placed) == pytest.approx([0, 7, 14, 21, 28])
    assert spread_labels([], 14, 0, 100) == []


def test_close_limits_are_drawn_apart_and_unclipped(supervisor, bridge, shown, qtbot):
    qtbot.waitUntil(lambda: shown.sample_count >= 2, timeout=WAIT)
    ok, _ = bridge.act("thread pool", lambda c: c.set_thread_pool(
        pool_size=40, reserve_normal=1, reserve_high=1, max_size=42))
    assert ok
    qtbot.waitUntil(lambda: shown.limit_labels("thread") == [
        "pool 40", "normal 41", "high = max 42"], timeout=WAIT)
    axis, rects = drawn_label_rects(shown, "thread")
    assert [text for _, text in rects] == ["pool 40", "normal 41", "high = max 42"]
    boxes = sorted((box for box, _ in rects), key=lambda b: b.top())
    for upper, lower in pairwise(boxes):
        assert upper.bottom() <= lower.top() + 1e-6  # no overprint
    bounds = axis.boundingRect()
    for box in boxes:
        assert bounds.contains(box)  # nothing cut off
        assert box.right() <= axis.width()


# -- operator markers ---------------------------------------------------------------
def marker_lines(panel: GraphsPanel, plot: str) -> list[pg.InfiniteLine]:
    return [item for item in panel.plots()[plot].items if isinstance(item, pg.InfiniteLine)]


def test_a_marker_is_a_thin_line_with_a_small_flag_and_the_full_text_on_hover(
        supervisor, bridge, shown, qtbot):
    qtbot.waitUntil(lambda: shown.sample_count >= 2, timeout=WAIT)
    description = "init 50 × sleep (NORMAL, thread) seconds=0.5 from the Submit panel"
    bridge.announce(description)
    qtbot.waitUntil(lambda: shown.sample_count >= 4, timeout=WAIT)
    for plot in shown.plots():
        [line] = marker_lines(shown, plot)
        assert line.toolTip() == description
        scene_width = line.mapRectToScene(line.boundingRect()).width()
        assert scene_width <= 12  # a line (and its hover margin), not a box
    [line] = marker_lines(shown, "thread")
    assert line.label.toPlainText() == "init"
    assert line.label.toolTip() == description
    flag = line.label.mapRectToScene(line.label.boundingRect())
    view = shown.plots()["thread"].vb.sceneBoundingRect()
    assert flag.width() <= 60 and flag.height() <= 0.2 * view.height()
    assert [text for _, text in shown.markers()] == [description]


def test_flag_text_is_the_first_word_shortened():
    assert flag_text("min_size 0 → 8, max_size 10 → 4") == "min_size"
    assert flag_text("reconfigure_everything now") == "reconfigu…"
    assert flag_text("") == ""


# -- axes -----------------------------------------------------------------------------
def test_left_axis_is_wide_enough_for_20000(supervisor, shown, qtbot):
    gate = threading.Event()
    try:
        supervisor.submit_many(gate.wait, [(10,)] * 20000, priority=TASK_LOW)
        qtbot.waitUntil(lambda: shown.series()["thread_queued_LOW"][-1] >= 19000,
                        timeout=WAIT * 3)
        qtbot.waitUntil(lambda: shown.plots()["thread_queued"].vb.viewRange()[1][1] >= 20000,
                        timeout=WAIT)
    finally:
        gate.set()
    axis = shown.plots()["thread_queued"].getAxis("left")
    metrics = QFontMetricsF(axis.font())
    title = axis.label.boundingRect().height() * 0.8
    needed = metrics.horizontalAdvance("20000") + axis.style["tickTextOffset"][0] + title
    qtbot.waitUntil(lambda: axis.width() >= needed, timeout=WAIT)  # once laid out
    # The column lines up: every plot in it has the same left axis width.
    assert {shown.plots()[k].getAxis("left").width()
            for k in ("thread", "thread_queued", "rates")} == {axis.width()}


# -- stacked areas ----------------------------------------------------------------------
def test_running_areas_are_drawn_as_steps_of_block_maxima(supervisor, shown, qtbot):
    qtbot.waitUntil(lambda: shown.sample_count >= 20, timeout=WAIT * 2)
    shown.set_window(1)  # ~20 samples over hundreds of pixels: one block a sample
    stacks = [item for item in shown.plots()["thread"].items
              if isinstance(item, pg.PlotCurveItem) and "_stack_" in (item.name() or "")]
    assert stacks and all(item.opts["stepMode"] == "right" for item in stacks)
    shown.set_window(1800)
    pixels = shown.plots()["thread"].vb.width()
    for item in stacks:
        if item.isVisible() and item.getData()[0] is not None:
            assert len(item.getData()[0]) <= pixels / 2 + 2


# -- the process pool's column ----------------------------------------------------------
class _InlineExecutor(concurrent.futures.Executor):
    """A stand-in process pool that runs each call at once, in the caller."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_an_unused_process_pool_gives_its_room_to_the_thread_pool(supervisor, shown, qtbot):
    qtbot.waitUntil(lambda: shown.sample_count >= 2 and shown.redraw_count >= 2, timeout=WAIT)
    layout = shown._view.ci
    plots = shown.plots()
    assert shown.process_compact
    assert plots["mp"] not in layout.items and plots["mp_queued"] not in layout.items
    assert "no task yet" in plots["waits"].titleLabel.text
    qtbot.waitUntil(lambda: plots["thread"].vb.width() > 1.4 * plots["waits"].vb.width(),
                    timeout=WAIT)

    supervisor.mp_pool = _InlineExecutor()
    task = supervisor.submit(abs, -3, _tt=TT_MP)  # its outcome does not matter here
    qtbot.waitUntil(lambda: not shown.process_compact, timeout=WAIT)
    assert task.wait(5)
    assert plots["mp"] in layout.items and plots["mp_queued"] in layout.items
    assert plots["mp"].isVisible() and "no task yet" not in plots["waits"].titleLabel.text
