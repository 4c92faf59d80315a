"""Multiprocessing throughput: the engine's mp pool against raw Pool.apply_async.

Both use the same ``multiprocessing.Pool`` (same processes, same start
method) in the same run: N tiny tasks submitted at once, then waited for.

    python benchmarks/bench_mp.py [--tasks N] [--processes P] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import PRIORITIES, TT_MP, TaskSupervisor, wait_completed  # noqa: E402
from engine.mp import START_METHOD  # noqa: E402


def tiny(x, _task_id=None):
    return x + 1


def raw(pool, n: int) -> float:
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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sup = TaskSupervisor(supervisor_id="bench-mp")
    sup.start()
    pool = sup.create_mp_pool(processes=args.processes)
    # Admission limits sized like the processes; the queue lives in the engine.
    sup.set_mp_pool(pool_size=args.processes * POOL_FACTOR, reserve_normal=1, reserve_high=1)
    try:
        raw(pool, 200)
        engine(sup, 200)
        raws, engines = [], []
        for _ in range(args.rounds):
            raws.append(raw(pool, args.tasks))
            engines.append(engine(sup, args.tasks))
    finally:
        sup.stop()
    r, e = statistics.median(raws), statistics.median(engines)
    print(f"mp pool, {args.tasks} tiny tasks, {args.processes} processes ({START_METHOD}), "
          f"median of {args.rounds} rounds")
    print(f"  Pool.apply_async            {r:>10,.0f} tasks/s")
    print(f"  engine, mixed priorities    {e:>10,.0f} tasks/s   ratio {e / r:.2f}")


if __name__ == "__main__":
    main()
