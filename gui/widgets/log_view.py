"""The log panel: records of the ``engine``, ``gui``, ``scenario`` and ``runner``
loggers, with a level filter -- and bounded work however many arrive.

A flood (100,000 queue timeouts firing at once, a scenario logging in a
tight loop) must not freeze the console. One queued Qt signal per record
would post 100,000 events to the GUI thread, and inserting each line on its
own redraws the text 100,000 times. So:

* ``QtLogHandler.emit`` (any thread) only appends the record to a bounded
  buffer under the handler's lock: O(1), no Qt call, no formatting. Past
  ``max_pending`` records it stops keeping them and counts them instead, per
  kind of message (logger, level, message template) -- at most
  ``MAX_DROPPED_KINDS`` kinds, the rest under "other".
* ``LogView`` drains the buffer on a timer (GUI thread), at most
  ``MAX_PER_TURN`` records per turn, and inserts what it shows in one edit
  block. A run of *similar* records (same logger, level and template) shows
  its first ``SIMILAR_SHOWN`` lines, then one "… N more similar messages"
  line when the run ends, the log goes quiet, or ``SUMMARY_EVERY`` seconds
  pass. Only shown records are formatted. The text keeps the last
  ``max_lines`` lines.

``turn_done`` says what each drain that found work did (records taken,
lines written): what a test checks to know the work per turn is bounded.

The panel reads only the loggers, never the engine. ``QtLogHandler.emit``
may be called from any thread; everything else runs on the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..client import safe_repr

LOGGERS = ("engine", "gui", "scenario", "runner")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_COLORS = {"WARNING": "#b8860b", "ERROR": "#c0392b", "CRITICAL": "#c0392b"}
SUMMARY_COLOR = "#7f7f7f"

MAX_PENDING = 10_000       # records the handler keeps for the panel; the rest are counted
MAX_DROPPED_KINDS = 20     # kinds of message counted separately once the buffer is full
MAX_PER_TURN = 500         # records one drain takes (bounds the GUI thread's work per turn)
SIMILAR_SHOWN = 3          # lines shown of a run of similar records before summarising
SUMMARY_EVERY = 2.0        # seconds: a long run of similar records is summarised this often
DRAIN_INTERVAL_MS = 50

Kind = tuple[str, int, str]  # (logger name, level, message template)


def _kind(record: logging.LogRecord) -> Kind:
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    return record.name, record.levelno, template


@dataclass
class Turn:
    """What one drain did."""
    taken: int = 0      # records taken from the handler
    written: int = 0    # lines inserted into the text (records and summaries)


class QtLogHandler(logging.Handler):
    """A logging handler that buffers records for the GUI thread (any thread may log)."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        super().__init__()
        self.max_pending = max_pending
        # Guarded by self.lock (the handler's own lock, which handle() holds
        # around emit()): _pending, _dropped.
        self._pending: deque[logging.LogRecord] = deque()
        self._dropped: dict[Kind | None, int] = {}  # None: kinds past MAX_DROPPED_KINDS
        self.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-8s "
                                            "%(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        # handle() holds self.lock here: no Qt, no formatting, O(1).
        if len(self._pending) < self.max_pending:
            self._pending.append(record)
            return
        kind: Kind | None = _kind(record)
        if kind not in self._dropped and len(self._dropped) >= MAX_DROPPED_KINDS:
            kind = None
        self._dropped[kind] = self._dropped.get(kind, 0) + 1

    def pending(self) -> int:
        with self.lock:
            return len(self._pending)

    def take(self, limit: int) -> tuple[list[logging.LogRecord], dict[Kind | None, int]]:
        """Up to ``limit`` buffered records, oldest first; and once the buffer is
        empty, the counts of the records it could not keep (then reset)."""
        with self.lock:
            count = min(limit, len(self._pending))
            records = [self._pending.popleft() for _ in range(count)]
            dropped: dict[Kind | None, int] = {}
            if not self._pending and self._dropped:
                dropped, self._dropped = self._dropped, {}
        return records, dropped

    def line(self, record: logging.LogRecord) -> str:
        """The record as one line of text; never raises (its arguments are anyone's)."""
        try:
            return self.format(record)
        except BaseException as exc:  # noqa: BLE001 - a user __str__/__repr__ in the args
            return (f"{record.levelname:<8} {record.name}: {safe_repr(record.msg)} "
                    f"(cannot format its arguments: {type(exc).__name__})")


class LogView(QWidget):
    turn_done = Signal(object)  # Turn, after each drain that took or wrote something

    def __init__(self, parent: QWidget | None = None, max_lines: int = 5000) -> None:
        super().__init__(parent)
        self._level = logging.INFO
        # The run of similar records being shown: its kind, how many of it
        # were seen, how many of those were not shown, when it was last summarised.
        self._run_kind: Kind | None = None
        self._run_seen = 0
        self._run_hidden = 0
        self._run_since = 0.0
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
        self.handler.setLevel(self._level)  # filtered before buffering, not after
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self.handler)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def close_handler(self) -> None:
        """Detach from the loggers (the window calls it on close)."""
        self._timer.stop()
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self.handler)

    def set_level(self, level: str) -> None:
        self.level_combo.setCurrentText(level)

    def _on_level_changed(self, level: str) -> None:
        self._level = logging.getLevelName(level)
        self.handler.setLevel(self._level)
        for name in LOGGERS:
            logging.getLogger(name).setLevel(min(self._level, logging.INFO))

    # -- draining (GUI thread) ---------------------------------------------------
    def drain(self) -> Turn:
        """Write what the handler buffered: at most ``MAX_PER_TURN`` records."""
        records, dropped = self.handler.take(MAX_PER_TURN)
        lines: list[tuple[str, str | None]] = []  # (text, colour)
        now = time.monotonic()
        for record in records:
            kind = _kind(record)
            if kind != self._run_kind:
                self._end_run(lines)
                self._run_kind, self._run_seen, self._run_since = kind, 0, now
            self._run_seen += 1
            if self._run_seen <= SIMILAR_SHOWN:
                lines.append((self.handler.line(record), LEVEL_COLORS.get(record.levelname)))
            else:
                self._run_hidden += 1
        if not records or now - self._run_since >= SUMMARY_EVERY:
            self._end_run(lines, keep_kind=bool(records))
            self._run_since = now
        for kind, count in dropped.items():
            what = (f"{logging.getLevelName(kind[1])} {kind[0]} messages like {kind[2]!r:.120}"
                    if kind else "other messages")
            lines.append((f"… {count:,} more {what} were not kept: the log was flooded",
                          SUMMARY_COLOR))
        self._write(lines)
        turn = Turn(taken=len(records), written=len(lines))
        if records or lines:
            self.turn_done.emit(turn)
        return turn

    def _end_run(self, lines: list[tuple[str, str | None]], keep_kind: bool = False) -> None:
        """Summarise the hidden part of the current run of similar records."""
        if self._run_hidden:
            name, level, template = self._run_kind or ("", 0, "")
            lines.append((f"… {self._run_hidden:,} more similar messages "
                          f"({logging.getLevelName(level)} {name}: {template!r:.120})",
                          SUMMARY_COLOR))
            self._run_hidden = 0
        if not keep_kind:
            self._run_kind, self._run_seen = None, 0

    def _write(self, lines: list[tuple[str, str | None]]) -> None:
        if not lines:
            return
        bar = self.text.verticalScrollBar()
        follow = bar.value() >= bar.maximum()  # do not yank an operator reading back
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()  # one layout and repaint for the whole batch
        plain = QTextCharFormat()
        for text, color in lines:
            fmt = plain
            if color:
                fmt = QTextCharFormat()
                fmt.setForeground(QColor(color))
            if not self.text.document().isEmpty():
                cursor.insertBlock()
            cursor.insertText(text, fmt)
        cursor.endEditBlock()
        if follow:
            bar.setValue(bar.maximum())

    def lines(self) -> list[str]:
        return self.text.toPlainText().splitlines()
