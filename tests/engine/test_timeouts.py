"""Queue timeouts: ``timeout_warning`` / ``timeout_critical`` fire while a task waits."""

from __future__ import annotations

import logging
import threading

import pytest
from engine_testkit import WAIT, events_of, wait_until

from engine import TASK_STATUS_QUEUED


class TimeoutLog:
    """A timeout function recording (task id, status at call time)."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, int]] = []
        self._cond = threading.Condition()

    def __call__(self, task) -> None:
        with self._cond:
            self.calls.append((task.id, task.status))
            self._cond.notify_all()

    def wait_for(self, task_id, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: any(tid == task_id for tid, _ in self.calls), timeout)

    def ids(self) -> list:
        with self._cond:
            return [tid for tid, _ in self.calls]


@pytest.fixture
def full_pool(make_supervisor):
    """A pool of 1 whose slot is held by a gated task; thresholds 0.1 / 0.2 s."""
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    blocker = make_supervisor.gate()
    sup.submit(blocker, _name="blocker")
    assert blocker.started.wait(WAIT)
    sup.timeout_warning = 0.1
    sup.timeout_critical = 0.2
    sup.timeout_warning_func = TimeoutLog()
    sup.timeout_critical_func = TimeoutLog()
    return sup, blocker


def test_timeouts_fire_once_each_while_the_task_still_waits(full_pool, make_supervisor,
                                                            caplog):
    caplog.set_level(logging.WARNING, logger="engine")
    sup, blocker = full_pool
    waiting = sup.submit(make_supervisor.gate(), _name="patient")
    assert waiting.status == TASK_STATUS_QUEUED

    assert sup.timeout_warning_func.wait_for(waiting.id), "no timeout_warning call"
    assert sup.timeout_critical_func.wait_for(waiting.id), "no timeout_critical call"
    assert waiting.status == TASK_STATUS_QUEUED
    # Both functions were called while the task was still queued.
    assert (waiting.id, TASK_STATUS_QUEUED) in sup.timeout_warning_func.calls
    assert (waiting.id, TASK_STATUS_QUEUED) in sup.timeout_critical_func.calls

    # A second waiter queued after that proves the checker ran again later
    # (its own critical timeout comes at least 0.2 s afterwards).
    later = sup.submit(make_supervisor.gate(), _name="later")
    assert sup.timeout_critical_func.wait_for(later.id)

    warnings = events_of(sup, waiting.id, "timeout_warning")
    criticals = events_of(sup, waiting.id, "timeout_critical")
    assert len(warnings) == 1 and len(criticals) == 1
    assert warnings[0].seq < criticals[0].seq
    assert criticals[0].time - waiting.time_queued >= 0.2 - 0.01
    assert warnings[0].time - waiting.time_queued >= 0.1 - 0.01
    assert sup.timeout_warning_func.ids().count(waiting.id) == 1
    assert sup.timeout_critical_func.ids().count(waiting.id) == 1

    def logged(level):
        return [r for r in caplog.records
                if r.levelno == level and r.name.split(".")[0] == "engine"
                and f"task {waiting.id!r} (" in r.getMessage()]

    assert len(logged(logging.WARNING)) == 1, caplog.text
    assert len(logged(logging.CRITICAL)) == 1, caplog.text
    blocker.release()


def test_a_task_that_starts_before_the_threshold_fires_nothing(full_pool, make_supervisor,
                                                               caplog):
    caplog.set_level(logging.WARNING, logger="engine")
    sup, blocker = full_pool
    quick_gate = make_supervisor.gate()
    quick = sup.submit(quick_gate, _name="quick")
    blocker.release()
    assert quick_gate.started.wait(WAIT)
    started_after = quick.time_started - quick.time_queued
    assert started_after < 0.1, "precondition: the task started before the warning threshold"

    # Something else waits past both thresholds; by then 'quick' would have fired.
    witness = sup.submit(make_supervisor.gate(), _name="witness")
    assert sup.timeout_critical_func.wait_for(witness.id)
    assert quick.id not in sup.timeout_warning_func.ids()
    assert quick.id not in sup.timeout_critical_func.ids()
    assert not [e for e in events_of(sup, quick.id) if e.kind.startswith("timeout")]
    assert not [r for r in caplog.records if f"task {quick.id!r} (" in r.getMessage()]


def test_a_canceled_task_fires_no_timeout(full_pool, make_supervisor):
    sup, blocker = full_pool
    canceled = sup.submit(make_supervisor.gate(), _name="canceled")
    witness = sup.submit(make_supervisor.gate(), _name="witness")
    sup.cancel_task(canceled.id)
    assert sup.timeout_critical_func.wait_for(witness.id)
    assert canceled.id not in sup.timeout_warning_func.ids()
    assert canceled.id not in sup.timeout_critical_func.ids()
    assert [e.kind for e in events_of(sup, canceled.id)] == ["queued", "canceled"]


def test_a_failing_timeout_function_does_not_stop_the_next_level(full_pool, make_supervisor):
    sup, blocker = full_pool

    def broken(task):
        raise RuntimeError("timeout function bug")

    sup.timeout_warning_func = broken
    waiting = sup.submit(make_supervisor.gate())
    assert sup.timeout_critical_func.wait_for(waiting.id)
    assert len(events_of(sup, waiting.id, "timeout_warning")) == 1
    assert sup.is_active()


def test_delay_does_not_count_as_waiting(make_supervisor):
    sup = make_supervisor(pool_size=2, reserve_normal=0, reserve_high=0)
    sup.timeout_warning = 0.1
    sup.timeout_critical = 0.2
    sup.timeout_warning_func = TimeoutLog()
    sup.timeout_critical_func = TimeoutLog()
    # Delayed longer than both thresholds, then starts at once on a free slot.
    delayed = sup.submit(lambda: None, _delay=0.3)
    assert delayed.wait(WAIT)
    blocker = make_supervisor.gate()
    sup.submit(blocker)
    blocker2 = make_supervisor.gate()
    sup.submit(blocker2)
    witness = sup.submit(make_supervisor.gate())
    assert sup.timeout_critical_func.wait_for(witness.id)
    assert delayed.id not in sup.timeout_warning_func.ids()
    assert not [e for e in events_of(sup, delayed.id) if e.kind.startswith("timeout")]


def test_timeouts_fire_without_functions_and_can_be_disabled(full_pool, make_supervisor):
    sup, blocker = full_pool
    sup.timeout_warning_func = None
    sup.timeout_critical_func = None
    first = sup.submit(make_supervisor.gate())
    # Events are the only trace now: wait for them through the public ring.
    assert wait_until(lambda: events_of(sup, first.id, "timeout_critical"))
    assert len(events_of(sup, first.id, "timeout_warning")) == 1

    sup.timeout_warning = None
    sup.timeout_critical = None
    assert sup.stats().timeout_warning is None and sup.stats().timeout_critical is None
    sup.timeout_critical = 0.25
    sup.timeout_critical_func = TimeoutLog()
    second = sup.submit(make_supervisor.gate())
    assert sup.timeout_critical_func.wait_for(second.id)
    assert not events_of(sup, second.id, "timeout_warning"), "disabled warning fired"
