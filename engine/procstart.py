"""When a ``ProcessPool`` starts its worker processes: ``StartSchedule``.

Starting in the background. A pool's constructor starts no process, so it
returns at once (``ProcessPool(30)``: under 1 ms; it blocked 0.4-0.9 s when
it started them all); its reader thread starts them, one per turn of its
loop (results of the workers already up are read in between), at most
``BOOT_AT_ONCE`` (the CPU count) *booting* at a time: started, the engine's
code not yet running in them. Booting is the CPU-heavy part: with the
forkserver preload of ``engine.procchild``, a few ms each; without it each
child imported the engine, 110 ms of CPU, and 30 of them kept both cores of
a 2-core machine busy for 2 s, so the caller's loops missed their ticks. An
initializer, the user's own cost, is not throttled.

Workers that die while starting (the restart policy). A worker that exits
before it is ready for jobs -- while ``multiprocessing`` prepares it
(re-running the parent's main module), in the pool's ``initializer``, or one
that cannot be started at all (``OSError`` from fork or the forkserver,
whether at the first start or later) -- is a *start failure*:

* it is restarted after a back-off of ``RESTART_BACKOFF`` s doubled for each
  consecutive start failure at its index, capped at ``RESTART_BACKOFF_MAX``
  (0.05, 0.1, 0.2, 0.4 ... 2 s); a worker that dies after it was ready (a
  job crashed it, it was killed) is replaced at once. While an index waits
  for its back-off, no index is started for the first time either (an
  ``OSError`` is rarely about one index);
* after ``MAX_START_FAILURES`` (5) start failures in a row, with no job
  completing in between (a job result resets the count), the pool is
  *broken* (``ProcessPool`` says what that means). So a pool none of whose
  processes can be started breaks after about 0.75 s of back-off, naming
  the ``OSError``: its constructor no longer raises ``WorkerStartError``.

Threads: a ``StartSchedule`` belongs to its pool's reader thread, except
``failed_locked`` and ``served_locked``, called with the pool's lock held
(the counts they keep are read by ``send``'s callers' threads too).
"""

from __future__ import annotations

import collections
import os
import time

from .procchild import MAX_START_FAILURES, RESTART_BACKOFF, RESTART_BACKOFF_MAX

__all__ = ["BOOT_AT_ONCE", "MAX_START_FAILURES", "StartSchedule"]

#: Workers booting (started, the engine's code not running yet) at a time.
BOOT_AT_ONCE = max(1, os.cpu_count() or 1)

monotonic = time.monotonic


class StartSchedule:
    """The indexes a pool's reader still has to start, and when."""

    def __init__(self, processes: int) -> None:
        # Indexes whose first process is still to be started, in order.
        self.first: collections.deque[int] = collections.deque(range(processes))
        # index -> monotonic time its restart (after a start failure) is due.
        self.restart_due: dict[int, float] = {}
        # Guarded by the pool's lock: start failures in a row, pool-wide (a
        # job result resets it) and per index (the back-off).
        self.failures = 0
        self.index_failures = [0] * processes

    def __bool__(self) -> bool:
        """Whether any start is still to come."""
        return bool(self.first or self.restart_due)

    def may_start_first(self, booting: int) -> bool:
        """Whether the next first start may happen now, with ``booting``
        workers booting: none waits for its back-off, fewer than
        ``BOOT_AT_ONCE`` boot."""
        return bool(self.first) and not self.restart_due and booting < BOOT_AT_ONCE

    def timeout(self, first_now: bool) -> float | None:
        """How long the reader may wait for its pipes: 0 if a first start
        is due now (``first_now``), else until the next restart, else no bound."""
        if first_now:
            return 0.0
        due = self.restart_due
        return max(0.0, min(due.values()) - monotonic()) if due else None

    def due_restarts(self) -> list[int]:
        """The indexes whose back-off is over (taken off the schedule)."""
        now = monotonic()
        due = sorted(i for i, at in self.restart_due.items() if at <= now)
        for index in due:
            del self.restart_due[index]
        return due

    def failed_locked(self, index: int) -> tuple[int, float | None]:
        """One more start failure at ``index``: the failures in a row, and
        the back-off before its restart (``None``: the pool breaks)."""
        self.failures += 1
        self.index_failures[index] += 1
        if self.failures >= MAX_START_FAILURES:
            return self.failures, None
        here = self.index_failures[index]
        return self.failures, min(RESTART_BACKOFF * 2 ** (here - 1), RESTART_BACKOFF_MAX)

    def restart_after(self, index: int, delay: float) -> None:
        self.restart_due[index] = monotonic() + delay

    def served_locked(self, index: int) -> None:
        """A job result came from the worker at ``index``: no failure in a row."""
        self.failures = 0
        self.index_failures[index] = 0

    def clear(self) -> None:
        """Start nothing more."""
        self.first.clear()
        self.restart_due.clear()
