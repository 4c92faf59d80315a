"""What a viewer reads to reconcile: event batches with their bounds, live
tasks and finished records by id, re-runs, all-or-nothing timeouts, schedulers
by name."""

from __future__ import annotations

import concurrent.futures
import gc
import threading

import pytest

from engine import (
    TASK_HIGH,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_QUEUED,
    TT_MP,
    BackgroundIntervalWorker,
    FinishedTask,
    TaskState,
    TaskSupervisor,
    wait_completed,
)
from engine.backends import BrokenBackend
from engine.inspection import _mp_pool_kind
from engine.stats import (
    MP_POOL_BROKEN,
    MP_POOL_MULTIPROCESSING,
    MP_POOL_PROCESS,
    MP_POOL_REBUILDING,
    EventRing,
)

WAIT = 10


@pytest.fixture
def sup():
    s = TaskSupervisor("inspect", pool_size=2, reserve_normal=0, reserve_high=0)
    s.start()
    yield s
    s.stop(wait=5, cancel_tasks=True)


def test_a_wrapped_ring_shows_how_many_events_were_lost(sup):
    sup._ledger.events = EventRing(capacity=30)
    first = sup.event_batch(0)
    assert (first.events, first.oldest_seq, first.last_seq) == ([], 1, 0)
    assert first.lost_before(0) == 0
    tasks = [sup.submit(int) for _ in range(20)]  # 3 events each: 60 > 30
    wait_completed(tasks, WAIT)
    batch = sup.event_batch(0, limit=5)
    assert batch.last_seq == 60 and batch.oldest_seq == 31
    assert batch.lost_before(0) == 30 and batch.lost_before(29) == 1
    assert batch.lost_before(30) == 0 and batch.lost_before(60) == 0
    assert [e.seq for e in batch.events] == [31, 32, 33, 34, 35]
    assert sup.events_since(58) == sup.event_batch(58).events
    with pytest.raises(ValueError, match="after_seq.*-1"):
        sup.event_batch(-1)
    with pytest.raises(ValueError, match="limit.*0"):
        sup.event_batch(0, limit=0)


def test_live_and_finished_by_id(sup):
    release = threading.Event()
    running = [sup.submit(release.wait, WAIT) for _ in range(2)]
    queued = sup.submit(int, _name="later")
    live = sup.live_tasks([queued.id, running[0].id, "nobody"])
    assert set(live) == {queued.id, running[0].id}
    state = live[queued.id]
    assert isinstance(state, TaskState) and state.status == TASK_STATUS_QUEUED
    assert state.name == "later" and not state.is_started()
    assert set(sup.live_tasks()) == {queued.id, *(t.id for t in running)}
    assert sup.finished_tasks([queued.id]) == {}
    release.set()
    wait_completed([queued, *running], WAIT)
    assert sup.live_tasks([queued.id]) == {}
    record = sup.finished_tasks([queued.id, "nobody"])[queued.id]
    assert isinstance(record, FinishedTask) and record.status == TASK_STATUS_COMPLETED
    with pytest.raises(TypeError, match="ids"):
        sup.live_tasks("abc")
    with pytest.raises(TypeError, match="task_id"):
        sup.finished_tasks([[1]])


def test_a_flood_from_another_thread_ends_with_every_id_finished(sup):
    sup.set_thread_pool(pool_size=8)
    ids: list = []
    flooded = threading.Event()

    def flood():
        try:
            ids.extend(sup.submit(int).id for _ in range(100_000))
        finally:
            flooded.set()

    thread = threading.Thread(target=flood)
    thread.start()
    samples = 0
    while not flooded.is_set() or samples == 0:  # reads under load, consistent every time
        finished_before = sup.stats().thread.completed
        sample = list(ids[-500:])
        before = sup.live_tasks(sample)
        done = sup.finished_tasks(sample)
        after = sup.live_tasks(sample)
        finished_after = sup.stats().thread.completed
        for state in before.values():
            assert state.status in (TASK_STATUS_QUEUED, 100)
        for record in done.values():
            assert record.status == TASK_STATUS_COMPLETED
        assert not set(done) & set(after)  # a finished task is never live again
        # Neither live before nor finished after: the history dropped it, so
        # 2,000 tasks finished after it, of which at most the 499 submitted
        # after it in the sample (and a few out of order) before the sample.
        missing = set(sample) - set(before) - set(done)
        assert not missing or finished_after - finished_before >= 1000
        samples += 1
    thread.join()
    assert len(ids) == len(set(ids)) == 100_000
    while sup.live_tasks(ids[-1000:]):
        threading.Event().wait(0.01)
    assert sup.live_tasks(ids) == {}
    done = sup.finished_tasks(ids)
    # Every id is live, finished in the history, or dropped from it: the
    # history's bound is the last 2,000 to finish (8 threads finish a few out of order).
    assert len(done) == 2000 and set(ids[-1900:]) <= set(done) <= set(ids)
    stats = sup.stats().thread
    assert stats.reconciles() and stats.completed == stats.submitted == 100_000


def _echo(value, _task_id=None):
    return value


_SUPERVISORS: dict = {}
_MARKED: list = []


def _mark_done(supervisor_id, _task_id):
    """A put_task target with plain arguments (its record keeps them)."""
    _MARKED.append(_task_id)
    _SUPERVISORS[supervisor_id].mark_task_completed(task_id=_task_id)


def test_resubmit_of_history_records(sup):
    """Once nobody holds the tasks, the history's records re-run them:
    a submit task auto-completed, a put_task task with put_task's contract."""
    _SUPERVISORS[sup.id] = sup
    try:
        auto = sup.submit(_echo, 5, _priority=TASK_HIGH)
        held = sup.put_task(_mark_done, args=(sup.id,))
        assert auto.wait(WAIT) and held.wait(WAIT)
        auto_id, held_id = auto.id, held.id
        del auto, held
        gc.collect()
        assert isinstance(sup.get_task(auto_id), FinishedTask)
        assert isinstance(sup.get_task(held_id), FinishedTask)
        again = sup.resubmit(auto_id)
        assert again.id != auto_id and again.auto and again.priority == TASK_HIGH
        assert wait_completed(again, WAIT) == 5
        rerun = sup.resubmit(held_id)
        assert not rerun.auto and rerun.kwargs["_task_id"] == rerun.id
        assert rerun.wait(WAIT) and rerun.status == TASK_STATUS_COMPLETED
        assert _MARKED == [held_id, rerun.id]  # it marked itself completed with its new id
    finally:
        del _SUPERVISORS[sup.id]


def test_resubmit_keeps_the_target_and_the_mode(sup):
    seen = []
    first = sup.submit(seen.append, 1, _priority=TASK_HIGH, _name="append")
    assert first.wait(WAIT)
    again = sup.resubmit(first.id)
    assert again.id != first.id and again.priority == TASK_HIGH and again.name == "append"
    assert again.auto and again.wait(WAIT) and seen == [1, 1]

    def manual(_task_id):
        sup.mark_task_completed(task_id=_task_id)

    held = sup.put_task(manual)
    assert held.wait(WAIT) and not held.auto
    rerun = sup.resubmit(held.id)
    assert not rerun.auto and rerun.wait(WAIT)  # it marked itself completed with its new id
    assert rerun.status == TASK_STATUS_COMPLETED

    mp = sup.submit(_echo, 7, _tt=TT_MP)
    assert wait_completed(mp, 60) == 7
    assert wait_completed(sup.resubmit(mp.id), 60) == 7


def test_resubmit_refusals_name_the_task(sup):
    with pytest.raises(LookupError, match="'ghost'"):
        sup.resubmit("ghost")
    aloop = sup.create_aloop("rerun", daemon=True)

    async def once():
        return 1

    coro_task = aloop.background_task(once())
    assert coro_task.wait(WAIT)
    with pytest.raises(ValueError, match="coroutine"):
        sup.resubmit(coro_task.id)
    payload = bytearray(10)
    closure = sup.submit(lambda: payload)  # a closure: the record does not keep it
    task_id = closure.id
    assert closure.wait(WAIT)
    del closure
    with pytest.raises(ValueError, match="not kept"):
        sup.resubmit(task_id)
    assert sup.stats().thread.reconciles()


def test_set_timeouts_changes_all_or_nothing(sup):
    def current():
        return (sup.poll_delay, sup.timeout_warning, sup.timeout_critical,
                sup.timeout_warning_func, sup.timeout_critical_func)

    before = current()
    good = {"poll_delay": 0.25, "timeout_warning": 1.0, "timeout_critical": 2.0,
            "timeout_warning_func": print, "timeout_critical_func": print}
    for bad in ({"poll_delay": 0}, {"timeout_critical": float("inf")},
                {"timeout_warning_func": "not callable"}, {"timeout_warning": -1},
                {"timeout_critical_func": 3}, {"timeout_critical": "soon"}):
        (name, value), = bad.items()
        with pytest.raises((ValueError, TypeError), match=f"{name}.*{value!r}"):
            sup.set_timeouts(**{**good, **bad})
        assert current() == before
    with pytest.raises(TypeError):
        sup.set_timeouts(0.5)  # keyword-only
    sup.set_timeouts(poll_delay=0.25, timeout_warning=None, timeout_critical=2.0,
                     timeout_warning_func=print)
    assert (sup.poll_delay, sup.timeout_warning, sup.timeout_critical,
            sup.timeout_warning_func) == (0.25, None, 2.0, print)


def test_add_done_callback_once_finished_or_at_once(sup):
    release = threading.Event()
    got = []
    task = sup.submit(release.wait, WAIT)
    task.add_done_callback(got.append)
    assert got == []
    release.set()
    assert task.wait(WAIT)
    deadline = threading.Event()
    while not got and not deadline.wait(0.01):
        pass
    assert got == [task]
    task.add_done_callback(got.append)  # already finished: at once
    assert got == [task, task]
    task.add_done_callback(lambda t: 1 / 0)  # contained
    with pytest.raises(TypeError, match="callable"):
        task.add_done_callback(None)


def test_schedulers_by_name_stay_known_once_stopped(sup):
    ran = threading.Event()
    worker = BackgroundIntervalWorker(name="tick", executor_func=lambda **_: ran.set(),
                                      interval=0.01, supervisor=sup)
    worker.start()
    assert ran.wait(WAIT)
    info = sup.stats().scheduler_info["tick"]
    assert info.active and info.registered and info.kind == "interval worker"
    assert sup.get_scheduler("tick") is worker
    worker.stop(wait=WAIT)
    stats = sup.stats()
    assert "tick" not in stats.schedulers  # the registry: registered ones only
    info = stats.scheduler_info["tick"]
    assert not info.active and not info.registered and info.runs >= 1
    assert sup.get_scheduler("tick") is worker
    with pytest.raises(LookupError, match="'nope'"):
        sup.get_scheduler("nope")
    assert sup.stats().default_aloop is None
    sup.create_aloop("main", default=True, daemon=True)
    assert sup.stats().default_aloop == "main"
    info = sup.get_info()  # the names, filled like the snapshot's
    assert info.aloops == ("main",) and info.schedulers == ("tick",)


# -- the kind of mp pool, in the snapshot ------------------------------------------

class _Executor(concurrent.futures.Executor):
    """An executor whose worker count cannot be known (like a Dask client's)."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_the_snapshot_names_the_mp_pool_created_lazily_or_set(sup):
    first = sup.stats()
    assert first.mp_pool_kind is None and not first.has_mp_pool
    assert wait_completed(sup.submit(_echo, 3, _tt=TT_MP), timeout=WAIT) == 3
    created = sup.stats()  # the first mp task of an active supervisor created one
    assert created.mp_pool_kind == MP_POOL_PROCESS and created.has_mp_pool
    sup.mp_pool = _Executor()
    assert sup.stats().mp_pool_kind == "_Executor"
    sup.mp_pool = None
    assert sup.stats().mp_pool_kind is None
    sup.create_mp_pool(processes=1, maxtasksperchild=10)
    assert sup.stats().mp_pool_kind == MP_POOL_MULTIPROCESSING
    sup.mp_pool = None


def test_a_broken_or_rebuilding_mp_pool_is_named_as_such():
    broken = BrokenBackend("it broke")
    try:
        assert _mp_pool_kind(broken, False) == MP_POOL_BROKEN
    finally:
        broken.close(terminate=True)
    assert _mp_pool_kind(None, True) == MP_POOL_REBUILDING
    assert _mp_pool_kind(None, False) is None
