"""``RemoteClient``: the console's door to a supervisor in another process.

It implements ``gui.client.SupervisorClient`` over the HTTP monitor a
service opens with ``TaskSupervisor.serve_monitor`` (``engine.monitor``), so
the widgets do not know which kind of supervisor they show.

* ``snapshot()`` and ``events()`` never touch the network: a daemon
  thread keeps them, polling ``/v1/snapshot`` ``hz`` times a second with the
  events since the last ones read (at most ``EVENT_BATCH`` a request: one
  request per refresh, which is what watching costs the service) into a
  bounded ring (``EVENT_KEEP``).
  Their sequence numbers are the client's own, continuous across
  reconnects: when the service comes back as a new process (another
  ``instance``) its tasks are not the ones shown, and the ring reports the
  jump as a gap, so the console reconciles its rows; ``restarts`` counts
  those new services, so that the console can tell the old one's tasks
  (ended with it) from the new one's, whose ids may be the same, and
  ``restart_seq`` is the number skipped (a marker, not a lost event).
* ``live_tasks``, ``finished_tasks``, ``task_record``, ``task_stack`` and the
  commands are one request each over the local socket, bounded by ``REQUEST_TIMEOUT``
  (each thread keeps its connection alive for the next request: a new
  connection per request cost the service twice the work of a snapshot)
  (an accepted command is followed by one snapshot, so that what it changed
  reads back at once, as it does from a local supervisor);
  while the service does not answer they raise ``MonitorUnavailable`` (a
  ``ConnectionError``), and a refused command raises the engine's own
  exception type with its message (``task_stack``: ``LookupError`` for a
  task that is not running, ``RuntimeError`` for a stack that cannot be read).
* Times are converted to this process's ``time.monotonic()`` clock (the
  offset taken from each answer's ``monotonic``).
* ``state`` is ``"connecting"``, ``"connected"`` or ``"disconnected"``;
  ``latency`` the round trip of the last snapshot; ``last_error`` why it
  is disconnected. The threads retry every ``RETRY`` seconds until
  ``close()``.

What runs code in the console's own process (task scripts, scenarios,
batches) is refused here: the service runs its own work.

Threads: every method may be called from any thread (the console calls
them on the GUI thread); the state the polling thread keeps is guarded by
one lock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import http.client
import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import Any

from engine.stats import deque_range
from engine.wire import (
    WIRE_VERSION,
    decode_events,
    decode_finished,
    decode_live,
    decode_stack,
    decode_stats,
)

from .client import (
    COMMAND_WAIT,
    EventBatch,
    FinishedTask,
    SupervisorStats,
    TaskEvent,
    TaskRecord,
    TaskStack,
    TaskState,
)

REQUEST_TIMEOUT = 2.0  # seconds one request may take before the service counts as gone
RETRY = 1.0  # seconds between attempts while disconnected
EVENT_KEEP = 100_000  # events the client's ring holds
# The events a client asks for: one request per refresh at most, this many
# per request. A flood beyond it (hz * EVENT_BATCH a second) is left in the
# service's bounded ring, which drops the oldest: the client reads a gap and
# the console reconciles, so that watching costs the service a bounded share
# of its time (benchmarks/bench_monitor.py) whatever its rate of tasks.
EVENT_BATCH = 1_000

_ERRORS: dict[str, type[Exception]] = {"ValueError": ValueError, "TypeError": TypeError,
                                       "LookupError": LookupError, "KeyError": LookupError,
                                       "RuntimeError": RuntimeError}


class MonitorUnavailable(ConnectionError):
    """The service's monitor does not answer (gone, restarting, or too slow)."""


try:  # the monitor extra's faster decoder, if installed (a batch holds 1,000 events)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the console alone does not need it
    _loads = json.loads

# What a polling thread counts as "the service is away" (and retries).
_UNANSWERED = (MonitorUnavailable, PermissionError, RuntimeError, KeyError, TypeError)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("monitor", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def default_token_file(address: str) -> str | None:
    """Where ``serve_monitor`` puts the token of a Unix socket by default:
    beside it, as ``PATH.token``; ``None`` if that file does not exist."""
    kind, _, rest = address.partition(":")
    if kind != "unix":
        return None
    path = os.path.abspath(os.path.expanduser(rest)) + ".token"
    return path if os.path.exists(path) else None


class RemoteClient:
    """``SupervisorClient`` for the monitor at ``address`` (``unix:PATH`` or
    ``tcp:HOST:PORT``), authenticated with the token in ``token_file``."""

    def __init__(self, address: str, token_file: str | None = None, *, hz: float = 10.0) -> None:
        kind, _, rest = address.partition(":") if isinstance(address, str) else ("", "", "")
        if kind == "unix" and rest:
            self._connect: Callable[[float], http.client.HTTPConnection] = functools.partial(
                _UnixConnection, os.path.abspath(os.path.expanduser(rest)))
        elif kind == "tcp" and rest.rpartition(":")[2].isdigit():
            host, _, port = rest.rpartition(":")
            self._connect = functools.partial(_tcp_connection, host.strip("[]"), int(port))
        else:
            raise ValueError(f"address must be 'unix:PATH' or 'tcp:HOST:PORT', got {address!r}")
        if not isinstance(hz, (int, float)) or isinstance(hz, bool) or not 0.1 <= hz <= 50:
            raise ValueError(f"hz must be a number from 0.1 to 50, got {hz!r}")
        token_file = token_file or default_token_file(address)
        if token_file is None:
            raise ValueError(f"no token file for {address!r}: pass the one the service "
                             f"printed (--token-file PATH)")
        self.address = address
        self.token_file = token_file
        try:
            self._headers = self._read_token()
        except OSError as exc:
            raise ValueError(f"token file {token_file!r}: {exc.strerror}") from None
        self._period = 1.0 / hz
        self.supervisor_id = "?"
        # Guards every field below: written by the polling thread (and a
        # command's read-back), read by any.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.state = "connecting"
        self.latency: float | None = None
        self.last_error: str | None = None
        self._stats: SupervisorStats | None = None
        self._stats_remote_time = 0.0  # the service's clock at the snapshot kept
        self._instance: str | None = None
        self.restarts = 0  # times another service (a new instance) answered at the address
        self.restart_seq = 0  # the sequence number the last restart skipped (a marker)
        self._offset = 0.0  # this process's monotonic minus the service's
        self._events: deque[TaskEvent] = deque(maxlen=EVENT_KEEP)
        self._seq_base = 0  # the client's seq = the service's seq + _seq_base
        self._remote_after = 0  # the service's seq the next poll asks events after
        self._oldest = 1  # the client's oldest seq still held (or last + 1)
        self._last = 0  # the client's newest seq known
        # Kept-alive connections not in use, by the thread that used them last.
        self._conns: dict[int, http.client.HTTPConnection] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True,
                                        name=f"remote-monitor {address}")
        self._thread.start()

    def __repr__(self) -> str:
        return f"<RemoteClient {self.address} {self.state}>"

    # -- connection ------------------------------------------------------------
    def wait_connected(self, timeout: float) -> bool:
        """Block until the first snapshot arrived (or ``timeout``); for start-up."""
        with self._changed:
            return self._changed.wait_for(lambda: self._stats is not None or
                                          self._closed.is_set(), timeout) and (
                self._stats is not None)

    def close(self) -> None:
        """Stop the polling thread (within ``REQUEST_TIMEOUT``) and close the
        kept-alive connections not in use."""
        self._closed.set()
        with self._changed:
            self._changed.notify_all()
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            conn.close()

    def _read_token(self) -> dict[str, str]:
        with open(self.token_file, encoding="utf-8") as f:
            token = f.read().strip()
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _request(self, method: str, path: str, body: Any = None,
                 timeout: float = REQUEST_TIMEOUT) -> dict:
        """One request: its JSON answer; the engine's exception for a refusal;
        ``MonitorUnavailable`` if the service cannot be reached or answers garbage.
        Refused for its token, it reads the token file again (a restarted
        service writes a new one there) and tries once more."""
        try:
            return self._request_once(method, path, body, timeout)
        except PermissionError as exc:
            if "Bearer" not in str(exc):  # read-only: the token was right
                raise
            try:
                headers = self._read_token()
            except OSError:
                raise exc from None
            if headers == self._headers:
                raise
            self._headers = headers
            return self._request_once(method, path, body, timeout)

    def _exchange(self, method: str, path: str, data: bytes | None,
                  timeout: float) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on this thread's kept-alive connection (a new one if it
        has none). A kept connection the service closed while idle fails
        before the request is read, so that one case is tried again, once,
        on a new connection; any other failure is raised."""
        ident = threading.get_ident()
        with self._lock:
            conn = self._conns.pop(ident, None)
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._connect(timeout)
            elif conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, path, body=data, headers=self._headers)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if not reused:
                    raise
                conn, reused = None, False
                continue
            except BaseException:
                conn.close()
                raise
            if response.will_close or self._closed.is_set():
                conn.close()
            else:
                with self._lock:
                    self._conns[ident] = conn
            return response, payload

    def _request_once(self, method: str, path: str, body: Any, timeout: float) -> dict:
        data = None if body is None else json.dumps(body).encode()
        try:
            response, payload = self._exchange(method, path, data, timeout)
            answer = _loads(payload)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise MonitorUnavailable(f"the monitor at {self.address} does not answer: "
                                     f"{exc}") from None
        if response.status >= 400:
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            message = str(error.get("message", f"HTTP {response.status}"))
            if response.status in (401, 403):
                raise PermissionError(message)
            raise _ERRORS.get(error.get("type"), RuntimeError)(message)
        if answer.get("wire") != WIRE_VERSION:
            raise MonitorUnavailable(f"the monitor at {self.address} speaks wire version "
                                     f"{answer.get('wire')!r}, this console "
                                     f"{WIRE_VERSION}: upgrade the older one")
        self._see(answer)
        return answer

    def _see(self, answer: dict) -> None:
        """Every answer: the clock offset, and whether the service is another one now."""
        now = time.monotonic()
        instance = answer.get("instance")
        with self._changed:
            self._offset = now - answer.get("monotonic", now)
            if instance != self._instance:
                if self._instance is not None:  # a new service: its events start over
                    # One number skipped: a reader sees a gap there, and checks
                    # its rows (the old service's tasks are gone with it).
                    self._seq_base = self._last + 1
                    self.restart_seq = self._last + 1
                    self._remote_after = 0
                    self._events.clear()
                    self._oldest = self._last + 2
                    self.restarts += 1
                self._instance = instance

    def _down(self, exc: BaseException) -> None:
        with self._changed:
            if self.state != "disconnected":
                self.state = "disconnected"
            self.last_error = str(exc)
            self.latency = None
            self._changed.notify_all()

    # -- the polling thread --------------------------------------------------------
    def _poll(self) -> None:
        while not self._closed.is_set():
            started = time.monotonic()
            try:
                self._fetch_snapshot(events=True)
            except _UNANSWERED as exc:
                self._down(exc)
                self._closed.wait(RETRY)
                continue
            self._closed.wait(max(0.0, self._period - (time.monotonic() - started)))

    def _fetch_snapshot(self, events: bool = False) -> None:
        """One ``/v1/snapshot`` (with ``events``: and the events after the
        last ones read) → the snapshot kept, unless a newer one of the same
        service already is (a read-back and a poll may cross)."""
        started = time.monotonic()
        path = "/v1/snapshot"
        if events:
            with self._lock:
                after = self._remote_after
            path += f"?events_after={after}&limit={EVENT_BATCH}"
        answer = self._request("GET", path)
        stats = decode_stats(answer["stats"])
        latency = time.monotonic() - started
        with self._changed:
            if events:
                self._take_events(after, answer)
            if (self._stats is not None and answer.get("instance") == self._instance
                    and stats.time < self._stats_remote_time):
                return
            self._stats_remote_time = stats.time
            self._stats = dataclasses.replace(
                stats, time=stats.time + self._offset,
                last_event_seq=stats.last_event_seq + self._seq_base)
            self.supervisor_id = stats.supervisor_id
            self.state, self.latency, self.last_error = "connected", latency, None
            self._changed.notify_all()

    def _read_back(self) -> None:
        """After a command: the snapshot taken now, so that the console reads
        the command's effect at once (if it fails, the next poll brings it)."""
        try:
            self._fetch_snapshot()
        except _UNANSWERED:
            pass

    def _take_events(self, after: int, answer: dict) -> None:
        """Keep the events of ``answer`` (asked for after ``after``), in this
        client's numbering and clock. Called with the lock held."""
        if after != self._remote_after:  # the service changed under this request
            return
        base = self._seq_base
        # The events in this client's numbering; the bounds stay the service's.
        batch = decode_events(answer, base, self._offset)
        lost = batch.lost_before(after)
        if lost:  # the service's ring dropped events before this client read them
            self._events.clear()
            self._oldest = batch.oldest_seq + base
        self._events.extend(batch.events)
        if self._events:
            self._oldest = max(self._oldest, self._events[0].seq)
        self._last = max(self._last, batch.last_seq + base)
        if batch.events:
            self._remote_after = batch.events[-1].seq - base
        elif lost:
            self._remote_after = batch.last_seq
        if not self._events:
            self._oldest = self._last + 1

    # -- reads -------------------------------------------------------------------
    def snapshot(self) -> SupervisorStats:
        """The newest snapshot; ``MonitorUnavailable`` before the first one."""
        with self._lock:
            stats = self._stats
            state = self.state
        if stats is None:
            raise MonitorUnavailable(f"no snapshot from {self.address} yet ({state})")
        return stats

    def events(self, after_seq: int, limit: int) -> EventBatch:
        with self._lock:
            ring = self._events
            oldest, last = self._oldest, self._last
            if not ring or after_seq >= ring[-1].seq:
                return EventBatch([], oldest, last)
            start = max(0, after_seq + 1 - ring[0].seq)
            events = deque_range(ring, start, min(len(ring), start + limit))
        return EventBatch(events, oldest, last)

    def live_tasks(self, ids: Collection[Any] | None) -> dict[Any, TaskState]:
        answer = self._request("POST", "/v1/live", {"ids": None if ids is None else list(ids)})
        states = (decode_live(t) for t in answer["tasks"])
        return {s.id: self._shift_state(s) for s in states}

    def finished_tasks(self, ids: Collection[Any]) -> dict[Any, FinishedTask]:
        answer = self._request("POST", "/v1/finished", {"ids": list(ids)})
        records = (decode_finished(t) for t in answer["tasks"])
        return {r.id: self._shift_record(r) for r in records}

    def task_record(self, task_id: Any) -> TaskRecord | None:
        record: TaskRecord | None = self.live_tasks((task_id,)).get(task_id)
        if record is None:
            record = self.finished_tasks((task_id,)).get(task_id)
        return record

    def task_stack(self, task_id: Any) -> TaskStack:
        """The live stack of a running task of the service (``POST /v1/stack``).
        Its ``seconds`` is a duration: no clock to convert."""
        answer = self._request("POST", "/v1/stack", {"id": task_id})
        return decode_stack(answer["stack"])

    def is_active(self) -> bool:
        with self._lock:
            return self.state == "connected" and self._stats is not None and self._stats.active

    def _shift(self, value: float | None) -> float | None:
        return None if value is None else value + self._offset

    def _shift_state(self, state: TaskState) -> TaskState:
        return state._replace(time_submitted=self._shift(state.time_submitted),
                              time_queued=self._shift(state.time_queued),
                              time_started=self._shift(state.time_started))

    def _shift_record(self, record: FinishedTask) -> FinishedTask:
        for name in ("time_submitted", "time_queued", "time_started", "time_completed"):
            setattr(record, name, self._shift(getattr(record, name)))
        return record

    # -- commands ----------------------------------------------------------------
    def _call(self, command: str, args: dict, timeout: float) -> Any:
        result = self._request("POST", "/v1/command", {"command": command, "args": args},
                               timeout=timeout)["result"]
        if command != "stop":  # a stopping service closes its monitor
            self._read_back()
        return result

    def _command(self, command: str, /, **args: Any) -> Any:
        return self._call(command, args, REQUEST_TIMEOUT)

    async def _command_async(self, command: str, wait: float, /, **args: Any) -> Any:
        """A command that may wait ``wait`` seconds, from a thread of the running loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._call, command, args,
                                          REQUEST_TIMEOUT + wait)

    def start(self) -> None:
        raise RuntimeError(f"the supervisor at {self.address} is started by its own service")

    def set_thread_pool(self, **changes: Any) -> None:
        self._command("set_thread_pool", **changes)

    def set_mp_pool(self, **changes: Any) -> None:
        self._command("set_mp_pool", **changes)

    def set_timeouts(self, **values: Any) -> None:
        self._command("set_timeouts", **values)

    def cancel(self, ids: Collection[Any]) -> dict[Any, Exception | None]:
        return self._each("cancel", ids)

    def resubmit(self, ids: Collection[Any]) -> dict[Any, Any]:
        return self._each("resubmit", ids)

    def _each(self, name: str, ids: Collection[Any]) -> dict[Any, Any]:
        ids = list(ids)
        answers = self._command(name, ids=ids)
        out: dict[Any, Any] = {}
        for task_id in ids:
            answer = answers.get(str(task_id), {})
            error = answer.get("error")
            out[task_id] = (_ERRORS.get(error["type"], RuntimeError)(error["message"])
                            if error else answer.get("result"))
        return out

    def create_aloop(self, name: str, *, default: bool = False, daemon: bool = False,
                     start: bool = True) -> None:
        self._command("create_aloop", name=name, default=default, daemon=daemon, start=start)

    def start_aloop(self, name: str) -> None:
        self._command("start_aloop", name=name)

    def set_default_aloop(self, name: str | None) -> None:
        self._command("set_default_aloop", name=name)

    async def stop_aloop(self, name: str, *, wait: bool | float = COMMAND_WAIT,
                         cancel_tasks: bool = False) -> None:
        await self._command_async("stop_aloop", _seconds(wait), name=name, wait=wait,
                                  cancel_tasks=cancel_tasks)

    async def start_worker(self, name: str) -> None:
        await self._command_async("start_worker", COMMAND_WAIT, name=name)

    async def stop_worker(self, name: str, *, wait: bool | float = COMMAND_WAIT) -> None:
        await self._command_async("stop_worker", _seconds(wait), name=name, wait=wait)

    async def submit_batch(self, batch: Any) -> list[Any]:
        raise RuntimeError("attached to a service: its work is submitted by the service, "
                           "not from the console")

    def start_scenario(self, scenario: Any, duration: float) -> Any:
        raise RuntimeError("attached to a service: scenarios run in the console's own "
                           "supervisor only")

    async def stop(self, *, wait: bool | float, cancel_tasks: bool = False,
                   stop_schedulers: bool = True) -> None:
        """Ask the service's supervisor to stop; return once it no longer
        serves (its monitor closes with the stop) or ``wait`` (plus a grace) passed."""
        self._command("stop", wait=wait, cancel_tasks=cancel_tasks,
                      stop_schedulers=stop_schedulers)
        end = time.monotonic() + _seconds(wait) + REQUEST_TIMEOUT
        loop = asyncio.get_running_loop()
        while time.monotonic() < end:
            try:
                await loop.run_in_executor(None, self._request, "GET", "/v1/snapshot")
            except MonitorUnavailable:
                return
            await asyncio.sleep(0.05)

    def stop_now(self) -> None:
        self._command("stop", wait=False, cancel_tasks=True)


def _seconds(wait: bool | float) -> float:
    return COMMAND_WAIT if wait is True or wait is False else float(wait)


def _tcp_connection(host: str, port: int, timeout: float) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(host, port, timeout=timeout)


__all__ = ["MonitorUnavailable", "RemoteClient", "default_token_file"]
