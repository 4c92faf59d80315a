"""Queue timeouts: alerts for tasks that wait too long in a queue.

``QueueTimeouts`` owns the two thresholds (``warning``, ``critical``;
``None`` disables a level), their functions and the one timer that fires
them on the supervisor's loop. No polling: the timer sleeps until the next
moment a task can be due (the oldest unchecked task of a queue plus the
threshold), and each level fires once per task while it still waits: an
event in the ring, a log record on the ``engine`` logger, then the level's
function, contained like all user code (see ``usercode``).

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

from .admission import TIMEOUT_CRITICAL, TIMEOUT_WARNING, Admission
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

_KINDS = {TIMEOUT_WARNING: "timeout_warning", TIMEOUT_CRITICAL: "timeout_critical"}


class QueueTimeouts:
    """The queue timeouts of one supervisor's pools."""

    def __init__(self, lock: threading.Lock, ledger: Ledger, admissions: Sequence[Admission],
                 poll_delay: Callable[[], float]) -> None:
        self._lock = lock  # the supervisor's: guards the admissions and the ledger
        self._ledger = ledger
        self._admissions = tuple(admissions)
        self._poll_delay = poll_delay
        self._warning: float | None = 5.0
        self._critical: float | None = 10.0
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
        self._warning = check_seconds("timeout_warning", value, allow_none=True)
        self._reschedule()

    @property
    def critical(self) -> float | None:
        return self._critical

    @critical.setter
    def critical(self, value: float | None) -> None:
        self._critical = check_seconds("timeout_critical", value, allow_none=True)
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
        levels = [(lvl, thr) for lvl, thr in ((TIMEOUT_WARNING, self._warning),
                                              (TIMEOUT_CRITICAL, self._critical))
                  if thr is not None]
        if not levels:
            return
        now = monotonic()
        fired: dict[int, list[Task]] = {TIMEOUT_WARNING: [], TIMEOUT_CRITICAL: []}
        budget = TIMEOUTS_PER_TURN
        with self._lock:
            # A task queued later than now is due later than now + threshold;
            # below poll_delay, such a task may be seen up to poll_delay late.
            next_due = now + max(min(thr for _, thr in levels), self._poll_delay())
            for admission in self._admissions:
                for level, threshold in levels:
                    due = admission.due_for_timeout(level, now - threshold, budget)
                    budget -= len(due)
                    for task in due:
                        self._ledger.events.append(now, _KINDS[level], task)
                    fired[level] += due
                    oldest = admission.oldest_unchecked(level)
                    if oldest is not None:
                        next_due = min(next_due, oldest + threshold)
        delay = 0.0 if budget <= 0 else max(0.0, next_due - monotonic()) + 0.001
        self._timer = loop.call_later(delay, self._fire)
        for level, tasks in fired.items():
            if tasks:
                self._report(level, tasks, now)

    def _report(self, level: int, tasks: list[Task], now: float) -> None:
        """Log the first few tasks of a batch one by one, the rest as one
        line; call the level's function for each (contained, see usercode)."""
        if level == TIMEOUT_WARNING:
            severity, func, name = logging.WARNING, self.warning_func, "warning"
        else:
            severity, func, name = logging.CRITICAL, self.critical_func, "critical"
        for task in tasks[:TIMEOUTS_LOGGED_ONE_BY_ONE]:
            log.log(severity, "task %r (%s) has waited %.2f s in the queue", task.id,
                    task.name, now - task.time_queued)
        more = len(tasks) - TIMEOUTS_LOGGED_ONE_BY_ONE
        if more > 0:
            log.log(severity, "and %d more task(s) passed timeout_%s in the queue", more, name)
        if func is None:
            return
        for task in tasks:
            ok, exc = call_user(f"timeout_{name}_func {func!r} for task {task.id!r}", func,
                                task, logger=log)
            if not ok:
                reraise_if_main_interrupt(exc)


__all__ = ["TIMEOUTS_LOGGED_ONE_BY_ONE", "TIMEOUTS_PER_TURN", "QueueTimeouts"]
