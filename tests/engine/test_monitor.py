"""serve_monitor: a real service process on a real Unix socket, and the edges
of the endpoint (auth, read-only, bad requests, addresses, files, close)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")
from engine_testkit import wait_until  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from engine import TASK_LOW, TASK_NORMAL, TASK_STATUS_CANCELED, TaskSupervisor  # noqa: E402
from engine.monitor import MAX_BODY, MonitorError  # noqa: E402
from engine.stats import EventBatch, TaskEvent  # noqa: E402
from engine.wire import (  # noqa: E402
    decode_events,
    decode_finished,
    decode_live,
    decode_stack,
    decode_stats,
    encode_event_rows,
    encode_events,
)

SERVICE = Path(__file__).parent / "scripts" / "monitor_service.py"
ROOT = Path(__file__).resolve().parents[2]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("monitor", timeout=10)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self._path)


class Client:
    """A few lines of HTTP over the monitor's socket (or TCP port)."""

    def __init__(self, address: str, token_file: str | None) -> None:
        self.address = address
        self.token = Path(token_file).read_text().strip() if token_file else None

    def _connection(self) -> http.client.HTTPConnection:
        kind, _, rest = self.address.partition(":")
        if kind == "unix":
            return UnixHTTPConnection(rest)
        host, _, port = rest.rpartition(":")
        return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)

    def request(self, method: str, path: str, body: object = None, *, raw: bytes | None = None,
                token: str | None = "default") -> tuple[int, object]:
        headers = {}
        token = self.token if token == "default" else token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(text)
        return response.status, text

    def get(self, path: str, **kw: object) -> tuple[int, object]:
        return self.request("GET", path, **kw)

    def command(self, command: str, /, **args: object) -> tuple[int, dict]:
        return self.request("POST", "/v1/command", {"command": command, "args": args})

    def stats(self):
        status, answer = self.get("/v1/snapshot")
        assert status == 200, answer
        return decode_stats(answer["stats"])


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    return path


def start_service(address: str, *extra: str) -> tuple[subprocess.Popen, Client]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(SERVICE), address, *extra], env=env,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("monitor: "), line
    _, shown, _, token_file = line.split()
    return proc, Client(shown, token_file)


@pytest.fixture
def service(private_dir: Path):
    proc, client = start_service(f"unix:{private_dir / 'svc.sock'}")
    yield proc, client
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=15)


# -- a real service ------------------------------------------------------------------
def test_every_request_needs_the_token(service) -> None:
    _, client = service
    for token in (None, "", "wrong", client.token + "x"):
        status, answer = client.get("/v1/snapshot", token=token)
        assert status == 401, (token, answer)
        assert "Bearer" in answer["error"]["message"]
    status, _ = client.get("/metrics", token=None)
    assert status == 401
    conn_status, _ = client.request("POST", "/v1/command",
                                    {"command": "set_thread_pool", "args": {"pool_size": 9}},
                                    token="wrong")
    assert conn_status == 401
    assert client.stats().thread.pool_size == 3  # nothing changed


def test_socket_and_token_file_are_owner_only(service) -> None:
    _, client = service
    path = client.address.partition(":")[2]
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    token_file = Path(path + ".token")  # beside the socket, by default
    assert token_file.read_text().strip() == client.token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert len(client.token) >= 40


def test_commands_change_the_service_and_read_back(service) -> None:
    _, client = service
    assert client.command("set_thread_pool", pool_size=7, reserve_high=2)[0] == 200
    stats = client.stats()
    assert (stats.thread.pool_size, stats.thread.reserve_high) == (7, 2)
    assert client.command("set_timeouts", poll_delay=0.25, timeout_warning=4.5)[0] == 200
    stats = client.stats()
    assert (stats.poll_delay, stats.timeout_warning) == (0.25, 4.5)

    status, answer = client.request("POST", "/v1/live", {"ids": None})
    later = [decode_live(t) for t in answer["tasks"] if t[1] == "later"]
    assert status == 200 and len(later) == 1
    status, answer = client.command("cancel", ids=[later[0].id])
    assert status == 200 and answer["result"] == {str(later[0].id): {"result": None}}
    status, answer = client.request("POST", "/v1/finished", {"ids": [later[0].id]})
    assert [decode_finished(t).status for t in answer["tasks"]] == [TASK_STATUS_CANCELED]
    status, answer = client.command("resubmit", ids=[later[0].id, "no-such-task"])
    new_id = answer["result"][str(later[0].id)]["result"]
    assert answer["result"]["no-such-task"]["error"]["type"] == "LookupError"
    _, answer = client.request("POST", "/v1/live", {"ids": [new_id]})
    assert [decode_live(t).name for t in answer["tasks"]] == ["later"]

    assert client.command("create_aloop", name="remote", start=True)[0] == 200
    assert client.stats().aloops == {"remote": True}
    assert client.command("set_default_aloop", name="remote")[0] == 200
    assert client.stats().default_aloop == "remote"
    assert client.command("stop_aloop", name="remote", wait=5)[0] == 200
    assert client.stats().aloops == {"remote": False}
    assert client.command("start_aloop", name="remote")[0] == 200
    assert client.stats().aloops == {"remote": True}

    assert client.command("stop_worker", name="ticker", wait=5)[0] == 200
    assert client.stats().scheduler_info["ticker"].active is False
    assert client.command("start_worker", name="ticker")[0] == 200
    assert client.stats().scheduler_info["ticker"].active is True


def test_stop_through_the_monitor_ends_the_service_and_removes_its_files(service) -> None:
    proc, client = service
    path = client.address.partition(":")[2]
    status, answer = client.command("stop", wait=2, cancel_tasks=True)
    assert (status, answer["result"]) == (200, "stopping")
    assert proc.wait(timeout=15) == 0
    assert not os.path.exists(path)


def test_bad_requests_get_4xx_and_change_nothing(service) -> None:
    proc, client = service
    before = client.stats().thread
    cases = [
        ({"command": "exec", "args": {"code": "print(1)"}}, 400, "UnknownCommand"),
        ({"command": "set_thread_pool", "args": {"pool_size": "8"}}, 400, "TypeError"),
        ({"command": "set_thread_pool", "args": {"pool_size": True}}, 400, "TypeError"),
        ({"command": "set_thread_pool", "args": {"pool_size": -1}}, 400, "ValueError"),
        ({"command": "set_thread_pool", "args": {"pool_size": 8, "reserve_high": 10**9}}, 400,
         "ValueError"),
        ({"command": "set_thread_pool", "args": {"bogus": 1}}, 400, "TypeError"),
        ({"command": "set_timeouts", "args": {"poll_delay": -1}}, 400, "ValueError"),
        ({"command": "set_thread_pool", "args": [1]}, 400, "BadRequest"),
        ({"args": {}}, 400, "BadRequest"),
        ({"command": "stop_aloop", "args": {"name": "nope"}}, 404, "LookupError"),
        ({"command": "stop", "args": {"wait": -3}}, 400, "ValueError"),
        ({"command": "cancel", "args": {"ids": [[1]]}}, 400, "TypeError"),
    ]
    for body, want, kind in cases:
        status, answer = client.request("POST", "/v1/command", body)
        assert (status, answer["error"]["type"]) == (want, kind), (body, answer)
        assert answer["error"]["message"]
    status, answer = client.request("POST", "/v1/command", raw=b"{not json")
    assert (status, answer["error"]["type"]) == (400, "BadJSON")
    status, _ = client.request("POST", "/v1/command", raw=b"[" + b"1," * MAX_BODY + b"1]")
    assert status == 413
    status, answer = client.get("/v1/events?after=x")
    assert status == 400 and "after" in answer["error"]["message"]
    status, answer = client.get("/v1/events?wait=nan")
    assert status == 400
    for query in ("events_after=-1", "events_after=1.5", "events_after=0&limit=0"):
        status, answer = client.get(f"/v1/snapshot?{query}")
        assert status == 400 and query.rpartition("&")[2].split("=")[0] in (
            answer["error"]["message"]), (query, answer)
    status, answer = client.request("POST", "/v1/live", {"ids": 5})
    assert status == 400
    status, _ = client.get("/v1/nothing-here")
    assert status == 404
    assert client.stats().thread.pool_size == before.pool_size
    assert client.stats().active and proc.poll() is None


def test_metrics_parse_with_prometheus_client(service) -> None:
    _, client = service
    status, text = client.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    settings = {(s.labels["pool"], s.labels["setting"]): s.value
                for s in families["task_supervisor_pool_setting"].samples}
    assert settings[("thread", "pool_size")] == 3
    delayed = {s.labels["priority"]: s.value
               for s in families["task_supervisor_tasks_delayed"].samples
               if s.labels["pool"] == "thread"}
    assert delayed["NORMAL"] == 1  # "later"
    totals = {(s.labels["pool"], s.labels["step"]): s.value
              for s in families["task_supervisor_tasks"].samples if s.name.endswith("_total")}
    assert totals[("thread", "submitted")] >= 2
    assert {s.labels["quantile"] for s in families["task_supervisor_queue_wait_seconds"].samples
            } == {"0.5", "0.95", "1"}
    assert families["task_supervisor_active"].samples[0].value == 1
    threads = {s.labels["state"] for s in families["task_supervisor_threads"].samples}
    assert threads == {"alive", "busy"}


def test_events_long_poll_and_a_gap(service) -> None:
    _, client = service
    last = client.stats().last_event_seq
    t0 = time.monotonic()
    status, answer = client.get(f"/v1/events?after={last + 10**6}&wait=0.3")
    assert status == 200 and answer["events"] == []
    assert time.monotonic() - t0 >= 0.25
    status, answer = client.get(f"/v1/events?after={last}&wait=10")  # the ticker makes one
    assert time.monotonic() - t0 < 5
    batch = decode_events(answer)
    assert batch.events and batch.events[0].seq == last + 1
    status, answer = client.get("/v1/events?after=0&limit=2")
    batch = decode_events(answer)
    assert len(batch.events) <= 2 and batch.lost_before(0) == batch.oldest_seq - 1


def test_a_snapshot_can_carry_the_events_since_a_number(service) -> None:
    """One request per refresh: the stats, then the events after N (at most
    ``limit``), as /v1/events gives them, without waiting."""
    _, client = service
    status, plain = client.get("/v1/snapshot")
    assert status == 200 and "events" not in plain
    last = decode_stats(plain["stats"]).last_event_seq
    assert last >= 3, "precondition: the service's start made events"
    status, answer = client.get(f"/v1/snapshot?events_after={last - 3}&limit=2")
    assert status == 200
    stats, batch = decode_stats(answer["stats"]), decode_events(answer)
    assert [e.seq for e in batch.events] == [last - 2, last - 1]
    assert batch.last_seq >= stats.last_event_seq >= last
    t0 = time.monotonic()
    status, answer = client.get(f"/v1/snapshot?events_after={batch.last_seq + 10**6}")
    assert status == 200 and answer["events"] == [] and time.monotonic() - t0 < 1


def test_decoded_events_move_to_the_readers_numbering_and_clock_bounds_stay() -> None:
    events = [TaskEvent(7, 100.0, "queued", 1, "a", 1, 50),
              TaskEvent(8, 100.5, "started", "x-2", "b", 2, 100)]
    wire = json.loads(json.dumps(encode_events(EventBatch(events, 5, 9))))
    batch = decode_events(wire, 1000, 0.25)
    assert batch.events == [TaskEvent(1007, 100.25, "queued", 1, "a", 1, 50),
                            TaskEvent(1008, 100.75, "started", "x-2", "b", 2, 100)]
    assert all(type(e) is TaskEvent for e in batch.events)
    assert (batch.oldest_seq, batch.last_seq) == (5, 9)  # the service's own
    assert decode_events(wire).events == events


def test_the_rings_plain_rows_travel_as_their_events_would() -> None:
    rows = [(1, 2.0, "queued", 7, "a", 1, 50), (2, 2.5, "started", ("job", 3), "b", 1, 50)]
    as_rows = encode_event_rows(rows, 1, 2)
    assert as_rows == encode_events(EventBatch([TaskEvent(*r) for r in rows], 1, 2))
    assert as_rows["events"][1][3] == "('job', 3)"  # an id JSON cannot carry: its repr
    assert decode_events(json.loads(json.dumps(as_rows))).events[0] == TaskEvent(*rows[0])


def test_a_read_only_monitor_refuses_every_command(private_dir: Path) -> None:
    proc, client = start_service(f"unix:{private_dir / 'ro.sock'}", "--read-only")
    try:
        for name, args in (("set_thread_pool", {"pool_size": 9}), ("stop", {}),
                           ("cancel", {"ids": [1]}), ("no-such", {})):
            status, answer = client.request("POST", "/v1/command",
                                            {"command": name, "args": args})
            assert status == 403 and "read-only" in answer["error"]["message"]
        assert client.stats().thread.pool_size == 3
        assert client.get("/metrics")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_a_killed_service_leaves_a_socket_the_next_one_takes_over(private_dir: Path) -> None:
    address = f"unix:{private_dir / 'again.sock'}"
    proc, client = start_service(address)
    proc.kill()
    proc.wait(timeout=15)
    assert os.path.exists(private_dir / "again.sock")  # kill -9 cleans nothing
    proc, client = start_service(address)
    try:
        assert client.stats().active
    finally:
        proc.terminate()
        proc.wait(timeout=15)


# -- in this process: addresses, files, close ----------------------------------------
@pytest.fixture
def supervisor():
    sup = TaskSupervisor(pool_size=2)
    sup.start()
    yield sup
    sup.stop(wait=5)


@pytest.mark.parametrize("address, words", [
    ("tcp:0.0.0.0:0", "loopback"), ("tcp:192.168.1.10:8000", "SSH tunnel"),
    ("tcp:example.com:80", "loopback"), ("tcp:127.0.0.1:99999", "port"),
    ("tcp:127.0.0.1:x", "port"), ("http://127.0.0.1:80", "use 'unix:PATH'"),
    ("unix:", "use 'unix:PATH'"), ("unix:/tmp/open-dir.sock", "open to group or others"),
    ("unix:/no/such/dir/m.sock", "does not exist"),
])
def test_addresses_refused_name_the_value(supervisor, address: str, words: str) -> None:
    with pytest.raises(MonitorError, match=words) as info:
        supervisor.serve_monitor(address)
    assert repr(address) in str(info.value) or address.partition(":")[2] in str(info.value)


def test_wrong_types_are_refused_before_anything_is_bound(supervisor, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="address"):
        supervisor.serve_monitor(8080)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read_only"):
        supervisor.serve_monitor(read_only="yes")  # type: ignore[arg-type]
    with pytest.raises(MonitorError, match="token_file"):
        supervisor.serve_monitor(token_file=tmp_path / "none" / "token")


def test_a_socket_someone_serves_is_not_taken(supervisor, private_dir: Path) -> None:
    first = supervisor.serve_monitor(f"unix:{private_dir / 'm.sock'}")
    with pytest.raises(MonitorError, match="another process is serving it"):
        supervisor.serve_monitor(f"unix:{private_dir / 'm.sock'}")
    assert Client(first.address, first.token_file).stats().active


def test_tcp_loopback_with_a_chosen_port_and_token_file(supervisor, private_dir: Path) -> None:
    token_file = private_dir / "token"
    token_file.write_text("old")
    token_file.chmod(0o644)
    monitor = supervisor.serve_monitor("tcp:127.0.0.1:0", token_file=token_file)
    assert monitor.address.startswith("tcp:127.0.0.1:") and not monitor.address.endswith(":0")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    client = Client(monitor.address, str(token_file))
    assert client.stats().supervisor_id == supervisor.id
    monitor.close()
    monitor.close()  # idempotent
    assert not token_file.exists()
    with pytest.raises(OSError):
        client.stats()


def test_stop_closes_the_monitor_and_its_files(private_dir: Path) -> None:
    sup = TaskSupervisor(pool_size=2)
    sup.start()
    monitor = sup.serve_monitor(f"unix:{private_dir / 'm.sock'}")
    client = Client(monitor.address, monitor.token_file)
    assert client.stats().active
    sup.stop(wait=5)
    assert not (private_dir / "m.sock").exists()
    assert not os.path.exists(monitor.token_file)
    assert list(private_dir.iterdir()) == []
    with pytest.raises(RuntimeError, match="not active"):
        sup.serve_monitor()


def test_the_default_address_is_a_private_directory_removed_on_close(supervisor) -> None:
    monitor = supervisor.serve_monitor()
    folder = Path(monitor.address.partition(":")[2]).parent
    assert folder.parent == Path(tempfile.gettempdir())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert Path(monitor.token_file).parent == folder
    monitor.close()
    assert not folder.exists()


def test_reads_match_the_supervisor_and_a_slow_client_holds_no_memory(supervisor) -> None:
    monitor = supervisor.serve_monitor()
    client = Client(monitor.address, monitor.token_file)
    gate = threading.Event()
    tasks = [supervisor.submit(gate.wait, 10) for _ in range(5)]
    wait_until(lambda: supervisor.stats().thread.running[TASK_NORMAL] == 2)
    remote = client.stats()
    local = supervisor.stats()
    assert remote.thread.running == local.thread.running
    assert remote.thread.queued == local.thread.queued
    _, answer = client.request("POST", "/v1/live", {"ids": [t.id for t in tasks]})
    assert sorted(decode_live(t).id for t in answer["tasks"]) == sorted(t.id for t in tasks)
    status, answer = client.get("/v1/events?after=0&limit=100000")
    assert status == 400  # a batch is bounded
    gate.set()
    wait_until(lambda: all(t.is_completed() for t in tasks))
    _, answer = client.request("POST", "/v1/finished", {"ids": [t.id for t in tasks]})
    assert [decode_finished(t).status for t in answer["tasks"]] == [t.status for t in tasks]


def test_run_thresholds_and_live_stacks_over_the_monitor(supervisor, private_dir: Path) -> None:
    monitor = supervisor.serve_monitor(f"unix:{private_dir / 'm.sock'}")
    client = Client(monitor.address, monitor.token_file)
    gate = threading.Event()

    def held_in_the_service() -> None:
        gate.wait(30)

    running = supervisor.submit(held_in_the_service)
    queued = [supervisor.submit(held_in_the_service, _priority=TASK_LOW) for _ in range(3)]
    try:
        assert wait_until(lambda: running.is_started())
        assert client.command("set_timeouts", run_warning=0.05, run_critical=60)[0] == 200
        assert (supervisor.run_warning, supervisor.run_critical) == (0.05, 60.0)
        assert wait_until(lambda: client.stats().thread.run_warnings >= 1)
        stats = client.stats()
        assert stats.run_warning == 0.05 and stats.thread.longest.id == running.id

        status, answer = client.request("POST", "/v1/stack", {"id": running.id})
        assert status == 200, answer
        stack = decode_stack(answer["stack"])
        assert stack.task_id == running.id and stack.kind == "thread"
        assert [f.function for f in stack.user_frames][-1].endswith("held_in_the_service")
        waiting = next(t for t in queued if not t.is_started())
        status, answer = client.request("POST", "/v1/stack", {"id": waiting.id})
        assert status == 404 and answer["error"]["type"] == "LookupError"
        status, answer = client.request("POST", "/v1/stack", {"id": [1]})
        assert status == 400 and answer["error"]["type"] == "TypeError"
        status, answer = client.request("POST", "/v1/stack", {"ids": [1]})
        assert status == 400
        status, answer = client.command("set_timeouts", run_critical=-1)
        assert status == 400 and "run_critical" in answer["error"]["message"]
        assert supervisor.run_critical == 60.0

        _, text = client.get("/metrics")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        past = {(s.labels["pool"], s.labels["level"]): s.value
                for s in families["task_supervisor_tasks_past_run_threshold"].samples}
        assert past[("thread", "warning")] >= 1 and past[("thread", "critical")] == 0
        longest = {s.labels["pool"]: s.value
                   for s in families["task_supervisor_longest_running_seconds"].samples}
        assert longest["thread"] > 0 and longest["mp"] == 0
    finally:
        gate.set()


def test_answers_carry_what_the_fast_encoder_refuses(supervisor, private_dir: Path) -> None:
    """Ids past 64 bits and names of a str subclass come through as they are."""
    monitor = supervisor.serve_monitor(f"unix:{private_dir / 'm.sock'}")
    client = Client(monitor.address, monitor.token_file)

    class Name(str):
        pass

    big = 10**30
    task = supervisor.put_task(lambda _task_id: supervisor.mark_task_completed(task_id=big),
                               task_id=big)
    named = supervisor.submit(lambda: None, _name=Name("named"))
    assert task.wait(10) and named.wait(10)
    status, answer = client.get("/v1/events?after=0&limit=5000")
    assert status == 200, answer
    events = decode_events(answer).events
    assert {e.task_id for e in events if e.kind == "completed"} >= {big, named.id}
    assert "named" in {e.name for e in events}
