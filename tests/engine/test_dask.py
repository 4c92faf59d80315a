"""The mp pool backed by a Dask ``distributed`` cluster's executor.

A real ``LocalCluster`` with two worker processes. ``distributed`` is the
project's ``dask`` extra, which ``make test`` installs: this module imports it
unconditionally, so a missing install fails loudly instead of skipping.
"""

from __future__ import annotations

import os
import time

import mp_targets
import pytest
from distributed import Client, LocalCluster
from engine_testkit import check_invariant, counts

from engine import (
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TT_MP,
    TaskSupervisor,
    background_task,
    wait_completed,
)

WAIT = 10.0  # a Dask round trip is slower than a local pool's


@pytest.fixture(scope="module")
def dask_client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def dask_sup(dask_client):
    sup = TaskSupervisor(supervisor_id="test_dask", pool_size=2, reserve_normal=1,
                         reserve_high=1)
    sup.start()
    executor = dask_client.get_executor()
    sup.mp_pool = executor
    try:
        yield sup
    finally:
        sup.stop(wait=2, cancel_tasks=True)
        sup.mp_pool = None
        executor.shutdown(wait=False)


def mp_call(sup, target, *args, priority=TASK_NORMAL, **kwargs):
    return background_task(target, tt=TT_MP, priority=priority, supervisor=sup)(*args,
                                                                                **kwargs)




def test_dask_executor_runs_mp_tasks_with_priorities_and_reserves(dask_sup, tmp_path):
    sup = dask_sup
    gates = [str(tmp_path / "gate_l1"), str(tmp_path / "gate_n1")]
    try:
        sup.set_mp_pool(pool_size=1, reserve_normal=1, reserve_high=0)
        assert sup.stats().mp.limits == {TASK_CRITICAL: None, TASK_HIGH: 2, TASK_NORMAL: 2,
                                         TASK_LOW: 1}
        l1 = mp_call(sup, mp_targets.gated, gates[0], "l1", priority=TASK_LOW)
        l2 = mp_call(sup, mp_targets.square, 3, priority=TASK_LOW)     # LOW limit reached
        n1 = mp_call(sup, mp_targets.gated, gates[1], "n1")            # the NORMAL reserve
        h1 = mp_call(sup, mp_targets.square, 4, priority=TASK_HIGH)    # A=2: HIGH limit 2
        c1 = mp_call(sup, mp_targets.task_id_and_pid, priority=TASK_CRITICAL)  # bypasses
        s = sup.stats().mp
        assert s.running == counts(critical=1, normal=1, low=1), s
        assert s.queued == counts(high=1, low=1), s
        assert [t.status for t in (l1, n1, c1)] == [TASK_STATUS_STARTED] * 3
        assert [t.status for t in (l2, h1)] == [TASK_STATUS_QUEUED] * 2
        check_invariant(s)
    finally:
        for gate in gates:
            mp_targets.open_gate(gate)

    results = wait_completed([l1, l2, n1, h1, c1], timeout=WAIT)
    assert results[:4] == ["l1", 9, "n1", 16]
    task_id, pid = results[4]
    assert task_id == c1.id and pid != os.getpid()  # ran in a Dask worker process
    # When slots freed, the queued HIGH task went before the queued LOW one.
    started = [e.task_id for e in sup.events_since(0) if e.kind == "started"]
    assert started == [l1.id, n1.id, c1.id, h1.id, l2.id]

    failed = mp_call(sup, mp_targets.fail, "dask says no")
    with pytest.raises(ValueError, match="dask says no"):
        wait_completed(failed, timeout=WAIT)
    assert failed.status == TASK_STATUS_FAILED and type(failed.exception) is ValueError

    s = sup.stats().mp
    assert (s.submitted, s.started, s.completed, s.failed, s.canceled) == (6, 6, 5, 1, 0)
    assert s.running == counts() and s.queued == counts()
    check_invariant(s)


def test_dask_put_task_and_many_results(dask_sup):
    sup = dask_sup
    got = []
    task = sup.put_task(mp_targets.add, args=(20, 22), callback=got.append, tt=TT_MP)
    deadline = time.monotonic() + WAIT
    while task.result is None and time.monotonic() < deadline:  # no hook for "result in"
        time.sleep(0.005)
    assert got == [42] and task.result == 42
    assert task.status == TASK_STATUS_STARTED
    sup.mark_task_completed(task_id=task.id, tt=TT_MP)
    assert wait_completed(task, timeout=0) == 42

    tasks = [mp_call(sup, mp_targets.square, i, priority=p)
             for i, p in zip(range(12), [TASK_LOW, TASK_NORMAL, TASK_HIGH] * 4, strict=True)]
    assert wait_completed(tasks, timeout=WAIT) == [i * i for i in range(12)]
    s = sup.stats().mp
    assert s.completed == 13 and s.running == counts()
    check_invariant(s)
