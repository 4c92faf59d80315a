"""The bridge: the console's one door to the engine.

``EngineBridge`` lives on the GUI thread. At the refresh rate it takes one
``stats()`` snapshot and one ``events_since()`` batch and turns them into Qt
signals; widgets draw from those and never walk the engine's tasks. Operator
actions go through ``act()``, which calls the engine's public API, reports a
rejected value as ``error_raised`` (the engine's own message; nothing
changed) and an accepted one as ``action_applied`` (drawn as a marker on the
graphs and written to the log), then refreshes at once so the panels read
the new state back.

Events come in bounded batches: at most ``EVENTS_PER_TURN`` per
``events_arrived``, so a flood (100,000 tasks queued, their queue timeouts
firing together) never hands the widgets one batch that freezes the loop.
When more are waiting, the bridge takes the next batch on the next loop
turn rather than at the next refresh, so it keeps up as fast as the GUI
thread can while timers, repaints and the engine's own callbacks run in
between. If it still falls behind the engine's event ring, the events the
ring no longer holds are counted in ``events_lost`` and logged (at most
every ``LOST_LOG_INTERVAL`` seconds): a visible gap, never a silent one.

It also measures the health of the console itself: how late a periodic
timer fires on the Qt/asyncio loop (``loop_lag``), and how long refreshes
take. A refresh is skipped while the previous one still runs.

GUI thread only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from engine import SupervisorStats, TaskSupervisor
from engine.stats import percentiles

log = logging.getLogger("gui")

REFRESH_RATES = (2, 5, 10, 20)  # Hz offered to the operator; 0 = paused
LAG_PROBE_INTERVAL = 0.1  # seconds between loop-lag probes
EVENTS_PER_TURN = 1_000  # task events handed to the widgets per loop turn (~10 ms of work)
LOST_LOG_INTERVAL = 5.0  # seconds between "events lost" log lines


class EngineBridge(QObject):
    stats_updated = Signal(object)   # SupervisorStats
    events_arrived = Signal(list)    # list[TaskEvent], oldest first, never empty
    action_applied = Signal(str)     # description of an accepted operator action
    error_raised = Signal(str, str)  # (what was tried, why the engine refused)
    lag_measured = Signal(float)     # seconds a timer fired late (latest probe)

    def __init__(self, supervisor: TaskSupervisor, refresh_hz: float = 10,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.supervisor = supervisor
        self.last_stats: SupervisorStats | None = None
        self.refresh_hz = 0.0
        self.skipped = 0
        self.refresh_durations: deque[float] = deque(maxlen=600)
        self.lags: deque[float] = deque(maxlen=600)
        self._seq = 0
        self._refreshing = False
        self._catching_up = False  # a catch-up batch is scheduled
        self.events_lost = 0
        self._lost_logged = 0  # events_lost when last logged
        self._lost_log_time = 0.0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._lag_timer = QTimer(self)
        self._lag_timer.setInterval(int(LAG_PROBE_INTERVAL * 1000))
        self._lag_timer.timeout.connect(self._probe_lag)
        self._lag_due = 0.0
        self.set_refresh_rate(refresh_hz)

    # -- refresh -----------------------------------------------------------
    def start(self) -> None:
        """Begin refreshing and probing loop lag."""
        self._lag_due = time.monotonic() + LAG_PROBE_INTERVAL
        self._lag_timer.start()
        if self.refresh_hz:
            self._timer.start()
        self.refresh()

    def stop(self) -> None:
        self._timer.stop()
        self._lag_timer.stop()
        self._catching_up = False

    def set_refresh_rate(self, hz: float) -> None:
        """Refreshes per second; 0 pauses (the panels keep their last data)."""
        if isinstance(hz, bool) or not isinstance(hz, (int, float)) or hz < 0 or hz > 100:
            raise ValueError(f"refresh rate must be between 0 and 100 Hz, got {hz!r}")
        self.refresh_hz = float(hz)
        if hz:
            self._timer.setInterval(max(1, round(1000 / hz)))
            if self._lag_timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()

    def refresh(self) -> None:
        """One snapshot and one event batch → signals."""
        if self._refreshing:  # a slot re-entered the loop: do not pile up
            self.skipped += 1
            return
        self._refreshing = True
        t0 = time.perf_counter()
        try:
            stats = self.supervisor.stats()
            self._pull_events()
            self.last_stats = stats
            self.stats_updated.emit(stats)
        finally:
            self._refreshing = False
            self.refresh_durations.append(time.perf_counter() - t0)

    def _pull_events(self) -> None:
        """One bounded batch of events → ``events_arrived``; the next batch on the
        next loop turn if more are waiting."""
        events = self.supervisor.events_since(self._seq, limit=EVENTS_PER_TURN)
        if not events:
            return
        lost = events[0].seq - self._seq - 1  # the ring dropped them before we read them
        if lost > 0 and self._seq:
            self._count_lost(lost)
        self._seq = events[-1].seq
        self.events_arrived.emit(events)
        if len(events) == EVENTS_PER_TURN and not self._catching_up:
            self._catching_up = True
            QTimer.singleShot(0, self._catch_up)

    def _catch_up(self) -> None:
        if not self._catching_up:  # stopped meanwhile
            return
        self._catching_up = False
        if not self._refreshing:
            self._pull_events()

    def _count_lost(self, lost: int) -> None:
        self.events_lost += lost
        now = time.monotonic()
        if now - self._lost_log_time >= LOST_LOG_INTERVAL:
            log.warning("the console fell behind the engine: %d task events were dropped from "
                        "its event ring before they were shown (%d in all); the task table "
                        "may show stale rows", self.events_lost - self._lost_logged,
                        self.events_lost)
            self._lost_logged, self._lost_log_time = self.events_lost, now

    # -- operator actions ------------------------------------------------
    def act(self, description: str, fn: Callable[..., Any], *args: Any,
            **kwargs: Any) -> tuple[bool, Any]:
        """Call ``fn`` (a public engine method); ``(True, result)``, or
        ``(False, message)`` when the engine refused.

        A refusal is also reported through ``error_raised`` and the log; the
        console keeps running.
        """
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # the engine's message is for the operator
            return self._refused(description, exc)
        return self._applied(description, result)

    async def act_in_thread(self, description: str, fn: Callable[..., Any], *args: Any,
                            **kwargs: Any) -> tuple[bool, Any]:
        """``act`` for a call that may block (stopping a loop, waiting for
        tasks): it runs in a worker thread while the console stays responsive."""
        loop = asyncio.get_running_loop()
        return await self.act_await(
            description, loop.run_in_executor(None, functools.partial(fn, *args, **kwargs)))

    async def act_await(self, description: str, awaitable: Any) -> tuple[bool, Any]:
        """``act`` for a coroutine of the engine (``astop``), awaited on this loop."""
        try:
            result = await awaitable
        except Exception as exc:
            return self._refused(description, exc)
        return self._applied(description, result)

    def announce(self, description: str) -> None:
        """Report an operator action that did not go through ``act`` (ending a
        stop's wait): logged, marked on the graphs, panels refreshed."""
        self._applied(description, None)

    def _applied(self, description: str, result: Any) -> tuple[bool, Any]:
        log.info("%s", description)
        self.action_applied.emit(description)
        self.refresh()  # the panels read the new state back at once
        return True, result

    def _refused(self, description: str, exc: Exception) -> tuple[bool, str]:
        message = f"{type(exc).__name__}: {exc}"
        log.warning("%s refused: %s", description, message)
        self.error_raised.emit(description, message)
        return False, message

    # -- health -----------------------------------------------------------
    def _probe_lag(self) -> None:
        now = time.monotonic()
        lag = max(0.0, now - self._lag_due)
        self._lag_due = now + LAG_PROBE_INTERVAL
        self.lags.append(lag)
        self.lag_measured.emit(lag)

    def lag_p99(self) -> float:
        return _p99(list(self.lags))

    def refresh_median(self) -> float:
        return percentiles(list(self.refresh_durations))[0]


def _p99(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
