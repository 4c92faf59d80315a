"""Aloops: asyncio loops in their own threads, and coroutine tasks on them.

Real loops, real threads. Coroutines that must stay pending wait on an
``asyncio.Event`` nobody sets, and are canceled by the code under test.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import uuid

import pytest
from engine_testkit import wait_until

from engine import (
    TASK_HIGH,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
    ALoop,
    TaskSupervisor,
    background_task,
    wait_completed,
)

WAIT = 5.0


def thread_names() -> set[str]:
    return {t.name for t in threading.enumerate()}


async def current_thread_name() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


async def answer(value):
    await asyncio.sleep(0)
    return value


async def boom(message: str):
    await asyncio.sleep(0)
    raise KeyError(message)


async def forever(started: threading.Event | None = None):
    if started is not None:
        started.set()
    await asyncio.Event().wait()


@pytest.fixture
def make_sup(make_supervisor):
    """Started supervisors, each stopped at teardown (their own mp pools with them)."""
    return make_supervisor


@pytest.fixture
def sup(make_sup) -> TaskSupervisor:
    return make_sup(pool_size=4, reserve_normal=1, reserve_high=1)


# -- creating, naming, starting and stopping ----------------------------------------

def test_create_aloop_runs_a_loop_in_a_named_thread(sup):
    aloop = sup.create_aloop("io")
    assert isinstance(aloop, ALoop)
    assert aloop.is_active()
    loop = aloop.get_loop()
    assert isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running()
    assert f"supervisor_{sup.id}_aloop_io" in thread_names()
    assert aloop.run(current_thread_name()) == f"supervisor_{sup.id}_aloop_io"
    assert sup.get_aloop("io") is aloop
    assert sup.aloops == {"io": aloop}
    assert sup.stats().aloops == {"io": True}


def test_default_supervisor_names_aloop_threads_without_its_id(default_supervisor):
    name = f"t{uuid.uuid4().hex[:8]}"  # the default supervisor outlives this test
    aloop = default_supervisor.create_aloop(name)
    try:
        assert aloop.run(current_thread_name()) == f"supervisor_aloop_{name}"
        assert f"supervisor_aloop_{name}" in thread_names()
    finally:
        # Stopped now, so the next start() of the default supervisor leaves it alone.
        default_supervisor.stop_aloop(name)
    assert f"supervisor_aloop_{name}" not in thread_names()


def test_create_aloop_daemon_and_start_false(sup):
    daemon = sup.create_aloop("d", daemon=True)
    threads = {t.name: t for t in threading.enumerate()}
    assert threads[f"supervisor_{sup.id}_aloop_d"].daemon
    plain = sup.create_aloop("p")
    threads = {t.name: t for t in threading.enumerate()}
    assert not threads[f"supervisor_{sup.id}_aloop_p"].daemon
    assert daemon.is_active() and plain.is_active()

    later = sup.create_aloop("later", start=False)
    assert not later.is_active()
    assert later.get_loop() is None
    assert f"supervisor_{sup.id}_aloop_later" not in thread_names()
    assert sup.stats().aloops["later"] is False
    sup.start_aloop("later")
    assert later.is_active()
    assert later.run(answer(5)) == 5
    assert sup.stats().aloops == {"d": True, "p": True, "later": True}


def test_stop_aloop_and_start_it_again(sup):
    aloop = sup.create_aloop("again")
    sup.stop_aloop("again")
    assert not aloop.is_active()
    assert f"supervisor_{sup.id}_aloop_again" not in thread_names()
    assert sup.stats().aloops == {"again": False}
    with pytest.raises(RuntimeError):
        aloop.run(answer(1))

    sup.start_aloop("again")
    assert aloop.is_active() and sup.stats().aloops == {"again": True}
    assert wait_completed(aloop.background_task(answer("back")), timeout=WAIT) == "back"


def test_a_coroutine_refused_by_a_stopped_aloop_is_closed(sup):
    """ALoop.run and supervisor-side refusals close the coroutine they refuse;
    ALoop.background_task must too, or it warns "was never awaited" later."""
    aloop = sup.create_aloop("stopped")
    sup.stop_aloop("stopped")
    refused_by_run, refused_by_background_task = answer(1), answer(2)
    with pytest.raises(RuntimeError):
        aloop.run(refused_by_run)
    with pytest.raises(RuntimeError):
        aloop.background_task(refused_by_background_task)
    assert inspect.getcoroutinestate(refused_by_run) == inspect.CORO_CLOSED
    state = inspect.getcoroutinestate(refused_by_background_task)
    refused_by_background_task.close()  # no warning from this test either way
    assert state == inspect.CORO_CLOSED
    assert sup.stats().coroutine.submitted == 0


def test_duplicate_aloop_name_is_a_value_error(sup):
    first = sup.create_aloop("dup")
    with pytest.raises(ValueError, match="dup"):
        sup.create_aloop("dup")
    with pytest.raises(ValueError, match="dup"):
        sup.create_aloop("dup", start=False)
    assert sup.aloops == {"dup": first}
    assert [t.name for t in threading.enumerate()].count(f"supervisor_{sup.id}_aloop_dup") == 1


def test_get_aloop_default_and_unknown_names(sup):
    assert sup.get_aloop() is None
    a = sup.create_aloop("a")
    b = sup.create_aloop("b", default=True)
    assert sup.get_aloop() is b
    assert sup.get_aloop(None) is b
    assert sup.get_aloop("a") is a
    with pytest.raises(LookupError, match="nope"):
        sup.get_aloop("nope")
    with pytest.raises(LookupError):
        sup.start_aloop("nope")
    with pytest.raises(LookupError):
        sup.stop_aloop("nope")

    sup.set_default_aloop(a)
    assert sup.get_aloop() is a
    sup.set_default_aloop("b")
    assert sup.get_aloop() is b


def test_set_default_aloop_refuses_a_foreign_aloop(make_sup):
    one, two = make_sup(), make_sup()
    mine = one.create_aloop("mine", default=True)
    theirs = two.create_aloop("mine")  # same name, other supervisor
    with pytest.raises(ValueError):
        one.set_default_aloop(theirs)
    assert one.get_aloop() is mine
    with pytest.raises(LookupError):
        one.set_default_aloop("nope")
    one.set_default_aloop(None)
    assert one.get_aloop() is None


# -- coroutine tasks -----------------------------------------------------------------

def test_aloop_background_task_returns_a_coroutine_task(sup):
    aloop = sup.create_aloop("bg")
    seq = sup.stats().last_event_seq
    task = aloop.background_task(answer(42))
    assert task.tt == TT_COROUTINE
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_COMPLETED and task.result == 42
    assert wait_completed(task, timeout=0) == 42

    s = sup.stats().coroutine
    assert (s.submitted, s.started, s.completed, s.failed) == (1, 1, 1, 0)
    events = [e for e in sup.events_since(seq) if e.task_id == task.id]
    assert [e.kind for e in events] == ["queued", "started", "completed"]
    assert {e.tt for e in events} == {TT_COROUTINE}
    assert sup.get_tasks(tt=TT_COROUTINE) == []  # finished tasks leave the table


def test_failing_coroutine_task_is_failed_with_its_exception(sup):
    aloop = sup.create_aloop("bg")
    task = aloop.background_task(boom("lost key"))
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_FAILED
    assert isinstance(task.exception, KeyError) and task.exception.args == ("lost key",)
    with pytest.raises(KeyError, match="lost key"):
        wait_completed(task, timeout=0)
    assert sup.stats().coroutine.failed == 1
    assert [e.kind for e in sup.events_since(0) if e.task_id == task.id][-1] == "failed"


def test_running_coroutine_tasks_are_counted_in_stats(sup):
    aloop = sup.create_aloop("bg")
    started = threading.Event()
    task = aloop.background_task(forever(started), priority=TASK_HIGH)
    assert started.wait(WAIT)
    assert task.status == TASK_STATUS_STARTED and task.priority == TASK_HIGH
    s = sup.stats().coroutine
    assert s.running[TASK_HIGH] == 1 and s.submitted == 1
    assert sup.get_tasks(tt=TT_COROUTINE) == [task]
    sup.stop_aloop("bg", cancel_tasks=True)
    assert task.status == TASK_STATUS_CANCELED
    assert sup.stats().coroutine.running[TASK_HIGH] == 0


def test_aloop_run_returns_the_result_and_raises_the_exception(sup):
    aloop = sup.create_aloop("run")
    assert aloop.run(answer([1, 2])) == [1, 2]
    with pytest.raises(KeyError, match="in run"):
        aloop.run(boom("in run"))
    with pytest.raises(TimeoutError):
        aloop.run(forever(), timeout=0.05)
    assert aloop.run(answer("still serving")) == "still serving"


def test_aloop_run_from_its_own_thread_is_a_runtime_error_not_a_deadlock(sup):
    aloop = sup.create_aloop("self")

    async def nested():
        try:
            aloop.run(answer("never"))
        except RuntimeError as exc:
            return exc
        return None

    error = aloop.run(nested(), timeout=WAIT)
    assert isinstance(error, RuntimeError)
    # The same from a coroutine task on that aloop.
    task = aloop.background_task(nested())
    assert isinstance(wait_completed(task, timeout=WAIT), RuntimeError)


def test_get_loop_runs_plain_asyncio_code_on_the_aloop_thread(sup):
    aloop = sup.create_aloop("plain")
    future = asyncio.run_coroutine_threadsafe(current_thread_name(), aloop.get_loop())
    assert future.result(WAIT) == f"supervisor_{sup.id}_aloop_plain"


# -- background_task on coroutine functions --------------------------------------------

@pytest.fixture
def external_loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="aloops_test_external_loop",
                              daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT)
    if not thread.is_alive():
        loop.close()


@pytest.mark.parametrize("how", ["name", "aloop", "asyncio loop", "default aloop"])
def test_background_task_on_a_coroutine_function_picks_its_loop(make_sup, external_loop, how):
    sup = make_sup()
    target = sup.create_aloop("target")
    other = sup.create_aloop("other", default=how != "default aloop")
    if how == "default aloop":
        sup.set_default_aloop(target)
    loop = {"name": "target", "aloop": target, "asyncio loop": external_loop,
            "default aloop": None}[how]
    expected = ("aloops_test_external_loop" if how == "asyncio loop"
                else f"supervisor_{sup.id}_aloop_target")

    @background_task(loop=loop, supervisor=sup, name="where")
    async def where(suffix):
        await asyncio.sleep(0)
        return threading.current_thread().name + suffix

    task = where("!")
    assert task.tt == TT_COROUTINE and task.name == "where"
    assert wait_completed(task, timeout=WAIT) == expected + "!"
    assert other.is_active()


def test_background_task_on_a_coroutine_function_without_default_aloop(sup):
    async def nothing():
        return None

    wrapped = background_task(nothing, supervisor=sup)
    with pytest.raises(RuntimeError, match="aloop"):
        wrapped()
    assert sup.stats().coroutine.submitted == 0
    sup.create_aloop("not_default")
    with pytest.raises(RuntimeError, match="aloop"):
        wrapped()
    with pytest.raises(LookupError):
        background_task(nothing, supervisor=sup, loop="missing")()
    assert sup.stats().coroutine.submitted == 0


def test_background_task_coroutine_callback_and_failure(sup):
    sup.create_aloop("main", default=True)
    got: list = []

    @background_task(supervisor=sup, callback=got.append, priority=TASK_NORMAL)
    async def compute(x):
        await asyncio.sleep(0)
        if x < 0:
            raise ValueError(f"negative {x}")
        return x * 10

    assert wait_completed(compute(4), timeout=WAIT) == 40
    assert got == [40]
    failed = compute(-1)
    with pytest.raises(ValueError, match="negative -1"):
        wait_completed(failed, timeout=WAIT)
    assert failed.status == TASK_STATUS_FAILED
    s = sup.stats().coroutine
    assert (s.completed, s.failed) == (1, 1)


# -- stopping with pending coroutines -----------------------------------------------------

def test_stop_aloop_with_cancel_tasks_cancels_pending_coroutines(sup):
    aloop = sup.create_aloop("c")
    started = [threading.Event() for _ in range(2)]
    tasks = [aloop.background_task(forever(e)) for e in started]
    assert all(e.wait(WAIT) for e in started)
    assert all(t.status == TASK_STATUS_STARTED for t in tasks)

    sup.stop_aloop("c", cancel_tasks=True)
    assert [t.status for t in tasks] == [TASK_STATUS_CANCELED] * 2
    assert not aloop.is_active()
    assert f"supervisor_{sup.id}_aloop_c" not in thread_names()
    s = sup.stats().coroutine
    assert s.canceled == 2 and sum(s.running.values()) == 0
    kinds = [e.kind for e in sup.events_since(0) if e.task_id == tasks[0].id]
    assert kinds == ["queued", "started", "canceled"]


def test_queued_coroutine_is_canceled_at_once_while_its_loop_is_busy(sup):
    aloop = sup.create_aloop("busy")
    blocking = threading.Event()
    release = threading.Event()

    async def hog():
        blocking.set()
        release.wait(WAIT)  # blocks the loop's thread on purpose
        await asyncio.Event().wait()

    hog_task = aloop.background_task(hog())
    assert blocking.wait(WAIT)
    queued = aloop.background_task(answer("never"))
    assert queued.status == TASK_STATUS_QUEUED  # the loop cannot run its wrapper
    stopper = threading.Thread(target=sup.stop_aloop, args=("busy",),
                               kwargs={"wait": True, "cancel_tasks": True})
    stopper.start()
    try:
        assert queued.wait(WAIT), "a queued coroutine was not canceled at once"
        assert queued.status == TASK_STATUS_CANCELED
    finally:
        release.set()
        stopper.join(WAIT)
    assert not stopper.is_alive()
    assert hog_task.status == TASK_STATUS_CANCELED


def test_stop_aloop_waits_for_running_coroutines(sup):
    aloop = sup.create_aloop("w")
    started = threading.Event()

    async def short():
        started.set()
        await asyncio.sleep(0.2)
        return "finished"

    task = aloop.background_task(short())
    assert started.wait(WAIT)
    sup.stop_aloop("w", wait=True)
    assert task.status == TASK_STATUS_COMPLETED and task.result == "finished"


def test_stop_aloop_with_a_bounded_wait_cancels_what_is_left(sup):
    aloop = sup.create_aloop("bounded")
    started = threading.Event()
    task = aloop.background_task(forever(started))
    assert started.wait(WAIT)
    t0 = time.monotonic()
    sup.stop_aloop("bounded", wait=0.2)
    assert time.monotonic() - t0 < WAIT
    assert task.status == TASK_STATUS_CANCELED
    assert not aloop.is_active()


def test_supervisor_stop_cancels_coroutines_and_stops_aloops(make_sup):
    sup = make_sup()
    aloop = sup.create_aloop("s")
    started = threading.Event()
    task = aloop.background_task(forever(started))
    assert started.wait(WAIT)
    sup.stop(wait=2, cancel_tasks=True)
    assert task.status == TASK_STATUS_CANCELED
    assert not aloop.is_active()
    assert sup.stats().aloops == {"s": False}
    assert f"supervisor_{sup.id}_aloop_s" not in thread_names()


def test_supervisor_stop_stops_aloops_last(make_sup):
    """A thread task that uses an aloop at its end still finds it running
    while stop(wait=True) waits for it."""
    sup = make_sup()
    aloop = sup.create_aloop("last")
    started = threading.Event()
    go = threading.Event()

    def thread_task():
        started.set()
        if not go.wait(WAIT):
            raise TimeoutError("never released")
        return aloop.run(answer("aloop still up"), timeout=WAIT)

    task = sup.submit(thread_task)
    assert started.wait(WAIT)
    stopper = threading.Thread(target=sup.stop, kwargs={"wait": True})
    stopper.start()
    try:
        assert wait_until(lambda: not sup.is_active()), "stop() did not begin"
        assert aloop.is_active()
    finally:
        go.set()
        stopper.join(WAIT)
    assert not stopper.is_alive()
    assert task.status == TASK_STATUS_COMPLETED, task.exception
    assert task.result == "aloop still up"
    assert not aloop.is_active()

