"""The multiprocessing pool: backends, admission of ``TT_MP`` tasks, results,
errors, unpicklable targets and worker processes that die mid-task.

Targets live in ``mp_targets`` (importable in the children). Gates across
processes are files in ``tmp_path``: a gated target waits for its file.
Most tests share one module-scoped supervisor with a 4-process pool (process
pools are slow to start); tests that kill or own a pool make their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import multiprocessing.pool
import os
import signal
import threading

import mp_targets
import pytest
from engine_testkit import check_invariant, counts, wait_until

from engine import (
    START_METHOD,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TT_MP,
    TT_THREAD,
    ProcessPool,
    RemoteTaskError,
    TaskSupervisor,
    WorkerDiedError,
    background_task,
    co_mp_apply,
    wait_completed,
)

WAIT = 5.0  # bound for anything that should happen "at once"
SHARED_PROCESSES = 4




def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mp_call(sup: TaskSupervisor, target, *args, priority: int = TASK_NORMAL,
            callback=None, **kwargs):
    """Submit ``target(*args, **kwargs)`` as an auto-completed TT_MP task."""
    return background_task(target, tt=TT_MP, priority=priority, callback=callback,
                           supervisor=sup)(*args, **kwargs)


def started_order(sup: TaskSupervisor, tasks) -> list:
    ids = {t.id: t for t in tasks}
    return [ids[e.task_id] for e in sup.events_since(0)
            if e.kind == "started" and e.task_id in ids]


class FileGates:
    """Named gates across processes: ``path(label)`` for a target, ``open(label)``."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.labels: set[str] = set()

    def path(self, label: str) -> str:
        self.labels.add(label)
        return str(self.folder / f"gate_{label}")

    def marker(self, label: str) -> str:
        return str(self.folder / f"started_{label}")

    def open(self, label: str) -> None:
        mp_targets.open_gate(self.path(label))

    def open_all(self) -> None:
        for label in list(self.labels):
            if not os.path.exists(self.path(label)):
                self.open(label)


def drain(sup: TaskSupervisor) -> None:
    """Let what a test left behind end, so the shared supervisor starts clean."""
    for task in sup.get_tasks(tt=TT_MP):
        if task.wait(WAIT):
            continue
        try:
            if task.status == TASK_STATUS_STARTED:
                sup.mark_task_completed(task=task)  # a put_task the test never marked
            else:
                sup.cancel_task(task.id)
        except (LookupError, RuntimeError):
            pass


# -- fixtures ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_sup():
    sup = TaskSupervisor(supervisor_id="test_mp_shared", pool_size=4, reserve_normal=1,
                         reserve_high=1)
    sup.start()
    try:
        sup.create_mp_pool(processes=SHARED_PROCESSES)
        yield sup
    finally:
        sup.stop(wait=2, cancel_tasks=True)


@pytest.fixture
def shared(shared_sup, tmp_path):
    """The shared supervisor with limits reset to the pool's 4 processes, and gates."""
    sup = shared_sup
    assert sup.is_active()
    assert sup.get_tasks(tt=TT_MP) == []
    sup.set_mp_pool(pool_size=SHARED_PROCESSES, reserve_normal=0, reserve_high=0)
    gates = FileGates(tmp_path)
    yield sup, gates
    gates.open_all()
    drain(sup)


@pytest.fixture
def make_sup(make_supervisor):
    """Started supervisors, each stopped at teardown (their own mp pools with them)."""
    return make_supervisor


# -- backends ------------------------------------------------------------------------

def test_start_method_is_never_fork():
    assert START_METHOD != "fork"
    assert START_METHOD in multiprocessing.get_all_start_methods()


def test_create_mp_pool_runs_tasks_in_children_and_stop_terminates_it(make_sup):
    sup = make_sup()
    pool = sup.create_mp_pool(processes=1)
    assert isinstance(pool, ProcessPool) and pool.processes == 1
    assert sup.mp_pool is pool

    task = mp_call(sup, mp_targets.task_id_and_pid)
    task_id, pid = wait_completed(task, timeout=WAIT)
    assert task_id == task.id and task.tt == TT_MP
    assert pid != os.getpid()

    sup.stop(wait=2)
    assert wait_until(lambda: not pid_exists(pid)), f"mp worker {pid} outlived stop()"


def test_set_mp_pool_creates_a_pool_of_pool_size_plus_reserves(make_sup, tmp_path):
    sup = make_sup()
    assert sup.mp_pool is None
    sup.set_mp_pool(pool_size=1, reserve_normal=1, reserve_high=0)
    assert isinstance(sup.mp_pool, ProcessPool) and sup.mp_pool.processes == 2
    s = sup.stats().mp
    assert (s.pool_size, s.reserve_normal, s.reserve_high) == (1, 1, 0)
    assert s.limits == {TASK_CRITICAL: None, TASK_HIGH: 2, TASK_NORMAL: 2, TASK_LOW: 1}

    # Two processes: a LOW and a NORMAL task (the reserve) run at the same time.
    gates = FileGates(tmp_path)
    try:
        low = mp_call(sup, mp_targets.gated, gates.path("g"), "low", priority=TASK_LOW,
                      marker=gates.marker("low"))
        normal = mp_call(sup, mp_targets.gated, gates.path("g"), "normal",
                         marker=gates.marker("normal"))
        assert mp_targets.wait_for_path(gates.marker("low"), WAIT)
        assert mp_targets.wait_for_path(gates.marker("normal"), WAIT)
    finally:
        gates.open_all()
    assert wait_completed([low, normal], timeout=WAIT) == ["low", "normal"]
    with open(gates.marker("low")) as f:
        pid = int(f.read())
    sup.stop(wait=2)
    assert wait_until(lambda: not pid_exists(pid)), f"mp worker {pid} outlived stop()"


@pytest.mark.parametrize("kind", ["pool", "executor"])
def test_a_user_supplied_backend_runs_tasks(make_sup, kind):
    ctx = multiprocessing.get_context("forkserver")
    backend = (ctx.Pool(2) if kind == "pool"
               else concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx))
    try:
        sup = make_sup()
        sup.mp_pool = backend
        assert sup.mp_pool is backend
        tasks = [mp_call(sup, mp_targets.square, i) for i in range(6)]
        assert wait_completed(tasks, timeout=WAIT) == [i * i for i in range(6)]
        failed = mp_call(sup, mp_targets.fail, "from the child")
        with pytest.raises(ValueError, match="from the child"):
            wait_completed(failed, timeout=WAIT)
        s = sup.stats().mp
        assert (s.submitted, s.completed, s.failed) == (7, 6, 1)
        check_invariant(s)
    finally:
        sup.mp_pool = None  # detach before closing it (see the test below)
        if kind == "pool":
            backend.terminate()
        else:
            backend.shutdown(wait=True, cancel_futures=True)


def test_stopped_supervisor_does_not_rebuild_a_user_pool_its_owner_terminates(make_sup,
                                                                               tmp_path):
    """The user owns a pool set through ``mp_pool``: once the supervisor has
    stopped, the user terminating it is not a worker crash to recover from."""
    pool = multiprocessing.get_context("forkserver").Pool(1)
    gates = FileGates(tmp_path)
    sup = make_sup()
    sup.mp_pool = pool
    assert wait_completed(mp_call(sup, mp_targets.square, 3), timeout=WAIT) == 9
    sup.stop(wait=2)
    # The owner keeps using its pool, then terminates it while a job of its own
    # runs (so the worker is killed by SIGTERM rather than exiting cleanly).
    pool.apply_async(mp_targets.gated, (gates.path("own"), None, gates.marker("own")))
    assert mp_targets.wait_for_path(gates.marker("own"), WAIT)
    pool.terminate()
    gates.open_all()
    try:
        # A replacement, if any, appears within milliseconds of the terminate.
        rebuilt = wait_until(lambda: sup.mp_pool not in (None, pool), timeout=1.0)
        assert not rebuilt, (f"the stopped supervisor built a new mp pool {sup.mp_pool!r} "
                             f"after its owner terminated the one it was given; nobody "
                             f"will ever close it")
    finally:
        leaked = sup.mp_pool
        sup.mp_pool = None
        if leaked not in (None, pool):
            leaked.terminate()


def test_replacing_an_owned_pool_terminates_the_old_one(make_sup):
    sup = make_sup()
    sup.create_mp_pool(processes=1)
    _, old_pid = wait_completed(mp_call(sup, mp_targets.task_id_and_pid), timeout=WAIT)
    new_pool = sup.create_mp_pool(processes=1)
    assert sup.mp_pool is new_pool
    _, new_pid = wait_completed(mp_call(sup, mp_targets.task_id_and_pid), timeout=WAIT)
    assert new_pid != old_pid
    assert wait_until(lambda: not pid_exists(old_pid)), "the replaced owned pool still runs"


def test_replacing_an_owned_pool_ends_the_tasks_in_flight_on_it(make_sup, tmp_path):
    """Every accepted task ends: one running on an owned pool that
    create_mp_pool() replaces (and terminates) must not stay STARTED forever,
    holding its admission slot."""
    sup = make_sup()
    sup.create_mp_pool(processes=1)
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    gates = FileGates(tmp_path)
    in_flight = mp_call(sup, mp_targets.gated, gates.path("g"), "done",
                        marker=gates.marker("g"))
    assert mp_targets.wait_for_path(gates.marker("g"), WAIT)
    sup.create_mp_pool(processes=1)
    gates.open("g")  # had the old pool been left to finish, the task completes now
    assert in_flight.wait(WAIT), (f"{in_flight!r} never ended after its pool was replaced; "
                                  f"mp running={sup.stats().mp.running}")
    assert in_flight.status in (TASK_STATUS_COMPLETED, TASK_STATUS_FAILED)
    assert sup.stats().mp.running == counts()
    assert wait_completed(mp_call(sup, mp_targets.square, 5), timeout=WAIT) == 25


def test_stop_ends_the_mp_tasks_of_the_owned_pool_it_terminates(make_sup, tmp_path):
    """stop(wait=<s>) terminates the owned pool: the worker running a task is
    killed, so that task must end (FAILED) -- a waiter must not hang forever."""
    sup = make_sup()
    sup.create_mp_pool(processes=1)
    gates = FileGates(tmp_path)
    try:
        in_flight = mp_call(sup, mp_targets.gated, gates.path("never"), "x",
                            marker=gates.marker("never"))
        assert mp_targets.wait_for_path(gates.marker("never"), WAIT)
        sup.stop(wait=0.2)
        assert in_flight.wait(2.0), (f"{in_flight!r} still STARTED after stop() terminated "
                                     f"its pool; mp running={sup.stats().mp.running}")
        assert in_flight.status == TASK_STATUS_FAILED
        s = sup.stats().mp
        assert s.running == counts()
        check_invariant(s)
    finally:
        gates.open_all()


# -- admission -------------------------------------------------------------------------

def test_mp_admission_reserves_critical_bypass_and_live_resizing(shared):
    sup, gates = shared
    sup.set_mp_pool(pool_size=1, reserve_normal=1, reserve_high=1)
    assert sup.stats().mp.limits == {TASK_CRITICAL: None, TASK_HIGH: 3, TASK_NORMAL: 2,
                                     TASK_LOW: 1}
    before = sup.stats().mp

    def gated(label: str, priority: int):
        return mp_call(sup, mp_targets.gated, gates.path(label), label, priority=priority)

    l1 = gated("l1", TASK_LOW)        # A=0 < 1: starts
    l2 = gated("l2", TASK_LOW)        # A=1, LOW limit 1: queued
    n1 = gated("n1", TASK_NORMAL)     # reserve_normal: A=1 < 2, starts
    n2 = gated("n2", TASK_NORMAL)     # queued
    h1 = gated("h1", TASK_HIGH)       # reserve_high: A=2 < 3, starts
    h2 = gated("h2", TASK_HIGH)       # queued
    c1 = gated("c1", TASK_CRITICAL)   # bypasses admission: A=3, starts anyway
    s = sup.stats().mp
    assert s.running == counts(critical=1, high=1, normal=1, low=1), s
    assert s.queued == counts(high=1, normal=1, low=1), s
    assert s.submitted - before.submitted == 7
    assert sup.get_info().mp_tasks_count == 4
    assert [t.status for t in (l1, n1, h1, c1)] == [TASK_STATUS_STARTED] * 4
    assert [t.status for t in (l2, n2, h2)] == [TASK_STATUS_QUEUED] * 3
    check_invariant(s)

    # A=4 -> 3: still not below HIGH's limit of 3, nothing starts.
    gates.open("c1")
    assert wait_completed(c1, timeout=WAIT) == "c1"
    s = sup.stats().mp
    assert s.running == counts(high=1, normal=1, low=1), s
    assert s.queued == counts(high=1, normal=1, low=1), s

    # A=3 -> 2: the HIGH task starts first (strict priority), NORMAL still waits.
    gates.open("n1")
    assert wait_completed(n1, timeout=WAIT) == "n1"
    assert h2.status == TASK_STATUS_STARTED
    s = sup.stats().mp
    assert s.running == counts(high=2, low=1), s
    assert s.queued == counts(normal=1, low=1), s

    # A=3 -> 2: NORMAL's limit is 2, so n2 keeps waiting.
    gates.open("h1")
    assert wait_completed(h1, timeout=WAIT) == "h1"
    assert n2.status == TASK_STATUS_QUEUED
    s = sup.stats().mp
    assert s.running == counts(high=1, low=1), s
    assert s.queued == counts(normal=1, low=1), s

    # Growing the limits live admits queued tasks at once, most urgent first.
    sup.set_mp_pool(pool_size=2)  # LOW 2, NORMAL 3, HIGH 4
    assert n2.status == TASK_STATUS_STARTED and l2.status == TASK_STATUS_QUEUED
    s = sup.stats().mp
    assert s.running == counts(high=1, normal=1, low=1), s
    assert s.queued == counts(low=1), s
    sup.set_mp_pool(pool_size=4)
    assert l2.status == TASK_STATUS_STARTED
    s = sup.stats().mp
    assert s.running == counts(high=1, normal=1, low=2), s
    assert s.queued == counts()

    gates.open_all()
    assert wait_completed([l1, l2, n2, h2], timeout=WAIT) == ["l1", "l2", "n2", "h2"]
    assert started_order(sup, [l1, l2, n1, n2, h1, h2, c1]) == [l1, n1, h1, c1, h2, n2, l2]
    s = sup.stats().mp
    assert s.running == counts() and s.queued == counts()
    assert s.completed - before.completed == 7
    check_invariant(s)


def test_mp_queue_is_strict_priority_then_fifo(shared):
    sup, gates = shared
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    blocker = mp_call(sup, mp_targets.gated, gates.path("b"), "b")
    low1 = mp_call(sup, mp_targets.add, 1, priority=TASK_LOW)
    normal1 = mp_call(sup, mp_targets.add, 2, priority=TASK_NORMAL)
    high = mp_call(sup, mp_targets.add, 3, priority=TASK_HIGH)
    low2 = mp_call(sup, mp_targets.add, 4, priority=TASK_LOW)
    normal2 = mp_call(sup, mp_targets.add, 5, priority=TASK_NORMAL)
    assert sup.stats().mp.queued == counts(high=1, normal=2, low=2)

    gates.open("b")
    tasks = [blocker, low1, normal1, high, low2, normal2]
    assert wait_completed(tasks, timeout=WAIT) == ["b", 1, 2, 3, 4, 5]
    assert started_order(sup, tasks) == [blocker, high, normal1, normal2, low1, low2]


def test_critical_mp_task_starts_while_the_pool_is_full(shared):
    sup, gates = shared
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    blocker = mp_call(sup, mp_targets.gated, gates.path("b"), "b")
    high = mp_call(sup, mp_targets.square, 3, priority=TASK_HIGH)
    assert high.status == TASK_STATUS_QUEUED
    critical = mp_call(sup, mp_targets.square, 4, priority=TASK_CRITICAL)
    assert wait_completed(critical, timeout=WAIT) == 16
    assert blocker.status == TASK_STATUS_STARTED and high.status == TASK_STATUS_QUEUED
    gates.open("b")
    assert wait_completed([blocker, high], timeout=WAIT) == ["b", 9]


# -- submitting and results --------------------------------------------------------------

def test_put_task_mp_callback_gets_result_and_task_holds_slot_until_marked(shared):
    sup, _ = shared
    got: list = []
    called = threading.Event()

    def callback(result):
        got.append(result)
        called.set()

    task = sup.put_task(mp_targets.task_id_and_pid, callback=callback, tt=TT_MP,
                        task_id="mp-job-1")
    assert task.id == "mp-job-1" and task.tt == TT_MP
    assert called.wait(WAIT)
    task_id, pid = got[0]
    assert task_id == "mp-job-1"  # the target received _task_id
    assert pid != os.getpid()
    # The result has come back, but a put_task holds its slot until marked.
    assert wait_until(lambda: task.result == got[0])
    assert task.status == TASK_STATUS_STARTED and not task.is_completed()
    assert sup.stats().mp.running[TASK_NORMAL] == 1
    assert sup.get_info().mp_tasks_count == 1
    with pytest.raises(LookupError):
        sup.mark_task_completed(task_id="mp-job-1", tt=TT_THREAD)
    assert task.status == TASK_STATUS_STARTED

    sup.mark_task_completed(task_id="mp-job-1", tt=TT_MP)
    assert task.status == TASK_STATUS_COMPLETED
    assert wait_completed(task, timeout=0) == ("mp-job-1", pid)
    assert sup.stats().mp.running == counts()
    assert got == [("mp-job-1", pid)]  # the callback ran once


def test_background_task_mp_completes_by_itself_and_calls_back(shared):
    sup, _ = shared
    before = sup.stats().mp
    got: list = []
    task = background_task(mp_targets.square, tt=TT_MP, callback=got.append,
                           supervisor=sup)(7)
    assert task.tt == TT_MP
    assert wait_completed(task, timeout=WAIT) == 49
    assert task.status == TASK_STATUS_COMPLETED and task.result == 49
    assert got == [49]
    after = sup.stats().mp
    assert after.completed - before.completed == 1
    kinds = [e.kind for e in sup.events_since(0) if e.task_id == task.id]
    assert kinds == ["queued", "started", "completed"]
    assert all(e.tt == TT_MP for e in sup.events_since(0) if e.task_id == task.id)


def test_mp_targets_receive_task_id(shared):
    sup, _ = shared
    tasks = [mp_call(sup, mp_targets.task_id_and_pid) for _ in range(3)]
    results = wait_completed(tasks, timeout=WAIT)
    assert [r[0] for r in results] == [t.id for t in tasks]


def test_child_exception_is_reraised_with_its_type_and_message(shared):
    sup, _ = shared
    before = sup.stats().mp
    task = mp_call(sup, mp_targets.fail, "bad input 42")
    with pytest.raises(ValueError, match="bad input 42"):
        wait_completed(task, timeout=WAIT)
    assert task.status == TASK_STATUS_FAILED
    assert type(task.exception) is ValueError and str(task.exception) == "bad input 42"
    assert sup.stats().mp.failed - before.failed == 1
    assert [e.kind for e in sup.events_since(0) if e.task_id == task.id][-1] == "failed"
    check_invariant(sup.stats().mp)


def test_child_exception_that_cannot_be_unpickled_arrives_as_remote_task_error(shared):
    sup, _ = shared
    task = mp_call(sup, mp_targets.fail_unpicklable, 7)
    with pytest.raises(RemoteTaskError, match="NeedsTwoArgs: code 7: odd exception"):
        wait_completed(task, timeout=WAIT)
    assert "fail_unpicklable" in task.exception.remote_traceback


def test_unpicklable_arguments_fail_the_task(shared):
    sup, _ = shared
    task = mp_call(sup, mp_targets.add, threading.Lock(), 1)
    with pytest.raises(Exception, match="pickle"):
        wait_completed(task, timeout=WAIT)
    assert task.status == TASK_STATUS_FAILED
    assert sup.stats().mp.running == counts()


def test_co_mp_apply_returns_the_result(shared):
    sup, _ = shared

    async def main():
        return await co_mp_apply(mp_targets.add, (2,), {"b": 5}, priority=TASK_HIGH,
                                 supervisor=sup)

    assert asyncio.run(asyncio.wait_for(main(), WAIT)) == 7
    started = [e for e in sup.events_since(0) if e.kind == "started" and e.tt == TT_MP]
    assert started[-1].priority == TASK_HIGH


def test_co_mp_apply_reraises_the_child_exception(shared):
    sup, _ = shared

    async def main():
        return await co_mp_apply(mp_targets.fail, ("async boom",), supervisor=sup)

    with pytest.raises(ValueError, match="async boom"):
        asyncio.run(asyncio.wait_for(main(), WAIT))


def local_target_factory():
    def local_target(x, _task_id=None):
        return x
    return local_target


@pytest.mark.parametrize("target", [lambda x, _task_id=None: x, local_target_factory()],
                         ids=["lambda", "local function"])
def test_unpicklable_target_is_refused_at_submit_and_nothing_is_queued(shared, target):
    sup, _ = shared
    before = sup.stats()
    with pytest.raises(TypeError, match="pickle"):
        sup.put_task(target, args=(1,), tt=TT_MP)
    with pytest.raises(TypeError, match="pickle"):
        background_task(target, tt=TT_MP, supervisor=sup)(1)
    after = sup.stats()
    assert after.mp == before.mp
    assert after.last_event_seq == before.last_event_seq
    assert sup.get_tasks(tt=TT_MP) == []


def test_unpicklable_target_does_not_create_a_pool(make_sup):
    sup = make_sup()
    with pytest.raises(TypeError):
        sup.put_task(lambda _task_id=None: 1, tt=TT_MP)
    assert sup.mp_pool is None
    assert sup.stats().mp.submitted == 0


# -- a worker process dies ----------------------------------------------------------------

@pytest.fixture(params=["pool", "executor"])
def killable(request, make_sup, tmp_path):
    """A supervisor with a user-supplied 2-process backend of each kind, and gates."""
    ctx = multiprocessing.get_context("forkserver")
    if request.param == "pool":
        backend = ctx.Pool(2)
    else:
        backend = concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx)
    sup = make_sup()
    sup.mp_pool = backend
    sup.set_mp_pool(pool_size=2, reserve_normal=0, reserve_high=0)
    backends = [backend]
    gates = FileGates(tmp_path)
    yield sup, backends, gates
    gates.open_all()
    sup.stop(wait=2, cancel_tasks=True)
    backends.append(sup.mp_pool)  # a rebuilt one
    sup.mp_pool = None  # detach before closing them
    for b in backends:
        if isinstance(b, multiprocessing.pool.Pool):
            b.terminate()
        elif b is not None:
            b.shutdown(wait=True, cancel_futures=True)


def test_killed_worker_fails_its_task_and_the_pool_recovers(killable, tmp_path):
    """SIGKILL the process running a task: it fails within 5 s with
    WorkerDiedError, every other task ends, the pool is rebuilt and serves."""
    sup, backends, gates = killable
    pid_file = str(tmp_path / "victim.pid")
    original = sup.mp_pool

    # The neighbour occupies one process first, so the victim runs in the other
    # (for a ProcessPoolExecutor: in a process spawned on demand by its submit).
    neighbour = mp_call(sup, mp_targets.gated, gates.path("n"), "n",
                        marker=gates.marker("n"))
    assert mp_targets.wait_for_path(gates.marker("n"), WAIT), "the neighbour never started"
    victim = mp_call(sup, mp_targets.pid_then_sleep, pid_file)
    assert mp_targets.wait_for_path(pid_file, WAIT), "the victim never started"
    queued = [mp_call(sup, mp_targets.square, i) for i in range(3)]
    assert all(t.status == TASK_STATUS_QUEUED for t in queued)
    with open(pid_file) as f:
        pid = int(f.read())
    assert pid != os.getpid()

    os.kill(pid, signal.SIGKILL)
    assert victim.wait(WAIT), "the killed worker's task never ended"
    assert victim.status == TASK_STATUS_FAILED
    assert isinstance(victim.exception, WorkerDiedError)
    assert "died" in str(victim.exception)
    with pytest.raises(WorkerDiedError):
        wait_completed(victim, timeout=0)

    # Every other accepted task ends: completed, or failed because its pool died.
    gates.open("n")
    for task in [neighbour, *queued]:
        assert task.wait(WAIT), task
        assert task.status == TASK_STATUS_COMPLETED or (
            task.status == TASK_STATUS_FAILED
            and isinstance(task.exception, WorkerDiedError)), (task, task.exception)
    # Those still queued when the pool broke went to the rebuilt one.
    assert [t.result for t in queued] == [0, 1, 4]

    # The pool was rebuilt and serves new tasks.
    assert sup.mp_pool is not None and sup.mp_pool is not original
    backends.append(sup.mp_pool)
    assert wait_completed(mp_call(sup, mp_targets.square, 9), timeout=WAIT) == 81
    s = sup.stats().mp
    assert s.running == counts() and s.queued == counts()
    assert s.failed >= 1
    check_invariant(s)


def test_killed_worker_of_an_owned_pool(make_sup, tmp_path):
    sup = make_sup()
    sup.create_mp_pool(processes=1)
    pid_file = str(tmp_path / "victim.pid")
    victim = mp_call(sup, mp_targets.pid_then_sleep, pid_file)
    assert mp_targets.wait_for_path(pid_file, WAIT)
    with open(pid_file) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    assert victim.wait(WAIT)
    assert isinstance(victim.exception, WorkerDiedError)
    _, new_pid = wait_completed(mp_call(sup, mp_targets.task_id_and_pid), timeout=WAIT)
    sup.stop(wait=2)
    assert wait_until(lambda: not pid_exists(new_pid)), "the rebuilt owned pool outlived stop()"


def test_background_task_decorating_an_mp_target_in_place(default_supervisor):
    # The module attribute is the wrapper; the child must still run the function.
    default_supervisor.create_mp_pool(processes=1)
    task = mp_targets.decorated_cube(3)
    assert task.tt == TT_MP
    assert wait_completed(task, timeout=30) == 27


def test_mp_submit_to_a_stopped_supervisor_creates_no_pool(make_sup):
    sup = make_sup()
    sup.stop()
    with pytest.raises(RuntimeError, match="not active"):
        sup.submit(mp_targets.square, 2, _tt=TT_MP)
    assert sup.mp_pool is None
