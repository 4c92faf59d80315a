"""Pieces the console's forms share: a row of widgets, a scroll area for a
tall panel, a wheel guard for spin boxes and combo boxes, a file dialog that
never nests a loop, and the status line + error box a panel reports
user-code errors in.

GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from ..client import safe_repr
from ..theme import FAILED_COLOR
from .error_dialog import ErrorDialog

log = logging.getLogger("gui")


def row(*widgets: QWidget) -> QWidget:
    """``widgets`` side by side, without margins."""
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return holder


def scrollable(widget: QWidget) -> QScrollArea:
    """A tall panel in a scroll area, so its dock may be shorter than the panel."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    area.setWidget(widget)
    return area


class _WheelGuard(QObject):
    """Lets the wheel change its widget only while the widget has the focus;
    otherwise the wheel event goes on to the parent (the panel scrolls)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if (event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget)
                and not watched.hasFocus()):
            event.ignore()
            return True
        return False


def guard_wheel(*widgets: QWidget) -> None:
    """Scrolling over ``widgets`` (spin boxes, combo boxes) never changes them:
    the wheel changes a field only once it has the focus (clicked or tabbed
    into, never by the wheel itself)."""
    for widget in widgets:
        widget.setFocusPolicy(Qt.StrongFocus)
        widget.installEventFilter(_WheelGuard(widget))


def swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(color)
    return QIcon(pixmap)


def default_text(value: Any) -> str:
    """A script parameter's default as the operator types it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return safe_repr(value)  # a default from the script: its __repr__ is script code


def ask_file(parent: QWidget, title: str, slot: Callable[[str], Any]) -> None:
    """A ``.py`` file chosen in a file dialog → ``slot(path)``."""
    dialog = QFileDialog(parent, title, str(Path.cwd()), "Python files (*.py)")
    dialog.setFileMode(QFileDialog.ExistingFile)
    dialog.fileSelected.connect(slot)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()  # never exec(): the Qt loop is the asyncio loop


class ReportingPanel(QWidget):
    """A panel that reports user-code errors in its status line and the
    window's one error box (``ErrorDialog``), keeping the text in ``last_error``."""

    error_shown = Signal(str)  # message + traceback of a user-code error

    def __init__(self, errors: ErrorDialog | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.errors = errors or ErrorDialog(self)  # the window's, in the console
        self.last_error = ""
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_label.setVisible(False)

    @property
    def error_box(self) -> QMessageBox | None:
        """The open error box (shared with the window in the console), or ``None``."""
        return self.errors.box

    def show_error(self, title: str, message: str, details: str = "") -> None:
        """Show ``message`` (and ``details``, a traceback) inline and in the error box."""
        self.last_error = f"{message}\n\n{details}".strip() if details else message
        log.warning("%s: %s", title, message)
        self.set_status(message, error=True)
        self.errors.show(title, message, details, QMessageBox.Critical)
        self.error_shown.emit(self.last_error)

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))
        self.status_label.setStyleSheet(f"color: {FAILED_COLOR};" if error else "")
