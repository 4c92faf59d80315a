"""Thread pool throughput and start latency: the engine against ThreadPoolExecutor.

Both pools get the same number of OS threads in the same run. Prints tasks/s
for N no-op tasks (one priority, then the four priorities mixed) and the
median delay between submitting one task to an idle pool and its target
starting, with the engine/stdlib ratios.

    python benchmarks/bench_threads.py [--tasks N] [--threads W] [--rounds R]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import (  # noqa: E402
    PRIORITIES,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TaskSupervisor,
    wait_completed,
)


def noop() -> None:
    pass


# The mixed case follows the `mixed` scenario: mostly routine work, a little
# urgent work (CRITICAL 5 %, HIGH 20 %, NORMAL 35 %, LOW 40 %), interleaved.
MIX = [TASK_CRITICAL] * 1 + [TASK_HIGH] * 4 + [TASK_NORMAL] * 7 + [TASK_LOW] * 8


def priorities(n: int, mix: str) -> list[int]:
    if mix == "one":
        return [TASK_NORMAL] * n
    if mix == "uniform":  # a quarter CRITICAL: each one wants a thread at once
        return [PRIORITIES[i % 4] for i in range(n)]
    return [MIX[(i * 7) % len(MIX)] for i in range(n)]


def engine_throughput(sup: TaskSupervisor, n: int, mix: str) -> float:
    prios = priorities(n, mix)
    submit = sup.submit
    t0 = time.perf_counter()
    tasks = [submit(noop, _priority=p) for p in prios]
    wait_completed(tasks)
    return n / (time.perf_counter() - t0)


def stdlib_throughput(ex: concurrent.futures.ThreadPoolExecutor, n: int) -> float:
    submit = ex.submit
    t0 = time.perf_counter()
    futures = [submit(noop) for _ in range(n)]
    concurrent.futures.wait(futures)
    return n / (time.perf_counter() - t0)


def start_latency(submit_one, samples: int) -> float:
    """Median seconds from submit() to the target running, on an idle pool."""
    delays = []
    started = threading.Event()
    stamp = [0.0]

    def target() -> None:
        stamp[0] = time.perf_counter()
        started.set()

    for _ in range(samples):
        started.clear()
        t0 = time.perf_counter()
        handle = submit_one(target)
        started.wait()
        delays.append(stamp[0] - t0)
        handle_wait(handle)
    return statistics.median(delays)


def handle_wait(handle) -> None:
    if isinstance(handle, concurrent.futures.Future):
        handle.result()
    else:
        handle.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--latency-samples", type=int, default=500)
    args = parser.parse_args()
    n, w = args.tasks, args.threads

    sup = TaskSupervisor(supervisor_id="bench", pool_size=w - 2, reserve_normal=1,
                         reserve_high=1, min_size="max")
    sup.start()
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=w)
    try:
        for _ in range(2):  # warm up: threads spawned, code paths hot
            engine_throughput(sup, 2000, "mixed")
            stdlib_throughput(ex, 2000)
        runs: dict[str, list[float]] = {"std": [], "one": [], "mixed": [], "uniform": []}
        for _ in range(args.rounds):  # interleaved so drift hits all alike
            runs["std"].append(stdlib_throughput(ex, n))
            for mix in ("one", "mixed", "uniform"):
                runs[mix].append(engine_throughput(sup, n, mix))
        lat_std = start_latency(ex.submit, args.latency_samples)
        lat_eng = start_latency(sup.submit, args.latency_samples)
    finally:
        sup.stop()
        ex.shutdown()

    std_med = statistics.median(runs["std"])
    print(f"thread pool, {n} no-op tasks, {w} threads, median of {args.rounds} rounds "
          f"(ratio: median of the rounds' ratios)")
    print(f"  ThreadPoolExecutor                  {std_med:>10,.0f} tasks/s")
    for mix, label in (("one", "engine, one priority"),
                       ("mixed", "engine, mixed priorities"),
                       ("uniform", "engine, 25 % of each priority")):
        med = statistics.median(runs[mix])
        # Each round's engine figure against the standard pool's figure of the
        # same round: drift of the machine between rounds cancels out.
        ratio = statistics.median(e / s for e, s in zip(runs[mix], runs["std"], strict=True))
        print(f"  {label:<35} {med:>10,.0f} tasks/s   ratio {ratio:.2f}")
    print(f"start latency, idle pool, median of {args.latency_samples}")
    print(f"  ThreadPoolExecutor                  {lat_std * 1e6:>10.1f} us")
    ratio = lat_eng / lat_std
    print(f"  engine                              {lat_eng * 1e6:>10.1f} us   ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
