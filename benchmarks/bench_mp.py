"""Multiprocessing throughput: the engine's mp pool against raw Pool.apply_async.

The engine runs on its default pool (``create_mp_pool``: the engine's
``ProcessPool``); the raw side is a ``multiprocessing.Pool`` with the same
number of processes and the same start method, in the same run: N tiny tasks
submitted at once, then waited for. The engine's admission window is
realistic (``pool_size`` = processes, one reserve slot each for NORMAL and
HIGH, priorities mixed so a quarter are CRITICAL), then wider (``pool_size``
= 4 x processes).

    python benchmarks/bench_mp.py [--tasks N] [--processes P] [--rounds R]
"""

from __future__ import annotations

import argparse
import multiprocessing.pool
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import PRIORITIES, TT_MP, TaskSupervisor, wait_completed  # noqa: E402
from engine.mp import START_METHOD, mp_context  # noqa: E402

WIDE_FACTOR = 4  # the second engine line: pool_size = WIDE_FACTOR x processes


def tiny(x, _task_id=None):
    return x + 1


def raw(pool: multiprocessing.pool.Pool, n: int) -> float:
    t0 = time.perf_counter()
    results = [pool.apply_async(tiny, (i,)) for i in range(n)]
    for r in results:
        r.get()
    return n / (time.perf_counter() - t0)


def engine(sup: TaskSupervisor, n: int) -> float:
    t0 = time.perf_counter()
    tasks = [sup.submit(tiny, i, _tt=TT_MP, _priority=PRIORITIES[i % 4]) for i in range(n)]
    wait_completed(tasks)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    procs = args.processes
    pool = mp_context().Pool(procs)
    sup = TaskSupervisor(supervisor_id="bench-mp")
    sup.start()
    sup.create_mp_pool(processes=procs)
    windows = {"realistic": procs, "wide": procs * WIDE_FACTOR}
    results: dict[str, list[float]] = {"raw": [], **{w: [] for w in windows}}
    try:
        raw(pool, 200)
        engine(sup, 200)
        for _ in range(args.rounds):
            results["raw"].append(raw(pool, args.tasks))
            for name, pool_size in windows.items():
                sup.set_mp_pool(pool_size=pool_size, reserve_normal=1, reserve_high=1)
                results[name].append(engine(sup, args.tasks))
    finally:
        sup.stop()
        pool.terminate()
        pool.join()
    r = statistics.median(results["raw"])
    print(f"mp pool, {args.tasks} tiny tasks, {procs} processes ({START_METHOD}), "
          f"median of {args.rounds} rounds (ratio: median of the rounds' ratios)")
    print(f"  Pool.apply_async                          {r:>10,.0f} tasks/s")
    for name, pool_size in windows.items():
        e = statistics.median(results[name])
        # Each round's engine figure against the raw figure taken just before
        # it: steadier than a ratio of medians when the machine's speed drifts.
        ratio = statistics.median(x / y for x, y in zip(results[name], results["raw"],
                                                            strict=True))
        label = f"engine, mixed priorities, pool_size={pool_size}"
        print(f"  {label:<41} {e:>10,.0f} tasks/s   ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
