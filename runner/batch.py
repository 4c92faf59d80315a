"""Batches: one task script submitted many times with one set of parameters.

``Batch`` is what the operator asks for in the console's task-script panel
(or a script asks for headless): a loaded ``TaskScript``, its bound keyword
arguments, how many tasks, their priority, task type, delay and, for
coroutine tasks, the aloop. Building one checks everything a submission
would refuse up front (``TypeError`` / ``ValueError`` naming the field and
the value), so a batch that cannot run is refused before any task exists.

``submit(supervisor, batch)`` submits it through the engine's public API:

* a thread task runs ``script.run(**kwargs)``;
* an mp task runs ``run_script(path, kwargs)``: the script's path, not the
  script, crosses to the process pool (a loaded script cannot be pickled);
* a coroutine task runs ``script.run(**kwargs)`` on the named aloop (the
  supervisor's default aloop when ``aloop`` is ``None``).

Thread and mp tasks go in through ``supervisor.submit_many``, ``CHUNK`` tasks
a call (at most the engine's tasks per lock hold, so a call is accepted
whole or refused whole); the keyword arguments are one dict shared by the
batch's tasks. A coroutine task needs a coroutine object of its own: those
go in one ``background_task`` call each.

If the engine refuses a submission part-way (the supervisor stopped), the
engine's exception propagates with one note saying how many tasks of the
batch went in before it (``N of the M tasks of the batch were submitted
before that``, the engine's own count of a call it refused part-way folded
in); those tasks run as usual.

A big batch takes a while to submit, so a host with a GUI submits it from a
worker thread. A thread submitting flat out keeps the GIL but for the
interpreter's switch interval, and a GUI thread whose toolkit calls back into
Python for every row it draws waits for the GIL at each call (a console froze
for about a second while 100,000 tasks went in): off the main thread,
``submit`` pauses ``PACE_SECONDS`` between two ``submit_many`` calls (and,
for coroutine tasks, every ``PACE_EVERY`` submissions).

No Qt. ``submit`` may be called from any thread (the engine is thread-safe);
``Batch`` is immutable.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from engine import (
    PRIORITIES,
    PRIORITY_NAMES,
    TASK_NORMAL,
    TASK_TYPE_NAMES,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    Task,
    TaskSupervisor,
    background_task,
)
from engine.usercode import safe_repr

from .taskscript import TaskScript, run_script

#: Most tasks in one batch.
MAX_COUNT = 100_000
#: Thread and mp tasks per ``submit_many`` call (no more than the engine
#: admits under one lock hold).
CHUNK = 500
#: Off the main thread, pause PACE_SECONDS between two ``submit_many`` calls
#: and, for coroutine tasks, after every PACE_EVERY submissions.
PACE_EVERY = 250
PACE_SECONDS = 0.0005
#: Longest delay before a batch's tasks are queued (a day).
MAX_DELAY = 86_400.0


def type_problem(script: TaskScript, tt: int) -> str:
    """Why ``script`` cannot run as task type ``tt`` (empty if it can)."""
    if script.is_async and tt != TT_COROUTINE:
        return (f"{script.name} has an 'async def run': it runs only as a coroutine "
                f"task on an aloop.")
    if not script.is_async and tt == TT_COROUTINE:
        return f"{script.name} has a plain 'def run': submit it as a thread or mp task."
    return ""


@dataclass(frozen=True)
class Batch:
    """``count`` tasks of ``script`` run with ``kwargs`` (see the module docstring)."""

    script: TaskScript
    kwargs: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    priority: int = TASK_NORMAL
    tt: int = TT_THREAD
    delay: float | None = None
    aloop: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.script, TaskScript):
            raise TypeError(f"script must be a loaded TaskScript, got {safe_repr(self.script)}")
        if not isinstance(self.kwargs, dict):
            raise TypeError(f"kwargs must be a dict, got {safe_repr(self.kwargs)}")
        count = self.count
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"count must be an integer, got {safe_repr(count)}")
        if not 1 <= count <= MAX_COUNT:
            raise ValueError(f"count must be between 1 and {MAX_COUNT:,}, got {count!r}")
        if isinstance(self.priority, bool) or self.priority not in PRIORITIES:
            raise ValueError(f"unknown priority {safe_repr(self.priority)}: use TASK_CRITICAL "
                             f"(0), TASK_HIGH (50), TASK_NORMAL (100) or TASK_LOW (200)")
        if isinstance(self.tt, bool) or self.tt not in TASK_TYPE_NAMES:
            raise ValueError(f"unknown task type {safe_repr(self.tt)}: use TT_THREAD (1), "
                             f"TT_MP (2) or TT_COROUTINE (0)")
        delay = self.delay
        if delay is not None:
            if isinstance(delay, bool) or not isinstance(delay, (int, float)):
                raise TypeError(f"delay must be a number of seconds or None, got "
                                f"{safe_repr(delay)}")
            if not 0 <= delay <= MAX_DELAY:  # also refuses nan
                raise ValueError(f"delay must be between 0 and {MAX_DELAY:,.0f} s, got "
                                 f"{delay!r}")
        if self.aloop is not None and not isinstance(self.aloop, str):
            raise TypeError(f"aloop must be an aloop name or None, got {safe_repr(self.aloop)}")
        if self.aloop is not None and self.tt != TT_COROUTINE:
            raise ValueError(f"aloop {self.aloop!r} given for a "
                             f"{TASK_TYPE_NAMES[self.tt]} batch: only coroutine tasks run on "
                             f"an aloop")
        problem = type_problem(self.script, self.tt)
        if problem:
            raise ValueError(problem)

    @property
    def summary(self) -> str:
        """``20 × sleep (HIGH, thread on ...)``."""
        where = TASK_TYPE_NAMES[self.tt] + (f" on {self.aloop}" if self.aloop else "")
        return f"{self.count} × {self.script.name} ({PRIORITY_NAMES[self.priority]}, {where})"

    def describe(self) -> str:
        """The operator action: ``submit 20 × sleep (HIGH, thread) after 0.05 s``."""
        text = f"submit {self.summary}"
        if self.delay:
            text += f" after {self.delay:g} s"
        return text


def submit(supervisor: TaskSupervisor, batch: Batch) -> list[Task]:
    """Submit every task of ``batch``; the tasks, in submission order.

    The engine's exception if it refuses one (with a note of how many went in
    before it); any thread.
    """
    pace = threading.current_thread() is not threading.main_thread()
    tasks: list[Task] = []
    try:
        if batch.tt == TT_COROUTINE:
            _submit_coroutines(supervisor, batch, tasks, pace)
        else:
            _submit_calls(supervisor, batch, tasks, pace)
    except Exception as exc:
        _note_refusal(exc, len(tasks), batch.count)
        raise
    return tasks


def _submit_calls(sup: TaskSupervisor, batch: Batch, tasks: list[Task], pace: bool) -> None:
    """Thread or mp tasks, ``CHUNK`` per ``submit_many`` call, onto ``tasks``."""
    script, count = batch.script, batch.count
    kwargs = dict(batch.kwargs)
    if batch.tt == TT_MP:  # the path crosses to the process pool, not the script
        target, args, call_kwargs = run_script, (str(script.path), kwargs), None
    else:
        target, args, call_kwargs = script.run, (), kwargs
    for start in range(0, count, CHUNK):
        if pace and start:
            _pause()
        tasks += sup.submit_many(target, itertools.repeat(args, min(CHUNK, count - start)),
                                 priority=batch.priority, delay=batch.delay or None,
                                 name=script.name, tt=batch.tt, kwargs=call_kwargs)


def _submit_coroutines(sup: TaskSupervisor, batch: Batch, tasks: list[Task],
                       pace: bool) -> None:
    """Coroutine tasks, one coroutine object and one submission each, onto ``tasks``."""
    script, kwargs = batch.script, dict(batch.kwargs)
    one = background_task(script.run, name=script.name, priority=batch.priority,
                          delay=batch.delay or None, loop=batch.aloop, supervisor=sup)
    for i in range(1, batch.count + 1):
        tasks.append(one(**kwargs))
        if pace and i % PACE_EVERY == 0:
            _pause()


def _pause() -> None:
    """Off the main thread, between two submissions: let a GUI thread have
    the GIL (module docstring)."""
    time.sleep(PACE_SECONDS)


#: The note the engine's ``submit_many`` adds when it refuses a call part-way.
_ENGINE_NOTE = re.compile(r"([\d,]+) of the batch's [\d,]+ tasks had been accepted before "
                          r"it was refused")


def _note_refusal(exc: BaseException, before: int, count: int) -> None:
    """Note on ``exc`` how many tasks of the batch went in: ``before`` (the
    calls that returned) plus what the refused call accepted, if the engine
    noted any (its note is folded into this one)."""
    notes = getattr(exc, "__notes__", None)
    for note in notes if isinstance(notes, list) else ():
        match = _ENGINE_NOTE.match(note) if isinstance(note, str) else None
        if match:
            before += int(match.group(1).replace(",", ""))
            notes.remove(note)
            if not notes:
                del exc.__notes__
            break
    if before:
        exc.add_note(f"{before:,} of the {count:,} tasks of the batch were submitted "
                     f"before that")
