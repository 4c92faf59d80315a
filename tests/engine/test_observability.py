"""``stats()`` and ``events_since()``: the invariant under load, the event ring."""

from __future__ import annotations

import collections
import random
import threading

from engine_testkit import WAIT, check_invariant
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import (
    PRIORITIES,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TT_THREAD,
    PoolStats,
    SupervisorStats,
    TaskEvent,
    wait_completed,
)

DOCUMENTED_KINDS = {"queued", "delayed", "started", "completed", "failed", "canceled",
                    "timeout_warning", "timeout_critical", "run_warning", "run_critical"}
TOTALS = ("submitted", "started", "completed", "failed", "canceled")


def test_invariant_holds_under_load_with_concurrent_resizing_and_cancels(make_supervisor):
    sup = make_supervisor(pool_size=4, reserve_normal=1, reserve_high=1)
    n_tasks = 5000
    ran: set[int] = set()

    def work(i: int) -> int:
        ran.add(i)
        if i % 97 == 0:
            raise ValueError(i)
        return i

    stop = threading.Event()
    problems: list[str] = []
    counts = collections.Counter()
    # guards counts' "snapshots" and "resizes" for the submitting thread's waits
    progressed = threading.Condition()
    tasks: list = []

    def count_round(name: str) -> None:
        with progressed:
            counts[name] += 1
            progressed.notify_all()

    def checker():
        previous = previous_seq = None
        while not stop.is_set():
            stats = sup.stats()
            s = stats.thread
            total = (s.completed + s.failed + s.canceled + sum(s.queued.values())
                     + sum(s.delayed.values()) + sum(s.running.values()))
            if s.submitted != total or not s.reconciles():
                problems.append(f"invariant broken: {s}")
            if min([*s.queued.values(), *s.running.values(), *s.delayed.values()]) < 0:
                problems.append(f"negative count: {s}")
            if previous is not None:
                for name in TOTALS:
                    if getattr(s, name) < getattr(previous, name):
                        problems.append(f"{name} went backwards: {previous} -> {s}")
                if stats.last_event_seq < previous_seq:
                    problems.append("last_event_seq went backwards")
            previous, previous_seq = s, stats.last_event_seq
            count_round("snapshots")
            stop.wait(0.0005)

    def resizer():
        rng = random.Random(7)
        while not stop.is_set():
            sup.set_thread_pool(pool_size=rng.randint(1, 6), reserve_normal=rng.randint(0, 2),
                                reserve_high=rng.randint(0, 2))
            count_round("resizes")
            stop.wait(0.001)

    def canceler():
        rng = random.Random(11)
        while not stop.is_set():
            if tasks:
                task = tasks[rng.randrange(max(0, len(tasks) - 50), len(tasks))]
                try:
                    sup.cancel_task(task.id)
                    counts["canceled"] += 1
                except (LookupError, RuntimeError):  # finished, or started meanwhile
                    counts["cancel_refused"] += 1
            stop.wait(0.0002)

    threads = [threading.Thread(target=fn, name=f"test_{fn.__name__}", daemon=True)
               for fn in (checker, resizer, canceler)]
    for thread in threads:
        thread.start()
    rng = random.Random(42)
    try:
        for i in range(n_tasks):
            delay = 0.01 if i % 50 == 0 else None
            tasks.append(sup.submit(work, i, _priority=rng.choice(PRIORITIES), _delay=delay))
            if i % 500 == 499:  # the checker and the resizer each ran a round under this load
                rounds = i // 500 + 1
                with progressed:
                    assert progressed.wait_for(
                        lambda n=rounds: min(counts["snapshots"], counts["resizes"]) >= n, WAIT
                    ), counts
        for task in tasks:
            assert task.wait(30), f"{task} never finished"
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT)
    assert not problems, problems[:5]
    assert counts["snapshots"] >= 10 and counts["resizes"] >= 10, counts
    assert counts["canceled"] >= 1, f"the canceler never hit a waiting task: {counts}"

    final = sup.stats().thread
    check_invariant(final)
    canceled = [t for t in tasks if t.status == engine.TASK_STATUS_CANCELED]
    assert len(canceled) == counts["canceled"] == final.canceled
    assert not ran & {t.args[0] for t in canceled}, "a canceled task ran"
    expected_failures = len([i for i in ran if i % 97 == 0])
    assert final.submitted == n_tasks and final.pending == 0
    assert final.started == len(ran) == n_tasks - len(canceled)
    assert (final.completed, final.failed) == (len(ran) - expected_failures, expected_failures)

    # Every task ended exactly once, and its events came in life order.
    events = sup.events_since(0)
    assert len(events) < 20_000, "precondition: the ring still holds every event"
    assert all(a.seq < b.seq for a, b in zip(events, events[1:], strict=False))
    by_task = collections.defaultdict(list)
    for event in events:
        by_task[event.task_id].append(event.kind)
    assert set(by_task) == {t.id for t in tasks}
    final_kind = {engine.TASK_STATUS_COMPLETED: "completed", engine.TASK_STATUS_FAILED: "failed",
                  engine.TASK_STATUS_CANCELED: "canceled"}
    for task in tasks:
        kinds = by_task[task.id]
        assert kinds[-1] == final_kind[task.status], (task, kinds)
        assert len([k for k in kinds if k in ("completed", "failed", "canceled")]) == 1
        assert kinds.count("queued") <= 1 and kinds.count("delayed") <= 1
        assert kinds.count("started") == (task.status != engine.TASK_STATUS_CANCELED)
        assert set(kinds) <= DOCUMENTED_KINDS


def test_events_since_returns_later_events_in_order(sup):
    start_seq = sup.stats().last_event_seq
    tasks = [sup.submit(lambda i=i: i, _priority=p, _name=f"t{i}")
             for i, p in enumerate([TASK_LOW, TASK_NORMAL, TASK_HIGH, TASK_CRITICAL])]
    wait_completed(tasks, timeout=WAIT)
    events = sup.events_since(start_seq)
    assert events, "no events recorded"
    assert all(isinstance(e, TaskEvent) for e in events)
    assert events[0].seq == start_seq + 1
    assert [e.seq for e in events] == list(range(start_seq + 1, start_seq + 1 + len(events)))
    assert events[-1].seq == sup.stats().last_event_seq
    for event in events:
        task = next(t for t in tasks if t.id == event.task_id)
        assert (event.name, event.tt, event.priority) == (task.name, TT_THREAD, task.priority)
        assert event.kind in DOCUMENTED_KINDS
    for task in tasks:
        kinds = [e.kind for e in events if e.task_id == task.id]
        assert kinds[-2:] == ["started", "completed"]
    times = [e.time for e in events]
    assert times == sorted(times)

    middle = events[len(events) // 2].seq
    later = sup.events_since(middle)
    assert later == [e for e in events if e.seq > middle]
    assert sup.events_since(middle, limit=2) == later[:2]
    assert sup.events_since(events[-1].seq) == []
    assert sup.events_since(events[-1].seq + 100) == []


def test_event_ring_keeps_at_least_the_last_10000(make_supervisor):
    sup = make_supervisor(pool_size=0, max_size=8)
    # 3 events a task: 24,000 events, more than the engine keeps, so the
    # ring has wrapped and must still serve the last 10,000 exactly.
    tasks = [sup.submit(int) for _ in range(8000)]
    for task in tasks:
        assert task.wait(30)
    last = sup.stats().last_event_seq
    assert last >= 24_000
    recent = sup.events_since(last - 10_000)
    assert len(recent) == 10_000
    assert [e.seq for e in recent] == list(range(last - 9_999, last + 1))
    assert sup.events_since(last - 10_000, limit=7) == recent[:7]
    oldest = sup.events_since(0)
    assert oldest[-1].seq == last and len(oldest) >= 10_000
    assert [e.seq for e in oldest] == list(range(oldest[0].seq, last + 1))
    assert sup.events_since(oldest[0].seq, limit=1)[0].seq == oldest[0].seq + 1


def test_stats_snapshot_shape_and_immutability(make_supervisor):
    sup = make_supervisor(pool_size=3, reserve_normal=2, reserve_high=1, min_size=1,
                          poll_delay=0.25)
    stats = sup.stats()
    assert isinstance(stats, SupervisorStats) and isinstance(stats.thread, PoolStats)
    assert stats.active and stats.poll_delay == 0.25
    t = stats.thread
    assert (t.pool_size, t.reserve_normal, t.reserve_high, t.min_size, t.max_size) == (
        3, 2, 1, 1, 6)
    assert t.limits == {TASK_LOW: 3, TASK_NORMAL: 5, TASK_HIGH: 6, TASK_CRITICAL: None}
    for counts in (t.running, t.queued, t.delayed):
        assert set(counts) == set(PRIORITIES) and not any(counts.values())
    assert stats.mp.submitted == 0 and stats.mp.threads_busy == 0
    assert stats.wait_p50 == stats.wait_p95 == stats.wait_max == 0
    try:
        stats.active = False
    except AttributeError:
        pass
    else:
        raise AssertionError("stats snapshot is mutable")
    later = sup.stats()
    assert later.time >= stats.time


def test_stats_report_queue_waits(make_supervisor):
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    gate = make_supervisor.gate()
    sup.submit(gate)
    assert gate.started.wait(WAIT)
    waiter = sup.submit(lambda: None)
    assert not waiter.wait(0.1)  # it waits at least this long in the queue
    gate.release()
    assert waiter.wait(WAIT)
    stats = sup.stats()
    assert stats.wait_max >= 0.1 - 0.01
    assert stats.wait_max >= stats.wait_p95 >= stats.wait_p50 >= 0


def test_threads_busy_and_alive_follow_running_tasks(make_supervisor):
    sup = make_supervisor(pool_size=3, reserve_normal=0, reserve_high=0)
    gates = [make_supervisor.gate() for _ in range(2)]
    tasks = [sup.submit(g) for g in gates]
    stats = sup.stats().thread
    assert (stats.threads_busy, stats.threads_alive) == (2, 2)
    assert stats.running[TASK_NORMAL] == 2 and stats.started == 2
    for gate, task in zip(gates, tasks, strict=True):
        gate.release()
        assert task.wait(WAIT)
    stats = sup.stats().thread
    assert stats.threads_busy == 0 and stats.threads_alive == 2
    assert stats.completed == 2


def test_the_event_ring_returns_the_same_events_from_either_end():
    from engine.stats import EventRing

    class Source:
        id, name, tt, priority = 1, "n", 1, 100

    ring = EventRing(100)
    for _ in range(250):  # wrapped: seqs 151..250 held
        ring.append(0.0, "queued", Source)
    last = ring.last_seq
    seqs = lambda events: [e[0] for e in events]  # noqa: E731
    assert seqs(ring.since(last - 3, None)) == [248, 249, 250]  # the newest, from the end
    assert seqs(ring.since(last - 3, 2)) == [248, 249]
    assert seqs(ring.since(0, 2)) == [151, 152]  # from the oldest held
    assert seqs(ring.since(160, None)) == list(range(161, 251))
    assert ring.since(last, None) == [] and ring.since(last + 5, 10) == []


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(1, 40), appended=st.integers(0, 120),
       after=st.integers(0, 130), limit=st.none() | st.integers(1, 50))
def test_the_event_ring_reads_any_range_as_a_plain_filter_would(capacity, appended, after,
                                                                limit):
    from engine.stats import EventRing

    class Source:
        id, name, tt, priority = 1, "n", 1, 100

    ring = EventRing(capacity)
    for _ in range(appended):
        ring.append(0.0, "queued", Source)
    held = list(range(max(1, appended - capacity + 1), appended + 1))
    expected = [s for s in held if s > after][:limit]
    assert [e[0] for e in ring.since(after, limit)] == expected
