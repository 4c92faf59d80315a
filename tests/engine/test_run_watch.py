"""Why is it stuck: the run-time thresholds (``run_warning`` / ``run_critical``)
and the live stack of a running task (``task_stack``)."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time

import pytest
import stuck_targets
from engine_testkit import WAIT, events_of, wait_until
from stuck_targets import awaiting_outer, blocked_in_a_known_function

from engine import TASK_HIGH, TT_MP, StackFrame, TaskStack
from engine.wire import decode_stats, encode_stats


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()


# -- stacks ------------------------------------------------------------------------------
def test_a_thread_tasks_stack_shows_the_function_it_is_blocked_in(sup, gate):
    task = sup.submit(blocked_in_a_known_function, gate, _name="stuck")
    assert wait_until(lambda: task.is_started())
    stack = sup.task_stack(task.id)
    assert isinstance(stack, TaskStack) and stack.kind == "thread"
    assert stack.where.startswith(f"supervisor_{sup.id}_pool_")
    functions = [f.function for f in stack.frames]
    assert "blocked_in_a_known_function" in functions
    assert [f.function for f in stack.user_frames] == ["blocked_in_a_known_function"]
    mine = next(f for f in stack.frames if f.function == "blocked_in_a_known_function")
    assert mine.filename == stuck_targets.__file__ and mine.line == "gate.wait(BOUND)"
    assert {f.origin for f in stack.frames} == {"user", "engine", "python"}
    assert stack.frames[-1].origin == "python"  # threading's wait, innermost
    text = stack.format()
    assert text.splitlines()[0].startswith(f"task {task.id!r} (stuck, NORMAL) running")
    assert "gate.wait(BOUND)" in text
    gate.set()
    assert task.wait(WAIT)
    with pytest.raises(LookupError, match="not a live task"):
        sup.task_stack(task.id)


def test_a_coroutine_tasks_stack_is_its_chain_of_awaits(make_supervisor):
    sup = make_supervisor(pool_size=2)
    aloop = sup.create_aloop("stacks")
    loop = aloop.get_loop()
    gate = asyncio.run_coroutine_threadsafe(_make_event(), loop).result(WAIT)
    task = aloop.background_task(awaiting_outer(gate))
    assert wait_until(lambda: task.is_started())
    stack = sup.task_stack(task.id)
    assert stack.kind == "coroutine"
    names = [f.function for f in stack.user_frames]
    assert names == ["awaiting_outer", "awaited_inner"]
    assert stack.note.startswith("awaiting")
    assert "stacks" in stack.where
    loop.call_soon_threadsafe(gate.set)
    assert task.wait(WAIT)


async def _make_event() -> asyncio.Event:
    return asyncio.Event()


def test_a_coroutine_that_blocks_its_loop_shows_the_loops_thread(make_supervisor, gate):
    sup = make_supervisor(pool_size=2)
    aloop = sup.create_aloop("blocked")

    async def blocks_the_loop() -> None:
        blocked_in_a_known_function(gate)

    task = aloop.background_task(blocks_the_loop())
    assert wait_until(lambda: task.is_started())
    assert wait_until(lambda: "blocked_in_a_known_function"
                      in [f.function for f in _stack_or_none(sup, task)])
    stack = sup.task_stack(task.id)
    assert "running right now" in stack.note
    gate.set()
    assert task.wait(WAIT)


def _stack_or_none(sup, task) -> tuple[StackFrame, ...]:
    try:
        return sup.task_stack(task.id).frames
    except (LookupError, RuntimeError):
        return ()


def test_a_process_task_is_refused_saying_why(make_supervisor, tmp_path):
    from mp_targets import gated, open_gate

    sup = make_supervisor(pool_size=2)
    sup.set_mp_pool(pool_size=1)
    path = str(tmp_path / "gate")
    task = sup.submit(gated, path, _tt=TT_MP)
    try:
        assert wait_until(lambda: task.is_started())
        with pytest.raises(RuntimeError, match="worker process"):
            sup.task_stack(task.id)
    finally:
        open_gate(path)
    assert task.wait(WAIT)


def test_tasks_that_do_not_run_have_no_stack_and_say_why(make_supervisor, gate):
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    running = sup.submit(blocked_in_a_known_function, gate)
    queued = sup.submit(blocked_in_a_known_function, gate)
    delayed = sup.submit(blocked_in_a_known_function, gate, _delay=60)
    assert wait_until(lambda: running.is_started())
    with pytest.raises(LookupError, match="queued, not running"):
        sup.task_stack(queued.id)
    with pytest.raises(LookupError, match="delayed, not running"):
        sup.task_stack(delayed.id)
    with pytest.raises(LookupError, match="not a live task"):
        sup.task_stack(10**9)
    with pytest.raises(TypeError):
        sup.task_stack([1])


def test_a_put_task_whose_target_returned_says_it_waits_to_be_marked(sup):
    task = sup.put_task(lambda _task_id: None)
    assert wait_until(lambda: task.is_started() and sup.stats().thread.threads_busy == 0)
    with pytest.raises(RuntimeError, match="mark_task_completed"):
        sup.task_stack(task.id)
    sup.mark_task_completed(task)


# -- thresholds --------------------------------------------------------------------------
def test_run_thresholds_fire_once_per_level_while_the_task_runs(sup, gate, caplog):
    warned, critical = [], []
    sup.set_timeouts(run_warning=0.2, run_critical=0.4, run_warning_func=warned.append,
                     run_critical_func=critical.append)
    quick = sup.submit(time.sleep, 0.01)
    slow = sup.submit(blocked_in_a_known_function, gate, _name="slow")
    with caplog.at_level(logging.WARNING, logger="engine"):
        assert wait_until(lambda: critical, timeout=WAIT)
        time.sleep(0.3)  # a second chance to fire twice, which must not happen
    assert warned == [slow] and critical == [slow]
    assert [e.kind for e in events_of(sup, slow.id) if e.kind.startswith("run_")] == [
        "run_warning", "run_critical"]
    assert not [e for e in events_of(sup, quick.id) if e.kind.startswith("run_")]
    said = [r.getMessage() for r in caplog.records if "has been running" in r.getMessage()]
    assert len(said) == 2 and all("slow" in m for m in said)
    gate.set()
    assert slow.wait(WAIT)


def test_a_task_that_ends_before_the_threshold_fires_nothing(sup):
    sup.run_warning = 0.3
    task = sup.submit(time.sleep, 0.05)
    assert task.wait(WAIT)
    time.sleep(0.4)
    assert not [e for e in events_of(sup, task.id) if e.kind.startswith("run_")]


def test_changing_a_threshold_live_reschedules_the_watch(sup, gate):
    sup.run_warning = 3600.0
    task = sup.submit(blocked_in_a_known_function, gate)
    assert wait_until(lambda: task.is_started())
    time.sleep(0.1)
    started = time.monotonic()
    sup.run_warning = 0.05  # the hour-long timer must not be what fires it
    assert wait_until(lambda: events_of(sup, task.id, "run_warning"), timeout=WAIT)
    assert time.monotonic() - started < 2.0
    sup.run_warning = None
    assert sup.run_warning is None


def test_a_failing_run_function_is_contained_and_the_next_level_still_fires(sup, gate):
    def boom(task):
        raise SystemExit("user code")

    called = threading.Event()
    sup.set_timeouts(run_warning=0.05, run_critical=0.1, run_warning_func=boom,
                     run_critical_func=lambda task: called.set())
    task = sup.submit(blocked_in_a_known_function, gate)
    assert called.wait(WAIT)
    assert sup.is_active()
    gate.set()
    assert task.wait(WAIT) and task.result == "done"


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (math.nan, ValueError),
                                        (math.inf, ValueError), ("5", TypeError),
                                        (True, TypeError), (10**400, ValueError)])
def test_bad_thresholds_are_refused_naming_them_and_change_nothing(sup, bad, error):
    sup.run_warning = 7.0
    with pytest.raises(error, match="run_warning"):
        sup.run_warning = bad
    with pytest.raises(error, match="run_critical"):
        sup.set_timeouts(run_warning=1.0, run_critical=bad)
    with pytest.raises(TypeError, match="run_critical_func"):
        sup.set_timeouts(run_warning=1.0, run_critical_func="not callable")
    assert sup.run_warning == 7.0 and sup.run_critical is None
    assert sup.run_critical_func is None


# -- the snapshot ------------------------------------------------------------------------
def test_the_snapshot_counts_tasks_past_each_threshold_and_names_the_longest(sup, gate):
    stats = sup.stats()
    assert stats.run_warning is None and stats.thread.longest is None
    first = sup.submit(blocked_in_a_known_function, gate, _name="first", _priority=TASK_HIGH)
    assert wait_until(lambda: first.is_started())
    time.sleep(0.3)
    second = sup.submit(blocked_in_a_known_function, gate, _name="second")
    assert wait_until(lambda: second.is_started())
    assert sup.stats().thread.run_warnings == 0  # off: nothing counted
    sup.set_timeouts(run_warning=0.2, run_critical=10.0)
    stats = sup.stats()
    pool = stats.thread
    assert (stats.run_warning, stats.run_critical) == (0.2, 10.0)
    assert (pool.run_warnings, pool.run_criticals) == (1, 0)
    longest = pool.longest
    assert (longest.id, longest.name, longest.priority) == (first.id, "first", TASK_HIGH)
    assert 0.3 <= longest.seconds < WAIT
    again = decode_stats(encode_stats(stats))  # as the monitor sends it
    assert again.thread.longest == longest and again.thread.run_warnings == 1
    assert again.run_warning == 0.2
    gate.set()
    assert first.wait(WAIT) and second.wait(WAIT)
    assert sup.stats().thread.longest is None
