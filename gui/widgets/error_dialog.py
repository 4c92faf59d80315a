"""One error message box at a time, however many errors arrive.

A broken scenario, a loop exception in a tight loop or a flood of refusals can
report hundreds of errors a second; one box per error buries the console
(and its event loop) under windows. ``ErrorDialog`` keeps at most one
non-modal ``QMessageBox`` open: an error that arrives while it is open
replaces its text with the newest one and counts itself in the box's
informative line ("N more errors…"); every error still goes to the log,
which is where the operator reads them all. Once the box is closed, the next
error opens a new one.

The box is at least ``MIN_WIDTH`` px wide, and wider for a long title (a
window manager elides a title wider than its window: "Unexpe…d error"); its
text wraps.

The box is opened with ``open()``, never ``exec()`` or the static functions:
they would re-enter the Qt loop, which is the asyncio loop (qasync #59).
GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

MAX_DETAILS = 20_000  # characters of a traceback kept in the box (the log has it all)
MIN_WIDTH = 460  # px: room for a sentence per line and any title the console gives
TITLE_ROOM = 160  # px beside a title: the window manager's icon and buttons


class ErrorDialog(QObject):
    """The one error box of a window (see the module docstring)."""

    shown = Signal(str, str)  # (title, text) of every error reported, coalesced or not

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._box: QMessageBox | None = None
        self._more = 0      # errors coalesced into the open box
        self.reported = 0   # errors reported since the console started
        self.coalesced = 0  # of those, how many went into an already open box

    @property
    def box(self) -> QMessageBox | None:
        """The open box, or ``None``."""
        return self._box

    def show(self, title: str, text: str, details: str = "",
             icon: QMessageBox.Icon = QMessageBox.Warning) -> QMessageBox:
        """Report an error: open the box, or update the open one."""
        self.reported += 1
        box = self._box
        if box is None:
            box = QMessageBox(icon, title, text, QMessageBox.Ok, self._parent)
            box.setModal(False)
            box.setTextInteractionFlags(Qt.TextSelectableByMouse)
            label = box.findChild(QLabel, "qt_msgbox_label")
            if label is not None:
                label.setWordWrap(True)
            box.finished.connect(self._on_finished)
            self._box, self._more = box, 0
        else:
            self.coalesced += 1
            self._more += 1
            box.setIcon(icon)
            box.setWindowTitle(title)
            box.setText(text)
            box.setInformativeText(
                f"{self._more:,} more error{'s' if self._more > 1 else ''} arrived while "
                f"this message was open; this is the latest. The Log panel has them all.")
        box.setDetailedText(details[-MAX_DETAILS:] if details else "")
        _widen(box, title)
        if not box.isVisible():
            box.open()  # sized for its final text and width
        else:
            box.adjustSize()
        self.shown.emit(title, text)
        return box

    def _on_finished(self, _result: int) -> None:
        box, self._box = self._box, None
        if box is not None:
            box.deleteLater()


def min_width(box: QMessageBox, title: str) -> int:
    """The least width of ``box``: ``MIN_WIDTH``, or more for a long ``title``."""
    return max(MIN_WIDTH, box.fontMetrics().horizontalAdvance(title) + TITLE_ROOM)


def _widen(box: QMessageBox, title: str) -> None:
    """Hold ``box`` at least ``min_width`` wide, through its text label's
    minimum width (a message box sizes itself on every change, ignoring its own
    ``setMinimumWidth``, and rebuilds its layout, dropping any spacer)."""
    label = box.findChild(QLabel, "qt_msgbox_label")
    icon = box.findChild(QLabel, "qt_msgboxex_icon_label")
    room = min_width(box, title) - (icon.sizeHint().width() if icon is not None else 0) - 40
    if label is not None:
        label.setMinimumWidth(room)
