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
from pathlib import Path

import pytest

from engine import TASK_LOW, TaskSupervisor
from runner import scenario as scenarios
from runner.scenario import ScenarioContext, ScenarioRun, load


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
