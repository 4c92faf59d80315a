"""User code never takes the engine down: any BaseException from a callback,
a timeout function, a coroutine, a scheduler or a loop callback is contained
where the engine calls it; the task ends exactly once and the pool and the
loops keep serving."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from engine_testkit import WAIT, Recorder, check_invariant, run_on, wait_until

from engine import TASK_LOW, TASK_STATUS_COMPLETED, TASK_STATUS_FAILED

ESCAPES = [SystemExit(3), KeyboardInterrupt(), GeneratorExit(), ValueError("boom")]
IDS = ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "ValueError"]


def raiser(exc: BaseException):
    def raise_it(*args, **kwargs):
        raise exc
    return raise_it


@pytest.mark.parametrize("exc", ESCAPES, ids=IDS)
def test_thread_callback_raising_anything_keeps_the_task_and_the_pool(make_supervisor, exc,
                                                                       caplog):
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0, max_size=1)
    task = sup.submit(lambda: 42, _callback=raiser(exc))
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_COMPLETED and task.result == 42
    after = sup.submit(lambda: "next")  # the single thread still serves
    assert after.wait(WAIT) and after.result == "next"
    assert any("callback" in r.getMessage() and type(exc).__name__ in r.getMessage()
               for r in caplog.records)
    check_invariant(sup.stats().thread)


@pytest.mark.parametrize("exc", ESCAPES, ids=IDS)
def test_target_raising_anything_fails_only_its_task(make_supervisor, exc):
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0, max_size=1)
    task = sup.submit(raiser(exc))
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_FAILED and task.exception is exc
    assert sup.submit(lambda: 1).wait(WAIT)


@pytest.mark.parametrize("exc", [SystemExit(2), KeyboardInterrupt()], ids=IDS[:2])
def test_timeout_function_raising_keeps_the_main_loop(make_supervisor, exc):
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    blocker = threading.Event()
    sup.submit(blocker.wait, WAIT)
    sup.timeout_warning_func = raiser(exc)
    sup.timeout_warning = 0.01
    waiting = sup.submit(lambda: None, _priority=TASK_LOW)
    assert wait_until(lambda: any(e.kind == "timeout_warning" and e.task_id == waiting.id
                                  for e in sup.events_since(0)))
    # The loop still owns time: a delayed task is released after the fault.
    delayed = sup.submit(lambda: "late", _delay=0.01, _priority=TASK_LOW)
    blocker.set()
    assert delayed.wait(WAIT) and delayed.result == "late"
    assert sup.is_active()


def test_aloop_run_of_a_coroutine_raising_system_exit(make_supervisor):
    sup = make_supervisor()
    aloop = sup.create_aloop("exits")

    async def leave():
        raise SystemExit(5)

    async def answer():
        return 42

    with pytest.raises(SystemExit):
        aloop.run(leave(), timeout=WAIT)
    assert aloop.is_active()
    assert aloop.run(answer(), timeout=WAIT) == 42


def test_loop_callback_raising_system_exit_does_not_end_the_loop(make_supervisor):
    sup = make_supervisor()
    aloop = sup.create_aloop("callbacks")
    loop = aloop.get_loop()
    loop.call_soon_threadsafe(raiser(SystemExit(1)))
    loop.call_soon_threadsafe(raiser(KeyboardInterrupt()))

    async def answer():
        return "still here"

    assert aloop.run(answer(), timeout=WAIT) == "still here"
    assert aloop.thread.is_alive()


@pytest.mark.parametrize("exc", [SystemExit(4), KeyboardInterrupt()], ids=IDS[:2])
def test_scheduler_loop_raising_ends_only_that_scheduler(make_supervisor, exc, caplog):
    sup = make_supervisor()

    class Broken:
        name = "broken"

        async def loop(self):
            raise exc

        def stop(self, wait=True):
            pass

    future = sup.register_scheduler(Broken())
    with pytest.raises(BaseException):  # noqa: B017 - whatever it carries
        future.result(WAIT)
    assert wait_until(lambda: not sup.get_schedulers())
    # The supervisor's loop keeps serving: delayed tasks are still released.
    assert sup.submit(lambda: 1, _delay=0.01).wait(WAIT)
    assert any("broken" in r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR)


@pytest.mark.parametrize("exc", [SystemExit(6), KeyboardInterrupt()], ids=IDS[:2])
def test_coroutine_task_raising_fails_only_its_task(make_supervisor, exc):
    sup = make_supervisor()
    aloop = sup.create_aloop("coros")

    async def leave():
        raise exc

    task = aloop.background_task(leave())
    assert task.wait(WAIT) and task.status == TASK_STATUS_FAILED
    recorder = Recorder()

    async def after():
        recorder()

    assert aloop.background_task(after()).wait(WAIT)
    assert recorder.called.is_set()


def test_coroutine_task_on_an_external_loop_raising_system_exit(make_supervisor,
                                                                external_loop):
    sup = make_supervisor(loop=external_loop)

    async def leave():
        raise SystemExit(7)

    task = sup.dispatcher.submit_coroutine(leave(), external_loop)
    assert task.wait(WAIT) and task.status == TASK_STATUS_FAILED

    async def ping():
        return "pong"

    assert run_on(external_loop, ping()) == "pong"


def test_keyboard_interrupt_from_a_callback_on_the_main_thread_reaches_it(make_supervisor):
    """Ctrl+C raised by user code the engine runs on the main thread is
    re-raised there once the bookkeeping is done."""
    loop = asyncio.new_event_loop()
    try:
        sup = make_supervisor(loop=loop, pool_size=1, reserve_normal=0, reserve_high=0)
        blocker = threading.Event()
        sup.submit(blocker.wait, WAIT)
        sup.timeout_warning_func = raiser(KeyboardInterrupt())
        sup.timeout_warning = 0.01
        sup.submit(lambda: None, _priority=TASK_LOW)
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(asyncio.sleep(WAIT))
        blocker.set()
        loop.run_until_complete(sup.astop(wait=WAIT))
        assert not sup.is_active()
    finally:
        loop.close()
