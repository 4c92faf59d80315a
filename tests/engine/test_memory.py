"""Memory is bounded by size, not only by count (DESIGN rule 9).

The history keeps the last 2,000 finished tasks, but once nobody holds a
``Task`` only a slim record of it: results, exceptions (their tracebacks,
hence frames and their locals), arguments and targets are freed. A caller
that holds its ``Task`` keeps all of it; ``get_task`` returns that very
``Task`` while it is held, and the slim record once it is not.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
import weakref

import pytest
from engine_testkit import WAIT

from engine import (
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TaskCanceledError,
)
from engine.task import (
    MESSAGE_LIMIT,
    RESULT_REPR_LIMIT,
    TRACEBACK_LIMIT,
    FinishedTask,
    RecordedError,
    ResultDroppedError,
)

MiB = 1 << 20
#: Pool threads of the supervisors below (pool 2, no reserves).
THREADS = 2
#: What may stay alive after thousands of 1 MiB results were dropped: the
#: history's records and the event ring (~2 MiB), plus what each pool thread
#: still refers to (engine.threads keeps a thread's first task for its whole
#: life and its last result until its next task): far below the 3,000 MiB
#: the tasks returned.
ALIVE_BOUND = 8 * MiB


class Payload:
    """A 1 MiB result that can be watched with a weak reference."""

    __slots__ = ("data", "__weakref__")

    def __init__(self) -> None:
        self.data = bytes(MiB)


@pytest.fixture
def sup(make_supervisor):
    supervisor = make_supervisor(pool_size=THREADS, reserve_normal=0, reserve_high=0,
                                 max_size=THREADS)
    flush_threads(supervisor)  # every pool thread's first task is a filler
    return supervisor


def flush_threads(sup) -> None:
    """Give every pool thread one more (tiny) task, so that none still refers
    to the result, exception or task it ran before: ``THREADS`` tasks that
    wait for each other can only run on ``THREADS`` different threads."""
    barrier = threading.Barrier(THREADS, timeout=WAIT)
    fillers = [sup.submit(barrier.wait, _name="filler") for _ in range(THREADS)]
    for filler in fillers:
        assert filler.wait(WAIT) and filler.exception is None, filler.exception


def run_dropped(sup, target, count: int, wave: int = 50) -> None:
    """Run ``count`` tasks of ``target(i)`` and drop every ``Task`` (waves of
    ``wave`` tasks in flight)."""
    for start in range(0, count, wave):
        tasks = [sup.submit(target, i) for i in range(start, min(count, start + wave))]
        for task in tasks:
            assert task.wait(WAIT)
        del tasks


def fresh_mib(i: int) -> bytes:
    return bytes(MiB) + i.to_bytes(2, "big")  # a new 1 MiB object each time


def test_results_of_3000_tasks_nobody_holds_are_freed(sup):
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run_dropped(sup, fresh_mib, 3000)
        gc.collect()
        alive = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert alive < ALIVE_BOUND, f"{alive / MiB:.1f} MiB still alive after 3000 x 1 MiB"
    assert sup.stats().thread.completed == 3000 + THREADS  # and the fillers


def test_every_dropped_result_is_collected(sup):
    refs: list[weakref.ref] = []

    def make(i):
        payload = Payload()
        refs.append(weakref.ref(payload))
        return payload

    run_dropped(sup, make, 500)
    flush_threads(sup)
    gc.collect()
    alive = sum(1 for r in refs if r() is not None)
    assert alive == 0, f"{alive} of 500 results still alive"


def test_coroutine_task_results_nobody_holds_are_freed(sup):
    aloop = sup.create_aloop("mem_loop")
    refs: list[weakref.ref] = []

    async def make():
        await asyncio.sleep(0)
        payload = Payload()
        refs.append(weakref.ref(payload))
        return payload

    for _ in range(10):
        tasks = [aloop.background_task(make()) for _ in range(30)]
        assert all(task.wait(WAIT) for task in tasks)
        del tasks
    gc.collect()
    alive = sum(1 for r in refs if r() is not None)
    assert alive == 0, f"{alive} of 300 coroutine results still alive"


def test_a_failed_task_nobody_holds_frees_its_traceback_frames(sup):
    refs: list[weakref.ref] = []

    def fail(i):
        local = Payload()  # kept alive by the traceback's frame while the task is held
        refs.append(weakref.ref(local))
        raise ValueError(f"failure {i}")

    run_dropped(sup, fail, 200)
    flush_threads(sup)
    gc.collect()  # an exception and its frame form a cycle: collected, not refcounted
    alive = sum(1 for r in refs if r() is not None)
    assert alive == 0, f"{alive} of 200 failed tasks' frames still alive"
    assert sup.stats().thread.failed == 200


def test_a_held_task_keeps_its_full_result_target_and_arguments(sup):
    held = sup.submit(fresh_mib, 7)
    assert held.wait(WAIT)
    run_dropped(sup, fresh_mib, 300)
    gc.collect()
    assert sup.get_task(held.id) is held  # the real Task while somebody holds it
    assert held.result == bytes(MiB) + (7).to_bytes(2, "big")
    assert (held.target, held.args) == (fresh_mib, (7,))  # what the console re-runs


def test_a_held_failed_task_keeps_its_real_exception_and_traceback(sup):
    def fail():
        raise KeyError("kept")

    held = sup.submit(fail)
    assert held.wait(WAIT)
    gc.collect()
    assert sup.get_task(held.id) is held
    assert isinstance(held.exception, KeyError) and held.exception.__traceback__ is not None
    with pytest.raises(KeyError, match="kept"):
        held.outcome()


def finished_and_dropped(sup, target, *args):
    """Run ``target``; return the id and the public fields of its dropped Task."""
    task = sup.submit(target, *args, _name="dropped")
    assert task.wait(WAIT)
    fields = {name: getattr(task, name) for name in (
        "id", "name", "tt", "priority", "status", "delay", "time_submitted", "time_queued",
        "time_started", "time_completed")}
    ref = weakref.ref(task)
    del task
    flush_threads(sup)
    gc.collect()
    assert ref() is None, "nothing but the test should have held the task"
    return fields


def test_get_task_of_a_dropped_completed_task_gives_the_slim_record(sup):
    fields = finished_and_dropped(sup, fresh_mib, 1)
    record = sup.get_task(fields["id"])
    assert isinstance(record, FinishedTask)
    assert {name: getattr(record, name) for name in fields} == fields
    assert record.status == TASK_STATUS_COMPLETED
    assert isinstance(record.result, str) and len(record.result) <= RESULT_REPR_LIMIT
    assert record.result.startswith("b'\\x00") and "1,048,578 bytes" in record.result
    assert record.exception is None
    assert record.is_completed() and record.is_started() and record.wait() is True
    assert record.wait(timeout=0) is True
    # a plain function and a small argument: kept, so it can be re-run
    assert (record.target, record.args, record.kwargs, record.callback) == (fresh_mib, (1,), {},
                                                                            None)
    with pytest.raises(ResultDroppedError, match="freed") as dropped:
        record.outcome()
    assert record.result in str(dropped.value)


def plain_value(value):
    return value


@pytest.mark.parametrize("value, text", [(41, "41"), (-2.5, "-2.5"), (True, "True"),
                                         (10**59, repr(10**59)), ("ok", "'ok'"),
                                         (None, None)])
def test_a_dropped_tasks_plain_result_reads_as_its_repr(sup, value, text):
    fields = finished_and_dropped(sup, plain_value, value)
    record = sup.get_task(fields["id"])
    assert isinstance(record, FinishedTask) and record.result == text
    assert sup.get_task(fields["id"]).result == text  # the built record, read again


def test_get_task_of_a_dropped_failed_task_gives_its_exception_as_text(sup):
    def explode():
        raise ValueError("it broke")

    fields = finished_and_dropped(sup, explode)
    record = sup.get_task(fields["id"])
    assert isinstance(record, FinishedTask) and record.status == TASK_STATUS_FAILED
    error = record.exception
    assert isinstance(error, RecordedError) and error.__traceback__ is None
    assert (error.type_name, error.message) == ("ValueError", "it broke")
    assert str(error) == "ValueError: it broke"
    assert "in explode" in error.traceback_text and "ValueError: it broke" in error.traceback_text
    with pytest.raises(RecordedError, match="ValueError: it broke"):
        record.outcome()

    async def awaited():
        return await record

    with pytest.raises(RecordedError):
        asyncio.run(awaited())


def test_a_dropped_canceled_task_gives_a_canceled_record(sup):
    release = threading.Event()
    busy = [sup.submit(release.wait, WAIT) for _ in range(THREADS)]
    task = sup.submit(fresh_mib, 2)  # queued behind the busy ones
    sup.cancel_task(task.id)
    task_id = task.id
    del task
    release.set()
    assert all(b.wait(WAIT) for b in busy)
    del busy
    flush_threads(sup)
    gc.collect()
    record = sup.get_task(task_id)
    assert isinstance(record, FinishedTask) and record.status == TASK_STATUS_CANCELED
    assert record.result is None and record.exception is None and not record.is_started()
    with pytest.raises(TaskCanceledError):
        record.outcome()


def test_records_stay_small_whatever_the_task_raised_or_returned(sup):
    class LoudRepr:
        def __repr__(self):
            return "x" * 100_000

    class ExitingRepr:
        def __repr__(self):
            raise SystemExit("repr")

    def deep(n):  # alternating frames: the traceback cannot fold them
        if n:
            return deeper(n - 1)
        raise RuntimeError("m" * 100_000)

    def deeper(n):
        return deep(n)

    loud = finished_and_dropped(sup, LoudRepr)["id"]
    exiting = finished_and_dropped(sup, ExitingRepr)["id"]
    failed = finished_and_dropped(sup, deep, 200)["id"]
    assert len(sup.get_task(loud).result) <= RESULT_REPR_LIMIT
    assert "repr() raised SystemExit" in sup.get_task(exiting).result
    error = sup.get_task(failed).exception
    assert len(error.message) <= MESSAGE_LIMIT
    assert len(error.traceback_text) <= TRACEBACK_LIMIT
    assert "characters dropped" in error.traceback_text
    last_line = error.traceback_text.rstrip().splitlines()[-1]
    assert last_line.startswith("RuntimeError: mmm") and last_line.endswith("...")
    # The supervisor is unharmed by the repr raising SystemExit.
    assert sup.submit(int, "5").wait(WAIT)


def test_the_event_ring_holds_no_task_objects(sup):
    run_dropped(sup, fresh_mib, 20)
    plain = (int, float, str, type(None))
    for event in sup.events_since(0):
        assert all(isinstance(value, plain) for value in event), event


def test_the_history_keeps_at_most_its_capacity(sup):
    run_dropped(sup, int, 2100, wave=300)
    history = sup._ledger.history
    assert len(history) == history.capacity == 2000
    assert sup.get_task(1) is None  # the oldest went first


def test_the_record_is_filled_before_waiters_wake(sup):
    """A waiter that drops the task at once finds the record complete."""
    results: list = []
    done = threading.Event()

    def check(task_id):
        record = sup.get_task(task_id)
        results.append(record.result if isinstance(record, FinishedTask)
                       else f"live:{record.result!r}")
        done.set()

    task = sup.submit(str, "filled")
    task_id = task.id
    assert task.wait(WAIT)
    del task
    flush_threads(sup)
    gc.collect()
    check(task_id)
    assert done.wait(WAIT) and results == ["'filled'"]


def test_a_record_keeps_small_plain_arguments_for_a_re_run(make_supervisor):
    import time as time_module

    sup = make_supervisor()
    small = sup.submit(time_module.sleep, 0.001).id
    large = sup.submit(len, b"x" * 100_000).id
    closure_data = [1, 2, 3]
    closure = sup.submit(lambda: closure_data).id
    for task_id in (small, large, closure):
        assert sup.get_task(task_id).wait(5)
    gc.collect()
    record = sup.get_task(small)
    assert isinstance(record, FinishedTask)
    assert record.target is time_module.sleep and record.args == (0.001,)
    assert sup.get_task(large).args == () and sup.get_task(large).target is None
    assert sup.get_task(closure).target is None
