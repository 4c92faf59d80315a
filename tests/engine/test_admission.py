"""Admission of thread tasks: priorities, reserves, critical tasks, live resizing.

The start/queue decision is taken under the supervisor's lock by the thread
that submits or completes a task, so a task's status is final as soon as
``submit``/``set_thread_pool`` returns, or as soon as ``Task.wait`` of the
task that freed the slot returns. The tests rely on that, not on sleeps.
"""

from __future__ import annotations

import random
import time

import pytest
from engine_testkit import WAIT, Gate, StartLog, check_invariant, pool_threads, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import (
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TaskSupervisor,
)


def test_queued_tasks_start_by_strict_priority_then_fifo(make_supervisor):
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    filler = make_supervisor.gate()
    first = sup.submit(filler)
    assert filler.started.wait(WAIT)

    log = StartLog()
    rng = random.Random(1234)
    plan = [TASK_LOW] * 4 + [TASK_NORMAL] * 4 + [TASK_HIGH] * 4
    rng.shuffle(plan)
    gates, tasks = {}, {}
    for i, priority in enumerate(plan):
        label = (priority, i)
        gates[label] = make_supervisor.gate(label=label, log=log)
        tasks[label] = sup.submit(gates[label], _priority=priority)
    assert all(t.status == TASK_STATUS_QUEUED for t in tasks.values())

    # Free one slot at a time: exactly one queued task starts each time.
    current_gate, current_task = filler, first
    for n in range(1, len(plan) + 1):
        current_gate.release()
        assert current_task.wait(WAIT)
        assert log.wait_for_count(n), f"no task started after freeing slot {n}"
        label = log.snapshot()[n - 1]
        started = [lb for lb, t in tasks.items() if t.status != TASK_STATUS_QUEUED]
        assert len(started) == n, "a freed slot of a pool of 1 started more than one task"
        current_gate, current_task = gates[label], tasks[label]
    current_gate.release()
    assert current_task.wait(WAIT)

    expected = sorted(tasks, key=lambda label: (label[0], label[1]))
    assert log.snapshot() == expected


def test_reserves_limit_each_priority(make_supervisor):
    sup = make_supervisor(pool_size=2, reserve_normal=1, reserve_high=1)
    assert sup.stats().thread.limits == {
        TASK_LOW: 2, TASK_NORMAL: 3, TASK_HIGH: 4, TASK_CRITICAL: None}

    def submit(priority):
        return sup.submit(make_supervisor.gate(), _priority=priority)

    low = [submit(TASK_LOW) for _ in range(3)]
    assert [t.status for t in low] == [TASK_STATUS_STARTED] * 2 + [TASK_STATUS_QUEUED]
    normal = [submit(TASK_NORMAL) for _ in range(2)]
    assert [t.status for t in normal] == [TASK_STATUS_STARTED, TASK_STATUS_QUEUED]
    high = [submit(TASK_HIGH) for _ in range(2)]
    assert [t.status for t in high] == [TASK_STATUS_STARTED, TASK_STATUS_QUEUED]
    critical = [submit(TASK_CRITICAL) for _ in range(3)]
    assert all(t.status == TASK_STATUS_STARTED for t in critical)

    stats = sup.stats().thread
    assert stats.running == {TASK_LOW: 2, TASK_NORMAL: 1, TASK_HIGH: 1, TASK_CRITICAL: 3}
    assert stats.queued == {TASK_LOW: 1, TASK_NORMAL: 1, TASK_HIGH: 1, TASK_CRITICAL: 0}
    assert sup.get_info().thread_tasks_count == 7
    check_invariant(stats)


def test_critical_tasks_extend_the_pool_beyond_max_size_then_retire(make_supervisor):
    sup = make_supervisor(pool_size=2, reserve_normal=1, reserve_high=1)
    assert sup.stats().thread.max_size == 4
    fillers = [make_supervisor.gate() for _ in range(4)]
    filler_tasks = [sup.submit(g, _priority=TASK_HIGH) for g in fillers]
    assert all(t.status == TASK_STATUS_STARTED for t in filler_tasks)
    waiting = sup.submit(make_supervisor.gate(), _priority=TASK_HIGH)
    assert waiting.status == TASK_STATUS_QUEUED

    crit_gates = [make_supervisor.gate() for _ in range(3)]
    crit_tasks = [sup.submit(g, _priority=TASK_CRITICAL) for g in crit_gates]
    for gate in crit_gates:
        assert gate.started.wait(WAIT), "a critical task did not start on a full pool"
    stats = sup.stats().thread
    assert stats.threads_alive == 7 > stats.max_size
    assert len(pool_threads(sup)) == 7
    assert waiting.status == TASK_STATUS_QUEUED  # criticals took no ordinary slot

    for gate, task in zip(crit_gates, crit_tasks, strict=True):
        gate.release()
        assert task.wait(WAIT)
    assert waiting.status == TASK_STATUS_QUEUED
    assert wait_until(lambda: sup.stats().thread.threads_alive == 4), sup.stats().thread
    assert wait_until(lambda: len(pool_threads(sup)) == 4), pool_threads(sup)


@pytest.mark.parametrize("priority", [TASK_LOW, TASK_NORMAL, TASK_HIGH])
def test_live_grow_starts_waiting_tasks_at_once(make_supervisor, priority):
    sup = make_supervisor(pool_size=2, reserve_normal=0, reserve_high=0)
    running = [sup.submit(make_supervisor.gate(), _priority=priority) for _ in range(2)]
    waiting_gates = [make_supervisor.gate() for _ in range(3)]
    waiting = [sup.submit(g, _priority=priority) for g in waiting_gates]
    assert [t.status for t in running] == [TASK_STATUS_STARTED] * 2
    assert [t.status for t in waiting] == [TASK_STATUS_QUEUED] * 3

    sup.set_thread_pool(pool_size=5)
    assert [t.status for t in waiting] == [TASK_STATUS_STARTED] * 3
    for gate in waiting_gates:
        assert gate.started.wait(WAIT)
    stats = sup.stats().thread
    assert stats.pool_size == 5 and stats.limits[TASK_LOW] == 5
    assert sum(stats.running.values()) == 5 and sum(stats.queued.values()) == 0


def test_live_shrink_keeps_running_tasks_and_holds_new_ones(make_supervisor):
    sup = make_supervisor(pool_size=4, reserve_normal=0, reserve_high=0)
    gates = [make_supervisor.gate() for _ in range(4)]
    running = [sup.submit(g, _priority=TASK_LOW) for g in gates]
    for gate in gates:
        assert gate.started.wait(WAIT)

    sup.set_thread_pool(pool_size=2)
    assert [t.status for t in running] == [TASK_STATUS_STARTED] * 4
    newcomer_gate = make_supervisor.gate()
    newcomer = sup.submit(newcomer_gate, _priority=TASK_LOW)
    assert newcomer.status == TASK_STATUS_QUEUED

    # Active goes 4 -> 3 -> 2: still not below the new limit of 2.
    for gate, task in zip(gates[:2], running[:2], strict=True):
        gate.release()
        assert task.wait(WAIT)
        assert newcomer.status == TASK_STATUS_QUEUED
    assert [t.status for t in running[2:]] == [TASK_STATUS_STARTED] * 2

    gates[2].release()
    assert running[2].wait(WAIT)
    assert newcomer_gate.started.wait(WAIT), "newcomer did not start once active < new limit"
    check_invariant(sup.stats().thread)


def test_waiting_task_starts_within_milliseconds_of_a_free_slot(make_supervisor):
    # poll_delay bounds polling only: the hot path must not wait for it.
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0, poll_delay=2)
    blocker = make_supervisor.gate()
    sup.submit(blocker)
    assert blocker.started.wait(WAIT)
    follower = make_supervisor.gate()
    sup.submit(follower)

    t0 = time.monotonic()
    blocker.release()
    assert follower.started.wait(WAIT)
    reaction = time.monotonic() - t0
    assert reaction < 0.2, f"queued task started {reaction:.3f} s after its slot freed"


def test_strict_priority_a_new_less_urgent_task_does_not_jump_the_queue(make_supervisor):
    # max_size below the LOW limit: the queued HIGH task waits for a thread, and
    # a LOW task submitted after it must wait behind it, not take the thread.
    sup = make_supervisor(pool_size=4, reserve_normal=0, reserve_high=0, max_size=1)
    blocker = make_supervisor.gate()
    sup.submit(blocker, _priority=TASK_LOW)
    assert blocker.started.wait(WAIT)
    log = StartLog()
    high = sup.submit(make_supervisor.gate(label="high", log=log), _priority=TASK_HIGH)
    low = sup.submit(make_supervisor.gate(label="low", log=log), _priority=TASK_LOW)
    assert high.status == low.status == TASK_STATUS_QUEUED
    blocker.release()
    assert log.wait_for_count(1)
    assert log.snapshot() == ["high"]
    assert low.status == TASK_STATUS_QUEUED


# -- a model of the documented admission rule, checked against the engine ----

PRIORITY_ORDER = (TASK_CRITICAL, TASK_HIGH, TASK_NORMAL, TASK_LOW)


class AdmissionModel:
    """The rule as DESIGN.md states it, with no threads involved."""

    def __init__(self, pool_size: int, reserve_normal: int, reserve_high: int) -> None:
        self.queues: dict[int, list[int]] = {p: [] for p in PRIORITY_ORDER}
        self.running: set[int] = set()
        self.status: dict[int, int] = {}
        self.priority: dict[int, int] = {}
        self.resize(pool_size, reserve_normal, reserve_high)

    def limit(self, p: int) -> int | None:
        if p == TASK_CRITICAL or self.pool_size == 0:
            return None
        return {TASK_LOW: self.pool_size,
                TASK_NORMAL: self.pool_size + self.reserve_normal,
                TASK_HIGH: self.pool_size + self.reserve_normal + self.reserve_high}[p]

    def limits(self) -> dict[int, int | None]:
        return {p: self.limit(p) for p in PRIORITY_ORDER}

    def may_start(self, p: int) -> bool:
        limit = self.limit(p)
        return limit is None or len(self.running) < limit

    def _start(self, key: int) -> None:
        self.running.add(key)
        self.status[key] = TASK_STATUS_STARTED

    def dispatch(self) -> None:
        while True:
            head = next((p for p in PRIORITY_ORDER if self.queues[p]), None)
            if head is None or not self.may_start(head):
                return
            self._start(self.queues[head].pop(0))

    def submit(self, key: int, p: int) -> None:
        self.priority[key] = p
        blocked = any(self.queues[q] for q in PRIORITY_ORDER[:PRIORITY_ORDER.index(p) + 1])
        if p == TASK_CRITICAL or (self.may_start(p) and not blocked):
            self._start(key)
        else:
            self.queues[p].append(key)
            self.status[key] = TASK_STATUS_QUEUED

    def finish(self, key: int) -> None:
        self.running.remove(key)
        self.status[key] = TASK_STATUS_COMPLETED
        self.dispatch()

    def cancel(self, key: int) -> None:
        self.queues[self.priority[key]].remove(key)
        self.status[key] = TASK_STATUS_CANCELED

    def resize(self, pool_size: int, reserve_normal: int, reserve_high: int) -> None:
        self.pool_size = pool_size
        self.reserve_normal = reserve_normal
        self.reserve_high = reserve_high
        if hasattr(self, "running"):
            self.dispatch()


priorities = st.sampled_from(PRIORITY_ORDER)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), priorities),
        st.tuples(st.just("submit"), priorities),
        st.tuples(st.just("release"), st.integers(0, 50)),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("resize"), st.integers(0, 4), st.integers(0, 2), st.integers(0, 2)),
    ),
    min_size=1, max_size=30,
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(initial=st.tuples(st.integers(1, 3), st.integers(0, 2), st.integers(0, 2)),
       ops=operations)
def test_admission_matches_the_documented_rule(initial, ops):
    # max_size is set high so OS threads never bind: only the admission rule does.
    supervisor = TaskSupervisor(pool_size=initial[0], reserve_normal=initial[1],
                                reserve_high=initial[2], max_size=64)
    model = AdmissionModel(*initial)
    gates: dict[int, Gate] = {}
    tasks = {}
    supervisor.start()
    try:
        for op in ops:
            kind = op[0]
            if kind == "submit":
                key = len(tasks)
                gates[key] = Gate()
                tasks[key] = supervisor.submit(gates[key], _priority=op[1])
                model.submit(key, op[1])
            elif kind == "release":
                if not model.running:
                    continue
                key = sorted(model.running)[op[1] % len(model.running)]
                gates[key].release()
                assert tasks[key].wait(WAIT)
                model.finish(key)
            elif kind == "cancel":
                queued = sorted(k for k, s in model.status.items() if s == TASK_STATUS_QUEUED)
                if not queued:
                    continue
                key = queued[op[1] % len(queued)]
                supervisor.cancel_task(tasks[key].id)
                model.cancel(key)
            else:
                supervisor.set_thread_pool(pool_size=op[1], reserve_normal=op[2],
                                           reserve_high=op[3])
                model.resize(*op[1:])

            actual = {k: t.status for k, t in tasks.items()}
            assert actual == model.status, f"after {op}"
            stats = supervisor.stats().thread
            check_invariant(stats)
            assert stats.limits == model.limits()
            assert sum(stats.running.values()) == len(model.running)
            for p in PRIORITY_ORDER:
                assert stats.queued[p] == len(model.queues[p])
    finally:
        for gate in gates.values():
            gate.release()
        supervisor.stop(wait=WAIT)
    for key, task in tasks.items():
        if model.status[key] != TASK_STATUS_CANCELED:
            assert task.status == TASK_STATUS_COMPLETED
        else:
            assert gates[key].calls == 0, "a canceled task ran"
