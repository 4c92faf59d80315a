"""Schedulers and background workers.

Schedulers: the registry, where their loops run, and that the supervisor
stops them first. Workers: every kind, the decorator and its options, the
start overrides, errors, the mp static run, and that event-driven workers
react at once (the supervisor's ``poll_delay`` is set to 5 s where that
matters, so anything waiting for a poll would miss the 1 s bounds).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import mp_targets
import pytest
from engine_testkit import wait_until

from engine import (
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    BackgroundAsyncWorker,
    BackgroundEventWorker,
    BackgroundIntervalWorker,
    BackgroundQueueWorker,
    BackgroundWorker,
    TaskSupervisor,
    background_worker,
)

WAIT = 5.0
FAST = 1.0  # "well under a second", against a poll_delay of 5 s


class Runs:
    """Executions recorded by an executor, with a condition to wait on."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self._cond = threading.Condition()

    def record(self, **info) -> int:
        info.setdefault("t", time.monotonic())
        info.setdefault("thread", threading.current_thread().name)
        with self._cond:
            self.items.append(info)
            self._cond.notify_all()
            return len(self.items)

    def wait_for(self, n: int, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.items) >= n, timeout)

    def wait_where(self, predicate, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: any(predicate(i) for i in self.items), timeout)

    def __len__(self) -> int:
        with self._cond:
            return len(self.items)

    def snapshot(self) -> list[dict]:
        with self._cond:
            return list(self.items)


@pytest.fixture
def cleanup():
    """Things to undo at teardown, before the supervisors stop: events to set."""
    events: list[threading.Event] = []
    yield events
    for event in events:
        event.set()


@pytest.fixture
def make_sup(make_supervisor, cleanup):
    """Started supervisors; at teardown blocked executors are released first, then
    every supervisor is stopped (by ``make_supervisor``)."""
    yield make_supervisor
    for event in cleanup:
        event.set()


@pytest.fixture
def sup(make_sup) -> TaskSupervisor:
    return make_sup(pool_size=4, reserve_normal=1, reserve_high=1, poll_delay=5)


def task_events(sup: TaskSupervisor, name: str, kind: str = "started") -> list:
    return [e for e in sup.events_since(0) if e.name == name and e.kind == kind]


# -- schedulers ------------------------------------------------------------------------

class Scheduler:
    """An async scheduler: ``loop()`` runs until ``stop()``."""

    def __init__(self, name: str, on_stop=None) -> None:
        self.name = name
        self.started = threading.Event()
        self.finished = threading.Event()
        self.stop_called = threading.Event()
        self.stop_calls: list = []
        self.on_stop = on_stop
        self.thread: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

    async def loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self.thread = threading.current_thread().name
        self.started.set()
        try:
            await self._stop_event.wait()
        finally:
            self.finished.set()

    def stop(self, wait=True) -> None:
        if self.on_stop is not None:
            self.on_stop(self)
        self.stop_calls.append(wait)
        self.stop_called.set()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)


class SyncScheduler:
    def __init__(self, name: str, on_stop=None) -> None:
        self.name = name
        self.on_stop = on_stop
        self.stop_calls: list = []
        self.stop_called = threading.Event()

    def stop(self, wait=True) -> None:
        if self.on_stop is not None:
            self.on_stop(self)
        self.stop_calls.append(wait)
        self.stop_called.set()


def test_register_scheduler_runs_its_loop_on_the_supervisor_loop(sup):
    s = Scheduler("sched")
    sup.register_scheduler(s)
    assert s.started.wait(WAIT)
    assert s.thread == f"supervisor_{sup.id}_event_loop"
    assert sup.get_schedulers() == [s]
    assert sup.stats().schedulers == {"sched": True}
    s.stop()
    assert s.finished.wait(WAIT)
    # A scheduler whose loop ended leaves the registry.
    assert wait_until(lambda: sup.get_schedulers() == [])


def test_register_scheduler_on_an_aloop(sup):
    aloop = sup.create_aloop("sched_loop")
    s = Scheduler("on_aloop")
    sup.register_scheduler(s, loop=aloop.get_loop())
    assert s.started.wait(WAIT)
    assert s.thread == f"supervisor_{sup.id}_aloop_sched_loop"
    s.stop()
    assert s.finished.wait(WAIT)


def test_scheduler_registry_and_unregister_errors(sup):
    a, b = Scheduler("a"), SyncScheduler("b")
    sup.register_scheduler(a)
    sup.register_sync_scheduler(b)
    assert a.started.wait(WAIT)
    assert set(sup.get_schedulers()) == {a, b}
    assert sup.stats().schedulers == {"a": True, "b": True}

    with pytest.raises(LookupError):
        sup.unregister_scheduler(b)  # a sync one
    with pytest.raises(LookupError):
        sup.unregister_sync_scheduler(a)  # an async one
    with pytest.raises(LookupError):
        sup.unregister_scheduler(Scheduler("unknown"))
    with pytest.raises(LookupError):
        sup.unregister_sync_scheduler(SyncScheduler("unknown"))
    assert set(sup.get_schedulers()) == {a, b}

    sup.unregister_scheduler(a)
    sup.unregister_sync_scheduler(b)
    assert sup.get_schedulers() == []
    assert sup.stats().schedulers == {}
    with pytest.raises(LookupError):
        sup.unregister_scheduler(a)
    with pytest.raises(LookupError):
        sup.unregister_sync_scheduler(b)
    # Unregistered, so the supervisor no longer stops them.
    sup.stop(wait=2)
    assert a.stop_calls == [] and b.stop_calls == []


def test_register_scheduler_refuses_bad_objects_and_inactive_supervisor(make_sup):
    sup = make_sup()
    with pytest.raises(TypeError):
        sup.register_scheduler(SyncScheduler("no loop()"))
    with pytest.raises(TypeError):
        sup.register_sync_scheduler(object())
    sup.stop(wait=2)
    with pytest.raises(RuntimeError):
        sup.register_scheduler(Scheduler("late"))
    assert sup.get_schedulers() == []


def test_stop_stops_schedulers_first(sup):
    """stop(stop_schedulers=True) calls each scheduler's stop() before it
    waits for tasks, so before the supervisor finishes."""
    release = threading.Event()
    running = threading.Event()

    def task():
        running.set()
        release.wait(WAIT)

    gated = sup.submit(task)
    assert running.wait(WAIT)
    seen: dict = {}

    def on_stop(s):
        seen[s.name] = (gated.status, sup.is_active())

    a, b = Scheduler("a", on_stop), SyncScheduler("b", on_stop)
    sup.register_scheduler(a)
    sup.register_sync_scheduler(b)
    assert a.started.wait(WAIT)

    stopper = threading.Thread(target=sup.stop, kwargs={"wait": True})
    stopper.start()
    try:
        assert a.stop_called.wait(WAIT) and b.stop_called.wait(WAIT)
        assert stopper.is_alive()  # still waiting for the gated task
    finally:
        release.set()
        stopper.join(WAIT)
    assert not stopper.is_alive()
    # Called while the task still ran, after new tasks were refused.
    assert seen == {"a": (TASK_STATUS_STARTED, False), "b": (TASK_STATUS_STARTED, False)}
    assert a.finished.is_set()
    assert len(a.stop_calls) == 1 and len(b.stop_calls) == 1


def test_stop_without_stop_schedulers_leaves_them_alone(make_sup):
    sup = make_sup()
    a, b = Scheduler("a"), SyncScheduler("b")
    sup.register_scheduler(a)
    sup.register_sync_scheduler(b)
    assert a.started.wait(WAIT)
    sup.stop(wait=2, stop_schedulers=False)
    assert a.stop_calls == [] and b.stop_calls == []


# -- plain workers ------------------------------------------------------------------------

def test_worker_executor_gets_worker_name_o_and_returning_false_stops_it(sup):
    runs = Runs()
    payload = object()

    class Counter(BackgroundWorker):
        def run(self, a, b=None, **kwargs):
            n = runs.record(a=a, b=b, kwargs=kwargs)
            return False if n == 3 else n

    worker = Counter(name="counter", o=payload, supervisor=sup)
    assert not worker.is_active()
    worker.start(1, b=2)
    assert runs.wait_for(3)
    assert wait_until(lambda: not worker.is_active()), "returning False did not stop it"
    assert len(runs) == 3
    for run in runs.snapshot():
        assert (run["a"], run["b"]) == (1, 2)
        assert run["kwargs"]["_worker"] is worker
        assert run["kwargs"]["_name"] == "counter"
        assert run["kwargs"]["o"] is payload
        assert run["thread"].startswith(f"supervisor_{sup.id}_pool_")
    started = task_events(sup, "counter")
    assert len(started) == 3 and {e.tt for e in started} == {TT_THREAD}
    assert {e.priority for e in started} == {TASK_NORMAL}
    assert wait_until(lambda: "counter" not in sup.stats().schedulers
                      or sup.stats().schedulers["counter"] is False)


def test_worker_with_executor_func_and_start_overrides(sup):
    runs = Runs()

    def executor(**kwargs):
        runs.record(name=kwargs["_name"])
        return False

    worker = BackgroundWorker("original", executor, priority=TASK_LOW, supervisor=sup)
    worker.start(_priority=TASK_HIGH, _name="renamed")
    assert runs.wait_for(1)
    assert runs.snapshot()[0]["name"] == "renamed"
    assert worker.name == "renamed"
    [event] = task_events(sup, "renamed")
    assert event.priority == TASK_HIGH
    assert task_events(sup, "original") == []


def test_worker_stats_show_it_by_name_with_its_state(sup):
    worker = BackgroundEventWorker("idle_one", lambda **kw: None, supervisor=sup)
    worker.start()
    assert sup.stats().schedulers == {"idle_one": True}
    assert worker in sup.get_schedulers()
    worker.stop()
    assert not worker.is_active()
    assert sup.stats().schedulers.get("idle_one", False) is False


def test_worker_delay_spaces_runs(sup):
    runs = Runs()

    def executor(**kwargs):
        return False if runs.record() == 3 else None

    worker = BackgroundWorker("spaced", executor, delay=0.1, supervisor=sup)
    worker.start()
    assert runs.wait_for(3)
    times = [r["t"] for r in runs.snapshot()]
    gaps = [b - a for a, b in zip(times[:-1], times[1:], strict=True)]
    assert all(gap >= 0.09 for gap in gaps), gaps


def test_worker_delay_before_postpones_the_first_run(sup):
    runs = Runs()
    worker = BackgroundWorker("late", lambda **kw: runs.record() and False,
                              delay_before=0.2, supervisor=sup)
    t0 = time.monotonic()
    worker.start()
    assert runs.wait_for(1)
    assert runs.snapshot()[0]["t"] - t0 >= 0.19


def test_worker_stop_waits_for_the_current_execution(sup, cleanup):
    running, release, finished = threading.Event(), threading.Event(), threading.Event()
    cleanup.append(release)

    def executor(**kwargs):
        running.set()
        release.wait(WAIT)
        finished.set()

    worker = BackgroundWorker("slow", executor, delay=10, supervisor=sup)
    worker.start()
    assert running.wait(WAIT)
    finished_when_stop_returned: list[bool] = []
    stopper = threading.Thread(
        target=lambda: (worker.stop(wait=True),
                        finished_when_stop_returned.append(finished.is_set())))
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive(), "stop(wait=True) returned while the executor still ran"
    release.set()
    stopper.join(WAIT)
    assert finished_when_stop_returned == [True]
    assert not worker.is_active()


def test_worker_restart_keeps_its_arguments(sup):
    runs = Runs()
    worker = BackgroundEventWorker("re", lambda tag, **kw: runs.record(tag=tag),
                                   supervisor=sup)
    worker.start("tag-1")
    worker.trigger_threadsafe()
    assert runs.wait_for(1)
    worker.restart()
    assert worker.is_active()
    worker.trigger_threadsafe()
    assert runs.wait_for(2)
    assert [r["tag"] for r in runs.snapshot()] == ["tag-1", "tag-1"]
    worker.stop()
    assert not worker.is_active()
    worker.start("tag-2")  # a stopped worker can be started again
    worker.trigger_threadsafe()
    assert runs.wait_where(lambda r: r["tag"] == "tag-2")


def test_worker_exception_goes_to_on_error_and_it_keeps_running(sup):
    runs = Runs()
    errors: list[BaseException] = []

    def executor(**kwargs):
        n = runs.record()
        if n in (1, 3):
            raise ValueError(f"run {n}")
        return False if n == 4 else None

    worker = BackgroundWorker("flaky", executor, on_error=errors.append, supervisor=sup)
    worker.start()
    assert runs.wait_for(4)
    assert wait_until(lambda: not worker.is_active())
    assert [str(e) for e in errors] == ["run 1", "run 3"]
    assert all(isinstance(e, ValueError) for e in errors)
    assert len(runs) == 4


def test_worker_exception_without_on_error_is_logged_on_the_engine_logger(sup, caplog):
    runs = Runs()
    error = RuntimeError("executor broke")

    def executor(**kwargs):
        if runs.record() == 1:
            raise error
        return False

    caplog.set_level(logging.ERROR, logger="engine")
    worker = BackgroundWorker("logged", executor, supervisor=sup)
    worker.start()
    assert runs.wait_for(2), "the worker did not keep running after the exception"
    assert wait_until(lambda: not worker.is_active())
    logged = [r for r in caplog.records
              if r.name.split(".")[0] == "engine" and r.exc_info and r.exc_info[1] is error]
    assert logged, [r.getMessage() for r in caplog.records]
    assert "logged" in logged[0].getMessage()


def test_a_worker_that_stopped_itself_can_start_again_at_once(sup, cleanup):
    """Once is_active() says a worker stopped, start() must work. The worker's
    aloop is held right after the worker reports itself stopped, which makes
    the window between the two deterministic (it is otherwise a rare race)."""
    aloop = sup.create_aloop("held")
    loop = aloop.get_loop()
    hold, held = threading.Event(), threading.Event()
    cleanup.append(hold)
    runs = Runs()

    def hold_once_stopped():
        if worker.is_active():
            loop.call_soon(hold_once_stopped)  # check again on the next iteration
        elif not held.is_set():
            held.set()
            hold.wait(WAIT)

    async def once(**kwargs):
        if runs.record() == 1:
            loop.call_soon(hold_once_stopped)
        return False

    worker = BackgroundAsyncWorker("once", once, loop=aloop, supervisor=sup)
    worker.start()
    assert held.wait(WAIT)
    assert not worker.is_active()
    try:
        worker.start()  # is_active() said stopped: starting again is legitimate
    finally:
        hold.set()
    assert runs.wait_for(2), "the restarted worker never ran"


def test_worker_start_on_a_stopped_supervisor_is_refused(make_sup):
    sup = make_sup()
    sup.stop(wait=2)
    worker = BackgroundEventWorker("refused", lambda **kw: None, supervisor=sup)
    with pytest.raises(RuntimeError):
        worker.start()
    assert not worker.is_active()
    assert sup.get_schedulers() == []
    sup.start()
    worker.start()  # the refusal left nothing behind
    assert worker.is_active()


def test_workers_are_stopped_with_the_supervisor(make_sup):
    sup = make_sup(poll_delay=5)
    event_worker = BackgroundEventWorker("ev", lambda **kw: None, supervisor=sup)
    repeating = BackgroundWorker("rep", lambda **kw: None, delay=10, supervisor=sup)
    event_worker.start()
    repeating.start()
    assert wait_until(lambda: repeating.runs >= 1)
    t0 = time.monotonic()
    sup.stop(wait=True)
    assert time.monotonic() - t0 < FAST  # woken, not waiting for delay or poll_delay
    assert not event_worker.is_active() and not repeating.is_active()


# -- async workers --------------------------------------------------------------------------

def test_async_worker_runs_on_its_aloop_as_coroutine_tasks(sup):
    aloop = sup.create_aloop("work_loop")
    runs = Runs()

    class Pinger(BackgroundAsyncWorker):
        async def run(self, **kwargs):
            await asyncio.sleep(0)
            n = runs.record(worker=kwargs["_worker"], name=kwargs["_name"], o=kwargs["o"])
            return False if n == 2 else None

    worker = Pinger(name="pinger", loop=aloop, o="payload", supervisor=sup)
    worker.start()
    assert runs.wait_for(2)
    assert wait_until(lambda: not worker.is_active())
    for run in runs.snapshot():
        assert run["thread"] == f"supervisor_{sup.id}_aloop_work_loop"
        assert (run["worker"], run["name"], run["o"]) == (worker, "pinger", "payload")
    started = task_events(sup, "pinger")
    assert len(started) == 2 and {e.tt for e in started} == {TT_COROUTINE}


def test_async_worker_default_aloop_and_loop_override(sup):
    sup.create_aloop("main", default=True)
    other = sup.create_aloop("other")
    runs = Runs()

    async def executor(**kwargs):
        runs.record()
        return False

    worker = BackgroundAsyncWorker("a", executor, supervisor=sup)
    worker.start()
    assert runs.wait_for(1)
    assert runs.snapshot()[0]["thread"] == f"supervisor_{sup.id}_aloop_main"
    # Not just is_active(): see test_a_worker_that_stopped_itself_can_start_again_at_once.
    assert wait_until(lambda: worker not in sup.get_schedulers())
    worker.start(_loop=other)
    assert runs.wait_for(2)
    assert runs.snapshot()[1]["thread"] == f"supervisor_{sup.id}_aloop_other"


# -- queue and event workers ------------------------------------------------------------------

def test_queue_worker_processes_items_in_order_without_polling(sup):
    aloop = sup.create_aloop("feeder")
    runs = Runs()
    worker = BackgroundQueueWorker("q", lambda item, **kw: runs.record(item=item),
                                   supervisor=sup)
    worker.start()
    t0 = time.monotonic()
    for i in range(5):
        worker.put_threadsafe(i)
    aloop.run(worker.put(5), timeout=WAIT)
    assert runs.wait_for(6, timeout=FAST), f"only {len(runs)} of 6 items within {FAST} s"
    assert time.monotonic() - t0 < FAST
    assert [r["item"] for r in runs.snapshot()] == [0, 1, 2, 3, 4, 5]

    # Idle again: a new item wakes it at once.
    t1 = time.monotonic()
    worker.put_threadsafe("late")
    assert runs.wait_for(7, timeout=FAST)
    assert runs.snapshot()[-1]["item"] == "late"
    assert time.monotonic() - t1 < FAST


def test_queue_worker_starts_the_next_item_as_soon_as_the_previous_ends(sup, cleanup):
    runs = Runs()
    release = threading.Event()
    cleanup.append(release)
    first_running = threading.Event()

    def executor(item, **kwargs):
        if item == "first":
            first_running.set()
            release.wait(WAIT)
        runs.record(item=item)

    worker = BackgroundQueueWorker("q2", executor, supervisor=sup)
    worker.start()
    worker.put_threadsafe("first")
    assert first_running.wait(FAST)
    worker.put_threadsafe("second")
    t0 = time.monotonic()
    release.set()
    assert runs.wait_for(2, timeout=FAST)
    assert runs.snapshot()[1]["item"] == "second"
    assert runs.snapshot()[1]["t"] - t0 < FAST


def test_queue_worker_with_an_async_executor(sup):
    sup.create_aloop("qa", default=True)
    runs = Runs()

    async def executor(item, **kwargs):
        await asyncio.sleep(0)
        runs.record(item=item)

    worker = BackgroundQueueWorker("aq", executor, supervisor=sup)
    worker.start()
    for i in range(3):
        worker.put_threadsafe(i)
    assert runs.wait_for(3, timeout=FAST)
    assert [r["item"] for r in runs.snapshot()] == [0, 1, 2]
    assert {r["thread"] for r in runs.snapshot()} == {f"supervisor_{sup.id}_aloop_qa"}


def test_event_worker_runs_on_each_trigger_without_polling(sup):
    aloop = sup.create_aloop("trigger_loop")
    runs = Runs()
    worker = BackgroundEventWorker("ev", lambda **kw: runs.record(), supervisor=sup)
    worker.start()
    for n in range(1, 4):
        t0 = time.monotonic()
        worker.trigger_threadsafe()
        assert runs.wait_for(n, timeout=FAST), f"trigger {n} not served within {FAST} s"
        assert runs.snapshot()[-1]["t"] - t0 < FAST
    aloop.run(worker.trigger(), timeout=WAIT)
    assert runs.wait_for(4, timeout=FAST)


def test_event_worker_coalesces_triggers_during_a_run(sup, cleanup):
    runs = Runs()
    release = threading.Event()
    cleanup.append(release)
    running = threading.Event()

    def executor(**kwargs):
        if runs.record() == 1:
            running.set()
            release.wait(WAIT)

    worker = BackgroundEventWorker("co", executor, supervisor=sup)
    worker.start()
    worker.trigger_threadsafe()
    assert running.wait(FAST)
    for _ in range(3):
        worker.trigger_threadsafe()
    release.set()
    assert runs.wait_for(2, timeout=FAST)
    worker.stop(wait=True)
    assert len(runs) == 2  # three triggers during the first run made one more run


# -- interval workers ------------------------------------------------------------------------

def test_interval_worker_runs_on_ticks(sup):
    """interval 0.05 s: 19 to 21 runs in the 1.0 s after the first one."""
    runs = Runs()
    worker = BackgroundIntervalWorker("tick", lambda **kw: runs.record(), interval=0.05,
                                      supervisor=sup)
    worker.start()
    assert runs.wait_for(1)
    t0 = runs.snapshot()[0]["t"]
    assert runs.wait_where(lambda r: r["t"] >= t0 + 1.0, timeout=3.0)
    worker.stop()
    in_window = [r for r in runs.snapshot() if r["t"] < t0 + 1.0]
    assert 19 <= len(in_window) <= 21, len(in_window)


def test_interval_override_at_start(sup):
    runs = Runs()
    worker = BackgroundIntervalWorker("slow_tick", lambda **kw: runs.record(), interval=30,
                                      supervisor=sup)
    worker.start(_interval=0.02)
    assert worker.interval == 0.02
    assert runs.wait_for(3, timeout=FAST), "the _interval override was not used"
    worker.stop()


# -- static run in the mp pool -------------------------------------------------------------------

def test_static_run_executes_in_the_mp_pool_and_feeds_process_result(sup):
    sup.create_mp_pool(processes=1)
    results: list = []
    got = threading.Event()
    errors: list = []

    class Doubler(BackgroundWorker):
        run = staticmethod(mp_targets.static_run_double)

        def process_result(self, result):
            results.append(result)
            got.set()

    worker = Doubler(name="doubler", delay=10, on_error=errors.append, supervisor=sup)
    worker.start(21)
    assert got.wait(WAIT), errors
    worker.stop()
    name, value, pid = results[0]
    assert (name, value) == ("doubler", 42)
    assert pid != os.getpid()
    assert errors == []
    assert {e.tt for e in task_events(sup, "doubler")} == {TT_MP}


# -- the decorator -------------------------------------------------------------------------------

def plain(**kwargs):
    return None


async def coroutine(**kwargs):
    return None


@pytest.mark.parametrize("options, func, kind", [
    ({}, plain, BackgroundWorker),
    ({"delay": 0.5}, plain, BackgroundWorker),
    ({}, coroutine, BackgroundAsyncWorker),
    ({"q": True}, plain, BackgroundQueueWorker),
    ({"queue": True}, plain, BackgroundQueueWorker),
    ({"e": True}, plain, BackgroundEventWorker),
    ({"event": True}, plain, BackgroundEventWorker),
    ({"interval": 0.5}, plain, BackgroundIntervalWorker),
], ids=["plain", "delay", "async", "q", "queue", "e", "event", "interval"])
def test_background_worker_decorator_picks_the_kind(options, func, kind):
    worker = background_worker(**options)(func)
    assert type(worker) is kind
    assert worker.name == func.__name__
    assert not worker.is_active()
    if "delay" in options:
        assert worker.delay == options["delay"]
    if "interval" in options:
        assert worker.interval == options["interval"]


def test_background_worker_bare_decorator():
    @background_worker
    def bare(**kwargs):
        return None

    assert type(bare) is BackgroundWorker and bare.name == "bare"


def test_background_worker_decorator_options(sup):
    aloop = sup.create_aloop("deco_loop")
    runs = Runs()
    errors: list = []
    payload = {"k": "v"}

    @background_worker(e=True, name="deco", o=payload, priority=TASK_HIGH, supervisor=sup,
                       on_error=errors.append)
    def deco(**kwargs):
        n = runs.record(kwargs=kwargs)
        if n == 2:
            raise ValueError("second")

    deco.start()
    deco.trigger_threadsafe()
    assert runs.wait_for(1, timeout=FAST)
    kwargs = runs.snapshot()[0]["kwargs"]
    assert kwargs["_worker"] is deco and kwargs["_name"] == "deco" and kwargs["o"] is payload
    assert {e.priority for e in task_events(sup, "deco")} == {TASK_HIGH}
    deco.trigger_threadsafe()
    assert runs.wait_for(2, timeout=FAST)
    assert wait_until(lambda: len(errors) == 1)
    assert str(errors[0]) == "second"
    assert deco.is_active()
    deco.stop()

    @background_worker(loop="deco_loop", delay_before=0.1, supervisor=sup)
    async def on_named_loop(**kwargs):
        runs.record()
        return False

    t0 = time.monotonic()
    on_named_loop.start()
    assert runs.wait_for(3)
    third = runs.snapshot()[2]
    assert third["thread"] == f"supervisor_{sup.id}_aloop_deco_loop"
    assert third["t"] - t0 >= 0.09
    assert aloop.is_active()


def test_background_worker_decorator_interval_and_queue(sup):
    runs = Runs()
    ticks = Runs()

    @background_worker(interval=0.02, supervisor=sup)
    def ticking(**kwargs):
        runs.record(kind="tick")
        return False if ticks.record() == 3 else None

    @background_worker(q=True, supervisor=sup)
    def queued(item, **kwargs):
        runs.record(kind="item", item=item)

    ticking.start()
    queued.start()
    queued.put_threadsafe("x")
    assert runs.wait_where(lambda r: r.get("item") == "x", timeout=FAST)
    assert runs.wait_for(4, timeout=WAIT)
    assert wait_until(lambda: not ticking.is_active())
    assert sum(1 for r in runs.snapshot() if r["kind"] == "tick") == 3
    assert queued.is_active()
