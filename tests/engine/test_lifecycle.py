"""Start, stop (every mode), restart, ``block()``, and running on a caller's loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from engine_testkit import WAIT, Recorder, check_invariant, events_of, run_on, wait_until

from engine import (
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    wait_completed,
)


@pytest.fixture
def pool1(make_supervisor):
    return make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)


def stop_in_thread(sup, **kwargs):
    done = threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            sup.stop(**kwargs)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, name="test_stopper", daemon=True)
    thread.start()
    return done, errors


# -- stop modes ----------------------------------------------------------------

def test_stop_wait_true_waits_for_running_queued_and_delayed_tasks(pool1, make_supervisor):
    gate = make_supervisor.gate("running")
    running = pool1.submit(gate)
    assert gate.started.wait(WAIT)
    queued = [pool1.submit(lambda i=i: i) for i in range(3)]
    delayed = pool1.submit(lambda: "delayed", _delay=0.1)

    done, errors = stop_in_thread(pool1, wait=True)
    # Refuses new tasks at once, even while it waits.
    assert wait_until(lambda: not pool1.is_active())
    with pytest.raises(RuntimeError):
        pool1.submit(lambda: None)
    assert not done.wait(0.2), "stop(wait=True) returned while a task was still running"

    gate.release()
    assert done.wait(WAIT), "stop(wait=True) did not return after the tasks finished"
    assert not errors
    assert wait_completed([running, *queued, delayed], timeout=0) == [
        "running", 0, 1, 2, "delayed"]
    stats = pool1.stats().thread
    assert stats.completed == 5 and stats.canceled == 0
    check_invariant(stats)


def test_stop_with_a_timeout_abandons_a_stuck_task_and_cancels_the_queue(
        pool1, make_supervisor, caplog):
    caplog.set_level(logging.WARNING, logger="engine")
    stuck_gate = make_supervisor.gate()  # released only by teardown
    stuck = pool1.submit(stuck_gate)
    assert stuck_gate.started.wait(WAIT)
    queued_ran = Recorder()
    queued = pool1.submit(queued_ran)
    delayed = pool1.submit(queued_ran, _delay=0.2)

    t0 = time.monotonic()
    pool1.stop(wait=0.3)
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 1.3, f"stop(wait=0.3) took {elapsed:.2f} s"
    assert not pool1.is_active()
    assert queued.status == TASK_STATUS_CANCELED
    assert delayed.status == TASK_STATUS_CANCELED
    assert stuck.status == TASK_STATUS_STARTED  # never killed
    assert not queued_ran.calls
    check_invariant(pool1.stats().thread)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING
            and f"task {stuck.id!r} (" in r.getMessage()], "the stuck task was not logged"

    # The abandoned thread still finishes its task when it can.
    stuck_gate.release()
    assert stuck.wait(WAIT)
    assert stuck.status == TASK_STATUS_COMPLETED
    assert not queued_ran.calls


def test_stop_wait_false_returns_at_once_and_cancels_queued_and_delayed(
        pool1, make_supervisor):
    gate = make_supervisor.gate("finished anyway")
    running = pool1.submit(gate)
    assert gate.started.wait(WAIT)
    never = Recorder()
    queued = pool1.submit(never)
    delayed = pool1.submit(never, _delay=0.05)

    t0 = time.monotonic()
    pool1.stop(wait=False)
    assert time.monotonic() - t0 < 0.5
    assert not pool1.is_active()
    assert queued.status == TASK_STATUS_CANCELED
    assert delayed.status == TASK_STATUS_CANCELED
    assert running.status == TASK_STATUS_STARTED
    gate.release()
    assert wait_completed(running, timeout=WAIT) == "finished anyway"
    # A restart does not resurrect them: once a later delayed task has run,
    # the canceled one's delay is long over and it still has not run.
    pool1.start()
    assert pool1.submit(lambda: None, _delay=0.1).wait(WAIT)
    assert not never.calls
    assert queued.status == delayed.status == TASK_STATUS_CANCELED


def test_stop_cancel_tasks_cancels_waiting_tasks_but_lets_running_finish(
        pool1, make_supervisor):
    gate = make_supervisor.gate("ran to the end")
    running = pool1.submit(gate)
    assert gate.started.wait(WAIT)
    never = Recorder()
    queued = [pool1.submit(never) for _ in range(2)]
    delayed = pool1.submit(never, _delay=0.05)

    done, errors = stop_in_thread(pool1, wait=True, cancel_tasks=True)
    assert wait_until(lambda: all(t.status == TASK_STATUS_CANCELED for t in [*queued, delayed]))
    assert running.status == TASK_STATUS_STARTED
    assert not done.wait(0.1), "stop(wait=True) did not wait for the running task"
    gate.release()
    assert done.wait(WAIT) and not errors
    assert running.status == TASK_STATUS_COMPLETED and running.result == "ran to the end"
    assert not never.calls
    for task in [*queued, delayed]:
        assert [e.kind for e in events_of(pool1, task.id)][-1] == "canceled"
    stats = pool1.stats().thread
    assert (stats.completed, stats.canceled) == (1, 3)
    check_invariant(stats)


def test_a_second_stop_with_wait_also_waits(pool1, make_supervisor):
    # E.g. the console's stop dialog and its window-close handler both stop the
    # supervisor: the second caller must not be told "stopped" while tasks run.
    gate = make_supervisor.gate("done")
    running = pool1.submit(gate)
    assert gate.started.wait(WAIT)
    first_done, first_errors = stop_in_thread(pool1, wait=True)
    assert wait_until(lambda: not pool1.is_active())
    second_done, second_errors = stop_in_thread(pool1, wait=True)
    returned_early = second_done.wait(0.2)
    still_running = running.status == TASK_STATUS_STARTED
    gate.release()
    assert first_done.wait(WAIT) and second_done.wait(WAIT)
    assert not first_errors and not second_errors
    assert not (returned_early and still_running), (
        "a second stop(wait=True) returned while a task was still running and the "
        "first stop was still waiting for it")


def test_restart_after_stop(make_supervisor):
    sup = make_supervisor(pool_size=2)
    assert wait_completed(sup.submit(lambda: 1), timeout=WAIT) == 1
    sup.stop()
    assert not sup.is_active()
    sup.start()
    assert sup.is_active()
    assert wait_completed(sup.submit(lambda: 2), timeout=WAIT) == 2
    assert sup.put_task(lambda _task_id: sup.mark_task_completed()).wait(WAIT)
    assert sup.stats().thread.completed == 3


def test_starting_twice_raises_and_leaves_it_running(make_supervisor):
    sup = make_supervisor()
    with pytest.raises(RuntimeError, match=sup.id):
        sup.start()
    assert sup.is_active()
    assert wait_completed(sup.submit(lambda: "still fine"), timeout=WAIT) == "still fine"


def test_submitting_when_not_active_raises(make_supervisor):
    sup = make_supervisor(start=False)
    with pytest.raises(RuntimeError):
        sup.submit(lambda: None)
    with pytest.raises(RuntimeError):
        sup.put_task(lambda _task_id: None)
    sup.start()
    sup.stop()
    with pytest.raises(RuntimeError):
        sup.submit(lambda: None)
    assert sup.stats().thread.submitted == 0


def test_block_returns_after_stop_from_another_thread(make_supervisor):
    sup = make_supervisor(poll_delay=0.05)
    returned = threading.Event()

    def blocker():
        sup.block()
        returned.set()

    threading.Thread(target=blocker, name="test_block", daemon=True).start()
    assert not returned.wait(0.15), "block() returned while the supervisor was active"
    sup.stop()
    assert returned.wait(WAIT)


def test_stop_is_harmless_when_not_active(make_supervisor):
    sup = make_supervisor(start=False)
    sup.stop()
    sup.stop(wait=False)
    assert not sup.is_active()


# -- running on a loop the caller owns ---------------------------------------------

def test_start_on_a_callers_loop_runs_delayed_tasks(external_loop, make_supervisor):
    sup = make_supervisor(start=False, pool_size=2)
    sup.start(loop=external_loop)
    assert sup.is_active()
    assert not [t for t in threading.enumerate()
                if t.name == f"supervisor_{sup.id}_event_loop"], "started its own loop anyway"
    task = sup.submit(lambda: "after delay", _delay=0.1)
    assert task.status == TASK_STATUS_DELAYED
    assert wait_completed(task, timeout=WAIT) == "after delay"
    assert task.time_queued - task.time_submitted >= 0.1 - 0.01


def test_timeouts_fire_on_a_callers_loop(external_loop, make_supervisor):
    sup = make_supervisor(loop=external_loop, pool_size=1, reserve_normal=0, reserve_high=0)
    gate = make_supervisor.gate()
    sup.submit(gate)
    warned = Recorder()
    sup.timeout_warning = 0.05
    sup.timeout_warning_func = warned
    waiting = sup.submit(make_supervisor.gate())
    assert warned.called.wait(WAIT)
    assert warned.calls[0][0][0] is waiting
    assert waiting.status == TASK_STATUS_QUEUED


def test_astop_waits_without_blocking_the_loop(external_loop, make_supervisor):
    sup = make_supervisor(loop=external_loop, pool_size=1, reserve_normal=0, reserve_high=0)
    gate = make_supervisor.gate("gated")
    running = sup.submit(gate)
    assert gate.started.wait(WAIT)
    queued = sup.submit(lambda: "queued")

    stopping = asyncio.run_coroutine_threadsafe(sup.astop(), external_loop)
    assert wait_until(lambda: not sup.is_active())

    async def tick(n):
        for _ in range(n):
            await asyncio.sleep(0.005)
        return "ticked"

    # The loop keeps serving other coroutines while astop waits.
    assert run_on(external_loop, tick(5)) == "ticked"
    assert not stopping.done()
    gate.release()
    assert stopping.result(WAIT) is None
    assert wait_completed([running, queued], timeout=0) == ["gated", "queued"]
    assert external_loop.is_running(), "stopping the supervisor stopped the caller's loop"
    assert run_on(external_loop, tick(1)) == "ticked"


def test_astop_with_a_timeout_cancels_the_queue(external_loop, make_supervisor):
    sup = make_supervisor(loop=external_loop, pool_size=1, reserve_normal=0, reserve_high=0)
    gate = make_supervisor.gate()
    sup.submit(gate)
    assert gate.started.wait(WAIT)
    queued = sup.submit(lambda: None)
    t0 = time.monotonic()
    run_on(external_loop, sup.astop(wait=0.2))
    assert time.monotonic() - t0 < 1.2
    assert queued.status == TASK_STATUS_CANCELED


def test_sync_stop_with_wait_on_the_supervisors_loop_raises(external_loop, make_supervisor):
    sup = make_supervisor(loop=external_loop)

    async def stop_with_wait():
        try:
            sup.stop(wait=True)
        except RuntimeError as exc:
            return exc
        return None

    error = run_on(external_loop, stop_with_wait())
    assert isinstance(error, RuntimeError), "stop(wait=True) on its own loop did not raise"
    assert "astop" in str(error)
    assert sup.is_active(), "the refused stop changed the supervisor's state"
    assert wait_completed(sup.submit(lambda: 5), timeout=WAIT) == 5

    async def stop_without_wait():
        sup.stop(wait=False)

    run_on(external_loop, stop_without_wait())
    assert not sup.is_active()


def test_restart_on_a_callers_loop(external_loop, make_supervisor):
    sup = make_supervisor(loop=external_loop, pool_size=1)
    sup.stop()
    sup.start(loop=external_loop)
    task = sup.submit(lambda: "again", _delay=0.05)
    assert wait_completed(task, timeout=WAIT) == "again"
