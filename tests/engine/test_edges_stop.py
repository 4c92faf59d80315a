"""``stop()`` is bounded and exception-safe, and a program using the engine
exits when its main thread ends."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from engine_testkit import WAIT, wait_until

from engine import TASK_STATUS_CANCELED, TASK_STATUS_FAILED
from engine.aloop import STOP_GRACE

#: What a bounded stop may take beyond its ``wait``: the README's half a
#: second (``STOP_GRACE``), which already holds the grace every loop of the
#: stop shares to close after the deadline and the slack of a loaded machine.
MARGIN = 0.5
assert STOP_GRACE == MARGIN


def timed_stop(sup, **kwargs) -> float:
    t0 = time.monotonic()
    sup.stop(**kwargs)
    return time.monotonic() - t0


@pytest.fixture
def release():
    """An event every blocking helper of a test waits on; set at teardown."""
    event = threading.Event()
    yield event
    event.set()


def test_stop_is_bounded_with_a_sync_scheduler_whose_stop_blocks(make_supervisor, release,
                                                                 caplog):
    sup = make_supervisor()

    class Stubborn:
        name = "stubborn-sync"

        def stop(self, wait=True):
            release.wait(30)

    sup.register_sync_scheduler(Stubborn())
    assert timed_stop(sup, wait=0.5) < 0.5 + MARGIN
    assert not sup.is_active()
    assert any("stubborn-sync" in r.getMessage() and "abandoned" in r.getMessage()
               for r in caplog.records)


def test_stop_is_bounded_with_an_async_scheduler_that_ignores_cancellation(
        make_supervisor, release):
    sup = make_supervisor()

    class Deaf:
        name = "deaf-async"

        async def loop(self):
            while not release.is_set():
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    pass

        def stop(self, wait=True):
            pass

    sup.register_scheduler(Deaf())
    assert timed_stop(sup, wait=0.5) < 0.5 + MARGIN
    sup.start()  # and it starts again
    assert sup.submit(lambda: 1).wait(WAIT)


def test_stop_is_bounded_with_a_coroutine_that_blocks_its_aloop(make_supervisor, release,
                                                                caplog):
    sup = make_supervisor()
    aloop = sup.create_aloop("blocked", daemon=True)
    started = threading.Event()

    async def block_the_loop():
        started.set()
        release.wait(30)  # never yields to the loop

    aloop.background_task(block_the_loop())
    assert started.wait(WAIT)
    assert timed_stop(sup, wait=0.5) < 0.5 + MARGIN
    assert any("blocked" in r.getMessage() for r in caplog.records
               if "abandoned" in r.getMessage())


def test_stop_is_bounded_with_a_coroutine_that_swallows_cancellation(make_supervisor, release):
    sup = make_supervisor()
    aloop = sup.create_aloop("deaf", daemon=True)
    started = threading.Event()

    async def swallow():
        started.set()
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass

    task = aloop.background_task(swallow())
    assert started.wait(WAIT)
    assert timed_stop(sup, wait=0.5, cancel_tasks=True) < 0.5 + MARGIN
    assert not sup.is_active()
    # Its loop is closed: the task can never run again, so it has ended.
    assert task.wait(WAIT) and task.status == TASK_STATUS_FAILED
    assert "closed" in str(task.exception)


def test_stop_wait_false_returns_at_once_with_a_blocked_aloop(make_supervisor, release):
    sup = make_supervisor()
    aloop = sup.create_aloop("blocked", daemon=True)
    started = threading.Event()

    async def block_the_loop():
        started.set()
        release.wait(30)

    aloop.background_task(block_the_loop())
    assert started.wait(WAIT)
    assert timed_stop(sup, wait=False) < 0.5


@pytest.mark.parametrize("wait", [True, 0.5])
def test_stop_from_a_task_of_the_same_supervisor_is_refused(make_supervisor, wait):
    sup = make_supervisor()

    def stop_myself():
        sup.stop(wait=wait)

    task = sup.submit(stop_myself)
    assert task.wait(WAIT)
    assert task.status == TASK_STATUS_FAILED
    assert isinstance(task.exception, RuntimeError)
    assert "would wait for itself" in str(task.exception)
    assert sup.is_active()


def test_stop_from_an_aloop_coroutine_is_refused(make_supervisor):
    sup = make_supervisor()
    aloop = sup.create_aloop("inside")

    async def stop_it():
        sup.stop()

    with pytest.raises(RuntimeError, match="aloop 'inside'"):
        aloop.run(stop_it(), timeout=WAIT)
    assert sup.is_active()


def test_stop_from_a_worker_is_refused(make_supervisor):
    from engine import BackgroundWorker

    sup = make_supervisor()
    errors: list[BaseException] = []
    done = threading.Event()

    def executor(**kwargs):
        try:
            sup.stop()
        except RuntimeError as exc:
            errors.append(exc)
        done.set()
        return False

    BackgroundWorker(executor_func=executor, supervisor=sup).start()
    assert done.wait(WAIT)
    assert errors and "would wait for itself" in str(errors[0])


def test_stop_wait_false_from_a_task_is_allowed(make_supervisor):
    sup = make_supervisor()
    task = sup.submit(lambda: sup.stop(wait=False))
    assert task.wait(WAIT)
    assert wait_until(lambda: not sup.is_active())


def test_stop_interrupted_by_ctrl_c_leaves_a_supervisor_that_starts_again(make_supervisor,
                                                                         release):
    sup = make_supervisor()
    sup.submit(release.wait, 30)  # keeps the stop waiting
    main = threading.main_thread()

    def press_ctrl_c():
        assert wait_until(lambda: "stopping" in repr(sup))
        signal.pthread_kill(main.ident, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=press_ctrl_c, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            sup.stop(wait=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not sup.is_active()
    assert "stopped" in repr(sup)
    sup.start()
    assert sup.submit(lambda: "again").wait(WAIT)
    release.set()
    sup.stop(wait=WAIT)
    assert not sup.is_active()


def test_a_closed_host_loop_makes_the_supervisor_inactive(make_supervisor):
    loop = asyncio.new_event_loop()
    sup = make_supervisor(loop=loop)
    loop.run_until_complete(asyncio.sleep(0))
    before = sup.stats().thread.submitted
    loop.close()  # the host ends without astop()
    with pytest.raises(RuntimeError, match="not active"):
        sup.submit(lambda: 1)
    assert sup.stats().thread.submitted == before  # nothing was registered
    assert not sup.is_active()
    assert timed_stop(sup, wait=True) < MARGIN


def test_a_closed_host_loop_ends_its_coroutine_tasks(make_supervisor):
    loop = asyncio.new_event_loop()
    sup = make_supervisor(loop=loop)

    async def forever():
        await asyncio.sleep(3600)

    task = sup.dispatcher.submit_coroutine(forever(), loop)
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    assert not sup.is_active()
    assert task.wait(WAIT)
    assert task.status in (TASK_STATUS_FAILED, TASK_STATUS_CANCELED)


def test_stop_while_another_stop_waits_is_bounded(make_supervisor, release):
    sup = make_supervisor()
    sup.submit(release.wait, 30)
    first = threading.Thread(target=sup.stop, kwargs={"wait": True}, daemon=True)
    first.start()
    assert wait_until(lambda: "stopping" in repr(sup))
    t0 = time.monotonic()
    sup.stop(wait=0.2)
    assert time.monotonic() - t0 < 0.2 + MARGIN
    release.set()
    first.join(WAIT)
    assert not first.is_alive()


def _run_script(code: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def test_a_script_with_an_aloop_exits_without_stop():
    result = _run_script("""
        from engine import task_supervisor
        task_supervisor.start()
        aloop = task_supervisor.create_aloop("forgotten")   # a non-daemon thread
        async def work():
            return 1
        print(aloop.run(work()))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_a_script_that_forgets_stop_finishes_its_queued_work_first():
    result = _run_script("""
        import time
        from engine import TaskSupervisor
        sup = TaskSupervisor("forgetful", pool_size=1, reserve_normal=0, reserve_high=0)
        sup.start()
        for i in range(3):
            sup.submit(time.sleep, 0.05, _callback=lambda _, i=i: print("done", i, flush=True))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["done", "0", "done", "1", "done", "2"]


def test_coroutine_tasks_canceled_before_they_start_are_closed(make_supervisor, release,
                                                               recwarn):
    import gc

    sup = make_supervisor()
    aloop = sup.create_aloop("never", daemon=True)
    started = threading.Event()

    async def block_the_loop():
        started.set()
        release.wait(30)  # the loop cannot start anything queued behind it

    async def never_started():
        return 1

    aloop.background_task(block_the_loop())
    assert started.wait(WAIT)
    tasks = [aloop.background_task(never_started(), name="late") for _ in range(50)]
    sup.stop(wait=0.1, cancel_tasks=True)
    assert all(t.wait(WAIT) for t in tasks)
    release.set()
    aloop.thread.join(WAIT)
    gc.collect()
    assert not [w for w in recwarn.list if "never awaited" in str(w.message)]
