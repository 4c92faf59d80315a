"""Multiprocessing throughput and start-up: the engine's mp pool against multiprocessing.Pool.

The engine runs on its default pool (``create_mp_pool``: the engine's
``ProcessPool``); the raw side is a ``multiprocessing.Pool`` with the same
number of processes and the same start method, in the same run: N tiny tasks
submitted at once, then waited for. The engine's admission window is
realistic (``pool_size`` = processes, one reserve slot each for NORMAL and
HIGH, priorities mixed so a quarter are CRITICAL), then wider (``pool_size``
= 4 x processes).

Start-up (``--startup-processes``, default 30): how long
``set_mp_pool(pool_size=30)`` blocks its caller (the engine's pool starts its
workers in the background), how long until all 30 are ready, and the worst
gap between the ticks of an interval worker (``--tick`` s apart) started
right after it, against the same worker's worst gap on an idle supervisor
and against ``multiprocessing.Pool(30)``'s constructor (it starts every
process before it returns), in the same run; each a median over
``--startup-rounds`` rounds, the spread in brackets. Every worker re-runs
this script's imports (multiprocessing re-runs the main module in each), so
"ready" includes them, as it would for any script.

    python benchmarks/bench_mp.py [--tasks N] [--processes P] [--rounds R]
                                  [--startup-processes N] [--startup-rounds R] [--tick S]
"""

from __future__ import annotations

import argparse
import multiprocessing.pool
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import (  # noqa: E402
    PRIORITIES,
    TT_MP,
    BackgroundIntervalWorker,
    TaskSupervisor,
    wait_completed,
)
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


class Ticks:
    """The times an interval worker's executor ran."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._more = threading.Event()

    def record(self, **_kw) -> None:
        self.times.append(time.perf_counter())
        self._more.set()

    def wait_more(self, n: int, timeout: float = 10.0) -> None:
        goal = len(self.times) + n
        deadline = time.perf_counter() + timeout
        while len(self.times) < goal and time.perf_counter() < deadline:
            self._more.clear()
            self._more.wait(0.5)

    def worst_gap(self) -> float:
        return max(b - a for a, b in zip(self.times, self.times[1:], strict=False))

    def missed(self, interval: float) -> int:
        """Ticks skipped (the worker skips a tick it is late for by a whole interval)."""
        return sum(max(0, round((b - a) / interval) - 1)
                   for a, b in zip(self.times, self.times[1:], strict=False))


def startup_round(processes: int, tick: float, round_no: int) -> tuple[float, float, float, int]:
    """One fresh supervisor: set_mp_pool(processes) -> (seconds it blocked,
    seconds until every worker was ready, worst tick gap, ticks missed) of
    an interval worker started right after it."""
    sup = TaskSupervisor(supervisor_id=f"bench-mp-start-{round_no}")
    sup.start()
    ticks = Ticks()
    worker = BackgroundIntervalWorker("tick", ticks.record, interval=tick, supervisor=sup)
    try:
        t0 = time.perf_counter()
        sup.set_mp_pool(pool_size=processes, reserve_normal=0, reserve_high=0)
        returned = time.perf_counter() - t0
        worker.start()
        if not sup.mp_pool.wait_ready(60):
            raise RuntimeError(f"the mp pool's {processes} workers never came up")
        ready = time.perf_counter() - t0
        ticks.wait_more(5)  # a few ticks after the last worker came up
        return returned, ready, ticks.worst_gap(), ticks.missed(tick)
    finally:
        worker.stop()
        sup.stop()


def idle_worst_gap(tick: float, seconds: float) -> float:
    """The same interval worker's worst gap on an idle supervisor."""
    sup = TaskSupervisor(supervisor_id="bench-mp-idle")
    sup.start()
    ticks = Ticks()
    worker = BackgroundIntervalWorker("tick", ticks.record, interval=tick, supervisor=sup)
    try:
        worker.start()
        ticks.wait_more(max(5, int(seconds / tick)))
        return ticks.worst_gap()
    finally:
        worker.stop()
        sup.stop()


def pool_construction(processes: int) -> float:
    """Seconds ``multiprocessing.Pool(processes)`` (same start method) blocks."""
    t0 = time.perf_counter()
    pool = mp_context().Pool(processes)
    elapsed = time.perf_counter() - t0
    pool.terminate()
    pool.join()
    return elapsed


def spread(values: list[float], scale: float, fmt: str) -> str:
    return (f"{statistics.median(values) * scale:{fmt}} "
            f"[{min(values) * scale:{fmt}}-{max(values) * scale:{fmt}}]")


def startup(processes: int, rounds: int, tick: float) -> None:
    figures = [startup_round(processes, tick, i) for i in range(rounds)]
    returned, ready, gaps, missed = (list(column) for column in zip(*figures, strict=True))
    idle = [idle_worst_gap(tick, statistics.median(ready)) for _ in range(rounds)]
    constructed = [pool_construction(processes) for _ in range(rounds)]
    print(f"mp pool start-up, {processes} processes ({START_METHOD}), median "
          f"[min-max] of {rounds} rounds")
    print(f"  set_mp_pool(pool_size={processes}) returns after    "
          f"{spread(returned, 1000, '.1f')} ms")
    print(f"  multiprocessing.Pool({processes}) returns after      "
          f"{spread(constructed, 1000, '.0f')} ms   "
          f"ratio {statistics.median(constructed) / statistics.median(returned):,.0f}")
    print(f"  all {processes} workers ready after               "
          f"{spread(ready, 1000, '.0f')} ms")
    print(f"  interval worker ({tick * 1000:.0f} ms) started right after: worst gap "
          f"{spread(gaps, 1000, '.0f')} ms, ticks missed {spread(missed, 1, '.0f')}")
    print(f"  the same worker on an idle supervisor: worst gap     "
          f"{spread(idle, 1000, '.0f')} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--startup-processes", type=int, default=30)
    parser.add_argument("--startup-rounds", type=int, default=5)
    parser.add_argument("--tick", type=float, default=0.01)
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
    print(f"mp pool, {args.tasks:,} tiny tasks, {procs} processes ({START_METHOD}), "
          f"median of {args.rounds} rounds (ratio: median of the rounds' ratios "
          f"[lowest-highest])")
    print(f"  Pool.apply_async                          {r:>10,.0f} tasks/s")
    for name, pool_size in windows.items():
        e = statistics.median(results[name])
        # Each round's engine figure against the raw figure taken just before
        # it: steadier than a ratio of medians when the machine's speed drifts.
        ratios = [x / y for x, y in zip(results[name], results["raw"], strict=True)]
        label = f"engine, mixed priorities, pool_size={pool_size}"
        print(f"  {label:<41} {e:>10,.0f} tasks/s   ratio {statistics.median(ratios):.2f} "
              f"[{min(ratios):.2f}-{max(ratios):.2f}]")
    if args.startup_rounds > 0:
        startup(args.startup_processes, args.startup_rounds, args.tick)


if __name__ == "__main__":
    main()
