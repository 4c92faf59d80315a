"""User code never takes the mp pool down, on all three backends (the
engine's ``ProcessPool``, a ``multiprocessing.Pool``, a
``ProcessPoolExecutor``): a ``callback=`` raising ``SystemExit``, a target
raising ``SystemExit`` / ``KeyboardInterrupt`` in the worker, results and
exceptions whose pickling or unpickling raises ``SystemExit``, arguments that
cannot be pickled, ``os._exit`` in the worker. Each ends its task exactly
once with a clear outcome, and the next task completes.

Targets live in ``mp_targets``. Every wait is on a task (``Task.wait``) or a
future, with a deadline.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import pickle
import threading

import mp_targets
import pytest
from engine_testkit import check_invariant, wait_until

from engine import (
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_STATUS_STARTED,
    TT_MP,
    ProcessPool,
    RemoteTaskError,
    WorkerDiedError,
    wait_completed,
)

WAIT = 10.0
BACKENDS = ["engine", "pool", "executor"]


@pytest.fixture(params=BACKENDS)
def mp_sup(request, make_supervisor):
    """A started supervisor whose mp pool is a 1-process backend of each kind."""
    sup = make_supervisor(pool_size=2, reserve_normal=0, reserve_high=0)
    ctx = multiprocessing.get_context("forkserver")
    user_backend = None
    if request.param == "engine":
        sup.create_mp_pool(processes=1)
    elif request.param == "pool":
        user_backend = ctx.Pool(1)
    else:
        user_backend = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx)
    if user_backend is not None:
        sup.mp_pool = user_backend
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    yield sup
    sup.stop(wait=2, cancel_tasks=True)
    rebuilt = sup.mp_pool
    sup.mp_pool = None
    for backend in (user_backend, rebuilt):
        if isinstance(backend, multiprocessing.pool.Pool):
            backend.terminate()
        elif isinstance(backend, concurrent.futures.Executor):
            backend.shutdown(wait=True, cancel_futures=True)


def still_serves(sup) -> None:
    """A following task completes, and the counters reconcile."""
    task = sup.submit(mp_targets.square, 6, _tt=TT_MP)
    assert wait_completed(task, timeout=WAIT) == 36
    s = sup.stats().mp
    assert sum(s.running.values()) == 0 and sum(s.queued.values()) == 0
    check_invariant(s)


def ended_once(sup, task) -> list[str]:
    kinds = [e.kind for e in sup.events_since(0) if e.task_id == task.id]
    assert kinds.count("completed") + kinds.count("failed") + kinds.count("canceled") == 1, kinds
    return kinds


# -- callbacks ------------------------------------------------------------------------

@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), RuntimeError("cb")],
                         ids=["SystemExit", "KeyboardInterrupt", "RuntimeError"])
def test_a_callback_raising_anything_is_logged_and_the_task_keeps_its_result(mp_sup, exc,
                                                                             caplog):
    sup = mp_sup
    called = threading.Event()

    def callback(result):
        called.set()
        raise exc

    with caplog.at_level(logging.ERROR, logger="engine"):
        task = sup.submit(mp_targets.square, 3, _tt=TT_MP, _callback=callback)
        assert task.wait(WAIT), f"{task!r} never ended after its callback raised"
    assert called.is_set()
    assert task.status == TASK_STATUS_COMPLETED and task.result == 9
    assert ended_once(sup, task)[-1] == "completed"
    logged = [r for r in caplog.records if r.name.startswith("engine")
              and r.exc_info and r.exc_info[1] is exc]
    assert logged and "callback" in logged[0].getMessage()
    still_serves(sup)
    still_serves(sup)  # the thread that ran the callback is still there


class DoneAtOnce(concurrent.futures.Executor):
    """An executor whose futures are done before submit returns (the race
    of a fast job: its future ends before the backend adds its callback)."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(2)],
                         ids=["KeyboardInterrupt", "SystemExit"])
def test_a_future_done_before_its_callback_is_added_still_ends_off_the_sending_thread(
        make_supervisor, exc):
    sup = make_supervisor()
    sup.mp_pool = DoneAtOnce()
    threads = []

    def callback(result):
        threads.append(threading.current_thread())
        raise exc

    task = sup.submit(mp_targets.square, 5, _tt=TT_MP, _callback=callback)  # raises nothing
    assert task.wait(WAIT) and task.result == 25 and task.status == TASK_STATUS_COMPLETED
    assert threads and threads[0] is not threading.current_thread()
    assert ended_once(sup, task)[-1] == "completed"
    still_serves(sup)


def test_a_put_task_callback_raising_system_exit_still_lets_the_task_be_marked(mp_sup):
    sup = mp_sup
    got = []

    def callback(result):
        got.append(result)
        raise SystemExit(5)

    task = sup.put_task(mp_targets.square, args=(4,), callback=callback, tt=TT_MP)
    assert wait_until(lambda: task.result == 16)  # no hook: the result is set after
    assert got == [16] and task.status == TASK_STATUS_STARTED
    sup.mark_task_completed(task=task)
    assert task.status == TASK_STATUS_COMPLETED and task.result == 16
    still_serves(sup)


# -- what the worker and user values can do ---------------------------------------------

@pytest.mark.parametrize("kind", ["SystemExit", "KeyboardInterrupt"])
def test_a_target_raising_a_base_exception_in_the_worker_fails_only_its_task(mp_sup, kind):
    sup = mp_sup
    before = wait_completed(sup.submit(mp_targets.pid, _tt=TT_MP), timeout=WAIT)
    task = sup.submit(mp_targets.raise_base, kind, _tt=TT_MP)
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_FAILED
    assert type(task.exception).__name__ == kind
    ended_once(sup, task)
    # The worker process survived it.
    assert wait_completed(sup.submit(mp_targets.pid, _tt=TT_MP), timeout=WAIT) == before
    still_serves(sup)


@pytest.mark.parametrize("target, message", [
    (mp_targets.exit_on_pickle_result, "result of .*exit_on_pickle_result.* cannot be pickled"
                                       ".*SystemExit: no pickling for me"),
    (mp_targets.fail_exit_on_pickle, "ExitOnPickleError: unsendable"),
    (mp_targets.exit_on_unpickle_result, "result of .*exit_on_unpickle_result.* could not be "
                                         "unpickled .*SystemExit: unpickled in the parent"),
], ids=["result pickling exits", "exception pickling exits", "result unpickling exits"])
def test_values_whose_pickling_raises_system_exit_fail_their_task_clearly(mp_sup, target,
                                                                         message):
    sup = mp_sup
    task = sup.submit(target, _tt=TT_MP)
    assert task.wait(WAIT), f"{task!r} never ended"
    assert task.status == TASK_STATUS_FAILED
    assert isinstance(task.exception, RemoteTaskError), repr(task.exception)
    with pytest.raises(RemoteTaskError, match=message):
        wait_completed(task, timeout=0)
    ended_once(sup, task)
    still_serves(sup)


def test_arguments_whose_pickling_raises_system_exit_fail_the_task_at_submit(mp_sup):
    sup = mp_sup
    task = sup.submit(mp_targets.add, mp_targets.ExitOnPickle(), 1, _tt=TT_MP)
    assert task.status == TASK_STATUS_FAILED  # on this thread, before submit returned
    assert isinstance(task.exception, pickle.PicklingError)
    assert "SystemExit: no pickling for me" in str(task.exception)
    ended_once(sup, task)
    still_serves(sup)


def test_os_exit_in_the_worker_fails_its_task_and_the_pool_keeps_serving(mp_sup):
    sup = mp_sup
    task = sup.submit(mp_targets.exit_now, 9, _tt=TT_MP)
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_FAILED
    assert isinstance(task.exception, WorkerDiedError)
    assert "died" in str(task.exception)
    ended_once(sup, task)
    still_serves(sup)


# -- the engine's ProcessPool on its own ---------------------------------------------------

def test_a_process_pool_callback_raising_system_exit_does_not_stop_the_reader(caplog):
    with ProcessPool(1) as pool:
        done = threading.Event()

        def callback(ok, value):
            done.set()
            raise SystemExit(1)

        with caplog.at_level(logging.ERROR, logger="engine"):
            pool.send(mp_targets.square, (2,), {}, callback)
            assert done.wait(WAIT)
            assert pool.submit(mp_targets.square, 5).result(WAIT) == 25
        assert any("callback" in r.getMessage() for r in caplog.records)
        assert pool.broken is None and "running" in repr(pool)
