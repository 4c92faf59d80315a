"""Batches of a task script against a real supervisor: every task asked for
goes in with the right priority, type and name, in order, and ends once;
thread and mp batches go in through ``submit_many`` a chunk at a time,
paced off the main thread; bad batches are refused before any task exists;
a refusal part-way says how many went in."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from engine import (
    TASK_HIGH,
    TASK_LOW,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_QUEUED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    TaskSupervisor,
    wait_completed,
)
from engine import dispatch as engine_dispatch
from runner import batch as batches
from runner.batch import MAX_COUNT, Batch
from runner.taskscript import load_task_script

ENDS = ("completed", "failed", "canceled")


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


def end_events(sup: TaskSupervisor) -> Counter:
    """Task id → how many times the event ring saw it end."""
    return Counter(e.task_id for e in sup.events_since(0) if e.kind in ENDS)


def hold_the_pool(sup: TaskSupervisor) -> threading.Event:
    """One slot, held until the returned gate is set: later tasks queue."""
    sup.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    gate = threading.Event()
    blocker = sup.submit(gate.wait, 30, _name="blocker")
    assert blocker.wait(0) is False
    return gate


def in_thread(fn):
    """``fn()`` in a new (not the main) thread; its result, or what it raised."""
    out: dict = {}

    def body():
        try:
            out["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    worker = threading.Thread(target=body)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    if "error" in out:
        raise out["error"]
    return out["result"]


def test_a_submit_many_call_never_spans_two_engine_lock_holds():
    """A call is then accepted or refused whole (the note counts whole calls)."""
    assert 1 <= batches.CHUNK <= engine_dispatch.BATCH_CHUNK


def test_a_thread_batch_goes_in_through_submit_many_in_order(sup, sleep_script, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK", 7)
    gate = hold_the_pool(sup)
    calls = []
    real = sup.submit_many
    monkeypatch.setattr(sup, "submit_many", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    monkeypatch.setattr(sup, "submit", lambda *a, **kw: pytest.fail("submit() was called"))
    tasks = batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=30))
    assert len(calls) == 5  # 7 + 7 + 7 + 7 + 2
    assert [t.status for t in tasks] == [TASK_STATUS_QUEUED] * 30
    ids = [t.id for t in tasks]
    assert ids == sorted(ids) and len(set(ids)) == 30
    assert all(t.kwargs == {"seconds": 0} and t.args == () for t in tasks)
    gate.set()
    assert wait_completed(tasks, timeout=20) == [0] * 30
    # One slot: FIFO means each task started after the one before it ended.
    for before, after in zip(tasks, tasks[1:], strict=False):
        assert before.time_completed <= after.time_started
    ended = end_events(sup)
    assert all(ended[i] == 1 for i in ids) and sup.stats().thread.reconciles()


def test_a_batch_keeps_its_priority_behind_a_busy_pool(sup, sleep_script, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK", 4)
    gate = hold_the_pool(sup)
    low = batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=10, priority=TASK_LOW))
    high = batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=10, priority=TASK_HIGH))
    assert {t.priority for t in low} == {TASK_LOW} and {t.priority for t in high} == {TASK_HIGH}
    gate.set()
    wait_completed(low + high, timeout=20)
    assert max(t.time_started for t in high) <= min(t.time_started for t in low)


def test_a_delayed_batch_bigger_than_a_chunk(sup, sleep_script, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK", 3)
    tasks = batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=10, delay=0.05))
    assert [t.status for t in tasks] == [TASK_STATUS_DELAYED] * 10
    assert all(t.delay == 0.05 for t in tasks)
    assert wait_completed(tasks, timeout=10) == [0] * 10
    assert all(t.time_started - t.time_submitted >= 0.04 for t in tasks)


def test_an_mp_batch_goes_in_through_submit_many(sup, monkeypatch):
    sup.create_mp_pool(processes=1)
    script = load_task_script("cpu_burn")
    monkeypatch.setattr(batches, "CHUNK", 2)
    monkeypatch.setattr(sup, "submit", lambda *a, **kw: pytest.fail("submit() was called"))
    tasks = batches.submit(sup, Batch(script, {"iterations": 50}, count=3, tt=TT_MP,
                                      priority=TASK_HIGH))
    assert all((t.tt, t.priority, t.name) == (TT_MP, TASK_HIGH, "cpu_burn") for t in tasks)
    # The path, not the loaded script, crosses to the process pool.
    assert all(t.args == (str(script.path), {"iterations": 50}) for t in tasks)
    assert all(t.kwargs == {"_task_id": t.id} for t in tasks)
    assert wait_completed(tasks, timeout=30) == [sum(i * i for i in range(50))] * 3


def test_off_the_main_thread_it_pauses_between_calls(sup, sleep_script, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK", 10)
    pauses = []
    monkeypatch.setattr(batches, "_pause", lambda: pauses.append(len(sup.get_tasks())))
    gate = hold_the_pool(sup)
    tasks = in_thread(lambda: batches.submit(sup, Batch(sleep_script, {"seconds": 0},
                                                         count=35)))
    # Between calls (not before the first, not after the last): 10, 20, 30 in (+ blocker).
    assert pauses == [11, 21, 31] and len(tasks) == 35
    batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=35))
    assert len(pauses) == 3  # the main thread does not pause
    gate.set()
    wait_completed(tasks, timeout=20)


def test_a_stop_between_two_calls_says_how_many_went_in(sup, sleep_script, monkeypatch):
    """Another thread stops the supervisor while the batch is between two
    ``submit_many`` calls: the next is refused, the note counts what went in,
    and every accepted task ends exactly once."""
    monkeypatch.setattr(batches, "CHUNK", 10)
    gate = hold_the_pool(sup)
    paused, stopped = threading.Event(), threading.Event()
    pauses = []

    def pause():
        pauses.append(1)
        if len(pauses) == 3:  # after the third call: 30 tasks in
            paused.set()
            assert stopped.wait(30)

    monkeypatch.setattr(batches, "_pause", pause)
    out: dict = {}

    def submit():
        try:
            batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=50))
        except RuntimeError as exc:
            out["error"] = exc

    worker = threading.Thread(target=submit)
    worker.start()
    assert paused.wait(30)
    accepted = sup.get_tasks()
    gate.set()
    sup.stop(wait=10, cancel_tasks=True)  # from the test's thread, not the submitting one
    stopped.set()
    worker.join(30)
    error = out["error"]
    assert "not active" in str(error)
    assert error.__notes__ == ["30 of the 50 tasks of the batch were submitted before that"]
    batch_tasks = [t for t in accepted if t.name == "sleep"]
    assert len(batch_tasks) == 30
    assert all(t.wait(10) for t in batch_tasks)
    assert {t.status for t in batch_tasks} <= {TASK_STATUS_COMPLETED, TASK_STATUS_CANCELED}
    ended = end_events(sup)
    assert all(ended[t.id] == 1 for t in batch_tasks)
    stats = sup.stats().thread
    assert stats.reconciles() and stats.pending == 0 and stats.submitted == 31


def test_a_call_the_engine_refused_part_way_is_one_note(sup, sleep_script, monkeypatch):
    """Were a batch's call bigger than the engine's lock hold, the engine's
    own note (how many of that call went in) is folded into the batch's."""
    monkeypatch.setattr(batches, "CHUNK", 25)
    monkeypatch.setattr(engine_dispatch, "BATCH_CHUNK", 10)
    dispatcher = sup._dispatcher
    real, holds = dispatcher.check_active_locked, []

    def refuse_the_sixth_hold():
        holds.append(1)
        if len(holds) == 6:  # 10 + 10 + 5, then 10 + 10: the second call refused at 20 of 25
            raise RuntimeError("supervisor 'batch-test' is not active (stopping)")
        real()

    gate = hold_the_pool(sup)
    monkeypatch.setattr(dispatcher, "check_active_locked", refuse_the_sixth_hold)
    with pytest.raises(RuntimeError, match="stopping") as info:
        batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=60))
    assert info.value.__notes__ == ["45 of the 60 tasks of the batch were submitted before that"]
    gate.set()
    queued = [t for t in sup.get_tasks() if t.name == "sleep"]
    assert len(queued) == 45
    wait_completed(queued, timeout=20)


def test_a_refusal_of_the_first_call_has_no_note(sup, sleep_script, monkeypatch):
    monkeypatch.setattr(sup, "submit_many", lambda *a, **kw: (_ for _ in ()).throw(
        RuntimeError("supervisor 'batch-test' is not active (stopping)")))
    with pytest.raises(RuntimeError, match="stopping") as info:
        batches.submit(sup, Batch(sleep_script, {"seconds": 0}, count=3))
    assert not getattr(info.value, "__notes__", None)


def test_a_coroutine_batch_is_one_coroutine_per_task(sup, monkeypatch):
    """Unchanged: each task gets its own coroutine object, and the refusal
    note counts the tasks that went in."""
    monkeypatch.setattr(sup, "submit_many", lambda *a, **kw: pytest.fail("submit_many()"))
    sup.create_aloop("co", daemon=True)
    script = load_task_script("async_sleep")
    tasks = batches.submit(sup, Batch(script, {"seconds": 0}, count=6, tt=TT_COROUTINE,
                                      aloop="co"))
    assert wait_completed(tasks, timeout=10) == [0] * 6
    assert len({id(t.target) for t in tasks}) == 6  # a coroutine each
    pauses = []
    monkeypatch.setattr(batches, "PACE_EVERY", 2)
    monkeypatch.setattr(batches, "_pause", lambda: pauses.append(1))
    out = in_thread(lambda: batches.submit(sup, Batch(script, {"seconds": 0}, count=5,
                                                       tt=TT_COROUTINE, aloop="co")))
    assert pauses == [1, 1] and len(out) == 5
    wait_completed(out, timeout=10)
    sup.stop_aloop("co")
    with pytest.raises(RuntimeError) as info:
        batches.submit(sup, Batch(script, {"seconds": 0}, count=3, tt=TT_COROUTINE,
                                  aloop="co"))
    assert not getattr(info.value, "__notes__", None)
