"""The bridge: the typed client turned into Qt signals.

``EngineBridge`` lives on the GUI thread and holds the console's
``SupervisorClient`` (``gui.client``), its one door to the supervisor. At the
refresh rate it takes one snapshot and one batch of events and turns them
into signals; widgets draw from those and never walk the engine's tasks.

* ``stats_updated`` carries every snapshot (graphs, status bar). The bridge
  compares consecutive snapshots once and emits what changed:
  ``settings_changed`` (pool settings and the kind of mp pool, poll_delay,
  the queue timeouts and run thresholds, active),
  ``aloops_changed`` and ``schedulers_changed``; panels redraw from those.
* ``events_arrived`` carries task events in bounded batches: at most
  ``EVENTS_PER_TURN`` each, so a flood never hands the widgets one batch
  that freezes the loop. When more are waiting the next batch is taken on
  the next loop turn rather than at the next refresh.
* ``events_gap`` says the engine's event ring dropped events before the
  console read them (the batch's oldest held sequence number is past the
  last one read): a visible gap, never a silent one. The task table then
  reconciles its unfinished rows against the live tasks; the total is
  ``events_lost``, logged at most every ``LOST_LOG_INTERVAL`` seconds.
* ``service_restarted`` (attached only) says another service now answers
  at the address (a restarted process: the remote client's ``restarts``),
  before any of its events: the tasks the console showed unfinished ended
  with the old one, and the new one's ids may be the same numbers.

Operator actions go through ``act(description, command)``: ``command`` gets
the client and calls one of its typed commands; a refusal is reported as
``error_raised`` (the engine's own message, then the exception's notes if
any, one a line; nothing changed), an accepted
one as ``action_applied`` (a marker on the graphs, a log line), and the
panels are refreshed at once so they read the new state back.
``act_async`` does the same for the client's awaitable commands.

It also measures the console's own health: how late a periodic timer
fires on the Qt/asyncio loop (``loop_lag``), and how long refreshes take. A
refresh is skipped while the previous one still runs.

Attached to a service (the client is a ``gui.remote.RemoteClient``:
``remote``), each refresh also reads the client's connection and emits
``connection_changed`` with a ``Connection`` (address, state, latency, why
it is away). While the service
does not answer, no snapshot is emitted (the panels keep their last data,
nothing reads as if the service had gone idle), and ``MonitorUnavailable``
from a read never leaves a refresh: the outage is logged once when it
starts and once when it ends, and shown in the status bar. A command sent
meanwhile is refused with "the service does not answer" like any refusal.

GUI thread only.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from .client import SupervisorClient, SupervisorStats, safe_repr
from .remote import MonitorUnavailable, RemoteClient

log = logging.getLogger("gui")

T = TypeVar("T")

REFRESH_RATES = (2, 5, 10, 20)  # Hz offered to the operator; 0 = paused
LAG_PROBE_INTERVAL = 0.1  # seconds between loop-lag probes
EVENTS_PER_TURN = 1_000  # task events handed to the widgets per loop turn (~10 ms of work)
LOST_LOG_INTERVAL = 5.0  # seconds between "events lost" log lines


@dataclass(frozen=True)
class Connection:
    """How an attached console reaches its service, as last read from the client.

    ``state``: ``"connecting"`` (no answer yet: the service may not be up),
    ``"connected"`` or ``"disconnected"`` (it answered, then stopped; the
    client retries); ``latency``: seconds of the last
    snapshot's round trip (``None`` while not connected); ``error``: why it is
    away.
    """

    address: str
    state: str
    latency: float | None = None
    error: str | None = None


def _settings(stats: SupervisorStats) -> tuple:
    pools = tuple((p.pool_size, p.reserve_normal, p.reserve_high, p.min_size, p.max_size)
                  for p in (stats.thread, stats.mp))
    return (stats.active, stats.poll_delay, stats.timeout_warning, stats.timeout_critical,
            stats.run_warning, stats.run_critical, pools, stats.mp_pool_kind)


def _aloops(stats: SupervisorStats) -> tuple:
    return stats.aloops, stats.aloop_tasks, stats.default_aloop


def _schedulers(stats: SupervisorStats) -> Any:
    return stats.scheduler_info


class EngineBridge(QObject):
    stats_updated = Signal(object)       # SupervisorStats, every refresh
    settings_changed = Signal(object)    # SupervisorStats: pools, poll_delay, timeouts, active
    aloops_changed = Signal(object)      # SupervisorStats: aloops, their tasks, the default
    schedulers_changed = Signal(object)  # SupervisorStats: scheduler_info
    events_arrived = Signal(list)        # list[TaskEvent], oldest first, never empty
    events_gap = Signal(int)             # events the ring dropped before they were read
    action_applied = Signal(str)         # description of an accepted operator action
    error_raised = Signal(str, str)      # (what was tried, why the engine refused)
    lag_measured = Signal(float)         # seconds a timer fired late (latest probe)
    connection_changed = Signal(object)  # Connection of an attached console, each refresh
    service_restarted = Signal()         # another service answers: the old one's tasks ended

    def __init__(self, client: SupervisorClient, refresh_hz: float = 10,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        #: The client when it is a remote one (an attached console), else ``None``.
        self.remote: RemoteClient | None = client if isinstance(client, RemoteClient) else None
        self.connection: Connection | None = None  # the remote client's, as last read
        self._ever_connected = False  # "connecting" until the service first answered
        self.last_stats: SupervisorStats | None = None
        self.refresh_hz = 0.0
        self.refresh_durations: deque[float] = deque(maxlen=600)
        self.lags: deque[float] = deque(maxlen=600)
        self._seq = 0  # the last event read
        self._restarts = 0  # the remote client's restarts, as last handled
        self._read_once = False
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
        if isinstance(hz, bool) or not isinstance(hz, (int, float)) or not 0 <= hz <= 100:
            raise ValueError(f"refresh rate must be between 0 and 100 Hz, got {hz!r}")
        self.refresh_hz = float(hz)
        if hz:
            self._timer.setInterval(max(1, round(1000 / hz)))
            if self._lag_timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()

    @property
    def attached(self) -> bool:
        """Whether the console shows a supervisor of another process."""
        return self.remote is not None

    def connected(self) -> bool:
        """Whether the supervisor answers now (always, for one in this process)."""
        return self.remote is None or self.remote.state == "connected"

    def current_stats(self) -> SupervisorStats | None:
        """The last snapshot shown, or one taken now; ``None`` if the service
        has not answered yet."""
        if self.last_stats is not None:
            return self.last_stats
        try:
            return self.client.snapshot()
        except MonitorUnavailable:
            return None

    def refresh(self) -> None:
        """One snapshot and one event batch → signals."""
        if self._refreshing:  # a slot re-entered the loop: do not pile up
            return
        self._refreshing = True
        t0 = time.perf_counter()
        try:
            if self.remote is not None and not self._read_connection():
                self._pull_events()  # what arrived before it went away
                return  # nothing new to show: the panels keep their last data
            stats = self.client.snapshot()
            self._pull_events()
            previous, self.last_stats = self.last_stats, stats
            self.stats_updated.emit(stats)
            for signal, key in ((self.settings_changed, _settings),
                                (self.aloops_changed, _aloops),
                                (self.schedulers_changed, _schedulers)):
                if previous is None or key(previous) != key(stats):
                    signal.emit(stats)
        finally:
            self._refreshing = False
            self.refresh_durations.append(time.perf_counter() - t0)

    def _read_connection(self) -> bool:
        """The remote client's connection → ``connection_changed`` (and a log
        line when it goes away or comes back); whether it is connected."""
        remote = self.remote
        assert remote is not None
        state, latency, error = remote.state, remote.latency, remote.last_error
        if state == "connected":
            error = None
            self._ever_connected = True
        else:
            latency = None
            if not self._ever_connected:  # not up yet: still connecting, not "lost"
                state = "connecting"
        now = Connection(remote.address, state, latency, error)
        before, self.connection = self.connection, now
        if (before is None or before.state != state  # once per change: never a log storm
                or (state == "connecting" and error and not before.error)):
            if state == "disconnected":
                log.warning("the service at %s does not answer (%s): disconnected, retrying; "
                            "the panels keep what they showed", remote.address, error)
            elif state == "connecting" and error:
                log.warning("the service at %s does not answer yet (%s): retrying",
                            remote.address, error)
            elif state == "connected" and before is not None and before.state != "connecting":
                log.warning("the service at %s answers again: connected", remote.address)
            elif state == "connected":
                log.info("attached to the service at %s (supervisor %r)", remote.address,
                         remote.supervisor_id)
        self.connection_changed.emit(now)
        return state == "connected"

    def _pull_events(self) -> None:
        """One bounded batch of events → ``events_arrived``; the next batch on the
        next loop turn if more are waiting. A gap → ``events_gap`` first."""
        batch = self.client.events(self._seq, EVENTS_PER_TURN)
        remote = self.remote
        if remote is not None and remote.restarts != self._restarts:
            # Before the new service's events: its task ids may be the old one's.
            self._restarts = remote.restarts
            log.warning("the service at %s is a new one (restarted): the tasks the console "
                        "showed unfinished ended with the old one", remote.address)
            self.service_restarted.emit()
        # Before the first read nothing was shown: what the ring no longer holds
        # then is history, not a gap.
        skipped = lost = batch.lost_before(self._seq) if self._read_once else 0
        if lost and remote is not None and self._seq < remote.restart_seq < batch.oldest_seq:
            lost -= 1  # the number a restart skips marks it: no event was lost there
        self._read_once = True
        if batch.events:
            self._seq = batch.events[-1].seq
        elif skipped:  # everything after our last read is gone: skip to the present
            self._seq = batch.last_seq
        if lost:
            self._count_lost(lost)
            self.events_gap.emit(lost)
        if batch.events:
            self.events_arrived.emit(batch.events)
        if len(batch.events) == EVENTS_PER_TURN and not self._catching_up:
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
                        "checks its unfinished rows against the engine",
                        self.events_lost - self._lost_logged, self.events_lost)
            self._lost_logged, self._lost_log_time = self.events_lost, now

    # -- operator actions ------------------------------------------------
    def act(self, description: str, command: Callable[[SupervisorClient], T],
            attempt: str | None = None) -> tuple[bool, T | str]:
        """Run ``command(client)``: ``(True, result)``, or ``(False, message)``
        when the engine refused.

        ``description`` says what an applied command did (``pool_size 4 → 8``);
        ``attempt``, if given, what was asked, for a refusal (``set pool_size 8``:
        nothing changed, so no arrow). A refusal is reported through
        ``error_raised`` and the log as ``Refused: <attempt>: <message>``; the
        console keeps running.
        """
        try:
            result = command(self.client)
        except Exception as exc:  # the engine's message is for the operator
            return self._refused(attempt or description, exc)
        return self._applied(description, result)

    async def act_async(self, description: str,
                        command: Callable[[SupervisorClient], Awaitable[T]],
                        attempt: str | None = None) -> tuple[bool, T | str]:
        """``act`` for an awaitable command (stopping, submitting a big batch),
        awaited on this loop while the console keeps drawing."""
        try:
            result = await command(self.client)
        except Exception as exc:
            return self._refused(attempt or description, exc)
        return self._applied(description, result)

    def announce(self, description: str) -> None:
        """Report an operator action that did not go through ``act`` (ending a
        stop's wait): logged, marked on the graphs, panels refreshed."""
        self._applied(description, None)

    def _applied(self, description: str, result: T) -> tuple[bool, T]:
        log.info("%s", description)
        self.action_applied.emit(description)
        self.refresh()  # the panels read the new state back at once
        return True, result

    def _refused(self, description: str, exc: Exception) -> tuple[bool, str]:
        if isinstance(exc, MonitorUnavailable):  # not the engine's refusal: nothing was sent
            message = f"{exc}: nothing changed"
            log.warning("Not sent: %s: %s", description, message)
            self.error_raised.emit(description, message)
            return False, message
        message = refusal_text(exc)
        log.warning("Refused: %s: %s", description, message)
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


def refusal_text(exc: BaseException) -> str:
    """Why a command was refused: ``Type: message``, then each of the
    exception's notes (PEP 678 ``__notes__``) on a line of its own, as Python
    prints them. Never raises: the message and notes may be user code's."""
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - user __str__, sys.exit() in it included
        message = "<exception str() failed>"
    lines = [f"{type(exc).__name__}: {message}" if message else type(exc).__name__]
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, (list, tuple)):
        lines.extend(note if isinstance(note, str) else safe_repr(note) for note in notes)
    elif notes is not None:  # not a sequence: named, as traceback does
        lines.append(safe_repr(notes))
    return "\n".join(lines)


def _p99(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
