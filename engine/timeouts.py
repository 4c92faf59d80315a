"""Timeouts: alerts for tasks that wait too long in a queue, or run too long.

``QueueTimeouts`` (``timeout_warning`` / ``timeout_critical``: seconds in a
queue) and ``RunTimeouts`` (``run_warning`` / ``run_critical``: seconds
running) each own two thresholds (``warning``, ``critical``; ``None``
disables a level), their functions and the one timer that fires them on the
supervisor's loop. No polling: the timer sleeps until the next moment a
task can be due (the oldest unchecked task of a queue, or the oldest
running task not yet fired, plus the threshold), and each level fires once
per task while it still waits, or still runs: an event in the ring, a log
record on the ``engine`` logger, then the level's function, contained like
all user code (see ``usercode``). The run watch costs the hot path nothing
of its own: the pools keep their running tasks in start order anyway
(``Admission.started_tasks``).

Bounded work per loop turn: at most ``TIMEOUTS_PER_TURN`` tasks; if more
are due, the rest follow on the next turn, so a flood of alerts never
freezes the loop (the console's, when it hosts the supervisor). Per level
and turn, ``TIMEOUTS_LOGGED_ONE_BY_ONE`` tasks are logged one by one, the
rest in one line.

Threads: the thresholds and functions may be set from any thread
(``attach`` / ``detach`` from the supervisor's start and stop); everything
else runs on the loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .admission import RUN_CRITICAL, RUN_WARNING, TIMEOUT_CRITICAL, TIMEOUT_WARNING, Admission
from .ledger import Ledger
from .task import Task
from .usercode import call_user, reraise_if_main_interrupt
from .validate import check_seconds

log = logging.getLogger("engine.supervisor")
monotonic = time.monotonic

#: Most queue timeouts fired per turn of the supervisor's loop.
TIMEOUTS_PER_TURN = 500
#: Of those, how many are logged one by one per level (the rest in one line).
TIMEOUTS_LOGGED_ONE_BY_ONE = 5



class _Watch:
    """Two thresholds, their functions and the timer that fires them; a
    subclass says what is due (``_due_locked``) and how it is reported."""

    #: (warning level bit, critical level bit), names of the settings, their
    #: defaults, and what a log record says of a task (``%.2f``: its seconds).
    LEVELS: tuple[int, int]
    NAMES: tuple[str, str]
    DEFAULTS: tuple[float | None, float | None]
    SAYS: str
    SAYS_MORE: str

    def __init__(self, lock: threading.Lock, ledger: Ledger, admissions: Sequence[Admission],
                 poll_delay: Callable[[], float]) -> None:
        self._lock = lock  # the supervisor's: guards the admissions and the ledger
        self._ledger = ledger
        self._admissions = tuple(admissions)
        self._poll_delay = poll_delay
        self._warning, self._critical = self.DEFAULTS
        self.warning_func: Callable[[Task], Any] | None = None
        self.critical_func: Callable[[Task], Any] | None = None
        # Written by attach/detach (the supervisor's start and stop, which its
        # state serializes); read on the loop's thread.
        self._loop: asyncio.AbstractEventLoop | None = None
        # Touched only on the loop's thread.
        self._timer: asyncio.TimerHandle | None = None

    # -- settings (any thread) ----------------------------------------------------
    @property
    def warning(self) -> float | None:
        return self._warning

    @warning.setter
    def warning(self, value: float | None) -> None:
        self._warning = check_seconds(self.NAMES[0], value, allow_none=True)
        self._reschedule()

    @property
    def critical(self) -> float | None:
        return self._critical

    @critical.setter
    def critical(self, value: float | None) -> None:
        self._critical = check_seconds(self.NAMES[1], value, allow_none=True)
        self._reschedule()

    # -- life cycle -----------------------------------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start watching, with the timer on ``loop``."""
        self._loop = loop
        loop.call_soon_threadsafe(self._fire)

    def detach(self) -> None:
        """Stop watching; the timer is canceled on its loop."""
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._cancel)
            except RuntimeError:  # closed meanwhile
                pass

    def _reschedule(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._fire)
            except RuntimeError:  # closed meanwhile
                pass

    # -- the loop's thread -----------------------------------------------------------
    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        """Fire due timeouts, then sleep until the next one can be due."""
        self._cancel()
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        warning_level, critical_level = self.LEVELS
        levels = [(lvl, thr) for lvl, thr in ((warning_level, self._warning),
                                              (critical_level, self._critical))
                  if thr is not None]
        if not levels:
            return
        now = monotonic()
        fired: dict[int, list[Task]] = {warning_level: [], critical_level: []}
        budget = TIMEOUTS_PER_TURN
        with self._lock:
            # A task queued (started) later than now is due later than now +
            # threshold; below poll_delay, such a task may be seen up to
            # poll_delay late.
            next_due = now + max(min(thr for _, thr in levels), self._poll_delay())
            events = self._ledger.events
            for admission in self._admissions:
                for level, threshold in levels:
                    due, oldest = self._due_locked(admission, level, now - threshold, budget)
                    budget -= len(due)
                    kind = self.NAMES[level != warning_level]
                    for task in due:
                        events.append(now, kind, task)
                    fired[level] += due
                    if oldest is not None:
                        next_due = min(next_due, oldest + threshold)
        delay = 0.0 if budget <= 0 else max(0.0, next_due - monotonic()) + 0.001
        self._timer = loop.call_later(delay, self._fire)
        for level, tasks in fired.items():
            if tasks:
                self._report(level == critical_level, tasks, now)

    def _due_locked(self, admission: Admission, level: int, deadline: float,
                    limit: int) -> tuple[list[Task], float | None]:
        """The tasks of ``admission`` past ``deadline`` for ``level`` not fired
        yet (at most ``limit``, marked fired), and the time the next one may
        be measured from (``None``: none)."""
        raise NotImplementedError

    def _seconds(self, task: Task, now: float) -> float:
        raise NotImplementedError

    def _report(self, critical: bool, tasks: list[Task], now: float) -> None:
        """Log the first few tasks of a batch one by one, the rest as one
        line; call the level's function for each (contained, see usercode)."""
        if critical:
            severity, func, name = logging.CRITICAL, self.critical_func, self.NAMES[1]
        else:
            severity, func, name = logging.WARNING, self.warning_func, self.NAMES[0]
        for task in tasks[:TIMEOUTS_LOGGED_ONE_BY_ONE]:
            log.log(severity, self.SAYS, task.id, task.name, self._seconds(task, now))
        more = len(tasks) - TIMEOUTS_LOGGED_ONE_BY_ONE
        if more > 0:
            log.log(severity, self.SAYS_MORE, more, name)
        if func is None:
            return
        for task in tasks:
            ok, exc = call_user(f"{name}_func {func!r} for task {task.id!r}", func,
                                task, logger=log)
            if not ok:
                reraise_if_main_interrupt(exc)


class QueueTimeouts(_Watch):
    """The queue timeouts of one supervisor's pools (5 s and 10 s by default)."""

    LEVELS = (TIMEOUT_WARNING, TIMEOUT_CRITICAL)
    NAMES = ("timeout_warning", "timeout_critical")
    SAYS = "task %r (%s) has waited %.2f s in the queue"
    SAYS_MORE = "and %d more task(s) passed %s in the queue"
    DEFAULTS = (5.0, 10.0)

    def _due_locked(self, admission: Admission, level: int, deadline: float,
                    limit: int) -> tuple[list[Task], float | None]:
        return (admission.due_for_timeout(level, deadline, limit),
                admission.oldest_unchecked(level))

    def _seconds(self, task: Task, now: float) -> float:
        return now - task.time_queued


class RunTimeouts(_Watch):
    """The run-time watch of one supervisor's pools (off by default)."""

    LEVELS = (RUN_WARNING, RUN_CRITICAL)
    NAMES = ("run_warning", "run_critical")
    SAYS = "task %r (%s) has been running for %.2f s"
    SAYS_MORE = "and %d more task(s) passed %s while running"
    DEFAULTS = (None, None)

    def _due_locked(self, admission: Admission, level: int, deadline: float,
                    limit: int) -> tuple[list[Task], float | None]:
        due: list[Task] = []
        return due, admission.due_for_run_timeout(level, deadline, limit, due)

    def _seconds(self, task: Task, now: float) -> float:
        return now - task.time_started


class Watches:
    """The watches a supervisor attaches to its loop at start and detaches at stop."""

    def __init__(self, *watches: _Watch) -> None:
        self._watches = watches

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        for watch in self._watches:
            watch.attach(loop)

    def detach(self) -> None:
        for watch in self._watches:
            watch.detach()


__all__ = ["TIMEOUTS_LOGGED_ONE_BY_ONE", "TIMEOUTS_PER_TURN", "QueueTimeouts", "RunTimeouts",
           "Watches"]
