"""Live stacks: where a running task is, now.

``task_stack(...)`` (``TaskSupervisor.task_stack``) reads, for one running
task, the frames it runs in at this moment, and returns them as a frozen
``TaskStack``:

* a thread task: the frames of the OS thread running its target
  (``sys._current_frames()``), checked to still run that task once read;
* a coroutine task: its chain of awaits, from the coroutine down to what it
  waits on (a future, a sleep); if it is running at that very moment (it
  holds its loop: blocking it, or this is that loop's thread), the frames of
  the loop's thread instead;
* a process task: refused with ``RuntimeError``, saying why (its frames are
  in another process).

A task that is not running (queued, delayed, finished, unknown) gives
``LookupError``; a started task with no code running (a ``put_task`` task
whose target returned and waits for ``mark_task_completed``, or a critical
task waiting for a thread) gives ``RuntimeError``, saying which. Nothing
here waits: reading frames is immediate, whatever the task does.

Each frame says whose code it is (``origin``): ``"engine"`` (this package),
``"python"`` (the standard library: threading, asyncio, ...) or ``"user"``
(everything else), so a viewer can set the user's own frames apart.

Threads: any.
"""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
import threading
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .constants import (
    PRIORITY_NAMES,
    STATUS_NAMES,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
)

if TYPE_CHECKING:
    from .coroutines import CoroutineHandle
    from .task import Task

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PYTHON_DIRS = tuple({os.path.abspath(sysconfig.get_paths()[key]) + os.sep
                      for key in ("stdlib", "platstdlib")})
#: The most frames a stack keeps (the innermost ones).
MAX_FRAMES = 200


@dataclass(frozen=True)
class StackFrame:
    """One frame: where, and whose code (``origin``: user, engine or python)."""

    filename: str
    lineno: int
    function: str
    line: str
    origin: str


@dataclass(frozen=True)
class TaskStack:
    """The stack of a running task, outermost frame first.

    ``where`` names what runs it (the thread's name, or the loop's);
    ``seconds`` is how long it has been running; ``note`` says what the
    frames are (e.g. the loop's thread, for a coroutine running right now).
    """

    task_id: Any
    name: str
    priority: int
    kind: str  # "thread" or "coroutine"
    where: str
    seconds: float
    frames: tuple[StackFrame, ...]
    note: str = ""

    @property
    def user_frames(self) -> tuple[StackFrame, ...]:
        return tuple(f for f in self.frames if f.origin == "user")

    def format(self) -> str:
        """The stack as a traceback reads, a header line first."""
        lines = [f"task {self.task_id!r} ({self.name}, "
                 f"{PRIORITY_NAMES.get(self.priority, self.priority)}) running "
                 f"{self.seconds:.2f} s in {self.where}" + (f"; {self.note}" if self.note else "")]
        for f in self.frames:
            lines.append(f'  File "{f.filename}", line {f.lineno}, in {f.function}')
            if f.line:
                lines.append(f"    {f.line}")
        return "\n".join(lines)

    __str__ = format


def origin_of(filename: str) -> str:
    """Whose code ``filename`` is: ``"engine"``, ``"python"`` or ``"user"``."""
    path = os.path.abspath(filename)
    if path.startswith(_ENGINE_DIR):
        return "engine"
    if path.startswith(_PYTHON_DIRS) and "site-packages" not in path:
        return "python"
    return "user"


def frames_of(frame: types.FrameType | None) -> tuple[StackFrame, ...]:
    """``frame`` and its callers, outermost first (at most ``MAX_FRAMES``)."""
    chain = []
    while frame is not None and len(chain) < MAX_FRAMES:
        chain.append(frame)
        frame = frame.f_back
    return tuple(_frame(f, f.f_lineno) for f in reversed(chain))


def _frame(frame: types.FrameType, lineno: int | None) -> StackFrame:
    code = frame.f_code
    lineno = lineno or code.co_firstlineno
    line = linecache.getline(code.co_filename, lineno, frame.f_globals).strip()
    return StackFrame(code.co_filename, lineno, code.co_qualname, line,
                      origin_of(code.co_filename))


def await_chain(coro: Any) -> tuple[tuple[StackFrame, ...], str]:
    """The frames of a suspended coroutine and of what it awaits, outermost
    first, and what the innermost one waits on (a repr, or "")."""
    frames: list[StackFrame] = []
    awaited: Any = coro
    while awaited is not None and len(frames) < MAX_FRAMES:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            break
        frames.append(_frame(frame, frame.f_lineno))
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    if awaited is None or hasattr(awaited, "cr_frame"):
        waits_on = ""
    elif type(awaited).__name__ == "FutureIter":  # `await future`: the iterator hides it
        waits_on = "an asyncio future"
    else:
        waits_on = _short(awaited)
    return tuple(frames), waits_on


def _short(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - anyone's __repr__
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= 200 else text[:199] + "…"


def not_running(task_id: Any, status: int | None) -> LookupError:
    """The error for a task that is not running (``status`` ``None``: unknown)."""
    if status is None:
        return LookupError(f"task {task_id!r} is not a live task of this supervisor "
                           f"(finished, or never submitted): it has no stack")
    return LookupError(f"task {task_id!r} is {STATUS_NAMES.get(status, status)}, not running: "
                       f"it has no stack yet")


def thread_stack(task: Task, ident: int | None, thread_name: str, still_runs: Any,
                 seconds: float) -> TaskStack:
    """The stack of thread task ``task`` running on thread ``ident``;
    ``still_runs()`` says, after the frames are read, that it still does."""
    if ident is None:
        raise RuntimeError(
            f"task {task.id!r} is started but none of its code runs now: "
            + ("its target returned and it waits for mark_task_completed" if not task.auto
               else "it waits for a thread (a critical task past max_size)"))
    frame = sys._current_frames().get(ident)
    frames = frames_of(frame)
    if frame is None or not still_runs():
        raise LookupError(f"task {task.id!r} finished while its stack was read")
    return TaskStack(task.id, task.name, task.priority, "thread", thread_name, seconds,
                     frames)


def coroutine_stack(task: Task, handle: CoroutineHandle, seconds: float) -> TaskStack:
    """The stack of coroutine task ``task``: its await chain, or the frames
    of its loop's thread while it runs right now."""
    asyncio_task = handle.task
    loop = handle.loop
    ident = getattr(loop, "_thread_id", None)  # the thread running the loop (asyncio's)
    thread = None if ident is None else threading._active.get(ident)  # type: ignore[attr-defined]
    where = f"the loop of thread {thread.name}" if thread is not None else "its loop"
    if asyncio_task is None:
        raise RuntimeError(f"task {task.id!r} is started but not yet scheduled on its loop")
    coro = asyncio_task.get_coro()
    if getattr(coro, "cr_running", False):
        frame = None if ident is None else sys._current_frames().get(ident)
        if frame is not None:
            return TaskStack(task.id, task.name, task.priority, "coroutine", where, seconds,
                             frames_of(frame),
                             note="running right now: the frames of its loop's thread")
    frames, waits_on = await_chain(coro)
    if not frames:
        raise LookupError(f"task {task.id!r} finished while its stack was read")
    return TaskStack(task.id, task.name, task.priority, "coroutine", where, seconds, frames,
                     note=f"awaiting {waits_on}" if waits_on else "")


def refuse_process(task: Task) -> RuntimeError:
    return RuntimeError(f"task {task.id!r} runs in a worker process: its stack is in that "
                        f"process, which this supervisor cannot read")


def stack_of(task: Task | None, task_id: Any, now: float, threads: Any) -> TaskStack:
    """``task`` (the live task of ``task_id``, read under the lock, or
    ``None``): its stack, or the error that says why there is none."""
    if task is None or task.status != TASK_STATUS_STARTED:
        raise not_running(task_id, None if task is None else task.status)
    seconds = max(0.0, now - task.time_started)
    if task.tt == TT_THREAD:
        ident, thread_name = threads.thread_of(task)
        return thread_stack(task, ident, thread_name,
                            lambda: threads.thread_of(task)[0] == ident, seconds)
    if task.tt == TT_COROUTINE:
        return coroutine_stack(task, task.handle, seconds)
    assert task.tt == TT_MP, task.tt
    raise refuse_process(task)


__all__ = ["MAX_FRAMES", "StackFrame", "TaskStack", "origin_of", "stack_of"]
