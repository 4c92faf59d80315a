"""The live stack of the running task shown in the task table's detail pane.

``StackView`` reads ``client.task_stack(task_id)`` for the task the detail
pane shows while it runs, and draws it in a monospace view, outermost frame
first as a traceback reads: the user's own frames in the normal colour with
their function in bold, the innermost of them highlighted (where the task
is stuck, in its own code); runs of engine and Python frames greyed and,
unless "All frames" is ticked, collapsed into one line that counts them. A
header says what runs it (thread, or a coroutine's loop), how long it has
been running and when the stack was read. Refresh reads it again; "Auto"
reads it every ``AUTO_MS`` while the task is selected, running and the view
visible.

What cannot be read is said in one line, the engine's own words: a task
that is not running (``LookupError``), a stack that cannot be read
(``RuntimeError``: a process task's frames are in its worker process; a
started task none of whose code runs); an attached console whose service
does not answer (``MonitorUnavailable``) keeps the last stack, greyed. Once
the task has finished, the last stack read stays, saying so.

Reads never block the GUI thread for long: a local read is immediate and
done in place; attached, the read is one bounded request to the service,
made on the view's own daemon thread (one read at a time; a refresh asked
for meanwhile is done when it answers; the thread keeps its connection to
the monitor) and its answer handed back to the GUI thread by a queued signal.

GUI thread only (the reading thread only emits ``_Reader.answered``).
"""

from __future__ import annotations

import html
import os
import queue
import re
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.constants import PRIORITY_NAMES, TT_MP

from ..bridge import EngineBridge
from ..client import StackFrame, TaskStack, safe_repr
from ..formatting import format_duration, format_wall
from ..remote import MonitorUnavailable
from ..theme import FAILED_COLOR

AUTO_MS = 1000  # auto-refresh period while the task is selected and running
GREY = "#8a8a8a"
HIGHLIGHT_BACKGROUND = "#ffe8a3"  # the innermost user frame (amber, as the stuck rows)
HIGHLIGHT_FOREGROUND = "#1b1b1b"
UNANSWERED = "The service does not answer: the stack is read again once it is back."
_STDLIB = re.compile(r".*/lib/python3\.\d+/")


def short_path(frame: StackFrame) -> str:
    """A frame's file as the eye wants it: the standard library's from its
    package (``asyncio/tasks.py``), the engine's from ``engine/``, the user's
    relative to the working directory when inside it."""
    path = frame.filename
    if frame.origin == "python":
        return _STDLIB.sub("", path)
    if frame.origin == "engine":
        at = path.rfind(f"{os.sep}engine{os.sep}")
        return path[at + 1:] if at >= 0 else path
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


def one_line(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - the engine's message, but be safe
        text = type(exc).__name__
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] if text else type(exc).__name__


def _serve_reads(requests: queue.SimpleQueue, read: Any, reader: _Reader) -> None:
    """The reading thread of an attached view: each task id → one read → ``answered``."""
    while (task_id := requests.get()) is not None:
        stack, error = read(task_id)
        try:
            reader.answered.emit(task_id, stack, error)
        except RuntimeError:  # the view is gone: nobody to tell
            return


class _Reader(QObject):
    # (task id, the TaskStack or None, the exception or None), from the reading thread
    answered = Signal(object, object, object)


class StackView(QWidget):
    """See the module docstring."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._client = bridge.client
        self._in_place = not bridge.attached  # a local read is immediate
        self._task_id: Any = None
        self._tt: int | None = None
        self._running = False
        self._in_flight = False  # an attached read is on its way
        self._again = False      # refresh asked for while one was on its way
        # Attached: one reading thread for the view's life (it keeps its
        # connection to the monitor alive), fed task ids, ended by a None.
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self.stack: TaskStack | None = None  # the last stack read for the task shown
        self.read_at: float | None = None    # when (wall clock)
        self.message = ""                    # the one-line reason there is no fresh stack
        self.reads = 0                       # answers taken (for the operator: none; tests)
        self._reader = _Reader(self)
        self._reader.answered.connect(self._on_answered)
        self.destroyed.connect(lambda *_, requests=self._requests: requests.put(None))
        self._timer = QTimer(self)
        self._timer.setInterval(AUTO_MS)
        self._timer.timeout.connect(self._on_tick)
        self._build()
        self.hide()

    def _build(self) -> None:
        self.title = QLabel("<b>Live stack</b>")
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the task's stack again now")
        self.refresh_button.clicked.connect(self.refresh)
        self.auto_box = QCheckBox(f"Auto ({AUTO_MS / 1000:g} s)")
        self.auto_box.setToolTip("Read the stack again every second while this task is "
                                 "selected and running")
        self.auto_box.setChecked(True)
        self.auto_box.toggled.connect(self._update_timer)
        self.all_box = QCheckBox("All frames")
        self.all_box.setToolTip("Show the engine's and Python's frames too (greyed); "
                                "otherwise each run of them is one line")
        self.all_box.toggled.connect(self._draw)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.title)
        bar.addStretch(1)
        bar.addWidget(self.all_box)
        bar.addWidget(self.auto_box)
        bar.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.header)
        layout.addWidget(self.message_label)
        layout.addWidget(self.text, 1)

    # -- following the detail pane ----------------------------------------------
    @property
    def task_id(self) -> Any:
        return self._task_id

    def follow(self, task_id: Any, status: str | None, tt: int | None = None) -> None:
        """The detail pane shows ``task_id`` (``None``: none), last known ``status``:
        a started task's stack is read (now, if it is another task, then every
        ``AUTO_MS``); a finished one keeps its last stack, saying so."""
        running = status == "started"
        if task_id != self._task_id or (task_id is None):
            self._task_id, self._tt = task_id, tt
            self.stack, self.read_at, self.message = None, None, ""
            self._running = running
            self.setVisible(running)
            if running:
                self.refresh()
            else:
                self._draw()
        elif running != self._running:
            self._running = running
            if running:  # started since it was selected
                self.show()
                self.refresh()
            elif self.stack is None:
                self.hide()
            else:
                self._draw()
        self._update_timer()

    def refresh(self) -> None:
        """Read the stack of the task shown again (off the GUI thread when attached)."""
        task_id = self._task_id
        if task_id is None or not self._running:
            return
        if self._in_place:
            self._take(task_id, *self._read(task_id))
            return
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        if self._worker is None:
            self._worker = threading.Thread(
                target=_serve_reads, args=(self._requests, self._read, self._reader),
                name="console_stack_read", daemon=True)
            self._worker.start()
        self._requests.put(task_id)

    def _read(self, task_id: Any) -> tuple[TaskStack | None, Exception | None]:
        try:
            return self._client.task_stack(task_id), None
        except Exception as exc:  # noqa: BLE001 - the engine's refusal, or the service away
            return None, exc

    def _on_answered(self, task_id: Any, stack: TaskStack | None,
                     error: Exception | None) -> None:
        self._in_flight = False
        self._take(task_id, stack, error)
        if self._again:
            self._again = False
            self.refresh()

    def _take(self, task_id: Any, stack: TaskStack | None, error: Exception | None) -> None:
        if task_id != self._task_id:
            return  # another task was selected meanwhile
        self.reads += 1
        if stack is not None:
            self.stack, self.read_at, self.message = stack, time.time(), ""
        elif isinstance(error, MonitorUnavailable):
            self.message = UNANSWERED
        elif isinstance(error, (LookupError, RuntimeError)):
            self.message = one_line(error)  # a stack read before stays, greyed
        else:
            self.message = f"The stack could not be read: {type(error).__name__}: " \
                           f"{one_line(error)}"
        self._draw()
        self._update_timer()

    def _on_tick(self) -> None:
        if self.isVisible() and self._running:
            self.refresh()

    def _update_timer(self, *_: Any) -> None:
        # A process task's frames are in another process: asking every second
        # would only say so again.
        wanted = (self._running and self.auto_box.isChecked()
                  and not (self._tt == TT_MP and self.stack is None and self.message))
        if wanted and not self._timer.isActive():
            self._timer.start()
        elif not wanted and self._timer.isActive():
            self._timer.stop()

    @property
    def auto_refreshing(self) -> bool:
        return self._timer.isActive()

    # -- drawing -----------------------------------------------------------------
    def _draw(self, *_: Any) -> None:
        stack = self.stack
        stale = bool(self.message) or not self._running
        if self.message:
            color = GREY if self.message == UNANSWERED else FAILED_COLOR
            self.message_label.setStyleSheet(f"color: {color};")
            self.message_label.setText(self.message)
        self.message_label.setVisible(bool(self.message))
        title = "<b>Live stack</b>"
        if stack is not None:
            title += f" · running <b>{html.escape(format_duration(stack.seconds))}</b>"
        self.title.setText(title)
        header = self._header(stack)
        self.header.setText(header)
        self.header.setVisible(bool(header))
        self.text.setVisible(stack is not None)
        if stack is None:
            self.text.clear()
            return
        where = f"{self._where(stack)} · read {format_wall(self.read_at)}"
        self.text.setHtml(frames_html(stack, all_frames=self.all_box.isChecked(),
                                      greyed=stale, title=where))

    @staticmethod
    def _where(stack: TaskStack) -> str:
        return (f"coroutine on {stack.where}" if stack.kind == "coroutine" else
                f"{stack.kind} {stack.where}")

    def _header(self, stack: TaskStack | None) -> str:
        """A line above the frames when there is more to say: what a coroutine
        awaits, or that the stack is not a fresh one."""
        if stack is None:
            return ""
        if not self._running:
            return (f"<span style='color:{GREY}'>finished — the last stack read, at "
                    f"{html.escape(format_wall(self.read_at))}</span>")
        return f"<span style='color:{GREY}'>{html.escape(stack.note)}</span>" if stack.note \
            else ""

    def plain_text(self) -> str:
        """What the view shows, as text: the title, the header, the frames."""
        parts = (self.title.text(), self.header.text(), self.text.toPlainText())
        return "\n".join(re.sub(r"<[^>]+>", "", p) for p in parts if p)


def frames_html(stack: TaskStack, *, all_frames: bool = False, greyed: bool = False,
                title: str = "") -> str:
    """``stack``'s frames, outermost first, as the view draws them, under
    ``title`` (a grey line; by default the task's id, name and priority)."""
    user = [i for i, f in enumerate(stack.frames) if f.origin == "user"]
    innermost = user[-1] if user else None
    out: list[str] = []
    hidden: list[StackFrame] = []

    def flush() -> None:
        if not hidden:
            return
        engine = sum(f.origin == "engine" for f in hidden)
        python = len(hidden) - engine
        what = ", ".join(part for part in (
            f"{engine} engine frame{'s' if engine != 1 else ''}" if engine else "",
            f"{python} Python frame{'s' if python != 1 else ''}" if python else "") if part)
        out.append(f"<span style='color:{GREY}'><i>  … {what}</i></span>")
        hidden.clear()

    for i, frame in enumerate(stack.frames):
        if frame.origin != "user" and not all_frames:
            hidden.append(frame)
            continue
        flush()
        out.append(_frame_html(frame, highlight=i == innermost, greyed=greyed))
    flush()
    if not stack.frames:
        out.append(f"<span style='color:{GREY}'>(no frames)</span>")
    title = title or (f"task {safe_repr(stack.task_id)} ({stack.name}, "
                      f"{PRIORITY_NAMES.get(stack.priority, stack.priority)})")
    return (f"<pre style='margin:0'><span style='color:{GREY}'>{html.escape(title)}</span>\n"
            + "\n".join(out) + "</pre>")


def _frame_html(frame: StackFrame, *, highlight: bool, greyed: bool) -> str:
    place = html.escape(f'{short_path(frame)}:{frame.lineno}')
    function = html.escape(frame.function)
    line = html.escape(frame.line)
    if frame.origin != "user":
        text = f"  {function}  {place}" + (f"\n      {line}" if line else "")
        return f"<span style='color:{GREY}'>{text}</span>"
    mark = "▶ " if highlight else "  "
    head = f"{mark}<b>{function}</b>  <span style='color:{GREY}'>{place}</span>"
    code = f"\n      {line}" if line else ""
    if highlight and not greyed:
        style = f"background-color:{HIGHLIGHT_BACKGROUND}; color:{HIGHLIGHT_FOREGROUND}"
        return f"<span style='{style}'>{head}{code} </span>"
    if greyed:
        return f"<span style='color:{GREY}'>{head}{code}</span>"
    return head + code


__all__ = ["AUTO_MS", "StackView", "frames_html", "short_path"]
