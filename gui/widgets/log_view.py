"""The log panel: records of the ``engine``, ``gui``, ``scenario`` and ``runner``
loggers, with a level filter.

``QtLogHandler`` may be called from any thread; it forwards each record to
the GUI thread through a queued signal. The view keeps the last
``max_lines`` records it shows.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..bridge import EngineBridge

LOGGERS = ("engine", "gui", "scenario", "runner")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_COLORS = {"WARNING": "#b8860b", "ERROR": "#c0392b", "CRITICAL": "#c0392b"}


class QtLogHandler(logging.Handler, QObject):
    """A logging handler that hands records to the GUI thread."""

    record_emitted = Signal(object)

    def __init__(self) -> None:
        logging.Handler.__init__(self)
        QObject.__init__(self)
        self.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-8s "
                                            "%(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.record_emitted.emit(record)


class LogView(QWidget):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 max_lines: int = 5000) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._level = logging.INFO
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setMaximumBlockCount(max_lines)
        self.text.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.level_combo = QComboBox()
        self.level_combo.addItems(LEVELS)
        self.level_combo.setCurrentText("INFO")
        self.level_combo.setToolTip("Show records at this level and above")
        self.level_combo.currentTextChanged.connect(self._on_level_changed)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.text.clear)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Level"))
        bar.addWidget(self.level_combo)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.text)
        self.handler = QtLogHandler()
        self.handler.setLevel(logging.DEBUG)
        self.handler.record_emitted.connect(self._on_record, Qt.QueuedConnection)
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self.handler)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)

    def close_handler(self) -> None:
        """Detach from the loggers (the window calls it on close)."""
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self.handler)

    def set_level(self, level: str) -> None:
        self.level_combo.setCurrentText(level)

    def _on_level_changed(self, level: str) -> None:
        self._level = logging.getLevelName(level)
        for name in LOGGERS:
            logging.getLogger(name).setLevel(min(self._level, logging.INFO))

    def _on_record(self, record: logging.LogRecord) -> None:
        if record.levelno < self._level:
            return
        line = self.handler.format(record)
        color = LEVEL_COLORS.get(record.levelname)
        cursor = self.text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        fmt = QTextCharFormat()
        if color:
            fmt.setForeground(QColor(color))
        cursor.insertText(("\n" if not self.text.document().isEmpty() else "") + line, fmt)
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

    def lines(self) -> list[str]:
        return self.text.toPlainText().splitlines()
