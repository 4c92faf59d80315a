"""Operator-action markers on the graphs: a thin vertical line on every plot
at the moment an action was applied, with a small flag (the action's first
word) at the top of the pool plots, left of the line -- or right of it when
the line is too near the plot's left edge for the flag to fit (``fit_flags``:
it would overprint the axis). The full description is the line's and the
flag's tooltip (the bridge also logs it); nothing wider than the flag covers
the data.

``Markers`` owns the lines it drew (at most ``MAX_MARKERS``, the oldest
dropped first, and those older than the recorded history pruned). Times are
monotonic seconds; lines are drawn at wall-clock x (monotonic + the
recorder's clock offset). GUI thread only.
"""

from __future__ import annotations

from collections import deque

import pyqtgraph as pg
from PySide6.QtGui import QColor

from ..theme import MARKER_COLOR

MAX_MARKERS = 200
FLAG_CHARS = 10  # the most characters a flag shows
LEFT_OF_LINE = [(1, 0), (1, 0)]  # flag anchors: its right edge on the line
RIGHT_OF_LINE = [(0, 0), (0, 0)]  # its left edge on the line


def flag_text(description: str) -> str:
    """The short text of a marker's flag: the description's first word, at
    most ``FLAG_CHARS`` characters ("min_size 0 → 8, …" → "min_size")."""
    words = description.split()
    first = words[0] if words else ""
    return first if len(first) <= FLAG_CHARS else first[:FLAG_CHARS - 1] + "…"


class Markers:
    """The markers drawn on ``plots`` (name → plot; ``labelled`` names get a label)."""

    def __init__(self, plots: dict[str, pg.PlotItem], labelled: tuple[str, ...],
                 clock_offset: float) -> None:
        self._plots = plots
        self._labelled = labelled
        self._clock_offset = clock_offset
        self._markers: deque[tuple[float, str, list[pg.InfiniteLine]]] = deque()

    def add(self, when: float, description: str, fill: QColor) -> None:
        """A marker at monotonic time ``when``; ``fill`` behind its flag."""
        x = when + self._clock_offset
        pen = pg.mkPen(MARKER_COLOR, width=1)
        fill = QColor(fill)
        fill.setAlpha(220)  # the flag stays readable over the data
        items = []
        for name, plot in self._plots.items():
            labelled = name in self._labelled
            line = pg.InfiniteLine(
                pos=x, angle=90, movable=False, pen=pen,
                label=flag_text(description) if labelled else None,
                labelOpts={"position": 0.98, "color": MARKER_COLOR,
                           "anchors": LEFT_OF_LINE, "fill": fill} if labelled else None)
            line.setToolTip(description)
            if labelled:
                line.label.setToolTip(description)
            line.setZValue(40)
            plot.addItem(line, ignoreBounds=True)
            items.append(line)
        self._markers.append((when, description, items))
        while len(self._markers) > MAX_MARKERS:
            self._drop_oldest()

    def fit_flags(self) -> None:
        """Put each flag left of its line, or right of it where the plot's left
        edge is nearer than the flag is wide (it would overprint the axis)."""
        views = {}  # labelled plot → (left edge x, x per pixel), once per call
        for name in self._labelled:
            vb = self._plots[name].vb
            views[name] = (vb.viewRange()[0][0], vb.viewPixelSize()[0])
        for _, _, items in self._markers:
            for line, name in zip(items, self._plots, strict=True):
                if name not in views:
                    continue
                lo, per_pixel = views[name]
                room = (line.value() - lo) / per_pixel if per_pixel > 0 else 0.0
                label = line.label
                anchors = LEFT_OF_LINE if room >= label.boundingRect().width() else RIGHT_OF_LINE
                if label.anchors != anchors:
                    label.anchors = anchors
                    label.updatePosition()

    def flag_sides(self) -> list[dict[str, str]]:
        """Per marker, oldest first: plot name → "left" / "right" of the line."""
        return [{name: "left" if line.label.anchors == LEFT_OF_LINE else "right"
                 for line, name in zip(items, self._plots, strict=True)
                 if getattr(line, "label", None) is not None}
                for _, _, items in self._markers]

    def prune(self, oldest_x: float) -> None:
        """Drop the markers left of ``oldest_x`` (wall-clock x of the oldest sample)."""
        while self._markers and self._markers[0][0] + self._clock_offset < oldest_x:
            self._drop_oldest()

    def listed(self) -> list[tuple[float, str]]:
        """(monotonic time, description) of every marker, oldest first."""
        return [(when, description) for when, description, _ in self._markers]

    def _drop_oldest(self) -> None:
        _, _, items = self._markers.popleft()
        for item, plot in zip(items, self._plots.values(), strict=True):
            plot.removeItem(item)
