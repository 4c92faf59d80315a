"""Async job schedulers, as the original library documented them
(``doc/async_jobs.rst``, its ``tests/test.py`` and ``aiosched``'s README),
with only the import changed; and what the engine adds: no drift, one
timer, containment, stats, bounded stops, clear errors."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest
from engine_testkit import WAIT, wait_until

from engine import AsyncJobScheduler, AsyncScheduledJob, TaskSupervisor
from engine.jobs import MIN_INTERVAL


class Counter:
    """Counts calls; ``reached(n)`` is set at the n-th."""

    def __init__(self) -> None:
        self.n = 0
        self.times: list[float] = []
        self._events: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def hit(self) -> None:
        with self._lock:
            self.n += 1
            self.times.append(time.monotonic())
            event = self._events.get(self.n)
        if event is not None:
            event.set()

    def reached(self, n: int) -> threading.Event:
        with self._lock:
            event = self._events.setdefault(n, threading.Event())
            if self.n >= n:
                event.set()
        return event


def test_documented_example(sup: TaskSupervisor) -> None:
    """doc/async_jobs.rst and the library's test_async_job_scheduler."""
    c1, c2 = Counter(), Counter()

    async def test1():
        c1.hit()

    async def test2():
        c2.hit()

    sup.create_aloop("jobs")
    sup.create_async_job_scheduler("default", aloop="jobs", default=True)
    j1 = sup.create_async_job(target=test1, interval=0.01)
    j2 = sup.create_async_job(target=test2, interval=0.01)
    assert c1.reached(10).wait(WAIT) and c2.reached(10).wait(WAIT)
    sup.cancel_async_job(job=j2)
    assert not j2.active and j1.active
    r1, r2 = c1.n, c2.n
    assert c1.reached(r1 + 5).wait(WAIT)
    assert c2.n <= r2 + 1  # at most the run that was already in flight
    assert isinstance(j1, AsyncScheduledJob)
    assert isinstance(sup.default_async_job_scheduler, AsyncJobScheduler)
    assert list(sup.async_job_schedulers) == ["default"]


def test_runs_on_the_named_aloop_thread(sup: TaskSupervisor) -> None:
    names: list[str] = []
    done = threading.Event()

    async def job():
        names.append(threading.current_thread().name)
        done.set()

    sup.create_aloop("jobs")
    sup.create_async_job_scheduler("s", aloop="jobs")
    sup.create_async_job("s", target=job, number=1)
    assert done.wait(WAIT)
    assert names == [f"supervisor_{sup.id}_aloop_jobs"]


def test_default_aloop_else_an_aloop_of_its_own(make_supervisor) -> None:
    sup = make_supervisor()
    own = sup.create_async_job_scheduler("mine", daemon=True)
    assert own.aloop.name == "async_job_scheduler_mine" and own.aloop.daemon
    default = sup.create_aloop("main", default=True)
    assert sup.create_async_job_scheduler("on_default").aloop is default
    with pytest.raises(ValueError, match="daemon"):
        sup.create_async_job_scheduler("x", daemon=True)  # on the default aloop: refused
    own.stop()
    assert wait_until(lambda: not own.aloop.is_active())  # its own aloop stops with it


def test_a_stopped_scheduler_name_can_be_created_again(sup: TaskSupervisor) -> None:
    c = Counter()

    async def job():
        c.hit()

    first = sup.create_async_job_scheduler("again", default=True)
    first.stop()
    second = sup.create_async_job_scheduler("again")  # a new script run, same name
    assert second is not first and second.aloop is first.aloop
    assert sup.async_job_schedulers["again"] is second
    assert sup.default_async_job_scheduler is second
    sup.create_async_job(target=job, number=1)
    assert c.reached(1).wait(WAIT)
    with pytest.raises(ValueError, match="daemon"):
        second.stop() or sup.create_async_job_scheduler("again", daemon=True)
    sup.create_aloop("async_job_scheduler_taken")
    with pytest.raises(ValueError, match="already exists"):
        sup.create_async_job_scheduler("taken")


def test_number_and_timer(sup: TaskSupervisor) -> None:
    """aiosched's test002: ``timer`` delays the first run, ``number`` bounds them."""
    c = Counter()

    async def job():
        c.hit()

    scheduler = sup.create_async_job_scheduler("s")
    start = time.monotonic()
    job1 = scheduler.create_threadsafe(target=job, interval=0.01, number=10, timer=0.2)
    assert c.reached(10).wait(WAIT)
    assert c.times[0] - start >= 0.2 - 0.005
    assert wait_until(lambda: not job1.active)
    assert job1.runs == 10 and scheduler.jobs == []
    once = Counter()

    async def job3():
        once.hit()

    scheduler.create_threadsafe(target=job3, number=1, timer=0.05)  # "run job once"
    assert once.reached(1).wait(WAIT)
    scheduler.stop()
    assert c.n == 10 and once.n == 1


def test_no_drift_after_a_late_run(sup: TaskSupervisor) -> None:
    """The k-th run is due ``k * interval`` after the first, even after a run
    that started late (the loop was blocked): the schedule keeps its grid."""
    c = Counter()

    async def job():
        c.hit()

    async def blocker():
        time.sleep(0.06)  # blocks the loop across the job's third due time

    scheduler = sup.create_async_job_scheduler("s")
    scheduler.create_threadsafe(target=job, interval=0.05, number=5)
    assert c.reached(1).wait(WAIT)
    # from 0.06 to 0.12 after the first run: the run due at 0.10 starts ~0.02 late
    scheduler.create_threadsafe(target=blocker, number=1,
                                timer=max(0.0, 0.06 - (time.monotonic() - c.times[0])))
    assert c.reached(5).wait(WAIT)
    offsets = [t - c.times[0] for t in c.times]
    assert offsets[2] > 0.11, offsets  # it was late
    assert offsets[3] == pytest.approx(0.15, abs=0.012), offsets  # then back on the grid
    assert offsets[4] == pytest.approx(0.20, abs=0.012), offsets


def test_missed_runs_are_skipped_not_burst(sup: TaskSupervisor) -> None:
    c = Counter()
    block = threading.Event()

    async def blocker():
        block.wait(0.3)  # blocks the loop for 0.3 s: six runs of the other job due

    async def job():
        c.hit()

    scheduler = sup.create_async_job_scheduler("s")
    scheduler.create_threadsafe(target=job, interval=0.05)
    assert c.reached(1).wait(WAIT)
    scheduler.create_threadsafe(target=blocker, number=1)
    assert c.reached(4).wait(WAIT)
    gaps = [b - a for a, b in zip(c.times[1:], c.times[2:], strict=False)]
    assert min(gaps[:2]) > 0.02, c.times  # no burst of missed runs after the block
    scheduler.stop()


def test_stats_and_workers_panel(sup: TaskSupervisor) -> None:
    c = Counter()

    async def ok():
        c.hit()

    async def bad():
        raise ValueError("boom")

    scheduler = sup.create_async_job_scheduler("jobs")
    scheduler.create_threadsafe(target=ok, interval=0.01)
    scheduler.create_threadsafe(target=bad, number=3, interval=0.01)
    assert c.reached(5).wait(WAIT)
    assert wait_until(lambda: scheduler.errors == 3)
    info = sup.stats().scheduler_info["jobs"]
    assert info.active and info.registered
    assert info.kind == "async job scheduler"
    assert info.runs >= 8 and info.errors == 3
    assert abs(info.last_run - time.time()) < WAIT
    scheduler.stop()
    assert "jobs" not in sup.stats().scheduler_info


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, GeneratorExit, ValueError])
def test_user_exceptions_are_contained(sup: TaskSupervisor, exc: type) -> None:
    c = Counter()

    async def raising():
        raise exc("from a job")

    def raising_on_call():  # raises before any coroutine exists (a partial, a wrapper)
        raise exc("on call")

    async def ok():
        c.hit()

    scheduler = sup.create_async_job_scheduler("s")
    scheduler.create_threadsafe(target=raising, interval=0.01, number=2)
    job = scheduler.create_threadsafe(target=raising, interval=0.01, number=3)
    job.target = raising_on_call  # the call itself raises, before any coroutine exists
    scheduler.create_threadsafe(target=ok, interval=0.01)
    assert wait_until(lambda: scheduler.errors >= 5)
    assert c.reached(c.n + 3).wait(WAIT)  # still serving after them
    assert scheduler.errors == 5 and scheduler.is_active() and sup.is_active()
    scheduler.stop()


def test_cancel_while_running_lets_the_run_finish(sup: TaskSupervisor) -> None:
    started, release, finished = threading.Event(), asyncio.Event(), threading.Event()
    runs = Counter()
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def long():
        runs.hit()
        loop_box.append(asyncio.get_running_loop())
        started.set()
        await release.wait()
        finished.set()

    scheduler = sup.create_async_job_scheduler("s")
    job = scheduler.create_threadsafe(target=long, interval=0.01)
    assert started.wait(WAIT)
    sup.cancel_async_job(job=job)
    n = runs.n
    loop_box[0].call_soon_threadsafe(release.set)
    assert finished.wait(WAIT)
    scheduler.stop()
    assert runs.n == n


def test_stop_while_jobs_are_due_and_restart(sup: TaskSupervisor) -> None:
    c = Counter()

    async def job():
        c.hit()

    scheduler = sup.create_async_job_scheduler("s")
    job1 = scheduler.create_threadsafe(target=job, interval=0.005)
    assert c.reached(3).wait(WAIT)
    scheduler.stop()
    assert not scheduler.is_active()
    n = c.n
    with pytest.raises(RuntimeError, match="stopped"):
        scheduler.create_threadsafe(target=job, interval=1)
    scheduler.stop()  # again: nothing to do
    scheduler.start()  # its jobs run again
    assert c.reached(n + 3).wait(WAIT)
    assert job1.active
    scheduler.stop()


def test_stop_bounds_a_run_that_never_ends(sup: TaskSupervisor) -> None:
    started = threading.Event()

    async def forever():
        started.set()
        await asyncio.sleep(3600)

    scheduler = sup.create_async_job_scheduler("s")
    scheduler.create_threadsafe(target=forever, number=1)
    assert started.wait(WAIT)
    t0 = time.monotonic()
    scheduler.stop(wait=0.2)
    assert time.monotonic() - t0 < 0.2 + 1.0
    assert wait_until(lambda: not scheduler.is_active())


def test_supervisor_stop_stops_schedulers(make_supervisor) -> None:
    sup = make_supervisor()
    c = Counter()

    async def job():
        c.hit()

    sup.create_aloop("jobs", default=True)
    scheduler = sup.create_async_job_scheduler("s", default=True)
    sup.create_async_job(target=job, interval=0.005)
    assert c.reached(3).wait(WAIT)
    t0 = time.monotonic()
    sup.stop(wait=1)
    assert time.monotonic() - t0 < 2
    assert not scheduler.is_active()
    n = c.n
    sup.start()
    assert "s" not in sup.stats().scheduler_info
    scheduler.start()  # started again by hand: its job resumes
    assert c.reached(n + 2).wait(WAIT)
    sup.stop(wait=1)


def test_job_stopping_its_own_scheduler(sup: TaskSupervisor) -> None:
    errors: list[BaseException] = []
    done = threading.Event()
    scheduler = sup.create_async_job_scheduler("s")

    async def job():
        try:
            scheduler.stop()  # would wait for itself
        except RuntimeError as exc:
            errors.append(exc)
        scheduler.stop(wait=False)
        done.set()

    scheduler.create_threadsafe(target=job, number=1)
    assert done.wait(WAIT)
    assert wait_until(lambda: not scheduler.is_active())
    assert len(errors) == 1 and "itself" in str(errors[0])


def test_pending_jobs_before_start(sup: TaskSupervisor) -> None:
    c = Counter()

    async def job():
        c.hit()

    scheduler = sup.create_async_job_scheduler("later", start=False)
    scheduler.create_threadsafe(target=job, interval=0.01, number=2)
    assert not c.reached(1).wait(0.05)
    scheduler.start()
    assert c.reached(2).wait(WAIT)
    scheduler.stop()


def test_await_create_from_a_coroutine(sup: TaskSupervisor) -> None:
    c = Counter()

    async def job():
        c.hit()

    scheduler = sup.create_async_job_scheduler("s")
    aloop = scheduler.aloop
    job1 = aloop.run(scheduler.create(job, number=1))
    assert c.reached(1).wait(WAIT) and not job1.active
    scheduler.stop()


BAD_JOBS = [
    (dict(target=None), TypeError, "target"),
    (dict(target=print), TypeError, "coroutine function"),
    (dict(target="x"), TypeError, "target"),
    (dict(interval=-1), ValueError, "interval"),
    (dict(interval=math.nan), ValueError, "interval"),
    (dict(interval=math.inf), ValueError, "interval"),
    (dict(interval="1"), TypeError, "interval"),
    (dict(interval=10**400), ValueError, "interval"),
    (dict(timer=-0.1), ValueError, "timer"),
    (dict(timer=True), TypeError, "timer"),
    (dict(number=-1), ValueError, "number"),
    (dict(number=1.5), TypeError, "number"),
    (dict(number=10**30), ValueError, "number"),
    (dict(args=5), TypeError, "args"),
    (dict(kwargs=[1]), TypeError, "kwargs"),
]


@pytest.mark.parametrize(("bad", "error", "names"), BAD_JOBS)
def test_bad_job_arguments(sup: TaskSupervisor, bad: dict, error: type, names: str) -> None:
    async def job():
        pass

    scheduler = sup.create_async_job_scheduler("s", default=True)
    kwargs = dict(target=job, interval=1) | bad
    with pytest.raises(error, match=names):
        sup.create_async_job(**kwargs)
    assert scheduler.jobs == []


def test_bad_scheduler_arguments(make_supervisor) -> None:
    sup = make_supervisor()

    async def job():
        pass

    with pytest.raises(RuntimeError, match="no default async job scheduler"):
        sup.create_async_job(target=job)
    for kwargs, error in ((dict(name=""), ValueError), (dict(name=5), ValueError),
                          (dict(name="a", default=1), TypeError),
                          (dict(name="a", start="yes"), TypeError),
                          (dict(name="a", aloop="missing"), LookupError),
                          (dict(name="a", aloop=5), TypeError)):
        with pytest.raises(error):
            sup.create_async_job_scheduler(**kwargs)
    assert sup.async_job_schedulers == {} and sup.aloops == {}
    sup.create_async_job_scheduler("a")
    with pytest.raises(ValueError, match="already exists"):
        sup.create_async_job_scheduler("a")
    with pytest.raises(LookupError, match="'b'"):
        sup.create_async_job("b", target=job)
    with pytest.raises(TypeError, match="job"):
        sup.cancel_async_job(job=None)
    with pytest.raises(TypeError, match="scheduler"):
        sup.create_async_job(3.5, target=job)
    other = sup.create_async_job_scheduler("other")
    job_a = sup.create_async_job("a", target=job, interval=1)
    with pytest.raises(ValueError, match="belongs to"):
        sup.cancel_async_job(other, job=job_a)
    assert job_a.active
    with pytest.raises(ValueError, match="wait"):
        other.stop(wait=-1)
    assert other.is_active()
    sup.set_default_async_job_scheduler("other")
    assert sup.default_async_job_scheduler is other
    sup.default_async_job_scheduler = None
    assert sup.default_async_job_scheduler is None
    inactive = make_supervisor(start=False)
    with pytest.raises(RuntimeError, match="not active"):
        inactive.create_async_job_scheduler("x")
    assert inactive.async_job_schedulers == {} and inactive.aloops == {}


def test_zero_interval_runs_at_the_minimum(sup: TaskSupervisor) -> None:
    c = Counter()

    async def job():
        c.hit()

    scheduler = sup.create_async_job_scheduler("s")
    job1 = scheduler.create_threadsafe(target=job)  # interval=0, as aiosched: 1 ms
    assert job1.interval == MIN_INTERVAL
    assert c.reached(20).wait(WAIT)
    scheduler.stop()


@pytest.mark.parametrize("blocking", [False, True])
def test_supervisor_stop_is_bounded_by_a_job_that_does_not_end(make_supervisor,
                                                               blocking: bool) -> None:
    """A run awaiting forever, or blocking its loop: stop(wait=N) still returns
    within N s plus the engine's grace."""
    sup = make_supervisor()
    started, release = threading.Event(), threading.Event()

    async def stuck():
        started.set()
        if blocking:
            release.wait(WAIT)  # blocks the aloop itself
        else:
            await asyncio.sleep(3600)

    scheduler = sup.create_async_job_scheduler("s")
    scheduler.create_threadsafe(target=stuck, number=1)
    assert started.wait(WAIT)
    t0 = time.monotonic()
    try:
        sup.stop(wait=0.2)
        assert time.monotonic() - t0 < 0.2 + 1.0
        assert not sup.is_active()
    finally:
        release.set()
    assert wait_until(lambda: not scheduler.is_active())


def test_concurrent_create_and_cancel_from_many_threads(sup: TaskSupervisor) -> None:
    c = Counter()

    async def job():
        c.hit()

    scheduler = sup.create_async_job_scheduler("s")
    kept: list[AsyncScheduledJob] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def churn() -> None:
        try:
            for i in range(200):
                j = scheduler.create_threadsafe(target=job, interval=0.002, timer=0.001 * i)
                if i % 2:
                    sup.cancel_async_job(job=j)
                else:
                    with lock:
                        kept.append(j)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert errors == []
    assert set(scheduler.jobs) == set(kept) and len(kept) == 400
    assert wait_until(lambda: all(j.runs > 0 for j in kept))
    scheduler.stop()
    assert not scheduler.is_active()


def test_canceled_jobs_leave_the_scheduler_at_once(sup: TaskSupervisor) -> None:
    """10,000 jobs due in an hour, canceled: none is counted, the heap is
    compacted (its length bounded, the jobs freed), a later job still runs once."""
    import gc
    import weakref

    from engine.jobs import COMPACT_MIN

    async def never():
        raise AssertionError("a canceled job ran")

    ran = threading.Event()
    runs = Counter()

    async def later():
        runs.hit()
        ran.set()

    sup.create_aloop("jobs")
    scheduler = sup.create_async_job_scheduler("s", aloop="jobs")
    jobs = [scheduler.create_threadsafe(target=never, timer=3600, number=1)
            for _ in range(10_000)]
    survivor = scheduler.create_threadsafe(target=later, timer=2, number=1)  # after the cancels
    aloop = sup.get_aloop("jobs")
    aloop.run(asyncio.sleep(0))  # the loop has taken every creation posted before
    assert scheduler.stats().heap_size == 10_001
    refs = [weakref.ref(j) for j in jobs]
    for j in jobs:
        sup.cancel_async_job(job=j)
    del jobs, j
    assert scheduler.stats().jobs == 1  # at once, before the loop heard of it
    aloop.run(asyncio.sleep(0))  # and every cancel posted before has been handled
    stats = scheduler.stats()
    assert stats.jobs == 1 and scheduler.jobs == [survivor]
    assert stats.heap_size <= COMPACT_MIN + 1  # the dead entries are gone, not only uncounted
    gc.collect()
    assert sum(r() is not None for r in refs) <= COMPACT_MIN  # and so are the jobs
    assert ran.wait(WAIT)
    assert wait_until(lambda: scheduler.stats().jobs == 0)
    assert runs.n == 1 and scheduler.stats().heap_size == 0
    assert scheduler.errors == 0
    scheduler.stop()


def test_a_dead_entry_at_the_head_is_dropped_and_the_timer_moves_on(sup: TaskSupervisor) -> None:
    """A few cancels (below the compaction threshold): the canceled head is
    dropped when the timer reaches it and the next job runs on time."""
    runs = Counter()

    async def first():
        raise AssertionError("canceled")

    async def second():
        runs.hit()

    scheduler = sup.create_async_job_scheduler("s")
    head = scheduler.create_threadsafe(target=first, timer=0.05, number=1)
    scheduler.create_threadsafe(target=second, timer=0.2, number=1)
    head.cancel()
    assert runs.reached(1).wait(WAIT)
    assert wait_until(lambda: scheduler.stats().heap_size == 0)
    assert scheduler.errors == 0 and scheduler.stats().jobs == 0
    scheduler.stop()


def test_number_counts_runs_not_the_ticks_a_blocked_loop_skipped(sup: TaskSupervisor) -> None:
    runs = Counter()

    async def job():
        runs.hit()

    sup.create_aloop("jobs")
    scheduler = sup.create_async_job_scheduler("s", aloop="jobs")
    loop = sup.get_aloop("jobs").get_loop()
    loop.call_soon_threadsafe(time.sleep, 0.3)  # the loop is blocked past six ticks
    created = scheduler.create_threadsafe(target=job, interval=0.05, number=3)
    assert runs.reached(3).wait(WAIT)
    assert wait_until(lambda: not created.active)
    assert created.runs == runs.n == 3 and scheduler.stats().jobs == 0
    scheduler.stop()
