"""``put_task`` (slot held until ``mark_task_completed``) and delayed tasks."""

from __future__ import annotations

import threading

import pytest
from engine_testkit import WAIT, Recorder, check_invariant, events_of, timeless, wait_until

from engine import (
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    wait_completed,
)


@pytest.fixture
def pool1(make_supervisor):
    return make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)


def test_put_task_target_receives_its_task_id(pool1, make_supervisor):
    gate = make_supervisor.gate()
    task = pool1.put_task(gate, args=(1, 2), kwargs={"x": 3}, task_id="job-7")
    assert gate.started.wait(WAIT)
    assert task.id == "job-7"
    assert gate.args == (1, 2)
    assert gate.kwargs == {"x": 3, "_task_id": "job-7"}
    gate.release()
    assert gate.finished.wait(WAIT)
    pool1.mark_task_completed(task_id="job-7")
    assert task.wait(WAIT)


def test_put_task_holds_its_slot_until_marked_completed(pool1):
    returned = Recorder(result="first result")
    first = pool1.put_task(returned)
    assert returned.called.wait(WAIT)
    follower_ran = threading.Event()
    follower = pool1.put_task(lambda _task_id: follower_ran.set())
    # The first target has returned and its thread is free again...
    assert wait_until(lambda: pool1.stats().thread.threads_busy == 0), pool1.stats().thread
    # ...but the task still holds the only slot.
    assert first.status == TASK_STATUS_STARTED
    assert not first.wait(0)
    assert follower.status == TASK_STATUS_QUEUED
    assert not follower_ran.is_set()
    assert pool1.get_info().thread_tasks_count == 1

    pool1.mark_task_completed(task=first)
    assert first.status == TASK_STATUS_COMPLETED
    assert first.result == "first result"
    assert follower.status == TASK_STATUS_STARTED
    assert follower_ran.wait(WAIT)
    pool1.mark_task_completed(task_id=follower.id)
    assert follower.wait(WAIT)
    check_invariant(pool1.stats().thread)


def test_mark_task_completed_without_arguments_inside_the_target(pool1):
    def target(_task_id):
        pool1.mark_task_completed()
        return "done"

    task = pool1.put_task(target)
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_COMPLETED
    # The slot is free: the next task starts and ends.
    assert pool1.put_task(lambda _task_id: pool1.mark_task_completed()).wait(WAIT)


def test_mark_task_completed_by_id_from_another_thread(pool1, make_supervisor):
    gate = make_supervisor.gate()
    task = pool1.put_task(gate)
    assert gate.started.wait(WAIT)
    marker = threading.Thread(target=pool1.mark_task_completed, kwargs={"task_id": task.id})
    marker.start()
    marker.join(WAIT)
    assert task.status == TASK_STATUS_COMPLETED
    assert pool1.stats().thread.completed == 1


def test_mark_task_completed_unknown_or_finished_task_raises_lookup_error(pool1):
    with pytest.raises(LookupError, match="no-such-task"):
        pool1.mark_task_completed(task_id="no-such-task")
    with pytest.raises(LookupError):
        pool1.mark_task_completed()  # not called from a task's thread
    task = pool1.put_task(lambda _task_id: pool1.mark_task_completed())
    assert task.wait(WAIT)
    with pytest.raises(LookupError):
        pool1.mark_task_completed(task=task)
    assert pool1.stats().thread.completed == 1


def test_mark_task_completed_on_a_queued_task_raises_and_changes_nothing(
        pool1, make_supervisor):
    gate = make_supervisor.gate()
    holder = pool1.put_task(gate)
    queued = pool1.put_task(lambda _task_id: pool1.mark_task_completed())
    before = timeless(pool1.stats().thread)
    with pytest.raises(RuntimeError, match=str(queued.id)):
        pool1.mark_task_completed(task=queued)
    assert queued.status == TASK_STATUS_QUEUED
    assert timeless(pool1.stats().thread) == before
    gate.release()
    pool1.mark_task_completed(task=holder)
    assert queued.wait(WAIT)
    assert queued.status == TASK_STATUS_COMPLETED


def test_failing_put_task_target_fails_the_task_and_frees_the_slot(pool1):
    error = KeyError("boom")

    def target(_task_id):
        raise error

    failing = pool1.put_task(target)
    ran = threading.Event()
    follower = pool1.put_task(lambda _task_id: (ran.set(), pool1.mark_task_completed()))
    assert failing.wait(WAIT)
    assert failing.status == TASK_STATUS_FAILED
    assert failing.exception is error
    assert ran.wait(WAIT)
    assert follower.wait(WAIT)
    stats = pool1.stats().thread
    assert (stats.failed, stats.completed) == (1, 1)
    check_invariant(stats)


def test_put_task_callback_receives_the_result(pool1):
    callback = Recorder()
    task = pool1.put_task(lambda _task_id: "value", callback=callback)
    assert callback.called.wait(WAIT)
    assert callback.calls == [(("value",), {})]
    pool1.mark_task_completed(task=task)


def test_delayed_task_holds_no_slot_then_queues_and_runs(pool1, make_supervisor):
    delayed_gate = make_supervisor.gate(result="late")
    delayed = pool1.submit(delayed_gate, _priority=TASK_NORMAL, _delay=0.3)
    assert delayed.status == TASK_STATUS_DELAYED
    stats = pool1.stats().thread
    assert stats.delayed[TASK_NORMAL] == 1 and sum(stats.running.values()) == 0
    check_invariant(stats)

    # A LOW task on this pool of 1 starts: the delayed task holds nothing.
    low_gate = make_supervisor.gate()
    low = pool1.submit(low_gate, _priority=TASK_LOW)
    assert low.status == TASK_STATUS_STARTED

    # When the delay is over it queues behind the LOW task (pool full).
    assert wait_until(lambda: delayed.status != TASK_STATUS_DELAYED)
    assert delayed.status == TASK_STATUS_QUEUED
    stats = pool1.stats().thread
    assert stats.delayed[TASK_NORMAL] == 0 and stats.queued[TASK_NORMAL] == 1
    assert not delayed_gate.started.is_set()
    check_invariant(stats)

    low_gate.release()
    delayed_gate.release()
    assert wait_completed(delayed, timeout=WAIT) == "late"
    kinds = [e.kind for e in events_of(pool1, delayed.id)]
    assert kinds == ["delayed", "queued", "started", "completed"]
    submitted_at = delayed.time_submitted
    assert delayed.time_queued - submitted_at >= 0.3 - 0.01


def test_delayed_put_task_runs_after_its_delay(pool1):
    ran = threading.Event()
    task = pool1.put_task(lambda _task_id: (ran.set(), pool1.mark_task_completed()),
                          delay=0.1)
    assert task.status == TASK_STATUS_DELAYED
    assert ran.wait(WAIT)
    assert task.wait(WAIT)
    assert task.time_started - task.time_submitted >= 0.1 - 0.01
