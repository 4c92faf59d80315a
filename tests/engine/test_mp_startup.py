"""The process pool starts without blocking its caller.

``ProcessPool(30)`` and ``set_mp_pool(pool_size=30)`` return at once (they
blocked 0.4-0.9 s while 30 processes were started one after the other); the
pool's reader thread starts the workers, a few booting at a time, and jobs
go to the workers that are ready. Checked here, with real processes: the
constructor's time, jobs and mp tasks sent right after creation (they all
complete, and spread over the workers as they come up), ``terminate`` and
``shutdown`` right after creation (no process is left behind: the pool's
``multiprocessing`` children and the forkserver's children, read from
``/proc``), a pool whose processes cannot be started at all (it ends broken
and says why), and an interval worker started right after
``set_mp_pool(30)`` (it misses no tick while the workers boot).

The two time bounds (a constructor under 0.1 s, no gap of two intervals
between ticks 40 ms apart) are generous: the old constructor took 0.4-1 s,
and while its 30 workers booted (2 s with both cores busy) the same check
failed 8 times in 9 (gaps of 80-170 ms between ticks 30-50 ms apart). Everything else
waits on futures, tasks, conditions and ``wait_ready``, with deadlines.
"""

from __future__ import annotations

import errno
import multiprocessing
import multiprocessing.forkserver
import os
import threading
import time

import mp_targets
import pytest
from engine_testkit import check_invariant

from engine import (
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TT_MP,
    BackgroundIntervalWorker,
    ProcessPool,
    WorkerDiedError,
    wait_completed,
)
from engine.procchild import mp_context
from engine.procpool import PoolBrokenError

WAIT = 10.0  # for 30 processes to come up on a loaded 2-core machine
AT_ONCE = 0.1  # "returns at once": before, 0.4 s or more for 30 processes
PROCESSES = 30


@pytest.fixture(autouse=True)
def forkserver_running():
    """The forkserver runs before the test (its own start is not the pool's)."""
    with ProcessPool(1) as pool:
        assert pool.submit(mp_targets.square, 2).result(WAIT) == 4


def pool_name(pool: ProcessPool) -> str:
    return repr(pool)[1:].split()[0]


def live_children(pool: ProcessPool) -> list:
    """This process's ``multiprocessing`` children that are the pool's
    workers and still alive (a process started and never joined is one)."""
    prefix = f"{pool_name(pool)}-worker-"
    return [p for p in multiprocessing.active_children() if p.name.startswith(prefix)]


def forkserver_children() -> set[int]:
    """Live (not zombie) children of the forkserver, from ``/proc``: every
    worker process the pools of this process have started and not reaped."""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    server_pid = getattr(server, "_forkserver_pid", None)
    if server_pid is None:
        return set()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == server_pid and state != "Z":
            found.add(int(entry))
    return found


def created_at_once(make):
    began = time.perf_counter()
    made = make()
    return made, time.perf_counter() - began


# -- the constructor and set_mp_pool ---------------------------------------------------

def test_a_pool_of_30_processes_is_created_at_once_and_its_workers_come_up():
    before = forkserver_children()
    pool, elapsed = created_at_once(lambda: ProcessPool(PROCESSES))
    try:
        assert elapsed < AT_ONCE, f"ProcessPool({PROCESSES}) blocked {elapsed:.3f} s"
        assert pool.processes == PROCESSES
        assert pool.wait_ready(WAIT), f"{pool!r}: not every worker came up"
        assert pool.ready_processes == PROCESSES
        pids = pool.worker_pids()
        assert len(set(pids)) == PROCESSES and os.getpid() not in pids
        assert set(pids) <= forkserver_children() - before
    finally:
        pool.shutdown(wait=True)
    assert live_children(pool) == [] and not forkserver_children() - before


def test_set_mp_pool_30_returns_at_once_and_tasks_sent_right_after_all_complete(
        make_supervisor):
    sup = make_supervisor()
    _, elapsed = created_at_once(
        lambda: sup.set_mp_pool(pool_size=PROCESSES, reserve_normal=0, reserve_high=0))
    assert elapsed < AT_ONCE, f"set_mp_pool(pool_size={PROCESSES}) blocked {elapsed:.3f} s"
    pool = sup.mp_pool
    assert isinstance(pool, ProcessPool) and pool.processes == PROCESSES
    # Admission counts tasks, not live processes: all 30 are admitted at once
    # and wait in the pool for workers to come up; the rest queue as usual.
    tasks = [sup.submit(mp_targets.square, i, _tt=TT_MP) for i in range(2 * PROCESSES)]
    assert sum(sup.stats().mp.running.values()) == PROCESSES
    assert wait_completed(tasks, timeout=WAIT) == [i * i for i in range(2 * PROCESSES)]
    assert all(t.status == TASK_STATUS_COMPLETED for t in tasks)
    s = sup.stats().mp
    assert (s.submitted, s.completed, s.failed) == (2 * PROCESSES, 2 * PROCESSES, 0)
    check_invariant(s)


def test_create_mp_pool_returns_at_once(make_supervisor):
    sup = make_supervisor()
    pool, elapsed = created_at_once(lambda: sup.create_mp_pool(processes=PROCESSES))
    assert elapsed < AT_ONCE, f"create_mp_pool(processes={PROCESSES}) blocked {elapsed:.3f} s"
    assert pool.wait_ready(WAIT)


def test_jobs_sent_right_after_creation_spread_over_the_workers_as_they_come_up(tmp_path):
    """Four jobs that hold their worker, sent before any worker is up: each
    runs on a worker of its own, not queued behind the first one up."""
    gate = str(tmp_path / "gate")
    markers = [str(tmp_path / f"m{i}") for i in range(4)]
    with ProcessPool(4) as pool:
        futures = [pool.submit(mp_targets.gated, gate, i, marker) for i, marker in
                   enumerate(markers)]
        pids = [int(open(m).read()) for m in markers if mp_targets.wait_for_path(m, WAIT)]
        assert len(set(pids)) == 4, pids
        mp_targets.open_gate(gate)
        assert [f.result(WAIT) for f in futures] == [0, 1, 2, 3]
        assert set(pids) == set(pool.worker_pids())


# -- terminate and shutdown while the workers start ------------------------------------------

@pytest.mark.parametrize("jobs", [0, 40])
def test_terminate_right_after_creation_leaves_no_process(jobs):
    before = forkserver_children()
    pool = ProcessPool(PROCESSES)
    futures = [pool.submit(mp_targets.square, i) for i in range(jobs)]
    pool.terminate()
    assert live_children(pool) == []
    assert not forkserver_children() - before
    for future in futures:  # each ended: a result if it ran in time, else why not
        assert future.done()
        assert future.exception() is None or isinstance(future.exception(), WorkerDiedError)
    assert pool.in_flight() == 0 and not pool.wait_ready(0)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(mp_targets.square, 1)


def test_shutdown_right_after_creation_leaves_no_process():
    before = forkserver_children()
    pool = ProcessPool(PROCESSES)
    pool.shutdown(wait=True)
    assert live_children(pool) == [] and not forkserver_children() - before
    assert not pool.wait_ready(0)


def test_shutdown_right_after_creation_still_runs_the_jobs_sent():
    """Jobs sent before shutdown run, though no worker was up yet: the pool
    goes on starting workers while jobs wait for one, then they all exit."""
    before = forkserver_children()
    pool = ProcessPool(PROCESSES)
    futures = [pool.submit(mp_targets.square, i) for i in range(40)]
    pool.shutdown(wait=True)
    assert [f.result(0) for f in futures] == [i * i for i in range(40)]
    assert live_children(pool) == [] and not forkserver_children() - before


def test_a_supervisor_stopped_right_after_set_mp_pool_leaves_no_process(make_supervisor):
    before = forkserver_children()
    sup = make_supervisor()
    sup.set_mp_pool(pool_size=PROCESSES, reserve_normal=0, reserve_high=0)
    pool = sup.mp_pool
    tasks = [sup.submit(mp_targets.square, i, _tt=TT_MP) for i in range(10)]
    sup.stop(wait=False, cancel_tasks=True)  # terminates its own pool, starting or not
    for task in tasks:
        assert task.wait(WAIT), f"{task!r} never ended"
    assert live_children(pool) == [] and not forkserver_children() - before
    check_invariant(sup.stats().mp)


# -- processes that cannot be started ----------------------------------------------------------

def refuse_to_start(monkeypatch) -> None:
    """Every start of an engine worker process fails as when the OS is out of processes."""
    def start(self):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")  # as fork(2) can
    monkeypatch.setattr(type(mp_context()).Process, "start", start)


def test_a_pool_whose_processes_cannot_start_is_created_then_ends_broken(make_supervisor,
                                                                         monkeypatch):
    refuse_to_start(monkeypatch)
    sup = make_supervisor()
    _, elapsed = created_at_once(
        lambda: sup.set_mp_pool(pool_size=PROCESSES, reserve_normal=0, reserve_high=0))
    assert elapsed < AT_ONCE
    pool = sup.mp_pool
    tasks = [sup.submit(mp_targets.square, i, _tt=TT_MP) for i in range(PROCESSES + 5)]
    for task in tasks:
        assert task.wait(WAIT), f"{task!r} never ended"
        assert task.status == TASK_STATUS_FAILED
        assert isinstance(task.exception, PoolBrokenError), repr(task.exception)
        why = "could not be started (OSError: [Errno 12] Cannot allocate memory)"
        assert why in str(task.exception)
    assert pool.broken is not None and not pool.wait_ready(0)
    assert pool.worker_pids() == [] and live_children(pool) == []
    late = sup.submit(mp_targets.square, 1, _tt=TT_MP)  # refused by the pool: fails at once
    assert late.wait(WAIT) and isinstance(late.exception, PoolBrokenError)
    s = sup.stats().mp
    assert (s.submitted, s.failed) == (PROCESSES + 6, PROCESSES + 6)
    check_invariant(s)


# -- the caller's loop keeps its time ---------------------------------------------------------

class Ticks:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.times: list[float] = []

    def record(self, **_kw) -> None:
        with self._cond:
            self.times.append(time.monotonic())
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.times) >= n, timeout)


def test_an_interval_worker_started_right_after_set_mp_pool_misses_no_tick(make_supervisor):
    interval = 0.04
    sup = make_supervisor()
    ticks = Ticks()
    worker = BackgroundIntervalWorker("tick", ticks.record, interval=interval, supervisor=sup)
    sup.set_mp_pool(pool_size=PROCESSES, reserve_normal=0, reserve_high=0)
    worker.start()
    try:
        assert sup.mp_pool.wait_ready(WAIT)
        assert ticks.wait_for(len(ticks.times) + 3), "the worker stopped ticking"
    finally:
        worker.stop()
    times = ticks.times
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # A missed tick is skipped: it shows as a gap of two intervals or more.
    assert max(gaps) < 2 * interval, (f"worst gap {max(gaps) * 1000:.0f} ms between ticks "
                                      f"{interval * 1000:.0f} ms apart while 30 workers booted")


# -- wait_ready -------------------------------------------------------------------------------

def test_wait_ready_checks_its_timeout_and_cannot_be_called_from_a_callback():
    with ProcessPool(1) as pool:
        with pytest.raises(ValueError, match="timeout"):
            pool.wait_ready(-1)
        with pytest.raises(TypeError, match="timeout"):
            pool.wait_ready("1")
        assert pool.wait_ready(WAIT)
        refused = []
        done = threading.Event()

        def callback(ok, value):
            try:
                pool.wait_ready(0)
            except RuntimeError as exc:
                refused.append(str(exc))
            done.set()

        pool.send(mp_targets.square, (3,), {}, callback)
        assert done.wait(WAIT)
        assert refused and "would wait for itself" in refused[0]
