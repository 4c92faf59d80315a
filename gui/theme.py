"""Colours and themes: one fixed colour per priority, used everywhere in the app,
the light and dark palettes, and the colour legends drawn from them.

GUI thread only (palettes are the application's); the colour tables and the
legend helpers are plain data and text.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from engine.constants import (
    PRIORITIES,
    PRIORITY_NAMES,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
)

#: Priority → colour (hex), from the most to the least urgent.
PRIORITY_COLORS = {
    TASK_CRITICAL: "#d62728",  # red
    TASK_HIGH: "#ff7f0e",      # orange
    TASK_NORMAL: "#1f77b4",    # blue
    TASK_LOW: "#2ca02c",       # green
}

#: Row tints of tasks that waited past a timeout level.
TIMEOUT_WARNING_COLOR = "#f5c242"   # amber
TIMEOUT_CRITICAL_COLOR = "#e8534a"  # red
FAILED_COLOR = "#c0392b"
LIMIT_COLORS = {  # horizontal lines on the pool graphs
    "pool_size": "#555555",
    "reserve_normal": PRIORITY_COLORS[TASK_NORMAL],
    "reserve_high": PRIORITY_COLORS[TASK_HIGH],
    "max_size": "#9467bd",
}
MARKER_COLOR = "#8c564b"
LIMIT_NAMES = {  # legend text of each limit line
    "pool_size": "pool_size",
    "reserve_normal": "+ reserve_normal",
    "reserve_high": "+ reserve_high",
    "max_size": "max_size",
}
_LIMIT_GLYPHS = {"pool_size": "&#9472;&#9472;", "reserve_normal": "&#9472;&#9472;",
                 "reserve_high": "&#9472;&#9472;", "max_size": "&#9480;&#9480;"}


def priority_color(priority: int) -> QColor:
    return QColor(PRIORITY_COLORS.get(priority, "#888888"))


def priority_label(priority: int) -> str:
    return PRIORITY_NAMES.get(priority, str(priority))


def mix_colors(color: str, background: QColor, strength: float) -> QColor:
    """``color`` blended over ``background``: an opaque tint (no alpha stacking)."""
    c = QColor(color)
    return QColor(
        round(background.red() + (c.red() - background.red()) * strength),
        round(background.green() + (c.green() - background.green()) * strength),
        round(background.blue() + (c.blue() - background.blue()) * strength))


def pool_legend_html(limits: Iterable[str]) -> str:
    """What the pool graphs show, each entry in its colour and line style."""
    entries = ["<b>Pools</b> &#8212; priorities (running: stacked areas; queued: lines):"]
    entries += [f"<span style='color:{PRIORITY_COLORS[p]}'>&#9632;</span>&nbsp;"
                f"{PRIORITY_NAMES[p]}" for p in PRIORITIES]
    entries.append("&nbsp;&#183; limits on the running graphs (values on the right):")
    entries += [f"<span style='color:{LIMIT_COLORS[limit]}'>{_LIMIT_GLYPHS[limit]}</span>"
                f"&nbsp;{LIMIT_NAMES[limit].replace(' ', '&nbsp;')}" for limit in limits]
    return " &nbsp;".join(entries)


def legend_html(colors: dict[str, str]) -> str:
    """Curve names in their colours, for a title that doubles as the legend."""
    return " ".join(f"<span style='color:{color}'>&#9472;&#9472; {name}</span>"
                    for name, color in colors.items())


THEMES = ("light", "dark")


def apply_theme(app: QApplication, name: str) -> None:
    """Fusion style with a light or a dark palette."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}: use one of {', '.join(THEMES)}")
    app.setStyle("Fusion")
    if name == "light":
        app.setPalette(app.style().standardPalette())
        return
    palette = QPalette()
    base, window, text = QColor("#1e1f22"), QColor("#2b2d30"), QColor("#dfe1e5")
    palette.setColor(QPalette.Window, window)
    palette.setColor(QPalette.WindowText, text)
    palette.setColor(QPalette.Base, base)
    palette.setColor(QPalette.AlternateBase, window)
    palette.setColor(QPalette.ToolTipBase, window)
    palette.setColor(QPalette.ToolTipText, text)
    palette.setColor(QPalette.Text, text)
    palette.setColor(QPalette.Button, window)
    palette.setColor(QPalette.ButtonText, text)
    palette.setColor(QPalette.BrightText, QColor("#ff5555"))
    palette.setColor(QPalette.Highlight, QColor("#3574f0"))
    palette.setColor(QPalette.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.PlaceholderText, QColor("#8c8f94"))
    palette.setColor(QPalette.Disabled, QPalette.Text, QColor("#6f737a"))
    palette.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#6f737a"))
    app.setPalette(palette)
