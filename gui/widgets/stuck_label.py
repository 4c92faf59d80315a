"""The status bar's count of stuck tasks: running past the run thresholds.

``StuckLabel`` shows, from each snapshot, "N stuck" -- the running tasks past
``run_warning`` (``run_warnings`` summed over the thread, process and
coroutine pools), with how many of them are past ``run_critical`` -- amber,
red once one is critical, grey "none stuck" while none is. It is shown only
while a run threshold is on. Its tooltip names the thresholds and the
longest-running task (``longest`` of the pools: id, name, priority, seconds);
clicking it emits ``task_clicked`` with that task's id (the window selects
its row in the task table, whose detail pane then shows its live stack).

GUI thread only.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QLabel, QWidget

from engine.constants import PRIORITY_NAMES

from ..client import RunningTask, SupervisorStats, safe_repr
from ..formatting import format_duration, format_seconds
from ..theme import TIMEOUT_CRITICAL_COLOR, TIMEOUT_WARNING_COLOR

GREY = "#888888"


def stuck_counts(stats: SupervisorStats) -> tuple[int, int]:
    """(stuck, critical): running tasks past run_warning (or past run_critical,
    if that is the lower or the only one on) and past run_critical, all pools."""
    pools = (stats.thread, stats.mp, stats.coroutine)
    warnings = sum(p.run_warnings for p in pools)
    criticals = sum(p.run_criticals for p in pools)
    return max(warnings, criticals), criticals


def longest_running(stats: SupervisorStats) -> RunningTask | None:
    """The longest-running task of all the pools, or ``None``."""
    tasks = [p.longest for p in (stats.thread, stats.mp, stats.coroutine)
             if p.longest is not None]
    return max(tasks, key=lambda t: t.seconds, default=None)


class StuckLabel(QLabel):
    """See the module docstring."""

    task_clicked = Signal(object)  # the id of the longest-running task

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("health_stuck")
        self.longest: RunningTask | None = None
        self.counts = (0, 0)
        self.hide()

    def update_from(self, stats: SupervisorStats) -> None:
        on = stats.run_warning is not None or stats.run_critical is not None
        if not on:
            self.longest, self.counts = None, (0, 0)
            self.setVisible(False)
            return
        stuck, critical = self.counts = stuck_counts(stats)
        self.longest = longest_running(stats)
        if critical:  # the row tints, as a pill: readable in both themes
            text = _pill(f"⚠ {stuck:,} stuck ({critical:,} critical)",
                         TIMEOUT_CRITICAL_COLOR, "#ffffff")
        elif stuck:
            text = _pill(f"⚠ {stuck:,} stuck", TIMEOUT_WARNING_COLOR, "#1b1b1b")
        else:
            text = f"<span style='color:{GREY}'>none stuck</span>"
        if text != self.text():
            self.setText(text)
        self.setToolTip(self._tip(stats, stuck, critical))
        self.setCursor(Qt.CursorShape.PointingHandCursor if self.longest is not None
                       else Qt.CursorShape.ArrowCursor)
        self.setVisible(True)

    def _tip(self, stats: SupervisorStats, stuck: int, critical: int) -> str:
        lines = [f"Running past run_warning ({format_seconds(stats.run_warning)}): {stuck:,}",
                 f"Running past run_critical ({format_seconds(stats.run_critical)}): "
                 f"{critical:,}"]
        task = self.longest
        if task is None:
            lines.append("No task is running.")
        else:
            lines.append(f"Longest running: {describe(task)}")
            lines.append("Click to select it in the task table (its live stack shows "
                         "in the detail pane).")
        return html.escape("\n".join(lines)).replace("\n", "<br>")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        if event.button() == Qt.MouseButton.LeftButton and self.longest is not None:
            self.task_clicked.emit(self.longest.id)
            event.accept()
            return
        super().mousePressEvent(event)


def _pill(text: str, background: str, foreground: str) -> str:
    return (f"<span style='background-color:{background}; color:{foreground}'>"
            f"<b>&nbsp;{html.escape(text)}&nbsp;</b></span>")


def describe(task: Any) -> str:
    """``task 17 (crawl, NORMAL), running 42.100 s``."""
    return (f"task {safe_repr(task.id)} ({task.name}, "
            f"{PRIORITY_NAMES.get(task.priority, task.priority)}), running "
            f"{format_duration(task.seconds)}")


__all__ = ["StuckLabel", "describe", "longest_running", "stuck_counts"]
