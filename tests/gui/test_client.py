"""The local client: the console's door answers from the engine and raises its errors."""

from __future__ import annotations

import threading

import pytest
from guikit import run, until

from engine import TASK_HIGH, TASK_STATUS_QUEUED, BackgroundIntervalWorker


def _blocked(supervisor, release: threading.Event, count: int):
    """Fill the pool (4 + reserves) with tasks that wait for ``release``."""
    return [supervisor.submit(release.wait, 10, _priority=TASK_HIGH) for _ in range(count)]


def test_reads_come_from_the_engine(supervisor, client, qtbot):
    release = threading.Event()
    running = _blocked(supervisor, release, 8)
    queued = supervisor.submit(int, _name="waiting")
    try:
        live = client.live_tasks([queued.id, running[0].id, "nobody"])
        assert set(live) == {queued.id, running[0].id}
        assert live[queued.id].status == TASK_STATUS_QUEUED and live[queued.id].name == "waiting"
        assert client.task_record(queued.id).name == "waiting"
        assert client.task_record("nobody") is None
        assert client.snapshot().thread.pending == 9
    finally:
        release.set()
    qtbot.waitUntil(queued.is_completed, timeout=5000)
    assert client.live_tasks([queued.id]) == {}
    record = client.finished_tasks([queued.id])[queued.id]
    assert record.is_completed() and record.result == "0"
    assert client.task_record(queued.id).result == "0"


def test_live_tasks_of_none_are_all_unfinished_tasks(supervisor, client, qtbot):
    release = threading.Event()
    running = _blocked(supervisor, release, 8)
    queued = supervisor.submit(int, _name="waiting")
    try:
        live = client.live_tasks(None)
        assert set(live) == {queued.id, *(t.id for t in running)}
        assert live[queued.id].status == TASK_STATUS_QUEUED
    finally:
        release.set()
    qtbot.waitUntil(queued.is_completed, timeout=5000)
    qtbot.waitUntil(lambda: client.live_tasks(None) == {}, timeout=5000)


def test_cancel_answers_for_every_id(supervisor, client, qtbot):
    release = threading.Event()
    _blocked(supervisor, release, 8)
    queued = supervisor.submit(int)
    try:
        answers = client.cancel([queued.id, "nobody"])
    finally:
        release.set()
    assert answers[queued.id] is None
    assert isinstance(answers["nobody"], LookupError)
    assert queued.wait(2) and queued.status == -1


def test_resubmit_runs_the_same_target_again(supervisor, client, qtbot):
    seen = []
    first = supervisor.submit(seen.append, "again")
    qtbot.waitUntil(first.is_completed, timeout=3000)
    answers = client.resubmit([first.id, "nobody"])
    assert isinstance(answers["nobody"], LookupError)
    again = supervisor.get_task(answers[first.id])
    assert again is not None and again.id != first.id
    qtbot.waitUntil(lambda: seen == ["again", "again"], timeout=3000)


def test_set_timeouts_is_all_or_nothing(supervisor, client):
    before = client.snapshot()
    with pytest.raises(ValueError, match="timeout_critical"):
        client.set_timeouts(poll_delay=0.5, timeout_warning=1.0, timeout_critical=float("nan"))
    after = client.snapshot()
    assert (after.poll_delay, after.timeout_warning, after.timeout_critical) == (
        before.poll_delay, before.timeout_warning, before.timeout_critical)
    client.set_timeouts(poll_delay=0.5, timeout_warning=1.0, timeout_critical=2.0)
    after = client.snapshot()
    assert (after.poll_delay, after.timeout_warning, after.timeout_critical) == (0.5, 1.0, 2.0)


def test_aloop_commands(supervisor, client, qloop):
    client.create_aloop("door", daemon=True)
    client.set_default_aloop("door")
    stats = client.snapshot()
    assert stats.aloops["door"] and stats.default_aloop == "door"
    with pytest.raises(ValueError, match="door"):
        client.create_aloop("door")
    run(qloop, client.stop_aloop("door", wait=5))
    assert not client.snapshot().aloops["door"]
    with pytest.raises(LookupError, match="ghost"):
        run(qloop, client.stop_aloop("ghost"))
    client.start_aloop("door")
    assert client.snapshot().aloops["door"]


def test_worker_commands_by_name(supervisor, client, qloop):
    ran = threading.Event()

    class Ticker(BackgroundIntervalWorker):
        def run(self, **kwargs):
            ran.set()

    worker = Ticker(name="ticker", interval=0.01, supervisor=supervisor)
    worker.start()
    run(qloop, until(ran.is_set))  # the worker's loop() runs on the running qasync loop
    assert client.snapshot().scheduler_info["ticker"].active
    run(qloop, client.stop_worker("ticker", wait=5))
    stopped = client.snapshot().scheduler_info["ticker"]
    assert not stopped.active and not stopped.registered and stopped.kind == "interval worker"
    assert stopped.runs >= 1
    ran.clear()
    run(qloop, client.start_worker("ticker"))
    run(qloop, until(ran.is_set))
    with pytest.raises(LookupError, match="ghost"):
        run(qloop, client.start_worker("ghost"))
    run(qloop, client.stop_worker("ticker", wait=5))


def test_stop_on_the_host_loop_and_start_again(supervisor, client, qloop):
    run(qloop, client.stop(wait=2))
    assert not client.is_active() and not client.snapshot().active
    client.start()
    assert client.is_active()
    with pytest.raises(RuntimeError, match="already"):
        client.start()
    client.stop_now()
    assert not client.is_active()
