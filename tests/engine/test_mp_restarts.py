"""Worker processes that die while starting never make a pool storm, and a
process the OS refuses to start fails the affected tasks cleanly.

* The engine's ``ProcessPool``: a worker that dies before it is ready (in
  its initializer, or while multiprocessing re-runs an unguarded main
  module) is restarted with a back-off, at most ``MAX_START_FAILURES``
  times in a row; then the pool is broken and every waiting and new task
  fails with one ``PoolBrokenError`` saying why.
* ``multiprocessing.Pool`` and executor backends: rebuilt at most
  ``MAX_REBUILDS`` times in a row, with a back-off; then a broken backend
  fails queued and new tasks.
* ``OSError`` from starting a process is a start failure too, for the
  first processes (started in the background: the constructor returns, the
  pool ends broken and says why) as for a replacement.

Process starts are counted by the initializer (one line per process in a
file). Every wait is on a task, a future or a subprocess, with a deadline.
"""

from __future__ import annotations

import concurrent.futures
import errno
import multiprocessing
import multiprocessing.pool
import multiprocessing.process
import os
import re
import subprocess
import sys
import time

import mp_targets
import pytest
from engine_testkit import check_invariant

from engine import (
    TASK_STATUS_FAILED,
    TT_MP,
    ProcessPool,
    RemoteTaskError,
    WorkerDiedError,
    wait_completed,
)
from engine.mp import MAX_REBUILDS
from engine.procpool import MAX_START_FAILURES, PoolBrokenError

WAIT = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))


def starts(path) -> int:
    try:
        with open(path) as f:
            return len(f.read().split())
    except FileNotFoundError:
        return 0


def refuse_to_start(monkeypatch) -> None:
    """Every process start fails as when the OS is out of processes."""
    def start(self):
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", start)


# -- the engine's ProcessPool ------------------------------------------------------------

@pytest.mark.parametrize("processes", [1, 3])
def test_workers_dying_in_their_initializer_break_the_pool_after_bounded_starts(tmp_path,
                                                                               processes):
    log = tmp_path / "starts"
    began = time.monotonic()
    pool = ProcessPool(processes, initializer=mp_targets.exit_in_init, initargs=(str(log), 3))
    try:
        future = pool.submit(mp_targets.square, 2)
        with pytest.raises(PoolBrokenError) as info:
            future.result(WAIT)
        message = str(info.value)
        assert f"{MAX_START_FAILURES} worker processes in a row died while starting" in message
        assert "exited with code 3" in message and "initializer" in message
        assert "exit_in_init" in message
        with pytest.raises(PoolBrokenError, match="is broken"):
            pool.submit(mp_targets.square, 3)
        assert pool.broken == message and "broken" in repr(pool)
    finally:
        pool.shutdown(wait=True)  # joins the reader: every process it started has ended
    elapsed = time.monotonic() - began
    # At most one start per failure, plus the ones already starting when it broke.
    assert processes <= starts(log) <= MAX_START_FAILURES + processes - 1, starts(log)
    assert elapsed < WAIT


def test_an_initializer_raising_system_exit_fails_each_job_without_restarts(tmp_path):
    log = tmp_path / "starts"
    with ProcessPool(2, initializer=mp_targets.system_exit_in_init,
                     initargs=(str(log),)) as pool:
        for _ in range(3):
            with pytest.raises(RemoteTaskError, match="initializer .* failed: SystemExit: 4"):
                pool.submit(mp_targets.square, 2).result(WAIT)
        assert pool.broken is None
    assert starts(log) == 2


def test_a_successful_job_resets_the_start_failure_count(tmp_path):
    """Workers that die after completing jobs are no start failures: the pool
    replaces them (here many more times than MAX_START_FAILURES)."""
    with ProcessPool(1) as pool:
        for _ in range(MAX_START_FAILURES + 2):
            with pytest.raises(WorkerDiedError):
                pool.submit(mp_targets.exit_now, 5).result(WAIT)
            assert pool.submit(mp_targets.square, 3).result(WAIT) == 9
        assert pool.broken is None


def test_a_supervisor_whose_pool_workers_die_at_start_fails_its_tasks_clearly(make_supervisor,
                                                                              tmp_path):
    log = tmp_path / "starts"
    sup = make_supervisor()
    sup.create_mp_pool(2, mp_targets.exit_in_init, (str(log), 3))
    sup.set_mp_pool(pool_size=2, reserve_normal=0, reserve_high=0)
    tasks = [sup.submit(mp_targets.square, i, _tt=TT_MP) for i in range(6)]
    for task in tasks:
        assert task.wait(WAIT), f"{task!r} never ended"
        assert task.status == TASK_STATUS_FAILED
        assert isinstance(task.exception, PoolBrokenError), repr(task.exception)
    late = sup.submit(mp_targets.square, 1, _tt=TT_MP)
    assert late.wait(WAIT) and isinstance(late.exception, PoolBrokenError)
    s = sup.stats().mp
    assert s.failed == 7 and sum(s.running.values()) == 0
    check_invariant(s)
    sup.mp_pool.shutdown(wait=True)
    assert starts(log) <= MAX_START_FAILURES + 1


UNGUARDED = """\
import os, sys
sys.path.insert(0, {here!r})
with open({log!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
{crash}
import mp_targets
from engine import TaskSupervisor, TT_MP
sup = TaskSupervisor(supervisor_id="unguarded")
sup.start()
sup.set_mp_pool(pool_size=2, reserve_normal=0, reserve_high=0)
task = sup.submit(mp_targets.square, 3, _tt=TT_MP)
print("ENDED", task.wait(30), type(task.exception).__name__, task.exception, flush=True)
sup.stop(wait=2)
"""


@pytest.mark.parametrize("crash", ["", "if __name__ == '__mp_main__': sys.exit(3)"],
                         ids=["creates a pool at import", "exits at import"])
def test_an_unguarded_script_ends_with_the_main_guard_advice(tmp_path, crash):
    log = tmp_path / "starts"
    script = tmp_path / "unguarded_script.py"
    script.write_text(UNGUARDED.format(here=HERE, log=str(log), crash=crash))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    ended = [line for line in done.stdout.splitlines() if line.startswith("ENDED")]
    assert ended, (done.stdout, done.stderr[-3000:])
    line = ended[0]
    assert line.startswith("ENDED True PoolBrokenError"), line
    assert 'if __name__ == "__main__":' in line and "unguarded_script.py" in line
    assert "forkserver" in line or "spawn" in line
    assert done.returncode == 0, done.stderr[-3000:]
    # The parent plus a bounded number of workers, each of which re-ran the script.
    assert starts(log) <= 1 + MAX_START_FAILURES + 1, starts(log)


# -- the OS refuses to start a process ------------------------------------------------------

def test_a_pool_whose_processes_cannot_be_started_ends_broken_and_says_why(monkeypatch):
    refuse_to_start(monkeypatch)
    pool = ProcessPool(2)  # returns: the processes start in the background
    try:
        waiting = pool.submit(mp_targets.square, 2)  # no worker yet: it waits
        with pytest.raises(PoolBrokenError) as info:
            waiting.result(WAIT)
        message = str(info.value)
        assert f"{MAX_START_FAILURES} worker processes in a row" in message
        assert "could not be started (BlockingIOError" in message
        assert pool.broken == message and not pool.wait_ready(0)
        assert pool.worker_pids() == [] and pool.in_flight() == 0
        with pytest.raises(PoolBrokenError, match="BlockingIOError"):
            pool.submit(mp_targets.square, 3)  # refused at once
    finally:
        pool.shutdown(wait=True)


def test_a_replacement_that_cannot_be_started_fails_the_waiting_jobs(monkeypatch):
    with ProcessPool(1) as pool:
        assert pool.wait_ready(WAIT)  # its first process started; no other will
        refuse_to_start(monkeypatch)
        with pytest.raises(WorkerDiedError):
            pool.submit(mp_targets.exit_now, 3).result(WAIT)
        waiting = pool.submit(mp_targets.square, 2)  # no live worker: it waits
        with pytest.raises(PoolBrokenError, match="could not be started .*BlockingIOError"):
            waiting.result(WAIT)
        assert pool.in_flight() == 0


def test_the_supervisor_fails_tasks_cleanly_when_processes_cannot_be_started(make_supervisor,
                                                                              monkeypatch):
    sup = make_supervisor()
    sup.create_mp_pool(processes=1)
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    assert wait_completed(sup.submit(mp_targets.square, 2, _tt=TT_MP), timeout=WAIT) == 4
    refuse_to_start(monkeypatch)
    crash = sup.submit(mp_targets.exit_now, 3, _tt=TT_MP)
    queued = [sup.submit(mp_targets.square, i, _tt=TT_MP) for i in range(3)]
    assert crash.wait(WAIT) and isinstance(crash.exception, WorkerDiedError)
    for task in queued:
        assert task.wait(WAIT), f"{task!r} never ended"
        assert isinstance(task.exception, PoolBrokenError), repr(task.exception)
        assert "BlockingIOError" in str(task.exception)
    s = sup.stats().mp
    assert (s.submitted, s.completed, s.failed) == (5, 1, 4)
    check_invariant(s)
    # Without a pool, an mp submit creates one (at once: its processes start in
    # the background); none can start, so the task fails with why.
    fresh = make_supervisor()
    task = fresh.submit(mp_targets.square, 2, _tt=TT_MP)
    assert task.wait(WAIT) and task.status == TASK_STATUS_FAILED
    assert isinstance(task.exception, PoolBrokenError), repr(task.exception)
    assert "could not be started (BlockingIOError" in str(task.exception)
    s = fresh.stats().mp
    assert (s.submitted, s.failed) == (1, 1)
    check_invariant(s)
    monkeypatch.undo()
    sup.create_mp_pool(processes=1)  # the operator replaces the broken pool
    assert wait_completed(sup.submit(mp_targets.square, 5, _tt=TT_MP), timeout=WAIT) == 25


# -- multiprocessing.Pool and executor backends ---------------------------------------------

@pytest.mark.parametrize("kind", ["pool", "executor"])
def test_a_standard_backend_whose_workers_die_at_start_is_rebuilt_a_bounded_number_of_times(
        make_supervisor, tmp_path, kind):
    log = tmp_path / "starts"
    ctx = multiprocessing.get_context("forkserver")
    init = (mp_targets.exit_in_init, (str(log), 3))
    sup = make_supervisor()
    # Handed over at once: until the engine watches it, a Pool restarts its
    # dying worker by itself as fast as it dies (every few ms).
    if kind == "pool":
        backend = ctx.Pool(1, *init)
    else:
        backend = concurrent.futures.ProcessPoolExecutor(1, ctx, *init)
    sup.mp_pool = backend
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    try:
        began = time.monotonic()
        tasks = [sup.submit(mp_targets.square, i, _tt=TT_MP) for i in range(MAX_REBUILDS + 3)]
        for task in tasks:
            assert task.wait(WAIT), f"{task!r} never ended"
            assert task.status == TASK_STATUS_FAILED
            assert isinstance(task.exception, (WorkerDiedError, PoolBrokenError))
        assert time.monotonic() - began < WAIT
        last = tasks[-1].exception
        assert isinstance(last, PoolBrokenError), repr(last)
        assert f"broke {MAX_REBUILDS} times in a row" in str(last)
        assert re.search(r"exit code -?\d+", str(last)), last  # whichever death came last
        late = sup.submit(mp_targets.square, 1, _tt=TT_MP)
        assert late.wait(WAIT) and isinstance(late.exception, PoolBrokenError)
        check_invariant(sup.stats().mp)
    finally:
        sup.stop(wait=2, cancel_tasks=True)
        if kind == "pool":
            backend.terminate()
        else:
            backend.shutdown(wait=True, cancel_futures=True)
    # multiprocessing.Pool respawns by itself until the watcher sees a death:
    # a few starts per rebuild at most, never an unbounded storm.
    assert starts(log) <= 4 * MAX_REBUILDS, starts(log)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # Pool's own
def test_a_rebuild_that_cannot_start_processes_fails_queued_tasks(make_supervisor,
                                                                  monkeypatch):
    pool = multiprocessing.get_context("forkserver").Pool(1)
    sup = make_supervisor()
    sup.mp_pool = pool
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    try:
        assert wait_completed(sup.submit(mp_targets.square, 2, _tt=TT_MP), timeout=WAIT) == 4
        refuse_to_start(monkeypatch)
        crash = sup.submit(mp_targets.exit_now, 3, _tt=TT_MP)
        queued = [sup.submit(mp_targets.square, i, _tt=TT_MP) for i in range(3)]
        assert crash.wait(WAIT) and isinstance(crash.exception, WorkerDiedError)
        for task in queued:
            assert task.wait(WAIT), f"{task!r} never ended"
            assert isinstance(task.exception, PoolBrokenError), repr(task.exception)
            assert "could not be rebuilt" in str(task.exception)
        check_invariant(sup.stats().mp)
    finally:
        monkeypatch.undo()
        sup.stop(wait=2, cancel_tasks=True)
        pool.terminate()
