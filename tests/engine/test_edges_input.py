"""Validate everything before changing anything; resources the OS refuses;
bounded work when a flood of queue timeouts fires at once."""

from __future__ import annotations

import logging
import threading

import pytest
from engine_testkit import WAIT, check_invariant, wait_until

import engine.threads
from engine import TASK_LOW, TASK_STATUS_FAILED, TaskSupervisor
from engine.timeouts import TIMEOUTS_PER_TURN
from engine.validate import MAX_SECONDS


def settings_of(sup: TaskSupervisor) -> tuple:
    s = sup.stats()
    return (s.active, s.poll_delay, s.timeout_warning, s.timeout_critical, s.thread.pool_size,
            s.thread.reserve_normal, s.thread.reserve_high, s.thread.min_size,
            s.thread.max_size)


HUGE = [1e10, float("inf"), float("nan"), 10**400, -1]


@pytest.mark.parametrize("value", HUGE)
def test_stop_wait_out_of_range_is_refused_before_anything_stops(sup, value):
    before = settings_of(sup)
    with pytest.raises(ValueError, match="wait"):
        sup.stop(wait=value)
    assert settings_of(sup) == before and sup.is_active()


@pytest.mark.parametrize("kwargs", [{"wait": "soon"}, {"stop_schedulers": "yes"},
                                    {"cancel_tasks": 1}, {"wait": None}])
def test_stop_with_a_wrong_type_is_refused_before_anything_stops(sup, kwargs):
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        sup.stop(**kwargs)
    assert sup.is_active()


@pytest.mark.parametrize("name", ["poll_delay", "timeout_warning", "timeout_critical"])
@pytest.mark.parametrize("value", HUGE + ["1", True])
def test_times_out_of_range_or_of_the_wrong_type_are_refused(sup, name, value):
    before = settings_of(sup)
    with pytest.raises((TypeError, ValueError), match=name):
        setattr(sup, name, value)
    assert settings_of(sup) == before


def test_the_longest_time_accepted_is_timeout_max(sup):
    sup.poll_delay = MAX_SECONDS
    assert sup.poll_delay == MAX_SECONDS
    with pytest.raises(ValueError, match="at most"):
        sup.poll_delay = MAX_SECONDS * 2


@pytest.mark.parametrize("value", [10**400, 1e10, float("inf"), float("nan"), -0.5])
def test_submit_delay_out_of_range_is_refused_without_a_task(sup, value):
    before = sup.stats().thread.submitted
    with pytest.raises(ValueError, match="delay"):
        sup.submit(lambda: None, _delay=value)
    assert sup.stats().thread.submitted == before


@pytest.mark.parametrize("field,value", [("min_size", 10**7), ("max_size", 10**400),
                                         ("pool_size", 10**400), ("reserve_high", 10**9),
                                         ("pool_size", True), ("min_size", "lots")])
def test_sizes_have_an_upper_bound_and_a_type(sup, field, value):
    before = settings_of(sup)
    with pytest.raises((TypeError, ValueError), match=field):
        sup.set_thread_pool(**{field: value})
    assert settings_of(sup) == before


def test_ids_of_the_wrong_type_are_refused(sup):
    blocker = threading.Event()
    sup.submit(blocker.wait, WAIT)
    sup.submit(blocker.wait, WAIT)
    sup.submit(blocker.wait, WAIT)  # the pool's three NORMAL slots are taken
    queued = sup.submit(lambda: None)  # task 4: queued, cancelable
    with pytest.raises(TypeError, match="task_id"):
        sup.cancel_task(float(queued.id) > 0)  # True == 1 must not name task 1
    with pytest.raises(TypeError, match="task_id"):
        sup.get_task([queued.id])
    with pytest.raises(TypeError, match="task_id"):
        sup.put_task(lambda **kw: None, task_id=False)
    assert sup.cancel_task(queued.id) is queued  # the right type still works
    blocker.set()


@pytest.mark.parametrize("tt", [True, False, "thread", 3])
def test_task_types_must_be_the_constants(sup, tt):
    before = sup.stats().thread.submitted
    with pytest.raises(ValueError, match="task type"):
        sup.submit(lambda: None, _tt=tt)
    assert sup.stats().thread.submitted == before


def test_a_chosen_integer_id_does_not_collide_with_later_numbered_tasks(sup):
    blocker = threading.Event()
    chosen = [sup.put_task(lambda _task_id: blocker.wait(WAIT), task_id=n) for n in (1, 2, 3)]
    numbered = [sup.submit(lambda: "ok") for _ in range(3)]
    ids = {t.id for t in chosen} | {t.id for t in numbered}
    assert len(ids) == 6
    blocker.set()
    for task in chosen:  # put_task: each holds its slot until marked completed
        assert wait_until(lambda task=task: task.is_started())
        sup.mark_task_completed(task=task)
    for task in numbered:
        assert task.wait(WAIT) and task.result == "ok"


def test_put_task_numbered_after_a_chosen_id_gets_its_own_id_in_kwargs(sup):
    seen = []
    blocker = threading.Event()
    sup.put_task(lambda _task_id: blocker.wait(WAIT), task_id=1)
    task = sup.put_task(lambda _task_id: seen.append(_task_id))
    assert wait_until(lambda: seen)
    assert seen == [task.id] and task.id != 1
    blocker.set()


def test_aloop_stop_with_a_bad_wait_changes_nothing(make_supervisor):
    sup = make_supervisor()
    aloop = sup.create_aloop("checked")
    with pytest.raises(TypeError, match="wait"):
        aloop.stop(wait="soon")
    assert aloop.is_active()
    aloop.stop()
    aloop.start()
    names = [t.name for t in threading.enumerate() if t.name == aloop.thread_name]
    assert names == [aloop.thread_name]


@pytest.mark.parametrize("kwargs", [{"default": "yes"}, {"daemon": 1}, {"start": None}])
def test_create_aloop_checks_its_flags_first(make_supervisor, kwargs):
    sup = make_supervisor()
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        sup.create_aloop("flags", **kwargs)
    assert "flags" not in sup.aloops


def test_wait_completed_checks_its_timeout(sup):
    task = sup.submit(lambda: 1)
    with pytest.raises(ValueError, match="timeout"):
        from engine import wait_completed
        wait_completed(task, timeout=float("nan"))


def test_a_thread_the_os_refuses_fails_its_task_and_keeps_the_counts(make_supervisor,
                                                                    monkeypatch):
    sup = make_supervisor(pool_size=2, reserve_normal=0, reserve_high=0, max_size=2)
    real_start = threading.Thread.start
    refused = threading.Event()

    def refusing_start(thread):
        if thread.name.startswith(f"supervisor_{sup.id}_pool_") and not refused.is_set():
            refused.set()
            raise RuntimeError("can't start new thread")
        return real_start(thread)

    monkeypatch.setattr(engine.threads.threading.Thread, "start", refusing_start)
    task = sup.submit(lambda: "never")
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_FAILED
    assert "can't start new thread" in str(task.exception)
    stats = sup.stats().thread
    assert sum(stats.running.values()) == 0 and stats.threads_busy == 0
    check_invariant(stats)
    # The next thread starts: the pool was not left thinking one is alive.
    after = sup.submit(lambda: "ran")
    assert after.wait(WAIT) and after.result == "ran"
    assert wait_until(lambda: sup.stats().thread.threads_alive <= 2)


def test_a_flood_of_queue_timeouts_is_bounded_per_loop_turn(make_supervisor, caplog):
    """Every timeout fires (and its function is called once per task), but at
    most TIMEOUTS_PER_TURN per turn of the supervisor's loop and with few
    log records, so a loop shared with a window stays responsive."""
    n = 3 * TIMEOUTS_PER_TURN + 17
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    blocker = threading.Event()
    sup.submit(blocker.wait, 30)
    loop = sup.dispatcher.loop
    turn = [0]

    def tick():  # counts the loop's turns: it re-arms itself for the next one
        turn[0] += 1
        if not blocker.is_set():
            loop.call_soon(tick)

    calls: list[int] = []
    all_called = threading.Event()

    def on_warning(task):
        calls.append(turn[0])
        if len(calls) == n:
            all_called.set()

    sup.timeout_warning_func = on_warning
    sup.timeout_critical = None
    tasks = [sup.submit(lambda: None, _priority=TASK_LOW) for _ in range(n)]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="engine"):
        loop.call_soon_threadsafe(tick)
        sup.timeout_warning = 0.05
        assert all_called.wait(WAIT * 2)
    blocker.set()
    per_turn: dict[int, int] = {}
    for t in calls:
        per_turn[t] = per_turn.get(t, 0) + 1
    assert max(per_turn.values()) <= TIMEOUTS_PER_TURN
    assert len(calls) == n
    waited = [r for r in caplog.records if "waited" in r.getMessage()
              or "more task" in r.getMessage()]
    assert len(waited) < n / 20
    for task in tasks:
        assert task.wait(WAIT)


@pytest.mark.parametrize("name", ["timeout_warning_func", "timeout_critical_func"])
def test_timeout_functions_must_be_callable(sup, name):
    with pytest.raises(TypeError, match=name):
        setattr(sup, name, "print")
    assert getattr(sup, name) is None
    setattr(sup, name, print)
    assert getattr(sup, name) is print
