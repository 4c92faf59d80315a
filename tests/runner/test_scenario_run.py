"""ScenarioRun: one scenario run on a host loop, as the console drives it --
progress, stop (asked, then canceled after the grace), failure with the
scenario's traceback, done callbacks once -- against a real supervisor."""

from __future__ import annotations

import asyncio
import gc
import textwrap
import threading
import time
import weakref
from collections import Counter
from pathlib import Path

import pytest

from engine import (
    TASK_HIGH,
    TASK_LOW,
    TASK_STATUS_DELAYED,
    TT_MP,
    TT_THREAD,
    TaskSupervisor,
    wait_completed,
)
from engine import dispatch as engine_dispatch
from runner import scenario as scenarios
from runner.scenario import ScenarioContext, ScenarioRun, load
from runner.workloads import work


@pytest.fixture
def sup():
    supervisor = TaskSupervisor(supervisor_id="scenario-run-test", pool_size=4)
    supervisor.start()
    yield supervisor
    supervisor.stop(wait=5, cancel_tasks=True)


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


TICKER = '''
    """Ticker: one short task every 10 ms."""
    from runner.workloads import work

    async def run(ctx):
        while ctx.running:
            ctx.submit(work, 0.0, name="tick")
            await ctx.sleep(0.01)
'''


async def until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def test_a_run_finishes_at_its_duration(sup, tmp_path):
    run = ScenarioRun(load(write(tmp_path, "ticker.py", TICKER)), sup, 0.2)
    ended: list = []

    async def main():
        assert run.state == "idle" and run.progress() == 0.0
        run.add_done_callback(ended.append)
        run.start(asyncio.get_running_loop())
        assert run.state == "running"
        await until(lambda: run.tasks_submitted >= 3 and 0 < run.progress() < 1)
        await asyncio.wait_for(run.wait(), 10)
        await asyncio.sleep(0)
        late: list = []
        run.add_done_callback(late.append)  # after the end: still called, once
        await until(lambda: late == [run])

    asyncio.run(main())
    assert run.state == "finished" and run.done() and run.progress() == 1.0
    assert ended == [run] and run.error is None and run.traceback == ""


def test_request_stop_ends_a_run_that_listens(sup, tmp_path):
    run = ScenarioRun(load(write(tmp_path, "ticker.py", TICKER)), sup, 60)

    async def main():
        run.start(asyncio.get_running_loop())
        await until(lambda: run.tasks_submitted >= 2)
        run.request_stop()
        assert run.state == "stopping"
        await asyncio.wait_for(run.wait(), 5)

    asyncio.run(main())
    assert run.state == "stopped" and 0 < run.progress() < 1


def test_a_run_that_ignores_stop_is_canceled_after_the_grace(sup, tmp_path, monkeypatch):
    monkeypatch.setattr(scenarios, "STOP_GRACE", 0.1)
    path = write(tmp_path, "deaf.py", '''
        import asyncio

        async def run(ctx):
            while True:
                await asyncio.sleep(0.01)
    ''')
    run = ScenarioRun(load(path), sup, 60)

    async def main():
        run.start(asyncio.get_running_loop())
        await asyncio.sleep(0.02)
        run.request_stop()
        await asyncio.wait_for(run.wait(), 5)

    asyncio.run(main())
    assert run.state == "canceled" and run.error is None


@pytest.mark.parametrize("raising", ["raise ValueError('scenario exploded')",
                                     "raise SystemExit(3)"])
def test_a_run_that_raises_fails_with_its_traceback(sup, tmp_path, raising):
    path = write(tmp_path, "explodes.py", f'''
        async def run(ctx):
            await ctx.sleep(0.01)
            {raising}
    ''')
    run = ScenarioRun(load(path), sup, 5)

    async def main():
        run.start(asyncio.get_running_loop())
        await asyncio.wait_for(run.wait(), 5)

    asyncio.run(main())  # SystemExit does not escape the loop
    assert run.state == "failed"
    assert isinstance(run.error, scenarios.ScenarioRunError)
    assert "scenario explodes raised" in str(run.error)
    assert str(path) in run.traceback and raising in run.traceback


def test_a_run_refuses_a_bad_duration_and_a_second_start(sup, tmp_path):
    scenario = load(write(tmp_path, "ticker.py", TICKER))
    with pytest.raises(ValueError, match="duration"):
        ScenarioRun(scenario, sup, 0)
    run = ScenarioRun(scenario, sup, 0.05)

    async def main():
        run.start(asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="already started"):
            run.start(asyncio.get_running_loop())
        await run.wait()

    asyncio.run(main())
    assert run.state == "finished"


# -- what a context keeps of its tasks ----------------------------------------------

def _fail():
    raise ValueError("as planned")


def test_a_context_counts_finished_tasks_without_keeping_them_alive(sup):
    """Every read counts the finished tasks out (between reads, at most about
    SWEEP_MIN or twice the unfinished linger)."""
    ctx = ScenarioContext(sup, 60, "flood")
    gate = threading.Event()
    refs = []
    for i in range(2_000):
        refs.append(weakref.ref(ctx.submit(_fail) if i % 4 == 0 else ctx.submit(int, i)))
    # Four tasks fill pool_size until the gate opens, so a LOW task waits in its queue.
    held = [weakref.ref(ctx.submit(gate.wait, 10)) for _ in range(4)]
    queued = ctx.put_task(lambda _task_id: None, priority=TASK_LOW)
    assert ctx.submitted == 2_005
    deadline = time.monotonic() + 10
    while ctx.unfinished_count() > 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ctx.outcomes() == {"completed": 1_500, "failed": 500, "canceled": 0}
    assert ctx.tasks[-1] is queued and len(ctx.tasks) == 5  # the unfinished, oldest first
    gc.collect()
    # Leeway: a pool thread that has just finished a task may still hold it a moment.
    alive = [r for r in refs if r() is not None]
    assert len(alive) <= 4, [r() for r in alive]
    sup.cancel_task(queued.id)
    gate.set()
    deadline = time.monotonic() + 10
    while ctx.unfinished_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ctx.tasks == [] and ctx.submitted == 2_005
    assert ctx.outcomes() == {"completed": 1_504, "failed": 500, "canceled": 1}
    del queued
    gc.collect()
    assert sum(r() is not None for r in refs + held) <= 4


def test_a_task_tracked_after_it_finished_is_counted_at_once(sup):
    ctx = ScenarioContext(sup, 60)
    task = sup.submit(int, 3)
    assert task.wait(10)
    assert ctx.track(task) is task
    assert ctx.tasks == [] and ctx.submitted == 1 and ctx.outcomes()["completed"] == 1
    with pytest.raises(TypeError, match="Task"):
        ctx.track("not a task")


def test_a_run_reports_what_its_context_counted(sup, tmp_path):
    run = ScenarioRun(load(write(tmp_path, "ticker.py", TICKER)), sup, 0.2)

    async def main():
        run.start(asyncio.get_running_loop())
        await asyncio.wait_for(run.wait(), 10)
        await until(lambda: run.context.unfinished_count() == 0)

    asyncio.run(main())
    assert run.tasks_submitted >= 3
    assert run.context.outcomes()["completed"] == run.tasks_submitted


# -- ctx.submit_many ---------------------------------------------------------------

def _tag(i, **kwargs):
    return (i, kwargs)


def until_no_task_is_unfinished(ctx, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while ctx.unfinished_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ctx.unfinished_count() == 0, ctx.tasks[:5]


def test_the_submit_many_chunk_is_one_engine_lock_hold():
    """A call is then accepted or refused whole: every accepted task is tracked."""
    assert 1 <= scenarios.SUBMIT_CHUNK <= engine_dispatch.BATCH_CHUNK


def test_submit_many_tracks_and_counts_every_task(sup, monkeypatch):
    monkeypatch.setattr(scenarios, "SUBMIT_CHUNK", 300)
    ctx = ScenarioContext(sup, 60, "many")
    calls = []
    real = sup.submit_many
    monkeypatch.setattr(sup, "submit_many", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    shared = {"tag": "x"}
    tasks = ctx.submit_many(_tag, ((i,) for i in range(1_000)), priority=TASK_HIGH,
                            name="tagged", kwargs=shared)
    assert len(calls) == 4  # 300 + 300 + 300 + 100
    assert ctx.submitted == 1_000 and len(tasks) == 1_000
    assert all((t.priority, t.name, t.tt) == (TASK_HIGH, "tagged", TT_THREAD) for t in tasks)
    assert wait_completed(tasks, timeout=20) == [(i, shared) for i in range(1_000)]
    failing = ctx.submit_many(_fail, [[] for _ in range(50)], priority=TASK_LOW)
    assert ctx.submitted == 1_050 and len(failing) == 50
    until_no_task_is_unfinished(ctx)
    assert ctx.outcomes() == {"completed": 1_000, "failed": 50, "canceled": 0}
    assert ctx.tasks == []


def test_submit_many_keeps_no_finished_task_alive(sup):
    ctx = ScenarioContext(sup, 60, "flood")
    refs = [weakref.ref(t) for t in ctx.submit_many(int, [(i,) for i in range(3_000)])]
    assert ctx.submitted == 3_000
    until_no_task_is_unfinished(ctx)
    assert ctx.outcomes()["completed"] == 3_000
    gc.collect()
    # Leeway: a pool thread that has just finished a task may still hold it a moment.
    assert sum(r() is not None for r in refs) <= 4


def test_submit_many_honours_delay_and_task_type(sup):
    sup.create_mp_pool(processes=1)
    ctx = ScenarioContext(sup, 60)
    mp = ctx.submit_many(work, [(0.0,), (0.0,)], tt=TT_MP, name="in-a-process")
    delayed = ctx.submit_many(work, [(0.0,)] * 3, delay=0.05, name="later")
    assert [t.tt for t in mp] == [TT_MP, TT_MP]
    assert [t.status for t in delayed] == [TASK_STATUS_DELAYED] * 3
    assert wait_completed(mp + delayed, timeout=30) == [0.0] * 5
    assert all(t.time_started - t.time_submitted >= 0.04 for t in delayed)
    until_no_task_is_unfinished(ctx)
    assert ctx.submitted == 5 and ctx.outcomes()["completed"] == 5


@pytest.mark.parametrize(("items", "match"), [
    ([(1,), (2,), 3, (4,)], r"args_iterable\[2\] must be a tuple or list"),
    ("abc", "args_iterable must be an iterable of argument tuples"),
    (42, "args_iterable must be an iterable of argument tuples"),
])
def test_submit_many_refuses_bad_items_before_any_task(sup, monkeypatch, items, match):
    monkeypatch.setattr(scenarios, "SUBMIT_CHUNK", 1)  # the bad item is in a later call
    ctx = ScenarioContext(sup, 60)
    with pytest.raises(TypeError, match=match):
        ctx.submit_many(int, items)
    assert ctx.submitted == 0 and sup.stats().thread.submitted == 0


def test_submit_many_of_nothing_still_checks_its_arguments(sup):
    ctx = ScenarioContext(sup, 60)
    assert ctx.submit_many(int, []) == [] and ctx.submitted == 0
    with pytest.raises(TypeError, match="callable"):
        ctx.submit_many("not callable", [])
    with pytest.raises(ValueError, match="priority"):
        ctx.submit_many(int, iter(()), priority=75)


def test_submit_many_refused_part_way_tracks_what_went_in(sup, monkeypatch):
    """The supervisor stops between two calls (from this thread, the
    scenario's): the next call is refused with a note, the tasks already
    accepted stay tracked, and each of them ends once."""
    monkeypatch.setattr(scenarios, "SUBMIT_CHUNK", 10)
    sup.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    gate = threading.Event()
    ctx = ScenarioContext(sup, 60)
    ctx.submit(gate.wait, 30, name="blocker")
    real, calls = sup.submit_many, []

    def stop_after_the_third_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            gate.set()
            sup.stop(wait=10, cancel_tasks=True)
        return real(*args, **kwargs)

    monkeypatch.setattr(sup, "submit_many", stop_after_the_third_call)
    with pytest.raises(RuntimeError, match="not active") as info:
        ctx.submit_many(int, [(i,) for i in range(50)])
    assert info.value.__notes__ == ["30 of the 50 tasks were submitted (and are tracked) "
                                    "before that"]
    assert ctx.submitted == 31  # the blocker and three calls
    until_no_task_is_unfinished(ctx)
    outcomes = ctx.outcomes()
    assert outcomes["completed"] + outcomes["canceled"] == 31 and outcomes["failed"] == 0
    ended = Counter(e.task_id for e in sup.events_since(0)
                    if e.kind in ("completed", "failed", "canceled"))
    assert sorted(ended.values()) == [1] * 31
    stats = sup.stats().thread
    assert stats.reconciles() and stats.submitted == 31 and stats.pending == 0
