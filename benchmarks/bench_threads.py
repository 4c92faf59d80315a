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

from engine import PRIORITIES, TASK_NORMAL, TaskSupervisor, wait_completed  # noqa: E402


def noop() -> None:
    pass


def engine_throughput(sup: TaskSupervisor, n: int, mixed: bool) -> float:
    prios = [PRIORITIES[i % 4] for i in range(n)] if mixed else [TASK_NORMAL] * n
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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-samples", type=int, default=500)
    args = parser.parse_args()
    n, w = args.tasks, args.threads

    sup = TaskSupervisor(supervisor_id="bench", pool_size=w - 2, reserve_normal=1,
                         reserve_high=1, min_size="max")
    sup.start()
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=w)
    try:
        for _ in range(2):  # warm up: threads spawned, code paths hot
            engine_throughput(sup, 2000, mixed=True)
            stdlib_throughput(ex, 2000)
        single, mixed, std = [], [], []
        for _ in range(args.rounds):  # interleaved so drift hits all three alike
            std.append(stdlib_throughput(ex, n))
            single.append(engine_throughput(sup, n, mixed=False))
            mixed.append(engine_throughput(sup, n, mixed=True))
        lat_std = start_latency(ex.submit, args.latency_samples)
        lat_eng = start_latency(sup.submit, args.latency_samples)
    finally:
        sup.stop()
        ex.shutdown()

    std_med = statistics.median(std)
    print(f"thread pool, {n} no-op tasks, {w} threads, median of {args.rounds} rounds")
    print(f"  ThreadPoolExecutor          {std_med:>10,.0f} tasks/s")
    for label, runs in (("engine, one priority", single), ("engine, mixed priorities", mixed)):
        med = statistics.median(runs)
        print(f"  {label:<27} {med:>10,.0f} tasks/s   ratio {med / std_med:.2f}")
    print(f"start latency, idle pool, median of {args.latency_samples}")
    print(f"  ThreadPoolExecutor          {lat_std * 1e6:>10.1f} us")
    ratio = lat_eng / lat_std
    print(f"  engine                      {lat_eng * 1e6:>10.1f} us   ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
