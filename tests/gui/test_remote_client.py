"""RemoteClient against a real service process serving its monitor on a Unix socket."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

from servicekit import WAIT, Service, wait_for  # noqa: E402

from gui.remote import MonitorUnavailable, RemoteClient  # noqa: E402


@pytest.fixture
def attached(service: Service):
    client = RemoteClient(service.address, service.token_file, hz=20)
    assert client.wait_connected(WAIT)
    yield service, client
    client.close()


def test_reads_come_from_the_service_in_this_process_clock(attached) -> None:
    _, client = attached
    stats = client.snapshot()
    assert stats.supervisor_id == "service" and client.supervisor_id == "service"
    assert stats.thread.pool_size == 3 and client.is_active()
    assert abs(stats.time - time.monotonic()) < 1.0
    assert client.state == "connected" and client.latency is not None
    later = [s for s in client.live_tasks(None).values() if s.name == "later"]
    assert len(later) == 1 and later[0].delay == 3600
    assert abs(later[0].time_submitted - time.monotonic()) < 60
    wait_for(lambda: client.events(0, 1000).events)
    batch = client.events(0, 1000)
    seqs = [e.seq for e in batch.events]
    assert seqs == sorted(seqs) and batch.last_seq >= seqs[-1]
    assert client.events(seqs[-1], 10).events == [] or client.events(seqs[-1], 10).events[0].seq \
        == seqs[-1] + 1


def test_commands_act_on_the_service_and_refusals_raise_its_error(attached) -> None:
    _, client = attached
    client.set_thread_pool(pool_size=6)
    wait_for(lambda: client.snapshot().thread.pool_size == 6)
    with pytest.raises(ValueError, match="pool_size must be >= 0, got -1"):
        client.set_thread_pool(pool_size=-1)
    client.set_timeouts(poll_delay=0.5)
    wait_for(lambda: client.snapshot().poll_delay == 0.5)
    later = next(s.id for s in client.live_tasks(None).values() if s.name == "later")
    answers = client.cancel([later, 10**9])
    assert answers[later] is None and isinstance(answers[10**9], LookupError)
    record = client.task_record(later)
    assert record is not None and record.is_completed()
    new = client.resubmit([later])[later]
    assert client.task_record(new).name == "later"
    client.create_aloop("remote")
    wait_for(lambda: client.snapshot().aloops == {"remote": True})
    asyncio.run(client.stop_aloop("remote", wait=5))
    wait_for(lambda: client.snapshot().aloops == {"remote": False})
    asyncio.run(client.stop_worker("ticker", wait=5))
    wait_for(lambda: not client.snapshot().scheduler_info["ticker"].active)
    asyncio.run(client.start_worker("ticker"))
    wait_for(lambda: client.snapshot().scheduler_info["ticker"].active)
    with pytest.raises(RuntimeError, match="started by its own service"):
        client.start()


def test_stop_ends_the_service(attached) -> None:
    service, client = attached
    asyncio.run(client.stop(wait=3, cancel_tasks=True))
    assert service.proc.wait(timeout=WAIT) == 0
    wait_for(lambda: client.state == "disconnected")
    assert not client.is_active()


def test_a_wrong_token_and_a_read_only_monitor(socket_path: str, tmp_path: Path) -> None:
    service = Service(socket_path, "--read-only")
    try:
        wrong = tmp_path / "wrong"
        wrong.write_text("nope")
        bad = RemoteClient(service.address, str(wrong))
        try:
            with pytest.raises(PermissionError, match="Bearer"):
                bad.live_tasks(None)
            assert not bad.wait_connected(0.5)
        finally:
            bad.close()
        client = RemoteClient(service.address)  # the token file beside the socket
        try:
            assert client.wait_connected(WAIT)
            with pytest.raises(PermissionError, match="read-only"):
                client.set_thread_pool(pool_size=9)
        finally:
            client.close()
    finally:
        service.end()


def test_the_service_killed_then_restarted(socket_path: str) -> None:
    service = Service(socket_path)
    client = RemoteClient(service.address, hz=20)
    try:
        assert client.wait_connected(WAIT)
        wait_for(lambda: client.events(0, 10).events)
        seen = client.snapshot().last_event_seq
        service.proc.kill()
        service.proc.wait(timeout=WAIT)
        wait_for(lambda: client.state == "disconnected")
        assert "does not answer" in client.last_error
        with pytest.raises(MonitorUnavailable):
            client.live_tasks(None)
        service = Service(socket_path)  # the same address, a new process and token
        wait_for(lambda: client.state == "connected")
        assert client.snapshot().thread.pool_size == 3
        # Its events are numbered on from where the old service's ended, and
        # the jump reads as a gap: the console reconciles its rows.
        wait_for(lambda: client.events(seen, 10).events)
        batch = client.events(seen, 10)
        assert batch.events[0].seq > seen and batch.lost_before(seen) > 0
        assert client.snapshot().last_event_seq > seen
    finally:
        client.close()
        service.end()


def test_bad_arguments_are_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="address"):
        RemoteClient("http://x")
    with pytest.raises(ValueError, match="token file"):
        RemoteClient(f"unix:{tmp_path / 'none.sock'}")
    with pytest.raises(ValueError, match="hz"):
        RemoteClient(f"unix:{tmp_path / 'none.sock'}", str(tmp_path), hz=0)


def test_requests_keep_their_connection_and_survive_the_service_restarting(
        socket_path: str) -> None:
    service = Service(socket_path)
    client = RemoteClient(service.address, hz=20)
    mine: list[int] = []  # connections opened by this thread
    connect = client._connect

    def counting(timeout: float):
        if threading.get_ident() == threading.main_thread().ident:
            mine.append(1)
        return connect(timeout)

    client._connect = counting
    try:
        assert client.wait_connected(WAIT)
        for _ in range(20):
            assert client.live_tasks(None)
        assert len(mine) == 1  # one connection, kept alive for every request
        service.proc.kill()
        service.proc.wait(timeout=WAIT)
        service = Service(socket_path)
        wait_for(lambda: client.state == "connected" and client.restarts == 1)
        # The kept connection died with the old service: the request goes on a new one.
        assert [s.name for s in client.live_tasks(None).values()].count("later") == 1
        assert len(mine) == 2
    finally:
        client.close()
        service.end()


def test_events_gives_any_range_of_the_kept_events_read_from_either_end() -> None:
    from collections import deque

    from engine.stats import TaskEvent

    client = RemoteClient.__new__(RemoteClient)  # the ring alone, no service
    client._lock = threading.Lock()
    client._events = deque(TaskEvent(s, float(s), "queued", s, "t", 1, 100)
                           for s in range(501, 1501))
    client._oldest, client._last = 501, 1500
    for after, limit in ((0, 10), (500, 1000), (700, 50), (1100, 300), (1400, 5),
                         (1490, 100), (1499, 1), (1500, 10), (0, 5000)):
        expected = [e for e in client._events if e.seq > after][:limit]
        batch = client.events(after, limit)
        assert batch.events == expected, (after, limit)
        assert (batch.oldest_seq, batch.last_seq) == (501, 1500)


def test_each_refresh_is_one_request_that_brings_the_events_too(attached) -> None:
    service, client = attached
    paths: list[str] = []
    request = client._request

    def recording(method: str, path: str, *args, **kwargs):
        if threading.current_thread() is client._thread:
            paths.append(path)
        return request(method, path, *args, **kwargs)

    client._request = recording
    seen = client.snapshot().last_event_seq
    wait_for(lambda: len(paths) >= 5)
    wait_for(lambda: client.events(seen, 10).events)  # the service's ticker makes some
    assert all(p.startswith("/v1/snapshot?events_after=") for p in paths), paths
    assert not any(p.startswith("/v1/events") for p in paths)


def test_a_monitor_of_another_wire_version_is_refused_with_what_to_do(
        monkeypatch, tmp_path: Path) -> None:
    import engine.monitor
    from engine import TaskSupervisor

    sup = TaskSupervisor("wire_version")
    sup.start()
    try:
        run = tmp_path / "run"
        run.mkdir(mode=0o700)
        monitor = sup.serve_monitor(f"unix:{run / 'm.sock'}")
        monkeypatch.setattr(engine.monitor, "WIRE_VERSION", 1_000)
        client = RemoteClient(monitor.address, monitor.token_file, hz=20)
        try:
            wait_for(lambda: client.state == "disconnected")
            assert "wire version 1000" in client.last_error and "upgrade" in client.last_error
            with pytest.raises(MonitorUnavailable, match="wire version"):
                client.live_tasks(None)
        finally:
            client.close()
    finally:
        sup.stop()
