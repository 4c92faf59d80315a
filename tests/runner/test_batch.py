"""Batches of a task script against a real supervisor: every task asked for
goes in with the right priority, type and name, and ends; bad batches are
refused before any task exists; a refusal part-way says how many went in."""

from __future__ import annotations

import threading

import pytest

from engine import (
    TASK_HIGH,
    TASK_LOW,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    TaskSupervisor,
    wait_completed,
)
from runner import batch as batches
from runner.batch import MAX_COUNT, Batch
from runner.taskscript import load_task_script


@pytest.fixture
def sup():
    supervisor = TaskSupervisor(supervisor_id="batch-test", pool_size=4, reserve_normal=1,
                                reserve_high=1)
    supervisor.start()
    yield supervisor
    supervisor.stop(wait=5, cancel_tasks=True)


@pytest.fixture(scope="module")
def sleep_script():
    return load_task_script("sleep")


def test_a_thread_batch_runs_every_task(sup, sleep_script):
    batch = Batch(sleep_script, {"seconds": 0.001}, count=25, priority=TASK_HIGH)
    assert batch.describe() == "submit 25 × sleep (HIGH, thread)"
    tasks = batches.submit(sup, batch)
    assert len(tasks) == 25 and len({t.id for t in tasks}) == 25
    assert all((t.priority, t.tt, t.name) == (TASK_HIGH, TT_THREAD, "sleep") for t in tasks)
    assert wait_completed(tasks, timeout=10) == [0.001] * 25
    assert sup.stats().thread.completed == 25


def test_a_delayed_batch_waits_then_runs(sup, sleep_script):
    batch = Batch(sleep_script, {"seconds": 0}, count=3, delay=0.05, priority=TASK_LOW)
    assert batch.describe() == "submit 3 × sleep (LOW, thread) after 0.05 s"
    tasks = batches.submit(sup, batch)
    assert [t.status for t in tasks] == [TASK_STATUS_DELAYED] * 3
    wait_completed(tasks, timeout=10)
    assert [t.status for t in tasks] == [TASK_STATUS_COMPLETED] * 3


def test_an_mp_batch_sends_the_script_path(sup):
    sup.create_mp_pool(processes=1)
    script = load_task_script("cpu_burn")
    tasks = batches.submit(sup, Batch(script, {"iterations": 100}, count=2, tt=TT_MP))
    assert [t.tt for t in tasks] == [TT_MP, TT_MP]
    assert wait_completed(tasks, timeout=30) == [sum(i * i for i in range(100))] * 2


def test_a_coroutine_batch_runs_on_the_named_aloop(sup):
    sup.create_aloop("elsewhere", daemon=True)
    sup.create_aloop("batch", daemon=True)
    script = load_task_script("async_sleep")
    batch = Batch(script, {"seconds": 0.001}, count=4, tt=TT_COROUTINE, aloop="batch")
    assert batch.summary == "4 × async_sleep (NORMAL, coroutine on batch)"
    tasks = batches.submit(sup, batch)
    assert wait_completed(tasks, timeout=10) == [0.001] * 4
    assert all(t.tt == TT_COROUTINE for t in tasks)


def test_a_big_batch_from_another_thread(sup, sleep_script):
    sup.set_thread_pool(pool_size=0)
    out: list = []
    worker = threading.Thread(target=lambda: out.extend(
        batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=5_000))))
    worker.start()
    worker.join(60)
    assert len(out) == 5_000
    wait_completed(out, timeout=60)
    assert sup.stats().thread.completed == 5_000


@pytest.mark.parametrize(("changes", "error", "match"), [
    ({"count": 0}, ValueError, "count must be between 1 and 100,000, got 0"),
    ({"count": MAX_COUNT + 1}, ValueError, "count"),
    ({"count": 2.0}, TypeError, "count must be an integer"),
    ({"priority": 75}, ValueError, "unknown priority 75"),
    ({"tt": 9}, ValueError, "unknown task type 9"),
    ({"delay": -1}, ValueError, "delay must be between"),
    ({"delay": float("nan")}, ValueError, "delay"),
    ({"delay": "soon"}, TypeError, "delay must be a number"),
    ({"tt": TT_COROUTINE}, ValueError, "plain 'def run'"),
    ({"aloop": "x"}, ValueError, "only coroutine tasks run on an aloop"),
    ({"kwargs": [1]}, TypeError, "kwargs must be a dict"),
])
def test_bad_batches_are_refused_naming_the_field(sleep_script, changes, error, match):
    fields = {"script": sleep_script, "kwargs": {"seconds": 0}, "count": 1, **changes}
    with pytest.raises(error, match=match):
        Batch(**fields)


def test_an_async_script_is_refused_as_a_thread_batch():
    with pytest.raises(ValueError, match="'async def run'"):
        Batch(load_task_script("async_sleep"), {}, tt=TT_THREAD)


def test_a_stopped_supervisor_refuses_with_its_own_error(sleep_script):
    sup = TaskSupervisor(supervisor_id="batch-stopped")
    with pytest.raises(RuntimeError, match="not active"):
        batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=3))


def test_a_refusal_part_way_says_how_many_went_in(sup, sleep_script, monkeypatch):
    real = sup.submit
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("supervisor batch-test is stopping")
        return real(*args, **kwargs)

    monkeypatch.setattr(sup, "submit", flaky)
    with pytest.raises(RuntimeError, match="stopping") as info:
        batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=10))
    assert info.value.__notes__ == ["3 of the 10 tasks of the batch were submitted before that"]
