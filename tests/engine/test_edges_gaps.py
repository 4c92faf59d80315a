"""Edges left open by the first pass of "trust at the edges":

* a stop shares one deadline across all of its steps, so ``stop(wait=N)``
  returns within N s plus ``STOP_GRACE`` however many loops misbehave;
* a scheduler's ``stop()`` or a task's done callback raising ``SystemExit``
  or ``KeyboardInterrupt`` is contained;
* a start or a stop interrupted at a given step (a Ctrl+C arriving there,
  simulated by a patched step raising ``KeyboardInterrupt``) leaves nothing
  running and a registry that tells the truth.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from engine_testkit import WAIT, events_of, pool_threads, run_on, wait_until

import engine.aloop
from engine import TASK_STATUS_COMPLETED
from engine.aloop import STOP_GRACE, ALoop
from engine.lifecycle import StopPlan
from engine.loopthread import LoopThread

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


def threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


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


# -- 3. interrupted at a given step -----------------------------------------------------
def test_aloop_start_interrupted_after_its_thread_started_stops_that_thread(
        make_supervisor, monkeypatch):
    sup = make_supervisor()
    aloop = sup.create_aloop("interrupted", daemon=True, start=False)
    started: list[LoopThread] = []

    def start_then_interrupt(self):
        original_start(self)
        started.append(self)
        raise KeyboardInterrupt

    original_start = LoopThread.start
    monkeypatch.setattr(LoopThread, "start", start_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        aloop.start()
    monkeypatch.undo()
    assert started and started[0].thread.ident is not None  # its thread did start
    assert not aloop.is_active()
    assert started[0].join(WAIT)  # and it was asked to stop
    assert started[0].loop.is_closed()
    assert not threads_named(aloop.thread_name)
    aloop.start()  # a later start works
    assert aloop.run(asyncio.sleep(0, "ok"), timeout=WAIT) == "ok"


def test_create_aloop_whose_start_raised_before_it_ran_is_as_if_never_created(
        make_supervisor, monkeypatch):
    sup = make_supervisor()
    previous = sup.create_aloop("previous-default", default=True, daemon=True)
    started: list[LoopThread] = []
    original_start = LoopThread.start

    def start_then_interrupt(self):
        original_start(self)
        started.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(LoopThread, "start", start_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sup.create_aloop("doomed", default=True, daemon=True)
    monkeypatch.undo()
    with pytest.raises(LookupError):
        sup.get_aloop("doomed")
    assert sup.get_aloop() is previous  # the default is as before
    assert "doomed" not in sup.stats().aloops
    assert started and started[0].join(WAIT)  # its thread did start, and ended
    again = sup.create_aloop("doomed", daemon=True)  # the name is free again
    assert again.is_active()


def test_create_aloop_whose_start_raised_once_it_runs_keeps_it(make_supervisor, monkeypatch):
    sup = make_supervisor()
    original_info = engine.aloop.log.info

    def info_then_interrupt(msg, *args, **kwargs):
        original_info(msg, *args, **kwargs)
        if msg.startswith("aloop %r started"):
            raise KeyboardInterrupt  # arrives once the aloop runs

    monkeypatch.setattr(engine.aloop.log, "info", info_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sup.create_aloop("kept", default=True, daemon=True)
    monkeypatch.undo()
    aloop = sup.get_aloop("kept")  # still registered: it runs
    assert aloop.is_active() and sup.get_aloop() is aloop
    assert sup.stats().aloops.get("kept") is True
    assert aloop.run(asyncio.sleep(0, "served"), timeout=WAIT) == "served"
    with pytest.raises(ValueError):
        sup.create_aloop("kept")
    thread = aloop.thread
    sup.stop(wait=WAIT)  # and the supervisor's stop stops it
    thread.join(WAIT)
    assert not thread.is_alive()


def test_loop_thread_start_interrupted_while_waiting_for_its_loop_leaves_nothing(
        monkeypatch):
    class InterruptedReady(threading.Event):
        def wait(self, timeout=None):
            super().wait(timeout)  # the loop runs: the thread is there
            raise KeyboardInterrupt

    runner = LoopThread("edges_gaps_interrupted_ready", daemon=True)
    runner._ready = InterruptedReady()
    with pytest.raises(KeyboardInterrupt):
        runner.start()
    assert runner.join(WAIT)
    assert runner.loop.is_closed()


def test_supervisor_start_interrupted_after_its_loop_thread_started_rolls_back(
        make_supervisor, monkeypatch):
    sup = make_supervisor(start=False)
    loop_threads: list[LoopThread] = []
    original_start = LoopThread.start

    def start_then_interrupt(self):
        original_start(self)
        loop_threads.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(LoopThread, "start", start_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sup.start()
    monkeypatch.undo()
    assert len(loop_threads) == 1 and loop_threads[0].join(WAIT)  # stopped again
    assert not sup.is_active() and "stopped" in repr(sup)
    sup.start()
    assert sup.submit(lambda: "started").wait(WAIT)


def test_supervisor_start_interrupted_just_before_it_is_active_rolls_back(make_supervisor,
                                                                          monkeypatch):
    """Interrupted in the last step before it turns active (the threads of
    ``min_size`` reserved but not started yet): nothing is left running and
    the thread counts are given back."""
    sup = make_supervisor(start=False, min_size=2)
    loop_threads: list[LoopThread] = []
    original_start = LoopThread.start
    original_reopen = sup._threads.reopen_locked

    def record_start(self):
        original_start(self)
        loop_threads.append(self)

    def reopen_then_interrupt(actions):
        original_reopen(actions)
        raise KeyboardInterrupt

    monkeypatch.setattr(LoopThread, "start", record_start)
    monkeypatch.setattr(sup._threads, "reopen_locked", reopen_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sup.start()
    monkeypatch.undo()
    assert len(loop_threads) == 1  # its main loop had started
    assert loop_threads[0].join(WAIT)  # and was stopped again
    assert not sup.is_active() and "stopped" in repr(sup)
    with pytest.raises(RuntimeError):
        sup.submit(lambda: None)
    assert wait_until(lambda: not pool_threads(sup))
    assert sup.stats().thread.threads_alive == 0
    sup.start()
    assert sup.submit(lambda: "started").wait(WAIT)
    assert wait_until(lambda: sup.stats().thread.threads_alive == 2)


def test_supervisor_start_interrupted_once_active_runs_its_other_steps(make_supervisor,
                                                                       monkeypatch):
    sup = make_supervisor(min_size=2)
    aloop = sup.create_aloop("restarted", daemon=True)
    sup.stop(wait=WAIT)
    assert not aloop.is_active()

    def interrupted_attach(loop):
        raise KeyboardInterrupt

    monkeypatch.setattr(sup._timeouts, "attach", interrupted_attach)
    with pytest.raises(KeyboardInterrupt):
        sup.start()
    monkeypatch.undo()
    assert sup.is_active()  # it was active: the later steps ran all the same
    assert aloop.is_active()
    assert wait_until(lambda: len(pool_threads(sup)) == 2)
    assert sup.submit(lambda: "served").wait(WAIT)
    sup.stop(wait=WAIT)  # and it stops, and starts again
    assert wait_until(lambda: not pool_threads(sup))
    sup.start()
    assert sup.submit(lambda: "again").wait(WAIT)


def test_every_step_of_the_stop_runs_after_a_second_ctrl_c(make_supervisor, monkeypatch):
    sup = make_supervisor()
    aloop = sup.create_aloop("after-interrupt", daemon=True)
    aloop_thread, main_thread = aloop.thread, sup._life.runner.thread
    original = StopPlan._close_threads

    def interrupted_close(self):
        original(self)
        raise KeyboardInterrupt  # the second Ctrl+C, in the middle of finish()

    monkeypatch.setattr(StopPlan, "_close_threads", interrupted_close)
    with pytest.raises(KeyboardInterrupt):
        sup.stop(wait=WAIT)
    monkeypatch.undo()
    # The steps after the interrupted one ran: aloops and main loop stopped.
    assert not aloop.is_active()
    aloop_thread.join(WAIT)
    main_thread.join(WAIT)
    assert not aloop_thread.is_alive() and not main_thread.is_alive()
    assert "stopped" in repr(sup)
    sup.start()
    assert aloop.is_active()  # restarted with the supervisor
    assert sup.submit(lambda: "again").wait(WAIT)


def test_an_aloop_left_running_by_an_interrupted_stop_is_not_started_twice(
        make_supervisor, monkeypatch):
    sup = make_supervisor()
    stuck = sup.create_aloop("left-running", daemon=True)
    other = sup.create_aloop("stopped-anyway", daemon=True)
    stuck_thread, other_thread = stuck.thread, other.thread
    original = ALoop.stop_until

    def interrupted_stop_until(self, *args, **kwargs):
        if self is stuck:
            raise KeyboardInterrupt  # before it is even marked stopping
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ALoop, "stop_until", interrupted_stop_until)
    with pytest.raises(KeyboardInterrupt):
        sup.stop(wait=WAIT)
    monkeypatch.undo()
    assert stuck.is_active() and stuck_thread.is_alive()  # left running
    other_thread.join(WAIT)
    assert not other.is_active() and not other_thread.is_alive()  # every one was asked
    sup.start()  # no "already running": the running one is not started again
    assert stuck.thread is stuck_thread
    assert other.is_active() and other.thread is not other_thread
    assert len(threads_named(stuck.thread_name)) == 1
    assert stuck.run(asyncio.sleep(0, "one loop"), timeout=WAIT) == "one loop"
    sup.stop(wait=WAIT)
    stuck_thread.join(WAIT)
    assert not stuck_thread.is_alive()


def test_ctrl_c_from_a_done_callback_on_the_main_thread_reaches_it(make_supervisor):
    """A finished task's callback runs at once on the caller's thread: Ctrl+C
    raised there (the main thread) is not swallowed."""
    sup = make_supervisor()
    task = sup.submit(lambda: "over")
    assert task.wait(WAIT)

    def interrupted(t):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        task.add_done_callback(interrupted)


def test_ctrl_c_in_a_done_callback_run_by_the_main_thread_comes_after_the_others(
        make_supervisor):
    """The main thread finishing a task (mark_task_completed of a put_task
    task) runs its done callbacks: every one runs, then Ctrl+C is re-raised."""
    sup = make_supervisor()
    started = threading.Event()
    task = sup.put_task(lambda _task_id: started.set())
    assert started.wait(WAIT)
    ran = []
    task.add_done_callback(lambda t: (_ for _ in ()).throw(KeyboardInterrupt()))
    task.add_done_callback(lambda t: ran.append(t.id))
    with pytest.raises(KeyboardInterrupt):
        sup.mark_task_completed(task_id=task.id)
    assert ran == [task.id] and task.wait(0)
    assert sup.submit(lambda: 1).wait(WAIT)
