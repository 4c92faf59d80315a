"""Workers at their edges: user code that raises anything, bad arguments,
and stops that must stay bounded whatever the executor does.

* Containment: an executor of every kind (thread task, coroutine on an aloop,
  coroutine on the supervisor's own loop, static ``run`` in the mp pool),
  ``process_result`` and ``on_error`` raising any ``BaseException`` is one
  counted error; the worker runs again, the supervisor's loop keeps serving
  (a delayed task is still released) and ``stop()`` still works.
* Validation: every refused call names the parameter and the value and
  leaves the worker's state (active, priority, interval, name) unchanged.
* Bounded stop: ``stop(wait=N)`` returns within N s plus a margin even when
  the executor blocks, and logs what it abandons by the worker's name.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time

import pytest
import worker_mp_targets
from engine_testkit import WAIT, wait_until

from engine import (
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    BackgroundAsyncWorker,
    BackgroundEventWorker,
    BackgroundIntervalWorker,
    BackgroundQueueWorker,
    BackgroundWorker,
    TaskSupervisor,
    background_worker,
)

#: Margin over a stop's ``wait`` (thread wake-ups, logging): generous, it only
#: matters when it fails.
MARGIN = 1.0
#: What user code raises: a fresh instance per test (a raised exception object
#: keeps the traceback of every place it went through).
RAISED = [SystemExit, KeyboardInterrupt, GeneratorExit, ValueError]
RAISED_IDS = [t.__name__ for t in RAISED]


@pytest.fixture
def gates():
    """Events a test blocks executors on; all set at teardown (before the
    supervisors stop)."""
    events: list[threading.Event] = []
    yield events
    for event in events:
        event.set()


@pytest.fixture
def sup(make_supervisor, gates) -> TaskSupervisor:
    supervisor = make_supervisor(pool_size=4, reserve_normal=1, reserve_high=1)
    yield supervisor
    for event in gates:  # release blocked executors before make_supervisor stops it
        event.set()


class Errors:
    """An ``on_error`` that records what it gets, with a condition to wait on."""

    def __init__(self, raise_: BaseException | None = None) -> None:
        self.items: list[BaseException] = []
        self._cond = threading.Condition()
        self._raise = raise_

    def __call__(self, exc: BaseException) -> None:
        with self._cond:
            self.items.append(exc)
            self._cond.notify_all()
        if self._raise is not None:
            raise self._raise

    def wait_for(self, n: int, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.items) >= n, timeout)


def assert_serves(sup: TaskSupervisor) -> None:
    """The supervisor's loop still owns time: a delayed task gets released."""
    assert sup.is_active()
    task = sup.submit(lambda: "served", _delay=0.01, _name="probe")
    assert task.wait(WAIT), "the supervisor's loop no longer releases delayed tasks"
    assert task.result == "served"


def assert_stops(sup: TaskSupervisor, *workers: BackgroundWorker) -> None:
    t0 = time.monotonic()
    sup.stop(wait=2)
    assert time.monotonic() - t0 < 2 + MARGIN
    assert not sup.is_active()
    assert not any(w.is_active() for w in workers)


def raising_once(exc: BaseException, runs: list):
    """An executor (thread) raising ``exc`` on its first run, ``None`` after."""
    def executor(**kwargs):
        runs.append(threading.current_thread().name)
        if len(runs) == 1:
            raise exc
    return executor


# -- containment --------------------------------------------------------------------------------

@pytest.mark.parametrize("raised", RAISED, ids=RAISED_IDS)
def test_thread_executor_raising_anything_is_one_error_and_the_worker_runs_again(sup, raised):
    exc = raised("raised by the test")
    runs: list = []
    errors = Errors()
    worker = BackgroundWorker("thread_raiser", raising_once(exc, runs), on_error=errors,
                              supervisor=sup)
    worker.start()
    assert wait_until(lambda: len(runs) >= 3), "the worker did not run again"
    assert errors.items[0] is exc and worker.errors == 1
    assert worker.is_active()
    assert_serves(sup)
    assert_stops(sup, worker)


@pytest.mark.parametrize("raised", RAISED, ids=RAISED_IDS)
def test_async_executor_on_an_aloop_raising_anything_is_contained(sup, raised):
    exc = raised("raised by the test")
    aloop = sup.create_aloop("raising_loop")
    runs: list = []
    errors = Errors()

    async def executor(**kwargs):
        runs.append(threading.current_thread().name)
        if len(runs) == 1:
            raise exc

    worker = BackgroundAsyncWorker("async_raiser", executor, loop=aloop, on_error=errors,
                                   supervisor=sup)
    worker.start()
    assert wait_until(lambda: len(runs) >= 3), "the worker did not run again"
    assert type(errors.items[0]) is type(exc) and worker.errors == 1
    assert worker.is_active() and aloop.is_active()
    assert aloop.run(asyncio.sleep(0, "aloop serves"), timeout=WAIT) == "aloop serves"
    assert_serves(sup)
    assert_stops(sup, worker)


@pytest.mark.parametrize("raised", RAISED, ids=RAISED_IDS)
def test_async_executor_on_the_supervisor_loop_raising_anything_is_contained(sup, raised):
    exc = raised("raised by the test")
    """No aloop: the executor runs on the supervisor's own loop, which must
    survive it (a SystemExit there used to end the loop while is_active()
    still said True)."""
    runs: list = []
    errors = Errors()

    async def executor(**kwargs):
        runs.append(threading.current_thread().name)
        if len(runs) == 1:
            raise exc

    worker = BackgroundAsyncWorker("main_loop_raiser", executor, on_error=errors,
                                   supervisor=sup)
    worker.start()
    assert wait_until(lambda: len(runs) >= 3), "the worker did not run again"
    assert runs[0] == f"supervisor_{sup.id}_event_loop"
    assert type(errors.items[0]) is type(exc) and worker.errors == 1
    assert worker.is_active()
    assert_serves(sup)
    assert_stops(sup, worker)


def test_static_run_raising_system_exit_in_the_child_is_contained(sup):
    sup.create_mp_pool(processes=1)
    errors = Errors()

    class Exiter(BackgroundWorker):
        run = staticmethod(worker_mp_targets.exit_on_odd)

    worker = Exiter(name="mp_exiter", on_error=errors, supervisor=sup)
    worker.start(1)
    assert errors.wait_for(2), "the worker did not run again after SystemExit in the child"
    assert all(isinstance(e, SystemExit) for e in errors.items)
    assert worker.is_active()
    assert_serves(sup)
    assert_stops(sup, worker)


@pytest.mark.parametrize("raised", RAISED[:2], ids=RAISED_IDS[:2])
def test_process_result_raising_is_an_error_and_the_worker_goes_on(sup, raised):
    exc = raised("raised by the test")
    sup.create_mp_pool(processes=1)
    errors = Errors()
    got: list = []

    class Feeder(BackgroundWorker):
        run = staticmethod(worker_mp_targets.exit_on_odd)

        def process_result(self, result):
            got.append(result)
            raise exc

    worker = Feeder(name="mp_feeder", on_error=errors, supervisor=sup)
    worker.start(2)
    assert errors.wait_for(2)
    assert got[:2] == [2, 2] and errors.items[0] is exc
    assert worker.errors >= 2 and worker.is_active()
    assert_serves(sup)
    assert_stops(sup, worker)


@pytest.mark.parametrize("raised", RAISED, ids=RAISED_IDS)
def test_on_error_raising_is_logged_counted_and_the_worker_goes_on(sup, raised, caplog):
    exc = raised("raised by the test")
    caplog.set_level(logging.ERROR, logger="engine")
    runs: list = []
    errors = Errors(raise_=exc)
    worker = BackgroundWorker("bad_handler", raising_once(ValueError("first"), runs),
                              on_error=errors, supervisor=sup)
    worker.start()
    assert wait_until(lambda: len(runs) >= 3), "the worker did not run again"
    assert worker.errors == 2  # the executor's error, then on_error's own
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is exc]
    assert logged and "bad_handler" in logged[0].getMessage()
    assert_serves(sup)
    assert_stops(sup, worker)


@pytest.mark.parametrize("raised", RAISED, ids=RAISED_IDS)
def test_queue_worker_items_raising_anything_do_not_stop_the_drain(sup, raised):
    exc = raised("raised by the test")
    done: list = []
    errors = Errors()

    def executor(item, **kwargs):
        if item == "bad":
            raise exc
        done.append(item)

    worker = BackgroundQueueWorker("q_raiser", executor, on_error=errors, supervisor=sup)
    worker.start()
    for item in ("a", "bad", "b", "bad", "c"):
        worker.put_threadsafe(item)
    assert wait_until(lambda: done == ["a", "b", "c"]), done
    assert errors.wait_for(2) and worker.errors == 2
    assert worker.is_active()
    worker.put_threadsafe("d")
    assert wait_until(lambda: done[-1:] == ["d"])
    assert_serves(sup)
    assert_stops(sup, worker)


def test_async_queue_worker_item_raising_system_exit_is_contained(sup):
    sup.create_aloop("qloop", default=True)
    done: list = []
    errors = Errors()

    async def executor(item, **kwargs):
        if item == "bad":
            raise SystemExit("bad item")
        done.append(item)

    worker = BackgroundQueueWorker("aq_raiser", executor, on_error=errors, supervisor=sup)
    worker.start()
    for item in ("a", "bad", "b"):
        worker.put_threadsafe(item)
    assert wait_until(lambda: done == ["a", "b"]), done
    assert isinstance(errors.items[0], SystemExit) and worker.errors == 1
    assert_serves(sup)
    assert_stops(sup, worker)


def test_executor_error_without_on_error_is_logged_with_the_worker_name(sup, caplog):
    caplog.set_level(logging.ERROR, logger="engine")
    runs: list = []
    exc = SystemExit("logged exit")
    worker = BackgroundWorker("logged_exit", raising_once(exc, runs), supervisor=sup)
    worker.start()
    assert wait_until(lambda: len(runs) >= 2)
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is exc]
    assert logged and "logged_exit" in logged[0].getMessage()
    worker.stop()


# -- validation: refuse before changing anything -------------------------------------------------

def state(worker: BackgroundWorker) -> tuple:
    return (worker.is_active(), worker.priority, worker.interval, worker.name, worker.delay,
            worker.delay_before, worker._args, worker._kwargs, worker._loop_ref)


def idle(**kwargs):
    return None


BAD_WAITS = [("soon", TypeError), (None, TypeError), (-1, ValueError), (math.nan, ValueError),
             (math.inf, ValueError), (threading.TIMEOUT_MAX * 2, ValueError), ([1], TypeError)]


@pytest.mark.parametrize("wait, error", BAD_WAITS)
def test_stop_with_a_bad_wait_refuses_and_leaves_the_worker_running(sup, wait, error):
    worker = BackgroundEventWorker("stays", idle, supervisor=sup)
    worker.start("arg")
    before = state(worker)
    with pytest.raises(error, match="wait"):
        worker.stop(wait=wait)
    assert state(worker) == before and worker.is_active()
    with pytest.raises(error, match="wait"):
        worker.restart(wait=wait)
    assert state(worker) == before and worker.is_active()
    worker.stop()
    assert not worker.is_active()


@pytest.mark.parametrize("overrides, error, match", [
    ({"_priority": TASK_HIGH, "_interval": -1}, ValueError, "_interval"),
    ({"_priority": TASK_HIGH, "_interval": math.inf}, ValueError, "_interval"),
    ({"_priority": TASK_HIGH, "_interval": "1"}, TypeError, "_interval"),
    ({"_priority": TASK_HIGH, "_interval": 0}, ValueError, "_interval"),
    ({"_name": "renamed", "_priority": True}, ValueError, "True"),
    ({"_name": "renamed", "_priority": 75}, ValueError, "75"),
    ({"_priority": TASK_HIGH, "_name": 5}, TypeError, "_name"),
    ({"_priority": TASK_HIGH, "_name": ""}, ValueError, "_name"),
    ({"_priority": TASK_HIGH, "_name": "x" * 500}, ValueError, "_name"),
    ({"_priority": TASK_HIGH, "_loop": 3}, TypeError, "_loop"),
    ({"_priority": TASK_HIGH, "o": 1}, TypeError, "'o'"),
    ({"_priority": TASK_HIGH, "_worker": 1}, TypeError, "_worker"),
], ids=["interval-negative", "interval-inf", "interval-str", "interval-zero", "priority-bool",
        "priority-75", "name-int", "name-empty", "name-long", "loop-int", "o", "_worker"])
def test_start_with_a_bad_override_refuses_and_changes_nothing(sup, overrides, error, match):
    worker = BackgroundIntervalWorker("ticker", idle, interval=30, priority=TASK_LOW,
                                      supervisor=sup)
    before = state(worker)
    with pytest.raises(error, match=match):
        worker.start("arg", **overrides)
    assert state(worker) == before
    assert worker.priority == TASK_LOW and worker.interval == 30 and worker.name == "ticker"
    assert worker not in sup.get_schedulers()
    worker.start()  # the refusal left nothing behind
    assert worker.is_active()
    worker.stop()


def test_interval_override_on_a_worker_that_has_no_interval_is_refused(sup):
    worker = BackgroundWorker("plain", idle, delay=10, supervisor=sup)
    with pytest.raises(TypeError, match="_interval=0.5.*interval workers"):
        worker.start(_interval=0.5, _priority=TASK_HIGH)
    assert not worker.is_active() and worker.priority == TASK_NORMAL


def test_start_while_running_refuses_without_taking_the_overrides(sup):
    worker = BackgroundIntervalWorker("busy", idle, interval=30, supervisor=sup)
    worker.start("first")
    before = state(worker)
    with pytest.raises(RuntimeError, match="already running"):
        worker.start("second", _priority=TASK_HIGH, _interval=1, _name="other")
    assert state(worker) == before
    worker.stop()


def test_start_on_an_unknown_loop_changes_nothing(sup):
    async def executor(**kwargs):
        return None

    worker = BackgroundAsyncWorker("lost", executor, supervisor=sup)
    before = state(worker)
    with pytest.raises((RuntimeError, LookupError)):
        worker.start(_loop="no_such_aloop", _priority=TASK_HIGH, _name="found")
    assert state(worker) == before


def test_start_on_an_inactive_supervisor_changes_nothing(make_supervisor):
    sup = make_supervisor(start=False)
    worker = BackgroundEventWorker("early", idle, supervisor=sup)
    before = state(worker)
    with pytest.raises(RuntimeError, match="not active"):
        worker.start(_priority=TASK_HIGH, _name="later")
    assert state(worker) == before


@pytest.mark.parametrize("kwargs, error, match", [
    ({"name": 5}, TypeError, "name"),
    ({"name": ""}, ValueError, "name"),
    ({"name": "n" * 201}, ValueError, "name"),
    ({"executor_func": 3}, TypeError, "executor_func"),
    ({"priority": True}, ValueError, "True"),
    ({"priority": 75}, ValueError, "75"),
    ({"delay": -1}, ValueError, "delay"),
    ({"delay": math.nan}, ValueError, "delay"),
    ({"delay": "1"}, TypeError, "delay"),
    ({"delay": True}, TypeError, "delay"),
    ({"delay": threading.TIMEOUT_MAX + 1e6}, ValueError, "delay"),
    ({"delay_before": math.inf}, ValueError, "delay_before"),
    ({"interval": 0}, ValueError, "interval"),
    ({"on_error": 3}, TypeError, "on_error"),
    ({"loop": 3}, TypeError, "loop"),
    ({"loop": ""}, ValueError, "loop"),
    ({"supervisor": "default"}, TypeError, "supervisor"),
], ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_constructor_checks_every_argument(kwargs, error, match):
    options = {"name": "w", "executor_func": idle, **kwargs}
    with pytest.raises(error, match=match):
        BackgroundWorker(**options)


def test_constructor_needs_an_executor_and_an_interval_worker_an_interval():
    with pytest.raises(TypeError, match="executor"):
        BackgroundWorker("nothing")
    with pytest.raises(ValueError, match="interval"):
        BackgroundIntervalWorker("no_interval", idle)
    with pytest.raises(ValueError, match="interval=1.*delay=2"):
        BackgroundIntervalWorker("both", idle, interval=1, delay=2)
    with pytest.raises(ValueError, match="interval"):
        BackgroundIntervalWorker("negative", idle, interval=-1)
    assert BackgroundIntervalWorker("alias", idle, delay=2).interval == 2.0


@pytest.mark.parametrize("options, error, match", [
    ({"q": "yes"}, TypeError, "q"),
    ({"event": 1}, TypeError, "event"),
    ({"q": True, "e": True}, ValueError, "queue and event"),
    ({"queue": True, "interval": 1}, ValueError, "queue and interval"),
    ({"interval": 1, "delay": 2}, ValueError, "not both"),
    ({"interval": -1}, ValueError, "interval"),
    ({"delay": math.nan}, ValueError, "delay"),
    ({"delay_before": "soon"}, TypeError, "delay_before"),
    ({"priority": True}, ValueError, "True"),
    ({"name": 3}, TypeError, "name"),
    ({"on_error": "log"}, TypeError, "on_error"),
    ({"loop": 1.5}, TypeError, "loop"),
    ({"supervisor": object()}, TypeError, "supervisor"),
], ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_decorator_checks_its_options_when_made(options, error, match):
    with pytest.raises(error, match=match):
        background_worker(**options)  # refused before any function is given
    with pytest.raises(error, match=match):
        background_worker(idle, **options)


def test_decorator_refuses_a_non_callable():
    with pytest.raises(TypeError, match="f must be callable"):
        background_worker(42)


# -- bounded stop -------------------------------------------------------------------------------

def test_stop_wait_n_is_bounded_when_a_thread_executor_blocks(sup, gates, caplog):
    caplog.set_level(logging.WARNING, logger="engine")
    running, release = threading.Event(), threading.Event()
    gates.append(release)
    runs: list = []

    def blocker(**kwargs):
        runs.append(1)
        running.set()
        release.wait(WAIT * 2)

    worker = BackgroundWorker("stuck_thread", blocker, supervisor=sup)
    worker.start()
    assert running.wait(WAIT)
    t0 = time.monotonic()
    worker.stop(wait=0.3)
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 0.3 + MARGIN, elapsed
    assert not worker.is_active()
    abandoned = [r.getMessage() for r in caplog.records if "abandoned" in r.getMessage()]
    assert abandoned and "stuck_thread" in abandoned[0], caplog.text
    with pytest.raises(RuntimeError, match="still running"):
        worker.start()  # its abandoned execution still runs: a clear refusal
    assert not worker.is_active()
    release.set()
    assert wait_until(lambda: worker not in sup.get_schedulers())
    assert len(runs) == 1  # an abandoned worker does not run again
    worker.start()
    assert wait_until(lambda: len(runs) >= 2)
    release.set()
    worker.stop(wait=WAIT)


@pytest.mark.parametrize("blocks_the_loop", [False, True], ids=["awaits", "blocks-thread"])
def test_stop_wait_n_is_bounded_when_an_async_executor_never_ends(sup, gates, caplog,
                                                                  blocks_the_loop):
    caplog.set_level(logging.WARNING, logger="engine")
    aloop = sup.create_aloop("stuck_loop")
    running, release = threading.Event(), threading.Event()
    gates.append(release)

    async def blocker(**kwargs):
        running.set()
        if blocks_the_loop:
            release.wait(WAIT * 2)  # a coroutine that never yields: its loop is stuck
        else:
            while not release.is_set():
                await asyncio.sleep(0.01)

    worker = BackgroundAsyncWorker("stuck_async", blocker, loop=aloop, supervisor=sup)
    worker.start()
    assert running.wait(WAIT)
    t0 = time.monotonic()
    worker.stop(wait=0.3)
    assert time.monotonic() - t0 < 0.3 + MARGIN
    assert any("stuck_async" in r.getMessage() and "abandoned" in r.getMessage()
               for r in caplog.records), caplog.text
    release.set()


def test_stop_from_inside_its_own_thread_execution_does_not_wait_for_itself(sup):
    returned = threading.Event()
    refused: list = []

    def executor(_worker, **kwargs):
        try:
            _worker.restart()
        except RuntimeError as exc:
            refused.append(exc)
        _worker.stop()  # wait=True, but it would wait for this very call
        returned.set()

    worker = BackgroundWorker("self_stopper", executor, supervisor=sup)
    worker.start()
    assert returned.wait(WAIT), "stop() from its own execution waited for itself"
    assert refused and "own" in str(refused[0])
    assert wait_until(lambda: worker not in sup.get_schedulers())
    assert worker.runs == 1 and not worker.is_active()


def test_stop_from_inside_its_own_coroutine_does_not_wait(sup):
    aloop = sup.create_aloop("self_loop")
    returned = threading.Event()

    async def executor(_worker, **kwargs):
        _worker.stop()
        returned.set()

    worker = BackgroundAsyncWorker("async_self_stopper", executor, loop=aloop, supervisor=sup)
    worker.start()
    assert returned.wait(WAIT)
    assert wait_until(lambda: worker not in sup.get_schedulers())
    assert worker.runs == 1


def test_stop_wait_false_returns_at_once_and_start_waits_for_a_short_wind_down(sup, gates):
    running, release = threading.Event(), threading.Event()
    gates.append(release)

    def executor(**kwargs):
        running.set()
        release.wait(0.2)

    worker = BackgroundWorker("quick_wind_down", executor, delay=10, supervisor=sup)
    worker.start()
    assert running.wait(WAIT)
    t0 = time.monotonic()
    worker.stop(wait=False)
    assert time.monotonic() - t0 < 0.1
    worker.start()  # the execution ends within start()'s grace: it waits, then starts
    assert worker.is_active()
    worker.stop(wait=WAIT)
