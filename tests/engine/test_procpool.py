"""The engine's ``ProcessPool``: results and errors, the Executor API, load
spreading, a worker that dies (only its jobs fail, it is replaced), shutdown
and terminate, big messages, and the pool as a supervisor's default mp pool.

Real worker processes, targets from ``mp_targets``. Gates across processes
are files in ``tmp_path``: ``gated`` writes its pid to a marker file, then
waits for its gate file. Nothing sleeps on a guess: tests wait on files,
futures and conditions with deadlines.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.pool
import os
import pickle
import signal
import threading
import time

import mp_targets
import pytest

from engine import (
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TT_MP,
    ProcessPool,
    RemoteTaskError,
    TaskSupervisor,
    WorkerDiedError,
    background_task,
    wait_completed,
)

WAIT = 5.0  # bound for anything that should happen "at once"


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until(predicate, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(0.005)
    return True


def read_pid(path: str) -> int:
    assert mp_targets.wait_for_path(path, WAIT), f"{path} never appeared"
    with open(path) as f:
        return int(f.read())


class Outcomes:
    """Callbacks for ``ProcessPool.send``: ``outcomes.callback(key)``, then
    ``outcomes.wait(key)`` -> ``(ok, value)``; counts calls per key."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.got: dict = {}
        self.calls: dict = {}
        self.threads: dict = {}

    def callback(self, key):
        def done(ok, value):
            with self._cond:
                self.got[key] = (ok, value)
                self.calls[key] = self.calls.get(key, 0) + 1
                self.threads[key] = threading.current_thread().name
                self._cond.notify_all()
        return done

    def wait(self, key, timeout: float = WAIT):
        with self._cond:
            assert self._cond.wait_for(lambda: key in self.got, timeout), f"no outcome for {key}"
            return self.got[key]


class Gates:
    def __init__(self, folder) -> None:
        self.folder = folder

    def gate(self, label: str) -> str:
        return str(self.folder / f"gate_{label}")

    def marker(self, label: str) -> str:
        return str(self.folder / f"started_{label}")

    def open(self, label: str) -> None:
        mp_targets.open_gate(self.gate(label))

    def open_all(self) -> None:
        for path in self.folder.glob("started_*"):
            label = path.name.removeprefix("started_")
            if "." not in label and not os.path.exists(self.gate(label)):
                self.open(label)

    def submit(self, pool: ProcessPool, label: str) -> concurrent.futures.Future:
        return pool.submit(mp_targets.gated, self.gate(label), label, self.marker(label))


@pytest.fixture
def gates(tmp_path):
    g = Gates(tmp_path)
    yield g
    g.open_all()


@pytest.fixture
def pool():
    p = ProcessPool(2)
    assert p.wait_ready(WAIT)
    yield p
    p.terminate()


def our_children(pids) -> set[int]:
    return {c.pid for c in multiprocessing.active_children()} & set(pids)


# -- results and errors ------------------------------------------------------------------

def test_results_come_back_to_the_callback_on_the_reader_thread(pool):
    outcomes = Outcomes()
    for i in range(20):
        pool.send(mp_targets.square, (i,), {}, outcomes.callback(i))
    assert [outcomes.wait(i) for i in range(20)] == [(True, i * i) for i in range(20)]
    assert set(outcomes.calls.values()) == {1}
    (reader,) = set(outcomes.threads.values())  # one thread, the pool's
    assert reader.endswith("-reader") and reader != threading.current_thread().name
    assert pool.in_flight() == 0


def test_kwargs_reach_the_target(pool):
    assert pool.submit(mp_targets.add, 2, b=40).result(WAIT) == 42


def test_exceptions_come_back_with_their_type(pool):
    ok, exc = Outcomes(), None
    pool.send(mp_targets.fail, ("bad input 42",), {}, ok.callback("f"))
    flag, exc = ok.wait("f")
    assert flag is False and type(exc) is ValueError and str(exc) == "bad input 42"
    assert any("remote traceback" in note for note in exc.__notes__)


def test_an_exception_that_cannot_be_unpickled_arrives_as_remote_task_error(pool):
    with pytest.raises(RemoteTaskError, match="NeedsTwoArgs: code 7: odd exception") as info:
        pool.submit(mp_targets.fail_unpicklable, 7).result(WAIT)
    assert "fail_unpicklable" in info.value.remote_traceback


def test_an_unpicklable_result_fails_that_job_and_the_worker_keeps_serving():
    with ProcessPool(1) as pool:
        assert pool.wait_ready(WAIT)  # every worker started: all pids known
        pid = pool.worker_pids()[0]
        with pytest.raises(RemoteTaskError, match="cannot be pickled") as info:
            pool.submit(mp_targets.unpicklable_result).result(WAIT)
        assert "unpicklable_result" in str(info.value)
        assert pool.submit(mp_targets.task_id_and_pid).result(WAIT) == (None, pid)


def test_an_unpicklable_argument_raises_at_send_and_nothing_is_in_flight(pool):
    outcomes = Outcomes()
    with pytest.raises((TypeError, pickle.PicklingError), match="pickle"):
        pool.send(mp_targets.add, (threading.Lock(),), {}, outcomes.callback("x"))
    assert pool.in_flight() == 0 and outcomes.calls == {}
    assert pool.submit(mp_targets.square, 3).result(WAIT) == 9


def test_callbacks_may_send_again_from_the_reader_thread(pool):
    """The next job is sent by the callback of the previous one (the engine's
    completion path): callbacks never run under a pool lock."""
    done = threading.Event()
    results = []

    def chain(ok, value):
        results.append(value)
        if len(results) < 50:
            pool.send(mp_targets.square, (len(results),), {}, chain)
        else:
            done.set()

    pool.send(mp_targets.square, (0,), {}, chain)
    assert done.wait(WAIT)
    assert results == [i * i for i in range(50)]


def test_big_arguments_and_results_do_not_block_the_reader(pool):
    """Messages far bigger than a pipe's buffer, sent both from a callback on
    the reader thread and from the caller, while big results come back."""
    big = 4 * 1024 * 1024
    done = threading.Event()
    results = []

    def again(ok, value):
        results.append((ok, value if not ok else len(value)))
        if len(results) < 6:
            pool.send(mp_targets.make_bytes, (big,), {}, again)
            pool.send(mp_targets.nbytes, (b"a" * big,), {}, lambda ok, v: results.append((ok, v)))
        else:
            done.set()

    pool.send(mp_targets.make_bytes, (big,), {}, again)
    assert done.wait(4 * WAIT)
    assert (True, big) in results and all(ok for ok, _ in results)
    assert pool.submit(mp_targets.nbytes, b"z" * big).result(WAIT) == big


def test_an_initializer_runs_in_each_worker():
    with ProcessPool(2, initializer=mp_targets.init_value, initargs=("ready",)) as pool:
        assert [f.result(WAIT) for f in [pool.submit(mp_targets.get_init_value)
                                         for _ in range(4)]] == ["ready"] * 4


def test_a_failing_initializer_fails_every_job_with_its_error_instead_of_respawning():
    with ProcessPool(1, initializer=mp_targets.init_fail, initargs=("no db",)) as pool:
        assert pool.wait_ready(WAIT)  # every worker started: all pids known
        pid = pool.worker_pids()[0]
        for _ in range(2):
            with pytest.raises(RemoteTaskError, match="initializer .* failed: RuntimeError: no db"):
                pool.submit(mp_targets.square, 2).result(WAIT)
        assert pool.worker_pids() == [pid]


# -- the Executor API --------------------------------------------------------------------

def test_submit_returns_futures_and_map_works():
    with ProcessPool(2) as pool:
        assert isinstance(pool, concurrent.futures.Executor)
        futures = [pool.submit(mp_targets.square, i) for i in range(10)]
        assert all(isinstance(f, concurrent.futures.Future) for f in futures)
        assert [f.result(WAIT) for f in futures] == [i * i for i in range(10)]
        assert list(pool.map(mp_targets.square, range(5), timeout=WAIT)) == [0, 1, 4, 9, 16]
        with pytest.raises(ValueError, match="boom"):
            pool.submit(mp_targets.fail, "boom").result(WAIT)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(mp_targets.square, 1)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="processes must be a positive int, got 0"):
        ProcessPool(0)
    with pytest.raises(TypeError, match="initializer must be callable"):
        ProcessPool(1, initializer=42)


@pytest.mark.parametrize("spin, error, message", [
    (-1e-6, ValueError, "spin must be >= 0"), (float("nan"), ValueError, "spin must be a finite"),
    (float("inf"), ValueError, "spin must be a finite"), (0.5, ValueError, "spin must be at most"),
    ("0.001", TypeError, "spin must be a number"), (True, TypeError, "spin must be a number")])
def test_a_bad_spin_is_refused_before_anything_starts(spin, error, message):
    threads = set(threading.enumerate())
    with pytest.raises(error, match=message):
        ProcessPool(1, spin=spin)
    assert set(threading.enumerate()) == threads  # no reader thread was started


def process_state(pid: int) -> tuple[str, int]:
    """(state letter, user + system clock ticks) of process ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[11]) + int(fields[12])


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
@pytest.mark.parametrize("spin", [0.0, 0.01])
def test_a_worker_with_no_next_job_blocks_once_its_spin_is_over(spin):
    with ProcessPool(1, spin=spin) as pool:
        assert pool.submit(mp_targets.square, 3).result(WAIT) == 9
        (pid,) = pool.worker_pids()
        # Asleep in its read (not spinning nor yielding: that reads "R").
        assert wait_until(lambda: process_state(pid)[0] == "S"), process_state(pid)
        ticks = process_state(pid)[1]
        threading.Event().wait(0.3)  # an observation window, not a wait for something
        state, later = process_state(pid)
        assert state == "S" and later - ticks <= 1, (state, later - ticks)
        assert pool.submit(mp_targets.square, 4).result(WAIT) == 16  # and wakes for the next


def test_jobs_run_with_or_without_a_spin():
    for spin in (0, 0.002):
        with ProcessPool(2, spin=spin) as pool:
            futures = [pool.submit(mp_targets.square, i) for i in range(200)]
            assert [f.result(WAIT) for f in futures] == [i * i for i in range(200)]


def test_properties(pool):
    assert pool.processes == 2
    pids = pool.worker_pids()
    assert len(pids) == 2 and os.getpid() not in pids and all(pid_exists(p) for p in pids)
    assert pool.in_flight() == 0


# -- load spreading ----------------------------------------------------------------------

def test_a_job_goes_to_the_worker_with_the_fewest_jobs_in_flight(pool, gates):
    first, second = pool.worker_pids()
    a = gates.submit(pool, "a")   # 0 / 0 in flight: the lowest index
    b = gates.submit(pool, "b")   # 1 / 0: worker 1
    c = gates.submit(pool, "c")   # 1 / 1: the lowest index again, queued behind a
    assert pool.in_flight() == 3
    assert read_pid(gates.marker("a")) == first
    assert read_pid(gates.marker("b")) == second
    assert not os.path.exists(gates.marker("c"))  # a still holds worker 0
    gates.open("a")
    assert a.result(WAIT) == "a"
    assert read_pid(gates.marker("c")) == first
    d = gates.submit(pool, "d")   # 1 (b) / 1 (c): worker 0
    gates.open("b")
    assert b.result(WAIT) == "b"
    gates.open("c")
    gates.open("d")
    assert [c.result(WAIT), d.result(WAIT)] == ["c", "d"]
    assert read_pid(gates.marker("d")) == first
    assert pool.in_flight() == 0


# -- a worker dies -----------------------------------------------------------------------

def test_a_killed_worker_fails_only_its_jobs_and_is_replaced(pool, gates):
    outcomes = Outcomes()
    victim_pid, other_pid = pool.worker_pids()
    pool.send(mp_targets.gated, (gates.gate("victim"), "victim", gates.marker("victim")), {},
              outcomes.callback("victim"))
    pool.send(mp_targets.gated, (gates.gate("other"), "other", gates.marker("other")), {},
              outcomes.callback("other"))
    pool.send(mp_targets.square, (5,), {}, outcomes.callback("behind"))  # on the victim's pipe
    assert read_pid(gates.marker("victim")) == victim_pid
    assert read_pid(gates.marker("other")) == other_pid

    os.kill(victim_pid, signal.SIGKILL)
    ok, error = outcomes.wait("victim", WAIT)
    assert ok is False and isinstance(error, WorkerDiedError)
    assert f"mp worker process {victim_pid} died (exit code -9)" in str(error)
    assert "while running task 'gated'" in str(error)

    # The other worker's job was untouched: it is still running, then completes.
    assert "other" not in outcomes.got
    assert pool.worker_pids()[1] == other_pid
    gates.open("other")
    assert outcomes.wait("other") == (True, "other")
    # The job queued behind the victim never ran there: it was sent again, once.
    assert outcomes.wait("behind") == (True, 25)

    # A replacement took the dead worker's place and, once ready, serves new jobs.
    new_pid = pool.worker_pids()[0]
    assert new_pid not in (victim_pid, other_pid) and pid_exists(new_pid)
    assert pool.wait_ready(WAIT)
    pids = {pool.submit(mp_targets.task_id_and_pid).result(WAIT)[1] for _ in range(6)}
    assert pids <= {new_pid, other_pid} and new_pid in pids
    assert pool.in_flight() == 0
    assert all(n == 1 for n in outcomes.calls.values())


def test_a_job_sent_to_a_worker_that_died_unnoticed_runs_once_elsewhere():
    """The reader is held in a callback, so the worker's death is not seen yet:
    the next job goes to the dead worker's pipe (broken). It never ran there,
    so once the reader sees the death it is sent again and runs, once."""
    outcomes = Outcomes()
    release = threading.Event()
    held = threading.Event()

    def hold_reader(ok, value):
        held.set()
        release.wait(WAIT)

    with ProcessPool(2) as pool:
        assert pool.wait_ready(WAIT)  # every worker started: all pids known
        dead_pid, live_pid = pool.worker_pids()
        pool.send(mp_targets.square, (2,), {}, hold_reader)  # 0 / 0: worker 0
        assert held.wait(WAIT)
        os.kill(dead_pid, signal.SIGKILL)
        assert wait_until(lambda: not pid_exists(dead_pid)), "the worker was never reaped"
        pool.send(mp_targets.square, (3,), {}, outcomes.callback("late"))  # 0 / 0: worker 0
        assert pool.in_flight() == 1 and "late" not in outcomes.got
        release.set()
        assert outcomes.wait("late") == (True, 9)
        assert wait_until(lambda: pool.worker_pids()[0] != dead_pid)
        new_pid, still = pool.worker_pids()
        assert still == live_pid and new_pid != dead_pid
        assert pool.submit(mp_targets.square, 4).result(WAIT) == 16
        assert outcomes.calls == {"late": 1}


def test_a_worker_that_exits_mid_job_fails_that_job_with_its_exit_code():
    with ProcessPool(1) as pool:
        assert pool.wait_ready(WAIT)  # every worker started: all pids known
        pid = pool.worker_pids()[0]
        with pytest.raises(WorkerDiedError, match=f"process {pid} died \\(exit code 3\\)"):
            pool.submit(mp_targets.exit_now, 3).result(WAIT)
        assert pool.submit(mp_targets.square, 4).result(WAIT) == 16
        assert pool.worker_pids()[0] != pid


def test_every_job_sent_around_a_worker_death_ends_once():
    with ProcessPool(1) as pool:
        doomed = pool.submit(mp_targets.exit_now, 1)
        after = [pool.submit(mp_targets.square, i) for i in range(5)]
        with pytest.raises(WorkerDiedError):
            doomed.result(WAIT)
        # Those queued behind it on the dead worker fail too; any sent after
        # the replacement run. Either way each ends, exactly once.
        for future in after:
            assert future.exception(WAIT) is None or isinstance(future.exception(),
                                                                 WorkerDiedError)
        assert pool.submit(mp_targets.square, 7).result(WAIT) == 49


# -- shutdown and terminate --------------------------------------------------------------

def test_shutdown_waits_for_jobs_in_flight_then_leaves_no_process(gates):
    pool = ProcessPool(2)
    assert pool.wait_ready(WAIT)  # every worker started: all pids known
    pids = pool.worker_pids()
    job = gates.submit(pool, "slow")
    assert mp_targets.wait_for_path(gates.marker("slow"), WAIT)
    returned = {}

    def stop():
        pool.shutdown(wait=True)
        returned["job_done"] = job.done()

    stopper = threading.Thread(target=stop)
    stopper.start()
    deadline = time.monotonic() + WAIT
    while True:  # shutdown refuses new jobs at once
        try:
            pool.submit(mp_targets.square, 1)
        except RuntimeError:
            break
        assert time.monotonic() < deadline, "shutdown never started"
    assert stopper.is_alive() and not job.done()
    gates.open("slow")
    stopper.join(WAIT)
    assert not stopper.is_alive(), "shutdown(wait=True) did not return"
    assert returned == {"job_done": True}
    assert job.result() == "slow"
    assert our_children(pids) == set()
    assert not any(pid_exists(p) for p in pids)


def test_shutdown_without_wait_lets_jobs_finish(gates):
    pool = ProcessPool(1)
    assert pool.wait_ready(WAIT)  # every worker started: all pids known
    pids = pool.worker_pids()
    job = gates.submit(pool, "j")
    pool.shutdown(wait=False)
    gates.open("j")
    assert job.result(WAIT) == "j"
    assert wait_until(lambda: our_children(pids) == set()), "the worker never exited"


def test_terminate_fails_every_job_in_flight_and_kills_the_workers(gates):
    pool = ProcessPool(2)
    assert pool.wait_ready(WAIT)  # every worker started: all pids known
    pids = pool.worker_pids()
    jobs = [gates.submit(pool, label) for label in ("t1", "t2", "t3")]
    assert mp_targets.wait_for_path(gates.marker("t1"), WAIT)
    assert mp_targets.wait_for_path(gates.marker("t2"), WAIT)
    pool.terminate()
    for job in jobs:
        assert isinstance(job.exception(0), WorkerDiedError)
        assert "pool terminated" in str(job.exception())
    assert pool.in_flight() == 0
    assert our_children(pids) == set()
    assert not any(pid_exists(p) for p in pids)
    with pytest.raises(RuntimeError):
        pool.submit(mp_targets.square, 1)
    pool.shutdown()  # after terminate: a no-op


def test_shutdown_with_cancel_futures_ends_jobs_in_flight(gates):
    pool = ProcessPool(1)
    job = gates.submit(pool, "c")
    assert mp_targets.wait_for_path(gates.marker("c"), WAIT)
    pool.shutdown(wait=True, cancel_futures=True)
    assert isinstance(job.exception(0), WorkerDiedError)


def test_a_big_job_sent_just_before_shutdown_still_runs():
    big = 4 * 1024 * 1024
    pool = ProcessPool(1)
    assert pool.wait_ready(WAIT)  # every worker started: all pids known
    pids = pool.worker_pids()
    job = pool.submit(mp_targets.nbytes, b"x" * big)
    pool.shutdown(wait=True)
    assert job.result(0) == big
    assert our_children(pids) == set()


def test_the_context_manager_shuts_down():
    outcomes = Outcomes()
    with ProcessPool(2) as pool:
        assert pool.wait_ready(WAIT)  # every worker started: all pids known
        pids = pool.worker_pids()
        pool.send(mp_targets.square, (6,), {}, outcomes.callback("sq"))
        assert outcomes.wait("sq") == (True, 36)
    assert our_children(pids) == set()
    reader = outcomes.threads["sq"]
    assert reader not in [t.name for t in threading.enumerate()]


# -- as the supervisor's mp pool ---------------------------------------------------------

@pytest.fixture
def sup():
    s = TaskSupervisor(supervisor_id="test_procpool")
    s.start()
    yield s
    s.stop(wait=2, cancel_tasks=True)


def mp_call(sup, target, *args, **kwargs):
    return background_task(target, tt=TT_MP, supervisor=sup)(*args, **kwargs)


def test_create_mp_pool_makes_a_process_pool_that_runs_tasks(sup):
    pool = sup.create_mp_pool(processes=2)
    assert isinstance(pool, ProcessPool) and sup.mp_pool is pool and pool.processes == 2
    sup.set_mp_pool(pool_size=2, reserve_normal=0, reserve_high=0)
    tasks = [mp_call(sup, mp_targets.square, i) for i in range(20)]
    failed = mp_call(sup, mp_targets.fail, "from the child")
    assert wait_completed(tasks, timeout=WAIT) == [i * i for i in range(20)]
    with pytest.raises(ValueError, match="from the child"):
        wait_completed(failed, timeout=WAIT)
    s = sup.stats().mp
    assert (s.submitted, s.completed, s.failed, s.pool_size) == (21, 20, 1, 2)
    assert sum(s.running.values()) == 0 and sum(s.queued.values()) == 0
    pids = pool.worker_pids()
    sup.stop(wait=2)
    assert our_children(pids) == set()


def test_a_killed_worker_fails_only_its_own_task_in_the_supervisor(sup, gates):
    pool = sup.create_mp_pool(processes=2)
    sup.set_mp_pool(pool_size=2, reserve_normal=0, reserve_high=0)
    victim = mp_call(sup, mp_targets.gated, gates.gate("v"), "v", marker=gates.marker("v"))
    other = mp_call(sup, mp_targets.gated, gates.gate("o"), "o", marker=gates.marker("o"))
    queued = mp_call(sup, mp_targets.square, 3)
    victim_pid = read_pid(gates.marker("v"))
    read_pid(gates.marker("o"))

    os.kill(victim_pid, signal.SIGKILL)
    assert victim.wait(WAIT), "the killed worker's task never ended"
    assert victim.status == TASK_STATUS_FAILED
    assert isinstance(victim.exception, WorkerDiedError)
    assert str(victim_pid) in str(victim.exception)
    # The queued task took the freed slot and ran on the replacement.
    assert wait_completed(queued, timeout=WAIT) == 9
    assert other.status != TASK_STATUS_FAILED
    gates.open("o")
    assert wait_completed(other, timeout=WAIT) == "o"
    assert other.status == TASK_STATUS_COMPLETED
    # Same pool (not rebuilt), with a replacement worker.
    assert sup.mp_pool is pool and victim_pid not in pool.worker_pids()
    s = sup.stats().mp
    assert (s.submitted, s.completed, s.failed) == (3, 2, 1)
    assert sum(s.running.values()) == 0


def test_create_mp_pool_takes_multiprocessing_pool_arguments(sup):
    pool = sup.create_mp_pool(1, mp_targets.init_value, ("from initargs",))
    assert isinstance(pool, ProcessPool) and pool.processes == 1
    assert wait_completed(mp_call(sup, mp_targets.get_init_value), timeout=WAIT) == "from initargs"
    with pytest.raises(TypeError, match="bogus"):
        sup.create_mp_pool(processes=1, bogus=True)
    assert sup.mp_pool is pool
    with pytest.raises(TypeError, match="spin is an option of the engine's ProcessPool"):
        sup.create_mp_pool(processes=1, maxtasksperchild=2, spin=0)
    with pytest.raises(ValueError, match="spin must be >= 0"):
        sup.create_mp_pool(processes=1, spin=-1)
    assert sup.mp_pool is pool  # nothing replaced by a refused call
    spun = sup.create_mp_pool(processes=1, spin=0)
    assert isinstance(spun, ProcessPool) and sup.mp_pool is spun
    assert wait_completed(mp_call(sup, mp_targets.square, 6), timeout=WAIT) == 36
    # maxtasksperchild: the engine's pool never recycles workers, a Pool does.
    recycled = sup.create_mp_pool(processes=1, maxtasksperchild=2)
    assert isinstance(recycled, multiprocessing.pool.Pool) and sup.mp_pool is recycled
    assert wait_completed(mp_call(sup, mp_targets.square, 5), timeout=WAIT) == 25
