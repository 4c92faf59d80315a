"""Live graphs of the pools: tasks per priority, limits, rates and queue waits.

``GraphsPanel`` draws the console's recorded time series (``gui.series``:
one sample per ``bridge.stats_updated``, 30 minutes at 20 Hz, and the rates;
the window's status bar shares the same recorder). It reads nothing else of
the engine. Every ``bridge.action_applied`` becomes a marker (a vertical
line with a short label, ``graph_markers``) on every graph, so an operator
action and its effect share a screen.

What is drawn, per pool (thread and process): running tasks per priority as
stacked areas (CRITICAL at the bottom), queued tasks per priority as dashed
lines in the same colours, and the admission limits as step lines over time
(pool_size, + reserve_normal, + reserve_high, max_size; the first three are
absent while pool_size is 0, i.e. unlimited). Below: tasks started /
completed / failed per second (all pools summed, coroutines included, over a
trailing second) and
the queue wait p50 / p95 in milliseconds.

Drawing is the expensive part, so it is bounded. Curves are created once and
updated with ``setData`` on views of the ring; only the samples in view are
handed to pyqtgraph, block-max decimated to one point per two pixels (stable
while the view scrolls, and a peak is never lost; the stacked areas are
drawn as steps, so a busy stretch reads as a level, not a barcode of
spikes), without the inner points of flat runs; a curve with nothing to show
in view is hidden rather than painted. The y ranges are set here, in round
steps, instead of pyqtgraph's auto-range (which runs while painting and so
costs a second paint), and a live view scrolls in steps of 2 % of the
window, so between steps the axes are blitted from their cache instead of
re-rendered. Nothing is drawn while the panel is hidden or paused: data
keeps being recorded, and the panel catches up when shown or resumed.

The controls say the view's state once: the Live button is checked (and
green) while the graphs follow the newest data, "Go live" while paused or
browsing history; an export's "Exported …" shows for ``MESSAGE_MS``.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.constants import PRIORITIES

from ..bridge import REFRESH_RATES, EngineBridge
from ..series import (
    CAPACITY,
    HISTORY,
    LIMITS,
    MAX_SAMPLE_HZ,
    POOLS,
    RAW_COLUMNS,
    TOTALS,
    SeriesRecorder,
    decimate,
    drop_flat_points,
    nice_ceiling,
    priority_name,
)
from ..theme import (
    LIMIT_COLORS,
    PRIORITY_COLORS,
    legend_html,
    mix_colors,
    pool_legend_html,
)
from .graph_markers import Markers

#: Time windows offered to the operator: label → seconds.
WINDOWS = {"1 min": 60, "5 min": 300, "30 min": 1800}
assert max(WINDOWS.values()) <= HISTORY and max(REFRESH_RATES) <= MAX_SAMPLE_HZ
SCROLL_STEP = 0.02  # of the window: how far a live view scrolls at once
POOL_TITLES = {"thread": "Thread pool", "mp": "Process pool"}
COLUMN_PLOTS = {"thread": ("thread", "thread_queued", "rates"),
                "mp": ("mp", "mp_queued", "waits")}  # the plots of a column, by pool
LIMIT_SHORT = {"pool_size": "pool", "reserve_normal": "normal", "reserve_high": "high",
               "max_size": "max"}
RATE_COLORS = {"started": "#1f77b4", "completed": "#2ca02c", "failed": "#d62728"}
WAIT_COLORS = {"p50": "#17becf", "p95": "#9467bd"}
WAITS_TITLE = "Queue wait: " + legend_html(WAIT_COLORS)
PROCESS_UNUSED = "<br>(process pool: no task yet)"
COMPACT_COLUMN = 0.36  # of the width: the queue waits' column while the process pool is unused
AXIS_WIDTH = 48  # px, the least left axis width (wider when its tick labels need it)
RIGHT_AXIS_WIDTH = 92  # px, the least right axis width (wider when a limit label needs it)
LABEL_PAD = 12  # px, beside a limit label's text: the tick and a margin
LIVE_COLOR = "#2ca02c"  # the status bar's "active" green
LIVE_TEXT, GO_LIVE_TEXT = "\u25cf Live", "Go live"  # the one live indicator, and its action
COUNT_TOP = 5.0  # the least y top of a graph of counts: whole ticks when idle
MESSAGE_MS = 8000  # how long an export's "Exported …" / "Export failed" stays shown
BLOCK_PIXELS = 2  # px per decimation block (its maximum is drawn)
FILL_STRENGTH = 0.55  # how much of the priority colour a stacked area gets
_name = priority_name


class GraphsPanel(QWidget):
    """Pool usage, limits, rates and waits over time, with operator markers.

    Public API: ``export_png(path)``, ``export_csv(path)``,
    ``set_window(seconds)``, ``set_paused(paused)``, ``jump_to_live()``,
    ``series()`` (copies of the recorded raw series), ``markers()``,
    ``plots()``, and the read-only ``window``, ``paused``, ``following``,
    ``sample_count`` and ``redraw_count``; ``paused_changed(bool)`` tells a
    window's own pause action when the panel's button was used.
    """

    paused_changed = Signal(bool)

    def __init__(self, bridge: EngineBridge, recorder: SeriesRecorder | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        #: The recorded series; shared with the window's status bar when given.
        self.recorder = recorder if recorder is not None else SeriesRecorder()
        self._ring = self.recorder.ring
        self._clock_offset = self.recorder.clock_offset
        self._window = float(WINDOWS["1 min"])
        self._paused = False
        self._frozen_x = math.inf  # while paused: the newest sample drawn
        self._following = True
        self._dirty = False  # data recorded since the last redraw
        self._setting_range = False  # our own range change, not the operator's
        self._redraws = 0
        self._process_compact = False  # the process pool's graphs folded away
        self._curves: dict[str, pg.PlotCurveItem] = {}  # column → its curve
        self._plot_columns: dict[str, list[str]] = {}  # plot → columns drawn on it
        # column → when its curve is worth drawing: "finite", "nonzero", or the
        # running column a stacked area adds; absent: always.
        self._visibility: dict[str, str] = {}
        self._y_tops: dict[str, float] = {}  # plot → top of its y range
        self._limit_ticks: dict[str, list[tuple[float, str]]] = {}  # pool → drawn ticks
        self._plots: dict[str, pg.PlotItem] = {}
        self._dialog: QFileDialog | None = None
        self._range_timer = QTimer(self)
        self._range_timer.setSingleShot(True)
        self._range_timer.timeout.connect(self._redraw)

        self._build_controls()
        self._build_graphs()
        self._markers = Markers(self._plots, tuple(POOLS), self._clock_offset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(self._controls)
        layout.addWidget(self._graphs_box, 1)
        self._apply_palette()
        self._update_status()

        bridge.stats_updated.connect(self._on_stats_updated)
        bridge.action_applied.connect(self._on_action_applied)

    # -- construction ---------------------------------------------------------
    def _build_controls(self) -> None:
        row = self._controls = QHBoxLayout()
        row.setSpacing(6)
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(WINDOWS))
        self.window_combo.setToolTip("Time span shown by the graphs")
        self.window_combo.currentIndexChanged.connect(self._on_window_chosen)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip(
            "Freeze the graphs to study them: data keeps being recorded while paused, "
            "drag or wheel on a graph to scroll back through history; resume to catch up")
        self.pause_button.toggled.connect(self._on_pause_toggled)
        # The one live indicator: checked while the graphs follow the newest
        # data; unchecked ("Go live") while paused or browsing, a click follows again.
        self.live_button = QPushButton(LIVE_TEXT)
        self.live_button.setCheckable(True)
        self.live_button.setChecked(True)
        metrics = self.live_button.fontMetrics()
        self.live_button.setMinimumWidth(  # the same width either way: nothing moves
            max(metrics.horizontalAdvance(t) for t in (LIVE_TEXT, GO_LIVE_TEXT)) + 24)
        self.live_button.clicked.connect(self._on_live_clicked)
        self.refresh_combo = QComboBox()
        self.refresh_combo.addItems([f"{hz} Hz" for hz in REFRESH_RATES] + ["paused"])
        self.refresh_combo.setToolTip(
            "How often the console samples the supervisor (all panels); "
            "'paused' stops sampling, so nothing is recorded")
        self.refresh_combo.setCurrentIndex(self._refresh_index(self.bridge.refresh_hz))
        self.refresh_combo.currentIndexChanged.connect(self._on_refresh_chosen)
        self.status_label = QLabel()
        self._message_timer = QTimer(self)  # an export's message is transient
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self._update_status)
        self.export_png_button = QPushButton("Export PNG…")
        self.export_png_button.setToolTip("Save an image of the graphs")
        self.export_png_button.clicked.connect(lambda: self._ask_path("png"))
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.setToolTip(
            "Save the recorded raw series (per pool and priority: running, queued; "
            "limits, rates, waits, operator actions)")
        self.export_csv_button.clicked.connect(lambda: self._ask_path("csv"))
        for widget in (QLabel("Window"), self.window_combo, self.pause_button,
                       self.live_button, QLabel("Refresh"), self.refresh_combo):
            row.addWidget(widget)
        row.addWidget(self.status_label, 1)
        row.addWidget(self.export_png_button)
        row.addWidget(self.export_csv_button)

    def _build_graphs(self) -> None:
        self._view = pg.GraphicsLayoutWidget()
        self._view.ci.setContentsMargins(2, 2, 2, 2)
        # One legend for both pools, a plain label above the plots: it never
        # covers data, wraps when the panel is narrow, and is not repainted
        # with every frame.
        self.legend_label = QLabel(pool_legend_html(LIMITS))
        self.legend_label.setWordWrap(True)
        self.legend_label.setContentsMargins(AXIS_WIDTH, 0, 0, 0)
        self._graphs_box = QWidget()
        box = QVBoxLayout(self._graphs_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.legend_label)
        box.addWidget(self._view, 1)
        # Running tasks and the limits on top; queues below, on their own scale:
        # a flood of thousands must not flatten the running counts and the limits.
        for col, (pool, title) in enumerate(POOL_TITLES.items()):
            self._add_plot(pool, 0, col, title + " \u2014 running", "tasks")
            self._add_plot(f"{pool}_queued", 1, col, title + " \u2014 queued", "tasks")
            self._build_pool_curves(pool)
        # The lower plots name their curves in their titles, in the curves' colours.
        self._add_plot("rates", 2, 0, "Tasks per second: " + legend_html(RATE_COLORS)
                       + " (all pools)", "tasks/s")
        for total in TOTALS:
            self._add_line("rates", f"{total}_per_s", RATE_COLORS[total])
        self._add_plot("waits", 2, 1, WAITS_TITLE, "ms")
        for level in WAIT_COLORS:
            self._add_line("waits", f"wait_{level}_ms", WAIT_COLORS[level])
        grid = self._view.ci.layout
        grid.setRowStretchFactor(0, 5)  # the running tasks and the limits matter most
        grid.setRowStretchFactor(1, 2)
        grid.setRowStretchFactor(2, 3)
        first = self._plots["thread"]
        for plot in self._plots.values():
            if plot is not first:
                plot.setXLink(first)
            plot.vb.sigRangeChangedManually.connect(self._on_user_range)
        first.vb.sigXRangeChanged.connect(self._on_x_range_changed)

    def _add_plot(self, key: str, row: int, col: int, title: str, units: str) -> None:
        plot = pg.PlotItem(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        plot.setTitle(title)
        _let_title_shrink(plot)
        plot.setLabel("left", units)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.getAxis("right").setGrid(False)  # its ticks are the current limits only
        plot.hideButtons()
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.setAxisItems({"right": LimitAxis()})
        plot.showAxis("right")
        right = plot.getAxis("right")
        right.setWidth(RIGHT_AXIS_WIDTH)  # same on every plot: the time axes line up
        right.setStyle(showValues=False)
        right.setTicks([[], []])
        for side in ("left", "bottom", "right"):
            # An axis that did not change is blitted from a pixmap, not re-rendered
            # (text is the costliest thing on these graphs).
            plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.setMenuEnabled(False)
        plot.vb.setMouseEnabled(x=True, y=False)  # scroll/zoom time; y follows the data
        # Ranges are set by _redraw: pyqtgraph's auto-range runs while painting
        # and so costs a second paint per frame, and jitters with the data.
        plot.vb.disableAutoRange()
        plot.setXRange(time.time() - self._window, time.time(), padding=0)
        self._view.addItem(plot, row=row, col=col)
        self._plots[key] = plot

    def _build_pool_curves(self, pool: str) -> None:
        # Stacked areas: the largest cumulative sum (LOW on top of all) at the back.
        for z, p in enumerate(reversed(PRIORITIES)):
            self._visibility[f"{pool}_stack_{_name(p)}"] = f"{pool}_running_{_name(p)}"
            # A step look: each block's level holds until the next block, so a
            # busy stretch reads as a level instead of a barcode of spikes.
            self._add_curve(pool, f"{pool}_stack_{_name(p)}", pen=PRIORITY_COLORS[p],
                            fillLevel=0, z=z, stepMode="right")
        for p in PRIORITIES:
            pen = pg.mkPen(PRIORITY_COLORS[p], width=1)
            self._visibility[f"{pool}_queued_{_name(p)}"] = "nonzero"
            self._add_curve(f"{pool}_queued", f"{pool}_queued_{_name(p)}", pen=pen, z=10)
        self._limit_ticks[pool] = []
        for limit in LIMITS:
            # NaN while unlimited: these curves check finiteness and break there.
            self._visibility[f"{pool}_line_{limit}"] = "finite"
            self._add_curve(pool, f"{pool}_line_{limit}", pen=_limit_pen(limit), z=20,
                            connect="finite", skipFiniteCheck=False)
        self._plots[pool].getAxis("right").setStyle(showValues=True)

    def _add_curve(self, key: str, column: str, pen: Any, z: int, **opts: Any) -> None:
        opts.setdefault("skipFiniteCheck", True)
        curve = pg.PlotCurveItem(pen=pen, antialias=False, name=column, **opts)
        curve.setZValue(z)
        self._plots[key].addItem(curve)
        self._curves[column] = curve
        self._plot_columns.setdefault(key, []).append(column)

    def _add_line(self, key: str, column: str, color: str) -> None:
        self._add_curve(key, column, pen=pg.mkPen(color, width=1), z=10)

    def _apply_palette(self) -> None:
        """Graph colours from the widget palette, so light and dark themes both read."""
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self._view.setBackground(background)
        for plot in self._plots.values():
            plot.titleLabel.setText(plot.titleLabel.text, color=text, size="10pt")
            for side in ("left", "bottom", "right"):
                axis = plot.getAxis(side)
                axis.setPen(text)
                axis.setTextPen(text)
        for pool in POOLS:
            for p in PRIORITIES:
                tint = mix_colors(PRIORITY_COLORS[p], background, FILL_STRENGTH)
                self._curves[f"{pool}_stack_{_name(p)}"].setBrush(pg.mkBrush(tint))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
            self._color_live_button()
        super().changeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1200, 560)

    def minimumSizeHint(self) -> QSize:
        return QSize(640, 360)

    # -- bridge signals ----------------------------------------------------
    def _on_stats_updated(self, stats: Any) -> None:
        if not self.recorder.record(stats):
            return  # already recorded, and drawn (or due) since
        self._dirty = True
        if not self._paused and self.isVisible():
            self._redraw()

    def _on_action_applied(self, description: str) -> None:
        self._markers.add(time.monotonic(), description,
                          self.palette().color(QPalette.ColorRole.Base))

    # -- drawing ----------------------------------------------------------------
    def _redraw(self) -> None:
        """Hand the samples in view to the curves; follow the newest if live."""
        self._range_timer.stop()
        ring = self._ring
        n = len(ring)
        if not n:
            return
        x = ring.column("x")
        newest = x[-1] if not self._paused else min(x[-1], self._frozen_x)
        if self.following:
            self._follow(newest)
        lo, hi = self._plots["thread"].vb.viewRange()[0]
        hi = min(hi, newest)
        i0 = max(0, int(np.searchsorted(x, lo, side="left")) - 1)
        i1 = min(n, int(np.searchsorted(x, hi, side="right")) + 1)
        if self._paused:
            i1 = min(i1, int(np.searchsorted(x, self._frozen_x, side="right")))
        pixels = max(200, int(self._plots["thread"].vb.width()))
        # Blocks of BLOCK_PIXELS pixels, each drawn at its maximum: samples at
        # 10-20 Hz alternating between busy and idle read as the busy level.
        step = max(1, math.ceil((i1 - i0) * BLOCK_PIXELS / pixels))
        # Blocks aligned on absolute sample numbers, so they do not shift as the view scrolls.
        i0 -= (ring.appended - n + i0) % step
        i0 = max(0, i0)
        xs = decimate(x, i0, i1, step, middle=True)
        for key, columns in self._plot_columns.items():
            top = 0.0
            for column in columns:
                ys = decimate(ring.column(column), i0, i1, step)
                peak = float(np.fmax.reduce(ys)) if len(ys) else math.nan
                top = max(top, peak)  # NaN (an absent line) loses
                curve = self._curves[column]
                if self._has_something(column, peak, i0, i1):
                    curve.setData(*drop_flat_points(xs, ys))
                    curve.setVisible(True)
                else:  # nothing to see: skip it, painting an item has a fixed cost
                    curve.setVisible(False)
            self._set_y_top(key, top)
        self._label_limits(i1 - 1)
        self._fit_process_column(n - 1)
        self._markers.prune(x[0])
        self._markers.fit_flags()
        self._dirty = False
        self._redraws += 1

    def _fit_process_column(self, i: int) -> None:
        """While the process pool has run no task, its two graphs (flat at zero)
        give their room to the thread pool's; they come back with its first task."""
        ring = self._ring
        used = ring.at("mp_started", i) > 0 or any(
            ring.at(f"mp_{kind}_{_name(p)}", i) > 0
            for kind in ("running", "queued") for p in PRIORITIES)
        if used == self._process_compact:
            self._set_process_compact(not used)

    def _set_process_compact(self, compact: bool) -> None:
        """Compact: the process pool's graphs are taken out of the layout (still
        updated, ready to come back), the queue waits take their column's
        height, and that column narrows to ``COMPACT_COLUMN`` of the width."""
        self._process_compact = compact
        layout = self._view.ci
        mp, queued, waits = (self._plots[k] for k in ("mp", "mp_queued", "waits"))
        for plot in (mp, queued, waits):
            if plot in layout.items:
                layout.removeItem(plot)
        if compact:
            layout.addItem(waits, row=0, col=1, rowspan=3)
        else:
            layout.addItem(mp, row=0, col=1)
            layout.addItem(queued, row=1, col=1)
            layout.addItem(waits, row=2, col=1)
        mp.setVisible(not compact)
        queued.setVisible(not compact)
        waits.setTitle(WAITS_TITLE + (PROCESS_UNUSED if compact else ""))
        self._apply_palette()
        self._fit_columns()

    def _fit_columns(self) -> None:
        grid = self._view.ci.layout
        if self._process_compact:
            grid.setColumnMaximumWidth(1, max(200.0, COMPACT_COLUMN * self._view.width()))
        else:
            grid.setColumnMaximumWidth(1, 16777215.0)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    @property
    def process_compact(self) -> bool:
        """Whether the process pool's graphs are folded away (it has run no task)."""
        return self._process_compact

    def _has_something(self, column: str, peak: float, i0: int, i1: int) -> bool:
        """Whether a curve shows anything in view: a stacked area with no running
        task of its priority is covered exactly by the area in front of it, a
        queue that stayed empty lies on the axis, an absent limit is NaN."""
        kind = self._visibility.get(column)
        if kind is None:
            return True
        if kind == "finite":
            return not math.isnan(peak)
        if kind != "nonzero":  # a stack: look at the running count it adds
            values = self._ring.column(kind)[i0:i1]
            return bool(len(values)) and float(values.max()) > 0
        return peak > 0

    def _set_y_top(self, key: str, top: float) -> None:
        """Fit the y range to the data in view, in round steps so it rarely moves
        (the axis is redrawn, not just blitted, when it does)."""
        # Counts (tasks, tasks/s) get at least 0..5, so an idle graph's ticks are
        # whole numbers, never "0.2 tasks"; waits (ms) may be fractions.
        least = 1.0 if key == "waits" else COUNT_TOP
        top = nice_ceiling(max(least, top * 1.08))  # headroom above the top line
        if self._y_tops.get(key) != top:
            self._y_tops[key] = top
            self._plots[key].setYRange(-0.06 * top, top, padding=0)
            self._fit_left_axes(key)

    def _fit_left_axes(self, key: str) -> None:
        """Widen (or narrow back) the left axes of ``key``'s column to its widest
        tick label, so the axis title never overprints a number like "20000";
        one width down a column keeps its time axes lined up."""
        column = next((plots for plots in COLUMN_PLOTS.values() if key in plots), (key,))
        width = max(_left_axis_width(self._plots[k].getAxis("left"), self._y_tops.get(k, 1.0))
                    for k in column)
        for k in column:
            axis = self._plots[k].getAxis("left")
            if axis.fixedWidth != width:  # the set width: the layout applies it later
                axis.setWidth(width)

    def _label_limits(self, i: int) -> None:
        """Name the limit lines on the right axis at their newest drawn values
        (outside the data, so markers never hide them): equal values share one
        label ("high = max 6"), labels are spread apart so they never overlap
        (``spread_labels``), and the right axes widen to the longest one."""
        if i < 0:
            return
        changed = False
        for pool, drawn in self._limit_ticks.items():
            values = {limit: self._ring.at(f"{pool}_line_{limit}", i) for limit in LIMITS}
            ticks = merge_limits(values)
            if ticks != drawn:
                self._limit_ticks[pool] = ticks
                self._plots[pool].getAxis("right").set_labels(ticks)
                changed = True
        if changed:
            self._fit_right_axes()

    def _fit_right_axes(self) -> None:
        """One right axis width down each column (a pool's plots), so the time
        axes of a column stay lined up; as narrow as its labels allow."""
        for pool, ticks in self._limit_ticks.items():
            axis = self._plots[pool].getAxis("right")
            metrics = QFontMetricsF(axis.font())
            needed = max((metrics.horizontalAdvance(text) for _, text in ticks), default=0.0)
            width = max(RIGHT_AXIS_WIDTH, math.ceil(needed) + LABEL_PAD)
            for key in COLUMN_PLOTS[pool]:
                right = self._plots[key].getAxis("right")
                if right.fixedWidth != width:
                    right.setWidth(width)

    def limit_labels(self, pool: str) -> list[str]:
        """The limit labels shown beside a pool's graph ("thread" or "mp")."""
        return [text for _, text in self._limit_ticks[pool]]

    def _follow(self, newest: float) -> None:
        """Keep the newest sample in view, scrolling in steps of ``SCROLL_STEP``
        of the window: between steps the axes stay still and are only blitted
        (re-rendering four time axes on every frame doubled the cost of one)."""
        lead = SCROLL_STEP * self._window
        lo, hi = self._plots["thread"].vb.viewRange()[0]
        if not (newest <= hi <= newest + lead and math.isclose(hi - lo, self._window)):
            self._set_x_range(newest + lead - self._window, newest + lead)

    def _set_x_range(self, lo: float, hi: float) -> None:
        self._setting_range = True
        try:
            self._plots["thread"].setXRange(lo, hi, padding=0)
        finally:
            self._setting_range = False

    def _on_x_range_changed(self, *_: Any) -> None:
        """The operator panned or zoomed: draw what is now in view (coalesced)."""
        if not self._setting_range and self.isVisible():
            self._range_timer.start(0)

    def _on_user_range(self, *_: Any) -> None:
        if self._following:
            self._following = False
            self._update_status()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._dirty:
            self._redraw()

    # -- controls --------------------------------------------------------------
    @property
    def window(self) -> float:
        """Seconds of history in view."""
        return self._window

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def following(self) -> bool:
        """Whether the view scrolls with the newest data."""
        return self._following and not self._paused

    @property
    def sample_count(self) -> int:
        """Samples recorded since the panel was created (the ring keeps the last 30 min)."""
        return self._ring.appended

    @property
    def redraw_count(self) -> int:
        return self._redraws

    def set_window(self, seconds: float) -> None:
        """Show ``seconds`` of history, ending now (live) or at the current view's end."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
                0 < seconds <= max(WINDOWS.values())):
            raise ValueError(f"time window must be between 0 and {max(WINDOWS.values())} "
                             f"seconds, got {seconds!r}")
        self._window = float(seconds)
        labels = [label for label, s in WINDOWS.items() if s == seconds]
        if labels:
            self.window_combo.blockSignals(True)
            self.window_combo.setCurrentText(labels[0])
            self.window_combo.blockSignals(False)
        if not self.following:
            hi = self._plots["thread"].vb.viewRange()[0][1]
            self._set_x_range(hi - self._window, hi)
        if self.isVisible():
            self._redraw()

    def set_paused(self, paused: bool) -> None:
        """Freeze (True) or resume (False) the graphs; recording never stops."""
        if self.pause_button.isChecked() != bool(paused):
            self.pause_button.setChecked(bool(paused))  # → _on_pause_toggled

    def jump_to_live(self) -> None:
        """Resume if paused and follow the newest data again."""
        self._following = True
        if self._paused:
            self.set_paused(False)
            return
        self._update_status()
        if self.isVisible():
            self._redraw()

    def _color_live_button(self) -> None:
        """Live reads green, in either theme (a checked button barely shows in dark)."""
        palette = self.live_button.palette()
        palette.setColor(QPalette.ColorRole.ButtonText, QColor(LIVE_COLOR) if self.following
                         else self.palette().color(QPalette.ColorRole.ButtonText))
        self.live_button.setPalette(palette)

    def _on_live_clicked(self, checked: bool) -> None:
        if checked:
            self.jump_to_live()
        else:  # clicked while live: it stays live
            self.live_button.setChecked(True)

    def _on_pause_toggled(self, paused: bool) -> None:
        self._paused = paused
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self._frozen_x = self._ring.column("x")[-1] if len(self._ring) else -math.inf
        else:
            self._frozen_x = math.inf
            self._following = True
            if self.isVisible():
                self._redraw()
        self._update_status()
        self.paused_changed.emit(paused)

    def _on_window_chosen(self, index: int) -> None:
        self.set_window(WINDOWS[self.window_combo.itemText(index)])

    def _on_refresh_chosen(self, index: int) -> None:
        text = self.refresh_combo.itemText(index)
        hz = 0 if text == "paused" else int(text.split()[0])
        self.bridge.set_refresh_rate(hz)

    @staticmethod
    def _refresh_index(hz: float) -> int:
        if not hz:
            return len(REFRESH_RATES)
        return min(range(len(REFRESH_RATES)), key=lambda i: abs(REFRESH_RATES[i] - hz))

    def _update_status(self, message: str | None = None, tip: str = "") -> None:
        """Show ``message`` for ``MESSAGE_MS`` (``tip``: its whole text, e.g. a
        path), then the view's state again; while live, the Live button alone
        says so (the label stays empty). The texts are short: the label sits
        between the controls and the export buttons and must never be clipped."""
        if message is not None:
            self._message_timer.start(MESSAGE_MS)
        else:
            self._message_timer.stop()
            if self._paused:
                message = "Paused (still recording)"
                tip = "Drag or wheel on a graph to scroll back; Resume or Go live to follow"
            elif not self._following:
                message = "Browsing history"
                tip = f"Press {GO_LIVE_TEXT} to follow the newest data again"
            else:
                message = ""
        self.status_label.setText(message)
        self.status_label.setToolTip(tip or message)
        following = self.following
        self.live_button.setChecked(following)
        self.live_button.setText(LIVE_TEXT if following else GO_LIVE_TEXT)
        self._color_live_button()
        self.live_button.setToolTip(
            "The graphs follow the newest data" if following
            else "Jump back to the newest data and follow it")

    # -- data and export ----------------------------------------------------------
    def series(self) -> dict[str, np.ndarray]:
        """Copies of the recorded raw series (``RAW_COLUMNS``), oldest first."""
        return self.recorder.series()

    def markers(self) -> list[tuple[float, str]]:
        """Operator actions drawn as markers: (monotonic time, description)."""
        return self._markers.listed()

    def plots(self) -> dict[str, pg.PlotItem]:
        """The plots: "thread", "mp" (pools), "rates" and "waits"."""
        return dict(self._plots)

    def export_csv(self, path: str) -> None:
        """Write the raw per-priority series (not the plotted sums), one row a
        sample, with the operator actions (``SeriesRecorder.write_csv``)."""
        self.recorder.write_csv(path, self.markers())

    def export_png(self, path: str) -> None:
        """Save an image of the graphs (drawn up to date first, even if hidden)."""
        if self._dirty or not self._redraws:
            self._redraw()
        if not self._graphs_box.grab().save(path, "PNG"):
            raise OSError(f"could not write PNG image to {path!r}")

    def _ask_path(self, kind: str) -> None:
        # A non-blocking dialog: a nested exec() would re-enter the qasync loop.
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        dialog = QFileDialog(self, f"Export graphs as {kind.upper()}", f"graphs-{stamp}.{kind}",
                             f"{kind.upper()} files (*.{kind})")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(kind)
        dialog.fileSelected.connect(lambda path: self._export(kind, path))
        self._dialog = dialog
        dialog.open()

    def _export(self, kind: str, path: str) -> None:
        try:
            (self.export_png if kind == "png" else self.export_csv)(path)
        except OSError as exc:
            self._update_status(f"Export failed: {Path(path).name}", f"Export failed: {exc}")
        else:
            self._update_status(f"Exported {Path(path).name}", f"Exported {path}")


def merge_limits(values: dict[str, float]) -> list[tuple[float, str]]:
    """The limit labels for one pool: (value, text), one per distinct value,
    lowest first; limits of equal value share a label ("high = max 6"; "all
    limits 2" when every limit is the same, as in an idle process pool), an
    absent (NaN) limit has none."""
    groups: dict[float, list[str]] = {}
    for limit, value in values.items():
        if not math.isnan(value):
            groups.setdefault(value, []).append(LIMIT_SHORT.get(limit, limit))
    if len(groups) == 1 and len(values) > 2 and len(next(iter(groups.values()))) == len(values):
        return [(value, f"all limits {value:g}") for value in groups]
    return [(value, f"{' = '.join(names)} {value:g}")
            for value, names in sorted(groups.items())]


def _left_axis_width(axis: pg.AxisItem, top: float) -> int:
    """The width a left axis needs for its tick labels over 0..``top`` and its
    (rotated) title, as pyqtgraph's own automatic width counts it."""
    metrics = QFontMetricsF(axis.font())
    widest = 0.0
    for spacing, values in axis.tickValues(-0.06 * top, top, 400):
        for text in axis.tickStrings(values, 1, spacing):
            widest = max(widest, metrics.horizontalAdvance(text))
    width = widest + axis.style["tickTextOffset"][0] + max(0, axis.style["tickLength"])
    if axis.label.isVisible():
        width += axis.label.boundingRect().height() * 0.8
    return max(AXIS_WIDTH, math.ceil(width) + 4)


def _let_title_shrink(plot: pg.PlotItem) -> None:
    """A plot's title does not hold its column wider than the panel (it is
    centred, and only its ends are lost when the panel is very narrow)."""
    label = plot.titleLabel
    measure = label.updateMin  # run by LabelItem on every setText and resize

    def update_min() -> None:
        measure()
        label.setMinimumWidth(0)
        hints = getattr(label, "_sizeHint", {})
        if Qt.SizeHint.MinimumSize in hints:
            hints[Qt.SizeHint.MinimumSize] = (0, hints[Qt.SizeHint.MinimumSize][1])
        label.updateGeometry()

    label.updateMin = update_min
    update_min()


def spread_labels(wanted: list[float], height: float, lo: float, hi: float) -> list[float]:
    """Centres for labels of ``height`` that want to sit at ``wanted`` (pixels,
    any order), kept between ``lo`` and ``hi`` (centres) and at least ``height``
    apart, each as near its wish as that allows; the result is in the order of
    ``wanted``. Labels that crowd together move as a block centred on their
    wishes. When even that cannot fit (more labels than ``hi - lo`` holds),
    they share the span evenly."""
    n = len(wanted)
    if not n:
        return []
    order = sorted(range(n), key=lambda k: wanted[k])
    if n > 1 and (hi - lo) / (n - 1) < height:
        step = (hi - lo) / (n - 1)
        placed = [lo + j * step for j in range(n)]
    else:
        # Blocks of touching labels: [first index in order, count, top centre].
        blocks: list[list[float]] = []
        for j, k in enumerate(order):
            blocks.append([j, 1, wanted[k]])
            while True:
                first, count, _ = block = blocks[-1]
                mean = sum(wanted[order[int(first) + m]] - m * height
                           for m in range(int(count))) / count
                block[2] = min(max(mean, lo), hi - (count - 1) * height)
                if len(blocks) > 1 and blocks[-2][2] + blocks[-2][1] * height > block[2]:
                    previous = blocks[-2]
                    previous[1] += count
                    blocks.pop()
                    continue
                break
        placed = [top + m * height for _, count, top in blocks for m in range(int(count))]
    result = [0.0] * n
    for j, k in enumerate(order):
        result[k] = placed[j]
    return result


class LimitAxis(pg.AxisItem):
    """A right axis that names the limit lines: a tick at each limit's value,
    its label beside it, moved up or down only as far as needed to keep the
    labels apart (``spread_labels``) and inside the axis."""

    def __init__(self) -> None:
        super().__init__("right")
        self._labels: list[tuple[float, str]] = []
        self.text_rects: list[tuple[QRectF, str]] = []  # as last drawn, local coordinates

    def set_labels(self, labels: list[tuple[float, str]]) -> None:
        self._labels = list(labels)
        self.setTicks([[(value, "") for value, _ in labels], []])

    def generateDrawSpecs(self, p: QPainter) -> Any:
        specs = super().generateDrawSpecs(p)
        if specs is None or not self.style["showValues"]:
            return specs
        axis_spec, tick_specs, _ = specs
        view = self.linkedView()
        if view is None or not self._labels:
            self.text_rects = []
            return axis_spec, tick_specs, []
        bounds = self.boundingRect()
        rects = [p.boundingRect(QRectF(0, 0, 200, 100), Qt.AlignmentFlag.AlignCenter, text)
                 for _, text in self._labels]
        height = max(r.height() * 0.85 for r in rects)
        wanted = [self.mapFromScene(view.mapViewToScene(QPointF(0, value))).y()
                  for value, _ in self._labels]
        centres = spread_labels(wanted, height, bounds.top() + height / 2,
                                bounds.bottom() - height / 2)
        left = max(0, self.style["tickLength"]) + self.style["tickTextOffset"][0]
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        text_specs, self.text_rects = [], []
        for (_, text), rect, y in zip(self._labels, rects, centres, strict=True):
            box = QRectF(left, y - height / 2, rect.width(), height)
            text_specs.append((box, flags, text))
            self.text_rects.append((box, text))
        return axis_spec, tick_specs, text_specs


def _limit_pen(limit: str) -> QPen:
    style = Qt.PenStyle.DotLine if limit == "max_size" else Qt.PenStyle.SolidLine
    return pg.mkPen(LIMIT_COLORS[limit], width=1, style=style)


__all__ = ["CAPACITY", "RAW_COLUMNS", "WINDOWS", "GraphsPanel", "LimitAxis", "merge_limits",
           "spread_labels"]
