"""Edges left open by the first pass of "trust at the edges":

* a stop shares one deadline across all of its steps, so ``stop(wait=N)``
  returns within N s plus ``STOP_GRACE`` however many loops misbehave;
* a scheduler's ``stop()`` or a task's done callback raising ``SystemExit``
  or ``KeyboardInterrupt`` is contained.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from engine_testkit import WAIT, events_of, run_on

from engine import TASK_STATUS_COMPLETED
from engine.aloop import STOP_GRACE, ALoop

#: The README's promise: ``stop(wait=N)`` returns within N s plus half a second.
BOUND = 0.5
assert STOP_GRACE == BOUND


@pytest.fixture
def release():
    """An event every blocking helper of a test waits on; set at teardown."""
    event = threading.Event()
    yield event
    event.set()


def timed(fn, *args, **kwargs) -> float:
    t0 = time.monotonic()
    fn(*args, **kwargs)
    return time.monotonic() - t0


def block_an_aloop(sup, name: str, release: threading.Event) -> ALoop:
    """An aloop whose coroutine never yields to its loop until ``release``."""
    aloop = sup.create_aloop(name, daemon=True)
    started = threading.Event()

    async def block_the_loop():
        started.set()
        release.wait(30)  # a blocking call inside a coroutine

    aloop.background_task(block_the_loop())
    assert started.wait(WAIT)
    return aloop


def deafen_an_aloop(sup, name: str, release: threading.Event) -> ALoop:
    """An aloop whose coroutine swallows every cancellation until ``release``."""
    aloop = sup.create_aloop(name, daemon=True)
    started = threading.Event()

    async def swallow():
        started.set()
        while not release.is_set():
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                pass

    aloop.background_task(swallow())
    assert started.wait(WAIT)
    return aloop


class BlockingSyncScheduler:
    name = "blocking-sync"

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def stop(self, wait=True):
        self.release.wait(30)


class DeafAsyncScheduler:
    name = "deaf-async"

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    async def loop(self):
        while not self.release.is_set():
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                pass

    def stop(self, wait=True):
        pass


# -- 1. one deadline for the whole stop -------------------------------------------------
def test_two_blocked_aloops_cost_the_grace_once(make_supervisor, release, caplog):
    sup = make_supervisor()
    block_an_aloop(sup, "first", release)
    block_an_aloop(sup, "second", release)
    assert timed(sup.stop, wait=0.5) < 0.5 + BOUND
    abandoned = [r.getMessage() for r in caplog.records if "abandoned" in r.getMessage()]
    assert any("'first'" in m for m in abandoned), abandoned
    assert any("'second'" in m for m in abandoned), abandoned


def test_a_stop_where_everything_misbehaves_is_still_bounded(make_supervisor, release,
                                                            caplog):
    """Every kind of late stopper at once: a sync scheduler whose stop()
    blocks, an async scheduler ignoring cancellation, two aloops blocked by
    their coroutines, one whose coroutine swallows cancellation, and a
    callback blocking the supervisor's own loop."""
    sup = make_supervisor()
    sup.register_sync_scheduler(BlockingSyncScheduler(release))
    sup.register_scheduler(DeafAsyncScheduler(release))
    block_an_aloop(sup, "blocked-1", release)
    block_an_aloop(sup, "blocked-2", release)
    deafen_an_aloop(sup, "deaf", release)
    main_blocked = threading.Event()
    sup.dispatcher.loop.call_soon_threadsafe(
        lambda: (main_blocked.set(), release.wait(30)))
    assert main_blocked.wait(WAIT)
    assert timed(sup.stop, wait=0.5) < 0.5 + BOUND
    assert not sup.is_active()
    messages = " | ".join(r.getMessage() for r in caplog.records)
    for name in ("blocking-sync", "'blocked-1'", "'blocked-2'", "its loop thread"):
        assert name in messages, name


def test_aloop_stop_is_bounded_by_its_wait_plus_the_grace(make_supervisor, release):
    sup = make_supervisor()
    aloop = block_an_aloop(sup, "alone", release)
    assert timed(aloop.stop, wait=0.5) < 0.5 + BOUND
    assert not aloop.is_active()


def test_astop_on_a_host_loop_with_blocked_aloops_is_bounded(external_loop, make_supervisor,
                                                            release):
    sup = make_supervisor(loop=external_loop)
    block_an_aloop(sup, "host-1", release)
    block_an_aloop(sup, "host-2", release)

    async def timed_astop():
        t0 = time.monotonic()
        await sup.astop(wait=0.5)
        return time.monotonic() - t0

    assert run_on(external_loop, timed_astop()) < 0.5 + BOUND
    assert not sup.is_active()


# -- 2. containment: scheduler stop() and done callbacks --------------------------------
class Unwelcome(BaseException):
    """A BaseException that is neither Exception nor one Python knows."""


@pytest.mark.parametrize("error", [SystemExit(4), KeyboardInterrupt(), Unwelcome("no")],
                         ids=["SystemExit", "KeyboardInterrupt", "BaseException"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_scheduler_stop_raising_a_base_exception_is_contained(make_supervisor, caplog,
                                                                error, kind):
    sup = make_supervisor()
    calls = []
    ended = threading.Event()

    class Raising:
        name = f"raising-{kind}"

        def stop(self, wait=True):
            calls.append(threading.current_thread().name)
            ended.set()
            raise error

        async def loop(self):
            await asyncio.get_running_loop().run_in_executor(None, ended.wait, WAIT)

    scheduler = Raising()
    if kind == "sync":
        del Raising.loop
        sup.register_sync_scheduler(scheduler)
    else:
        sup.register_scheduler(scheduler)
    assert timed(sup.stop, wait=WAIT) < WAIT  # it completes, nothing escapes
    assert not sup.is_active()
    assert calls  # it was asked
    assert any(f"raising-{kind}" in r.getMessage() and type(error).__name__ in r.getMessage()
               for r in caplog.records if r.levelno >= logging.ERROR)
    sup.start()  # and it starts again
    assert sup.submit(lambda: "again").wait(WAIT)
    assert sup.is_active()


@pytest.mark.parametrize("error", [SystemExit(5), KeyboardInterrupt()],
                         ids=["SystemExit", "KeyboardInterrupt"])
def test_a_done_callback_raising_does_not_take_the_pool_down(make_supervisor, caplog, error):
    sup = make_supervisor(pool_size=1, reserve_normal=0, reserve_high=0)
    gate = make_supervisor.gate(result="first")
    task = sup.submit(gate)
    assert gate.started.wait(WAIT)
    called = []

    def raising_callback(t):
        called.append(t.id)
        raise error

    task.add_done_callback(raising_callback)
    gate.release()
    assert task.wait(WAIT)
    # The pool of one keeps serving: its only thread survived the callback.
    for n in range(3):
        assert sup.submit(lambda n=n: n).wait(WAIT)
    assert called == [task.id]
    assert task.status == TASK_STATUS_COMPLETED and task.result == "first"
    assert len(events_of(sup, task.id, "completed")) == 1  # ended once
    assert [e.kind for e in events_of(sup, task.id)].count("failed") == 0
    assert any("done callback" in r.getMessage() and type(error).__name__ in r.getMessage()
               for r in caplog.records)
    stats = sup.stats().thread
    assert stats.completed == 4 and stats.failed == 0


def test_a_done_callback_on_a_finished_task_raising_system_exit_is_logged(make_supervisor,
                                                                          caplog):
    """On a finished task the callback runs at once, in the caller's thread."""
    sup = make_supervisor()
    task = sup.submit(lambda: "over")
    assert task.wait(WAIT)

    def raising_callback(t):
        raise SystemExit(7)

    task.add_done_callback(raising_callback)  # nothing escapes
    assert any("done callback" in r.getMessage() and "SystemExit" in r.getMessage()
               for r in caplog.records)
    assert task.status == TASK_STATUS_COMPLETED and task.result == "over"
    assert len(events_of(sup, task.id, "completed")) == 1


def test_a_done_callback_raising_system_exit_leaves_the_aloop_serving(make_supervisor,
                                                                      caplog):
    sup = make_supervisor()
    aloop = sup.create_aloop("callbacks", daemon=True)
    go = threading.Event()

    async def wait_for_go():
        await asyncio.get_running_loop().run_in_executor(None, go.wait, WAIT)
        return "done"

    task = aloop.background_task(wait_for_go())

    def raising_callback(t):
        raise SystemExit(6)

    task.add_done_callback(raising_callback)
    go.set()
    assert task.wait(WAIT) and task.result == "done"

    async def still_there():
        return "alive"

    assert aloop.run(still_there(), timeout=WAIT) == "alive"
    assert aloop.is_active()
    assert len(events_of(sup, task.id, "completed")) == 1
    assert any("done callback" in r.getMessage() and "SystemExit" in r.getMessage()
               for r in caplog.records)
