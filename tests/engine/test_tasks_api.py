"""Canceling, waiting for results, ``await task`` and ``background_task``."""

from __future__ import annotations

import asyncio

import pytest
from engine_testkit import WAIT, Recorder, check_invariant, events_of

import engine
from engine import (
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    Task,
    TaskCanceledError,
    background_task,
    wait_completed,
)


@pytest.fixture
def pool1(make_supervisor):
    return make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)


# -- cancel_task ------------------------------------------------------------------

def test_cancel_a_queued_task(pool1, make_supervisor):
    gate = make_supervisor.gate()
    pool1.submit(gate)
    never = Recorder()
    queued = pool1.submit(never)
    behind = pool1.submit(lambda: "behind")

    returned = pool1.cancel_task(queued.id)
    assert returned is queued
    assert queued.status == TASK_STATUS_CANCELED and queued.is_completed()
    assert not queued.is_started()
    assert events_of(pool1, queued.id)[-1].kind == "canceled"
    assert pool1.stats().thread.canceled == 1
    check_invariant(pool1.stats().thread)

    gate.release()
    assert wait_completed(behind, timeout=WAIT) == "behind"
    assert not never.calls
    assert pool1.get_task(queued.id) is queued  # kept in the history


def test_cancel_a_delayed_task(pool1):
    never = Recorder()
    delayed = pool1.submit(never, _delay=0.1)
    pool1.cancel_task(delayed.id)
    assert delayed.status == TASK_STATUS_CANCELED
    assert pool1.stats().thread.delayed == dict.fromkeys(engine.PRIORITIES, 0)
    # A task with a longer delay has run: the canceled one's time has come and gone.
    assert pool1.submit(lambda: None, _delay=0.2).wait(WAIT)
    assert not never.calls
    assert [e.kind for e in events_of(pool1, delayed.id)] == ["delayed", "canceled"]
    check_invariant(pool1.stats().thread)


def test_cancel_a_started_task_raises_runtime_error(pool1, make_supervisor):
    gate = make_supervisor.gate("ran")
    running = pool1.submit(gate)
    with pytest.raises(RuntimeError, match=str(running.id)):
        pool1.cancel_task(running.id)
    assert running.status == TASK_STATUS_STARTED
    gate.release()
    assert wait_completed(running, timeout=WAIT) == "ran"


def test_cancel_an_unknown_task_raises_lookup_error(pool1):
    with pytest.raises(LookupError, match="ghost"):
        pool1.cancel_task("ghost")
    finished = pool1.submit(lambda: None)
    assert finished.wait(WAIT)
    with pytest.raises(LookupError):
        pool1.cancel_task(finished.id)
    assert pool1.stats().thread.canceled == 0


# -- waiting for results ------------------------------------------------------------

def test_wait_completed_single_and_list(sup):
    assert wait_completed(sup.submit(lambda: 41 + 1), timeout=WAIT) == 42
    tasks = [sup.submit(lambda i=i: i * i) for i in range(6)]
    assert wait_completed(tasks, timeout=WAIT) == [0, 1, 4, 9, 16, 25]
    assert wait_completed((t for t in tasks), timeout=WAIT) == [0, 1, 4, 9, 16, 25]


def test_wait_completed_times_out(sup, make_supervisor):
    gate = make_supervisor.gate()
    task = sup.submit(gate)
    with pytest.raises(TimeoutError):
        wait_completed(task, timeout=0.05)
    with pytest.raises(TimeoutError):
        wait_completed([sup.submit(lambda: 1), task], timeout=0.05)
    gate.release()
    assert wait_completed(task, timeout=WAIT) is None


def test_wait_completed_reraises_the_original_exception(sup):
    error = ValueError("original")

    def fail():
        raise error

    failed = sup.submit(fail)
    with pytest.raises(ValueError) as info:
        wait_completed(failed, timeout=WAIT)
    assert info.value is error
    assert failed.status == TASK_STATUS_FAILED and failed.exception is error
    ok = sup.submit(lambda: 1)
    with pytest.raises(ValueError):
        wait_completed([ok, failed], timeout=WAIT)
    assert sup.stats().thread.failed == 1
    assert events_of(sup, failed.id)[-1].kind == "failed"


def test_wait_completed_on_a_canceled_task_raises_task_canceled_error(pool1, make_supervisor):
    pool1.submit(make_supervisor.gate())
    queued = pool1.submit(lambda: None)
    pool1.cancel_task(queued.id)
    with pytest.raises(TaskCanceledError):
        wait_completed(queued, timeout=WAIT)
    with pytest.raises(TaskCanceledError):
        queued.outcome()


def test_task_wait_returns_false_then_true(sup, make_supervisor):
    gate = make_supervisor.gate("r")
    task = sup.submit(gate)
    assert task.wait(0.05) is False
    assert not task.is_completed()
    gate.release()
    assert task.wait(WAIT) is True
    assert task.wait(0) is True
    assert task.is_completed() and task.is_started()
    assert task.status == TASK_STATUS_COMPLETED and task.result == "r"
    assert task.time_queued <= task.time_started <= task.time_completed


def test_await_task_returns_the_result(sup, make_supervisor):
    gate = make_supervisor.gate("awaited")
    task = sup.submit(gate)

    async def main():
        waiter = asyncio.ensure_future(_await(task))
        await asyncio.sleep(0)  # let it register before the task ends
        assert not waiter.done()
        gate.release()
        return await asyncio.wait_for(waiter, WAIT)

    assert asyncio.run(main()) == "awaited"
    # Awaiting a finished task returns at once.
    assert asyncio.run(_await(task)) == "awaited"


async def _await(task: Task):
    return await task


def test_await_task_raises_the_failure(sup):
    def fail():
        raise ZeroDivisionError("nope")

    task = sup.submit(fail)
    with pytest.raises(ZeroDivisionError):
        asyncio.run(asyncio.wait_for(_await(task), WAIT))


def test_await_canceled_task_raises_task_canceled_error(pool1, make_supervisor):
    pool1.submit(make_supervisor.gate())
    queued = pool1.submit(lambda: None)

    async def main():
        waiter = asyncio.ensure_future(_await(queued))
        await asyncio.sleep(0)
        pool1.cancel_task(queued.id)
        return await asyncio.wait_for(waiter, WAIT)

    with pytest.raises(TaskCanceledError):
        asyncio.run(main())


def test_submit_callback_receives_the_result(sup):
    callback = Recorder()
    task = sup.submit(lambda x, y=0: x + y, 2, y=3, _callback=callback, _name="adder")
    assert wait_completed(task, timeout=WAIT) == 5
    assert callback.called.wait(WAIT)
    assert callback.calls == [((5,), {})]
    assert task.name == "adder"


# -- background_task ------------------------------------------------------------------

def test_background_task_decorator_on_the_default_supervisor(default_supervisor):
    @background_task
    def double(x):
        return x * 2

    task = double(21)
    assert isinstance(task, Task)
    assert wait_completed(task, timeout=WAIT) == 42
    assert default_supervisor.get_task(task.id) is task
    assert task.priority == TASK_NORMAL
    assert "double" in task.name


def test_background_task_with_options(sup):
    callback = Recorder()

    @background_task(name="custom", priority=TASK_HIGH, supervisor=sup, callback=callback)
    def work(a, b=1):
        return a - b

    task = work(10, b=4)
    assert (task.name, task.priority) == ("custom", TASK_HIGH)
    assert wait_completed(task, timeout=WAIT) == 6
    assert callback.called.wait(WAIT) and callback.calls == [((6,), {})]
    assert sup.get_task(task.id) is task
    assert sup.stats().thread.completed == 1


def test_a_background_task_wrapper_stands_for_its_function(sup):
    import inspect
    import pickle

    import mp_targets

    def original(a: int, b: int = 2) -> int:
        """Adds."""
        return a + b

    original.tag = "kept"
    wrapper = background_task(original, supervisor=sup)
    assert wrapper.__wrapped__ is original
    assert (wrapper.__name__, wrapper.__qualname__, wrapper.__doc__) == (
        "original", original.__qualname__, "Adds.")
    assert wrapper.tag == "kept"
    assert inspect.signature(wrapper) == inspect.signature(original)
    assert not inspect.iscoroutinefunction(wrapper)
    wrapper.extra = 1  # attributes can be set on it, as on a function
    assert wrapper.extra == 1

    class Holder:
        @background_task(supervisor=sup)
        def method(self, x):
            return (self, x)

    holder = Holder()
    assert wait_completed(holder.method(5), timeout=WAIT) == (holder, 5)
    # A module-level decorated function pickles by reference, like the function.
    assert pickle.loads(pickle.dumps(mp_targets.decorated_cube)) is mp_targets.decorated_cube


def test_background_task_as_a_wrapper(sup):
    def plain(value):
        return f"wrapped {value}"

    submit = background_task(plain, name="x", priority=TASK_LOW, supervisor=sup)
    task = submit("call")
    assert task.name == "x" and task.priority == TASK_LOW
    assert wait_completed(task, timeout=WAIT) == "wrapped call"
    # Each call submits a new task.
    assert wait_completed([submit(1), submit(2)], timeout=WAIT) == ["wrapped 1", "wrapped 2"]


def test_background_task_with_delay(sup):
    @background_task(delay=0.1, supervisor=sup)
    def later():
        return "later"

    task = later()
    assert task.status == engine.TASK_STATUS_DELAYED
    assert wait_completed(task, timeout=WAIT) == "later"


def test_background_task_failure_fails_the_task(sup):
    @background_task(supervisor=sup)
    def broken():
        raise RuntimeError("broken")

    task = broken()
    with pytest.raises(RuntimeError, match="broken"):
        wait_completed(task, timeout=WAIT)
    assert task.status == TASK_STATUS_FAILED


def test_background_task_refuses_bad_options():
    with pytest.raises(ValueError, match="7"):
        background_task(lambda: None, priority=7)
    with pytest.raises(TypeError, match="42"):
        background_task(42)
    with pytest.raises(TypeError):
        background_task(lambda: None, supervisor="not a supervisor")


# -- inspection -------------------------------------------------------------------------

def test_get_task_get_tasks_and_get_info(pool1, make_supervisor):
    gate = make_supervisor.gate()
    running = pool1.submit(gate)
    queued = pool1.submit(lambda: "q")
    delayed = pool1.submit(lambda: "d", _delay=5)
    assert pool1.get_task(running.id) is running
    assert pool1.get_task("missing") is None
    live = pool1.get_tasks()
    assert {t.id for t in live} == {running.id, queued.id, delayed.id}
    assert {t.id for t in pool1.get_tasks(tt=engine.TT_THREAD)} == {t.id for t in live}
    assert pool1.get_tasks(tt=engine.TT_MP) == []
    info = pool1.get_info()
    assert info.thread_tasks_count == 1 and info.mp_tasks_count == 0
    assert info.active and info.supervisor_id == pool1.id
    assert queued.status == TASK_STATUS_QUEUED

    gate.release()
    assert wait_completed(queued, timeout=WAIT) == "q"
    assert {t.id for t in pool1.get_tasks()} == {delayed.id}
    assert pool1.get_task(running.id) is running  # finished, from the history
    assert pool1.get_info().thread_tasks_count == 0
    pool1.cancel_task(delayed.id)
    assert pool1.get_tasks() == []
