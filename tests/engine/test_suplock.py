"""The supervisor's lock serves the finishes pool workers leave while it is
taken (``engine.suplock``): whoever releases it -- the main thread, another
thread, a worker -- no finish is lost, none is served twice, nothing stalls.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from engine import TASK_CRITICAL, TASK_HIGH, TASK_LOW, TASK_NORMAL, TaskSupervisor, wait_completed

POOL = 6


@pytest.fixture
def sup():
    s = TaskSupervisor("suplock", pool_size=POOL - 2, reserve_normal=1, reserve_high=1,
                       min_size="max")
    s.start()
    yield s
    s.stop(wait=5, cancel_tasks=True)


def _until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def _hold_while_all_finish(sup, hold, release):
    """Start POOL tasks blocked on an event, take the supervisor's lock with
    ``hold``, let the tasks return, wait until every worker has left its
    finish pending, then ``release``: every task must end, and the pool must
    go on running new tasks."""
    gate = threading.Event()
    blocked = [sup.submit(gate.wait, 10, _priority=TASK_HIGH) for _ in range(POOL)]
    assert _until(lambda: sup.stats().thread.active == POOL)
    lock = sup._lock
    hold(lock)
    try:
        gate.set()
        left = _until(lambda: len(lock.pending) == POOL, timeout=10)
    finally:
        release(lock)
    assert left, f"only {len(lock.pending)} of {POOL} finishes were left pending"
    # promptly: not when some later use of the lock (the queue timeouts' timer,
    # seconds away) happens to serve them
    assert wait_completed(blocked, timeout=2) == [True] * POOL
    assert wait_completed([sup.submit(lambda: 7) for _ in range(50)], timeout=10) == [7] * 50
    assert not lock.pending
    stats = sup.stats().thread
    assert stats.active == 0 and stats.threads_busy == 0 and stats.reconciles()


def test_finishes_left_while_the_main_thread_held_the_lock_are_served(sup):
    _hold_while_all_finish(sup, lambda lock: lock.acquire(), lambda lock: lock.release())


def test_finishes_left_while_another_thread_held_the_lock_are_served(sup):
    holding, done = threading.Event(), threading.Event()

    def holder(lock):
        with lock:
            holding.set()
            done.wait(20)

    thread = None

    def hold(lock):
        nonlocal thread
        thread = threading.Thread(target=holder, args=(lock,))
        thread.start()
        assert holding.wait(5)

    def release(lock):
        done.set()
        thread.join(5)

    _hold_while_all_finish(sup, hold, release)


def test_a_flood_from_many_threads_with_readers_and_cancels_ends_every_task_once(sup):
    """Submitters on the main thread and three others, a reader taking the
    lock for stats all along and a thread cancelling queued tasks: every
    accepted task ends exactly once, within the timeout."""
    per_thread = 15_000
    ends: Counter = Counter()
    ends_lock = threading.Lock()
    tasks: list = []
    tasks_lock = threading.Lock()
    stop = threading.Event()

    def ended(task):
        with ends_lock:
            ends[task.id] += 1

    def work(i):
        if i % 97 == 0:
            time.sleep(0.0005)
        if i % 211 == 0:
            raise ValueError(i)
        return i

    def submitter(seed):
        rng = random.Random(seed)
        mine = []
        for i in range(per_thread):
            task = sup.submit(work, i, _priority=rng.choice(
                [TASK_LOW, TASK_NORMAL, TASK_HIGH, TASK_CRITICAL] if i % 50 == 0
                else [TASK_LOW, TASK_NORMAL, TASK_HIGH]))
            task.add_done_callback(ended)
            mine.append(task)
        with tasks_lock:
            tasks.extend(mine)

    def reader():
        while not stop.is_set():
            sup.stats()

    def canceller():
        rng = random.Random(3)
        while not stop.is_set():
            with tasks_lock:
                some = rng.sample(tasks, min(20, len(tasks)))
            for task in some:
                try:
                    sup.cancel_task(task.id)
                except (LookupError, ValueError, RuntimeError):
                    pass  # started or finished meanwhile
            time.sleep(0.001)

    others = [threading.Thread(target=submitter, args=(seed,)) for seed in (1, 2, 3)]
    helpers = [threading.Thread(target=reader), threading.Thread(target=canceller)]
    for thread in others + helpers:
        thread.start()
    submitter(0)
    for thread in others:
        thread.join(60)
    assert len(tasks) == 4 * per_thread
    for task in tasks:
        assert task.wait(20), f"{task!r} never ended"
    stop.set()
    for thread in helpers:
        thread.join(10)
    assert _until(lambda: len(ends) == len(tasks))
    assert set(ends.values()) == {1}
    assert not sup._lock.pending
    stats = sup.stats().thread
    assert stats.pending == 0 and stats.threads_busy == 0 and stats.reconciles()
