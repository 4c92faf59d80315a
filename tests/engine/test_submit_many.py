"""``submit_many``: a batch of tasks with one lock hold per chunk, the same
guarantees as a loop of ``submit``; and the history's records of batch-like
tasks (plain arguments and results recorded at once, the rest later)."""

from __future__ import annotations

import gc
import threading

import pytest
from engine_testkit import WAIT, Gate, StartLog

from engine import (
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TT_MP,
    FinishedTask,
    TaskSupervisor,
    wait_completed,
)
from engine.dispatch import BATCH_CHUNK


def double(x: int) -> int:
    return 2 * x


def test_one_task_per_item_in_order_with_results(sup: TaskSupervisor) -> None:
    tasks = sup.submit_many(double, [(i,) for i in range(3 * BATCH_CHUNK + 7)])
    assert len(tasks) == 3 * BATCH_CHUNK + 7
    ids = [t.id for t in tasks]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert wait_completed(tasks, timeout=30) == [2 * i for i in range(len(tasks))]
    stats = sup.stats().thread
    assert stats.completed == len(tasks) and stats.submitted == len(tasks)


def test_a_generator_of_lists_and_shared_keyword_arguments(sup: TaskSupervisor) -> None:
    def add(a: int, b: int, *, c: int) -> int:
        return a + b + c

    tasks = sup.submit_many(add, ([i, i] for i in range(5)), kwargs={"c": 100}, name="adder")
    assert wait_completed(tasks, timeout=WAIT) == [100 + 2 * i for i in range(5)]
    assert {t.name for t in tasks} == {"adder"}


def test_strict_priority_and_fifo_hold_across_a_batch(make_supervisor) -> None:
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    log = StartLog()
    blocker = Gate()
    sup.submit(blocker)
    assert blocker.started.wait(WAIT)
    low = sup.submit_many(log.record, [(f"low{i}",) for i in range(5)], priority=TASK_LOW)
    high = sup.submit_many(log.record, [(f"high{i}",) for i in range(3)], priority=TASK_HIGH)
    blocker.release()
    wait_completed(low + high, timeout=WAIT)
    assert log.snapshot() == [f"high{i}" for i in range(3)] + [f"low{i}" for i in range(5)]


def test_critical_tasks_of_a_batch_start_at_once_on_a_full_pool(make_supervisor) -> None:
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    blocker = Gate()
    sup.submit(blocker)
    assert blocker.started.wait(WAIT)
    gates = [Gate() for _ in range(3)]
    tasks = sup.submit_many(lambda gate: gate(), [(g,) for g in gates], priority=TASK_CRITICAL)
    for gate in gates:  # all three run together, past the pool's one thread
        assert gate.started.wait(WAIT)
    for gate in gates:
        gate.release()
    blocker.release()
    wait_completed(tasks, timeout=WAIT)


def test_every_item_is_checked_before_any_task_is_accepted(sup: TaskSupervisor) -> None:
    before = sup.stats().thread.submitted
    with pytest.raises(TypeError, match=r"args_iterable\[2\] must be a tuple or list"):
        sup.submit_many(double, [(1,), (2,), 3, (4,)])
    with pytest.raises(TypeError, match="args_iterable must be an iterable"):
        sup.submit_many(double, "abc")
    with pytest.raises(TypeError, match="args_iterable must be an iterable"):
        sup.submit_many(double, 12)
    with pytest.raises(ValueError, match="unknown priority 7"):
        sup.submit_many(double, [(1,)], priority=7)
    with pytest.raises(TypeError, match="task target must be callable"):
        sup.submit_many(42, [(1,)])
    with pytest.raises(TypeError, match="kwargs must be a dict"):
        sup.submit_many(double, [(1,)], kwargs=[("c", 1)])
    with pytest.raises(ValueError, match="delay"):
        sup.submit_many(double, [(1,)], delay=float("nan"))
    assert sup.stats().thread.submitted == before
    assert sup.get_tasks() == []


def test_an_empty_batch_is_an_empty_list(sup: TaskSupervisor) -> None:
    assert sup.submit_many(double, []) == []


def test_a_stopped_supervisor_refuses_the_batch_and_registers_nothing(
        make_supervisor) -> None:
    sup = make_supervisor()
    sup.stop()
    with pytest.raises(RuntimeError, match="not active"):
        sup.submit_many(double, [(1,), (2,)])
    assert sup.get_tasks() == [] and sup.stats().thread.submitted == 0


def test_a_stop_during_a_batch_names_how_many_went_in(make_supervisor, monkeypatch) -> None:
    sup = make_supervisor()
    dispatcher = sup.dispatcher
    admit = dispatcher._admit_chunk
    chunks = []

    def admit_then_stop(tasks):  # the supervisor stops between two chunks
        admit(tasks)
        chunks.append(len(tasks))
        if len(chunks) == 1:
            sup.stop(wait=WAIT)

    monkeypatch.setattr(dispatcher, "_admit_chunk", admit_then_stop)
    with pytest.raises(RuntimeError, match="not active") as refused:
        sup.submit_many(double, [(i,) for i in range(BATCH_CHUNK + 5)])
    assert f"{BATCH_CHUNK:,} of the batch's {BATCH_CHUNK + 5:,} tasks had been accepted" in (
        "".join(refused.value.__notes__))
    assert chunks == [BATCH_CHUNK]
    assert sup.stats().thread.completed == BATCH_CHUNK  # the stop waited for them


def test_a_number_chosen_by_put_task_is_skipped(sup: TaskSupervisor) -> None:
    gate = Gate()
    chosen = sup.submit(double, 0).id + 2  # the next-but-one number of the dispatcher
    held = sup.put_task(gate, task_id=chosen)
    tasks = sup.submit_many(double, [(i,) for i in range(4)])
    ids = [t.id for t in tasks]
    assert chosen not in ids and len(set(ids)) == 4
    wait_completed(tasks, timeout=WAIT)
    assert gate.started.wait(WAIT)
    gate.release()
    assert gate.finished.wait(WAIT)
    sup.mark_task_completed(task_id=chosen)  # a put_task target holds its slot until then
    assert held.wait(WAIT)


def test_delayed_batch_tasks_wait_their_delay(sup: TaskSupervisor) -> None:
    tasks = sup.submit_many(double, [(1,), (2,)], delay=0.05)
    assert all(t.delay == 0.05 for t in tasks)
    assert wait_completed(tasks, timeout=WAIT) == [2, 4]
    assert all(t.time_started - t.time_submitted >= 0.049 for t in tasks)


def test_mp_batch_tasks_get_their_own_task_ids(make_supervisor) -> None:
    sup = make_supervisor()
    sup.create_mp_pool(1)
    tasks = sup.submit_many(mp_echo_id, [(i,) for i in range(3)], tt=TT_MP)
    results = wait_completed(tasks, timeout=30)
    assert results == [(i, t.id) for i, t in enumerate(tasks)]


def mp_echo_id(x: int, _task_id: int = None) -> tuple:
    return x, _task_id


def test_batches_from_many_threads_each_end_once(sup: TaskSupervisor) -> None:
    done = []
    lock = threading.Lock()

    def record(x: int) -> None:
        with lock:
            done.append(x)

    batches: list = []

    def submit(offset: int) -> None:
        batches.append(sup.submit_many(record, [(offset + i,) for i in range(2000)]))

    threads = [threading.Thread(target=submit, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    wait_completed([t for batch in batches for t in batch], timeout=30)
    assert sorted(done) == sorted(k * 10_000 + i for k in range(4) for i in range(2000))


# -- what the history records of such tasks ---------------------------------------
class Loud:
    def __repr__(self) -> str:
        raise SystemExit("repr")


def test_plain_results_and_arguments_are_recorded_at_once(sup: TaskSupervisor) -> None:
    tasks = sup.submit_many(double, [(21,), (-4,)])
    ids = [t.id for t in tasks]
    wait_completed(tasks, timeout=WAIT)
    del tasks
    gc.collect()
    records = [sup.get_task(i) for i in ids]
    assert all(isinstance(r, FinishedTask) for r in records)
    assert [r.result for r in records] == ["42", "-8"]
    assert [r.args for r in records] == [(21,), (-4,)] and records[0].target is double
    assert sup.resubmit(ids[0]).wait(WAIT)


def test_results_whose_repr_is_user_code_are_recorded_after_the_lock(
        sup: TaskSupervisor) -> None:
    task = sup.submit(Loud)
    task_id = task.id
    assert task.wait(WAIT)
    del task
    gc.collect()
    record = sup.get_task(task_id)
    assert isinstance(record, FinishedTask)
    assert "SystemExit" in record.result  # the repr raised: contained, named
    assert sup.submit(double, 1).wait(WAIT)  # and the pool keeps serving


def test_huge_ints_and_long_strings_are_clipped_not_kept(sup: TaskSupervisor) -> None:
    big = sup.submit(pow, 10, 500)
    text = sup.submit(str.__mul__, "x", 10_000)
    ids = big.id, text.id
    wait_completed([big, text], timeout=WAIT)
    del big, text
    gc.collect()
    for task_id in ids:
        record = sup.get_task(task_id)
        assert len(record.result) <= 200


def test_a_chunk_interrupted_while_it_is_registered_is_taken_back_whole(
        make_supervisor, monkeypatch) -> None:
    sup = make_supervisor()
    ledger = sup.dispatcher.ledger
    register = ledger.register_locked
    seen = []

    def interrupted_at_the_third(task):
        seen.append(task.id)
        if len(seen) == 3:
            raise KeyboardInterrupt
        register(task)

    monkeypatch.setattr(ledger, "register_locked", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        sup.submit_many(double, [(i,) for i in range(10)])
    monkeypatch.undo()
    assert sup.get_tasks() == [] and sup.stats().thread.submitted == 0
    assert wait_completed(sup.submit_many(double, [(1,), (2,)]), timeout=WAIT) == [2, 4]
