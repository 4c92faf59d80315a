"""A task never fails for a worker it did not run on: SIGKILL worker
processes of the engine's ``ProcessPool`` again and again while thousands
of mp tasks flood in from several threads.

Every task ends exactly once; a failed task failed with ``WorkerDiedError``
naming a worker that was killed, at most one task per kill (the one that
worker had taken); no task runs twice (each target notes ``task id, pid`` in
a log as it starts); the supervisor's counters reconcile.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import threading
import time

import mp_targets
from engine_testkit import check_invariant

from engine import TASK_STATUS_COMPLETED, TASK_STATUS_FAILED, TT_MP, ProcessPool, WorkerDiedError

TASKS = 2000
SUBMITTERS = 4
PROCESSES = 3
# A replacement worker costs about 0.3 s of CPU (it imports the engine):
# kill often enough for a dozen kills or more, not so often that the test
# takes more than a few seconds on two cores.
KILL_EVERY = 0.2    # seconds between two SIGKILLs
RUN_TIME = 0.002    # each task's own run time: the flood lasts a few seconds
WAIT = 60.0         # for the whole flood to end (it takes a few seconds)


def logged(path) -> list[tuple[int, int]]:
    """``(task id, pid)`` for every task that started, in order."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [tuple(map(int, line.split())) for line in lines if line.count(" ") == 1]


def test_sigkilled_workers_fail_only_the_tasks_they_were_running(make_supervisor, tmp_path):
    log = tmp_path / "started"
    sup = make_supervisor()
    pool = sup.create_mp_pool(processes=PROCESSES)
    # Two tasks in flight per process: each worker's pipe holds one behind the
    # running one (those must never fail when the worker is killed).
    sup.set_mp_pool(pool_size=2 * PROCESSES, reserve_normal=0, reserve_high=0)

    tasks: list = []
    tasks_lock = threading.Lock()
    submit_errors: list = []

    def submitter(n: int) -> None:
        try:
            for _ in range(n):
                task = sup.submit(mp_targets.note_and_sleep, str(log), RUN_TIME, _tt=TT_MP)
                with tasks_lock:
                    tasks.append(task)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            submit_errors.append(exc)

    killed: list[int] = []
    stop_killing = threading.Event()

    def killer() -> None:
        while not stop_killing.wait(KILL_EVERY):
            # Only processes seen running a task (ready ones): killing a
            # worker while it starts is a start failure, another test's topic.
            served = {pid for _, pid in logged(log)}
            victims = [p for p in pool.worker_pids() if p in served and p not in killed]
            if victims:
                victim = victims[len(killed) % len(victims)]
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                killed.append(victim)

    began = time.monotonic()
    kill_thread = threading.Thread(target=killer, name="test_killer", daemon=True)
    kill_thread.start()
    threads = [threading.Thread(target=submitter, args=(TASKS // SUBMITTERS,),
                                name=f"test_submitter_{i}") for i in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not submit_errors, submit_errors
    assert len(tasks) == TASKS
    try:
        deadline = time.monotonic() + WAIT
        for task in tasks:
            assert task.wait(max(0.0, deadline - time.monotonic())), f"{task!r} never ended"
    finally:
        stop_killing.set()
        kill_thread.join(WAIT)
    elapsed = time.monotonic() - began

    # Each task ended exactly once.
    finals = collections.Counter(e.task_id for e in sup.events_since(0)
                                 if e.kind in ("completed", "failed", "canceled"))
    ids = {t.id for t in tasks}
    assert all(finals[i] == 1 for i in ids), [i for i in ids if finals[i] != 1][:10]

    # No task started twice.
    starts = logged(log)
    started_in = collections.defaultdict(list)
    for task_id, pid in starts:
        started_in[task_id].append(pid)
    twice = {i: pids for i, pids in started_in.items() if len(pids) > 1}
    assert not twice, twice

    completed = [t for t in tasks if t.status == TASK_STATUS_COMPLETED]
    failed = [t for t in tasks if t.status == TASK_STATUS_FAILED]
    assert len(completed) + len(failed) == TASKS
    for task in completed:
        assert started_in[task.id] == [task.result]
    # Only the task a killed worker was running fails: at most one per kill,
    # with WorkerDiedError naming that worker; if it logged its start, it
    # did so in that worker.
    assert len(failed) <= len(killed), (len(failed), len(killed))
    died = re.compile(r"mp worker process (\d+) died \(exit code -9\) while running task")
    failed_pids = []
    for task in failed:
        assert isinstance(task.exception, WorkerDiedError), repr(task.exception)
        match = died.search(str(task.exception))
        assert match, str(task.exception)
        pid = int(match.group(1))
        assert pid in killed
        assert started_in.get(task.id, [pid]) == [pid]
        failed_pids.append(pid)
    assert len(set(failed_pids)) == len(failed_pids)  # one task per killed worker

    s = sup.stats().mp
    assert s.submitted == TASKS and s.completed == len(completed) and s.failed == len(failed)
    assert sum(s.running.values()) == 0 and sum(s.queued.values()) == 0
    check_invariant(s)
    assert len(killed) >= 5, f"only {len(killed)} kills in {elapsed:.1f} s"
    print(f"\nflood: {TASKS} tasks, {len(killed)} SIGKILLs, {len(failed)} failed "
          f"({sum(1 for t in failed if t.id in started_in)} had started), {elapsed:.1f} s")


def test_jobs_sent_while_the_only_worker_is_being_replaced_all_run(tmp_path):
    """Right after the only worker dies, jobs sent from several threads wait
    for its replacement: none fails ("no live worker") and none is lost."""
    with ProcessPool(1) as pool:
        for _ in range(5):
            pid = pool.submit(mp_targets.pid).result(WAIT)  # a ready worker
            os.kill(pid, signal.SIGKILL)
            futures: list = []
            errors: list = []

            def flood(futures: list = futures, errors: list = errors) -> None:
                try:
                    for i in range(100):
                        futures.append(pool.submit(mp_targets.square, i))
                except BaseException as exc:  # noqa: BLE001 - reported by the test
                    errors.append(exc)

            threads = [threading.Thread(target=flood) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT)
            assert not errors, errors
            assert sorted(f.result(WAIT) for f in futures) == sorted(
                i * i for i in range(100) for _ in range(2))
            assert pid not in pool.worker_pids()
