"""The OS thread side of the pool: sizes, prespawning, names, idle retirement."""

from __future__ import annotations

import os
import queue
import re
import threading

import pytest
from engine_testkit import WAIT, check_invariant, pool_threads, wait_until

from engine import (
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TaskSupervisor,
)

CPU = os.cpu_count() or 1


def test_defaults_follow_the_design(make_supervisor):
    sup = make_supervisor(start=False)
    stats = sup.stats().thread
    assert (stats.pool_size, stats.reserve_normal, stats.reserve_high) == (CPU * 5, 5, 5)
    assert stats.min_size == 0 and stats.max_size == CPU * 5 + 10
    assert sup.poll_delay == 0.1
    assert (sup.timeout_warning, sup.timeout_critical) == (5, 10)
    assert not sup.is_active() and not sup.stats().active


def test_pool_size_zero_is_unlimited(make_supervisor):
    sup = make_supervisor(pool_size=0, reserve_normal=0, reserve_high=0, max_size=20)
    assert sup.stats().thread.limits == dict.fromkeys(
        (TASK_LOW, TASK_NORMAL, TASK_HIGH, TASK_CRITICAL))
    gates = [make_supervisor.gate() for _ in range(12)]
    tasks = [sup.submit(g, _priority=TASK_LOW) for g in gates]
    assert all(t.status == TASK_STATUS_STARTED for t in tasks)
    for gate in gates:
        assert gate.started.wait(WAIT)
    assert sup.stats().thread.running[TASK_LOW] == 12


def test_unlimited_pool_defaults_max_size_to_cpu_count_times_5(make_supervisor):
    sup = make_supervisor(start=False, pool_size=0)
    assert sup.stats().thread.max_size == CPU * 5


def test_max_size_bounds_os_threads(make_supervisor):
    sup = make_supervisor(pool_size=0, max_size=3)
    gates = [make_supervisor.gate() for _ in range(5)]
    tasks = [sup.submit(g, _priority=TASK_LOW) for g in gates]
    assert [t.status for t in tasks] == [TASK_STATUS_STARTED] * 3 + [TASK_STATUS_QUEUED] * 2
    assert sup.stats().thread.threads_alive == 3
    gates[0].release()
    assert tasks[0].wait(WAIT)
    assert gates[3].started.wait(WAIT), "a freed thread did not take the next task"
    assert tasks[4].status == TASK_STATUS_QUEUED
    assert sup.stats().thread.threads_alive == 3


def test_min_size_prespawns_idle_threads(make_supervisor):
    sup = make_supervisor(pool_size=4, reserve_normal=0, reserve_high=0, min_size=2)
    assert sup.stats().thread.threads_alive == 2
    assert sup.stats().thread.threads_busy == 0
    assert wait_until(lambda: len(pool_threads(sup)) == 2)


def test_min_size_max_prespawns_max_size_threads(make_supervisor):
    sup = make_supervisor(pool_size=3, reserve_normal=1, reserve_high=1, min_size="max")
    stats = sup.stats().thread
    assert stats.max_size == 5 and stats.min_size == 5
    assert stats.threads_alive == 5
    assert sup.get_info().threads_alive == 5
    assert wait_until(lambda: len(pool_threads(sup)) == 5)


def test_tasks_submitted_right_after_prespawning_start_at_once(make_supervisor):
    # A user starts a prespawned pool and immediately submits: the pool is
    # empty, so admission says "start", and the task must run without any
    # other task having to come along and trigger a dispatch.
    for attempt in range(20):
        sup = make_supervisor(pool_size=2, reserve_normal=0, reserve_high=0, min_size="max")
        gates = [make_supervisor.gate() for _ in range(2)]
        tasks = [sup.submit(g, _priority=TASK_LOW) for g in gates]
        statuses = [t.status for t in tasks]
        assert statuses == [TASK_STATUS_STARTED] * 2, (
            f"attempt {attempt}: tasks on an idle prespawned pool were queued: {statuses}, "
            f"{sup.stats().thread}")
        for gate in gates:
            assert gate.started.wait(WAIT)
            gate.release()
        sup.stop(wait=WAIT)


def test_min_size_above_max_size_is_refused():
    try:
        TaskSupervisor(pool_size=2, reserve_normal=0, reserve_high=0, min_size=3)
    except ValueError as exc:
        assert "3" in str(exc) and "2" in str(exc)
    else:
        raise AssertionError("min_size 3 > max_size 2 was accepted")


def test_pool_threads_are_named_after_the_supervisor(make_supervisor):
    sup = make_supervisor(supervisor_id="namecheck", pool_size=3, reserve_normal=0,
                          reserve_high=0)
    gates = [make_supervisor.gate() for _ in range(3)]
    for gate in gates:
        sup.submit(gate)
    for gate in gates:
        assert gate.started.wait(WAIT)
    names = {gate.thread_name for gate in gates}
    assert len(names) == 3
    for name in names:
        assert re.fullmatch(r"supervisor_namecheck_pool_\d+", name), name


def test_main_loop_thread_is_named_and_ends_on_stop(make_supervisor):
    def loop_threads():
        return [t for t in threading.enumerate() if t.name == "supervisor_loopname_event_loop"]

    sup = make_supervisor(supervisor_id="loopname")
    assert len(loop_threads()) == 1
    sup.stop()
    assert not loop_threads()


def test_idle_threads_above_min_size_retire(make_supervisor):
    sup = make_supervisor(pool_size=4, reserve_normal=0, reserve_high=0, min_size=1,
                          thread_idle_timeout=0.2)
    gates = [make_supervisor.gate() for _ in range(4)]
    tasks = [sup.submit(g) for g in gates]
    for gate in gates:
        assert gate.started.wait(WAIT)
    assert sup.stats().thread.threads_alive == 4
    for gate, task in zip(gates, tasks, strict=True):
        gate.release()
        assert task.wait(WAIT)
    assert wait_until(lambda: sup.stats().thread.threads_alive == 1), sup.stats().thread
    assert wait_until(lambda: len(pool_threads(sup)) == 1), pool_threads(sup)
    # The survivor still serves.
    assert sup.submit(lambda: 42).wait(WAIT)


def test_idle_threads_within_min_size_stay(make_supervisor):
    sup = make_supervisor(pool_size=3, reserve_normal=0, reserve_high=0, min_size=3,
                          thread_idle_timeout=0.05)
    retire_probe = make_supervisor(pool_size=3, reserve_normal=0, reserve_high=0,
                                   min_size=0, thread_idle_timeout=0.05)
    tasks = [s.submit(lambda: None) for s in (sup, retire_probe) for _ in range(3)]
    for task in tasks:
        assert task.wait(WAIT)
    # Once the probe's idle threads (same timeout) have retired, sup's had time to.
    assert wait_until(lambda: retire_probe.stats().thread.threads_alive == 0)
    assert sup.stats().thread.threads_alive == 3


def test_shrinking_max_size_retires_idle_threads(make_supervisor):
    sup = make_supervisor(pool_size=4, reserve_normal=0, reserve_high=0, min_size="max")
    assert sup.stats().thread.threads_alive == 4
    sup.set_thread_pool(pool_size=2)
    assert sup.stats().thread.max_size == 2
    assert wait_until(lambda: sup.stats().thread.threads_alive == 2)
    assert wait_until(lambda: len(pool_threads(sup)) == 2)


def test_stop_ends_idle_threads(make_supervisor):
    sup = make_supervisor(pool_size=3, reserve_normal=0, reserve_high=0, min_size=3)
    assert wait_until(lambda: len(pool_threads(sup)) == 3)
    sup.stop()
    assert sup.stats().thread.threads_alive == 0
    assert wait_until(lambda: not pool_threads(sup))


def test_high_priority_runs_on_reserve_threads(make_supervisor):
    # With derived max_size = pool + reserves, a HIGH task still finds a thread
    # when LOW tasks fill the pool.
    sup = make_supervisor(pool_size=1, reserve_normal=1, reserve_high=1)
    low = make_supervisor.gate()
    sup.submit(low, _priority=TASK_LOW)
    high = make_supervisor.gate()
    sup.submit(high, _priority=TASK_HIGH)
    assert high.started.wait(WAIT)


def test_set_thread_pool_changes_only_the_given_settings(make_supervisor):
    sup = make_supervisor(pool_size=3, reserve_normal=2, reserve_high=1)
    sup.set_thread_pool(reserve_high=4)
    stats = sup.stats().thread
    assert (stats.pool_size, stats.reserve_normal, stats.reserve_high) == (3, 2, 4)
    assert stats.limits == {TASK_LOW: 3, TASK_NORMAL: 5, TASK_HIGH: 9, TASK_CRITICAL: None}
    assert stats.max_size == 9
    info = sup.get_info()
    assert (info.thread_pool_size, info.thread_reserve_normal, info.thread_reserve_high,
            info.thread_max_size) == (3, 2, 4, 9)


def test_poll_delay_is_a_live_setting(make_supervisor):
    sup = make_supervisor(poll_delay=0.3)
    assert sup.poll_delay == 0.3
    sup.poll_delay = 0.5
    assert sup.poll_delay == 0.5
    assert sup.stats().poll_delay == 0.5 and sup.get_info().poll_delay == 0.5


# -- a task that starts at submission (the wake under the lock) --------------------------------

def test_a_task_woken_at_submission_finds_its_start_counted(make_supervisor):
    """The parked worker is woken before the start is counted; whatever its
    target reads under the lock already counts it running."""
    sup = make_supervisor(pool_size=2, reserve_normal=0, reserve_high=0, min_size="max")
    assert wait_until(lambda: len(sup._threads._idle) == 2)
    seen = []

    def look():
        thread = sup.stats().thread
        seen.append((thread.running[TASK_NORMAL], thread.started,
                     sup._threads.current_task().status))

    for _ in range(50):
        assert sup.submit(look).wait(WAIT)
    assert seen[0][:2] == (1, 1)
    assert all(running == 1 and status == TASK_STATUS_STARTED for running, _, status in seen)
    assert [started for _, started, _ in seen] == list(range(1, 51))


def test_an_interrupt_right_after_the_wake_still_counts_and_ends_the_task(make_supervisor):
    """Ctrl+C landing just after submit woke a parked worker: the caller gets
    the KeyboardInterrupt, and the task, already on its thread, is counted
    started and ends exactly once."""
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0, min_size="max")
    assert wait_until(lambda: len(sup._threads._idle) == 1)
    worker = sup._threads._idle[-1]

    class InterruptedAfterPut(queue.SimpleQueue):
        def put(self, item, block=True, timeout=None):
            super().put(item)
            raise KeyboardInterrupt

    inbox = worker.inbox
    worker.inbox = InterruptedAfterPut()
    ran = []
    try:
        with pytest.raises(KeyboardInterrupt):
            sup.submit(ran.append, 1)
        # The worker was parked on the old inbox: what the interrupted put
        # left in the new one is handed over.
        inbox.put(worker.inbox.get_nowait())
    finally:
        worker.inbox = inbox
    assert wait_until(lambda: sup.stats().thread.completed == 1)
    assert ran == [1]
    stats = sup.stats().thread
    check_invariant(stats)
    assert (stats.submitted, stats.started, stats.running[TASK_NORMAL]) == (1, 1, 0)
    assert sup.submit(ran.append, 2).wait(WAIT) and ran == [1, 2]
