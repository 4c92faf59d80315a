"""Thread pool throughput and start latency: the engine against ThreadPoolExecutor.

Both pools get the same number of OS threads in the same run (8, then 30;
the engine's are ``pool_size`` plus two reserves, all started up front). Each
round times N no-op tasks through ``ThreadPoolExecutor.submit`` and then,
interleaved in the same round, through the engine in every case below; a
case's ratio is the median over the rounds of (engine / stdlib in that
round), so drift of the machine between rounds cancels out, and the spread
is the lowest and highest round.

Cases (every one is submit N tasks, then wait for all of them):

* one priority -- ``submit(f)``, all NORMAL;
* LOW/NORMAL/HIGH -- the three interleaved;
* mixed -- the ``mixed`` scenario's weights: 5 % CRITICAL, 20 % HIGH,
  35 % NORMAL, 40 % LOW, interleaved;
* 25 % each -- a quarter of each priority (every CRITICAL wants a thread
  at once, past the pool if need be);
* the seed's idiom -- ``background_task(f, priority=p)()`` per call, mixed;
* submit_many -- one ``submit_many(f, [()] * N)`` call: the time of the call
  against a loop of ``ThreadPoolExecutor.submit`` (submitting only), then the
  whole batch end to end.

Start latency: the median delay between submitting one task to an idle pool
and its target starting. The two pools take turns sample by sample; the
ratio is the median of ``LATENCY_BLOCKS`` blocks' ratios [lowest-highest].

    python benchmarks/bench_threads.py [--tasks N] [--rounds R] [--threads 8,30]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import (  # noqa: E402
    PRIORITIES,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TaskSupervisor,
    background_task,
    wait_completed,
)


def noop() -> None:
    pass


# The mixed case follows the `mixed` scenario: mostly routine work, a little
# urgent work (CRITICAL 5 %, HIGH 20 %, NORMAL 35 %, LOW 40 %), interleaved.
MIX = [TASK_CRITICAL] * 1 + [TASK_HIGH] * 4 + [TASK_NORMAL] * 7 + [TASK_LOW] * 8
LNH = [TASK_LOW, TASK_NORMAL, TASK_HIGH]
#: Start latency: the samples are taken in this many blocks, each giving a ratio.
LATENCY_BLOCKS = 5

#: (key, label, target ratio, higher is better)
CASES = [
    ("one", "one priority", 1.2),
    ("lnh", "LOW/NORMAL/HIGH interleaved", 1.2),
    ("mixed", "mixed (5 % CRITICAL)", 1.2),
    ("uniform", "25 % of each priority", 1.2),
    ("idiom", "background_task(f, priority=p)()", 1.2),
    ("many_call", "submit_many: the call vs a submit loop", 2.0),
    ("many", "submit_many: end to end", 1.2),
]


def priorities(n: int, mix: str) -> list[int]:
    if mix == "one":
        return [TASK_NORMAL] * n
    if mix == "lnh":
        return [LNH[i % 3] for i in range(n)]
    if mix == "uniform":
        return [PRIORITIES[i % 4] for i in range(n)]
    return [MIX[(i * 7) % len(MIX)] for i in range(n)]


def engine_run(sup: TaskSupervisor, n: int, mix: str) -> float:
    prios = priorities(n, mix)
    submit = sup.submit
    t0 = time.perf_counter()
    tasks = [submit(noop, _priority=p) for p in prios]
    wait_completed(tasks)
    return n / (time.perf_counter() - t0)


def idiom_run(sup: TaskSupervisor, n: int) -> float:
    prios = priorities(n, "mixed")
    t0 = time.perf_counter()
    tasks = [background_task(noop, priority=p, supervisor=sup)() for p in prios]
    wait_completed(tasks)
    return n / (time.perf_counter() - t0)


def many_run(sup: TaskSupervisor, n: int) -> tuple[float, float]:
    """(tasks/s of the submit_many call alone, tasks/s end to end)."""
    args = [()] * n
    t0 = time.perf_counter()
    tasks = sup.submit_many(noop, args)
    t1 = time.perf_counter()
    wait_completed(tasks)
    return n / (t1 - t0), n / (time.perf_counter() - t0)


def stdlib_run(ex: concurrent.futures.ThreadPoolExecutor, n: int) -> tuple[float, float]:
    """(tasks/s of the submit loop alone, tasks/s end to end)."""
    submit = ex.submit
    t0 = time.perf_counter()
    futures = [submit(noop) for _ in range(n)]
    t1 = time.perf_counter()
    concurrent.futures.wait(futures)
    return n / (t1 - t0), n / (time.perf_counter() - t0)


def start_latencies(submitters: tuple[Callable, ...], samples: int,
                    blocks: int = LATENCY_BLOCKS) -> list[list[float]]:
    """Seconds from submit() to the target running on an idle pool, for each
    of ``submitters``: per block of ``samples // blocks`` samples, the
    median of each. The pools take turns sample by sample, so a drift of
    the machine (another process, the clock of a core) reaches them alike."""
    started = threading.Event()
    stamp = [0.0]

    def target() -> None:
        stamp[0] = time.perf_counter()
        started.set()

    medians: list[list[float]] = [[] for _ in submitters]
    per_block = max(1, samples // blocks)
    for _ in range(blocks):
        delays: list[list[float]] = [[] for _ in submitters]
        for _ in range(per_block):
            for submit_one, out in zip(submitters, delays, strict=True):
                started.clear()
                t0 = time.perf_counter()
                handle = submit_one(target)
                started.wait()
                out.append(stamp[0] - t0)
                if isinstance(handle, concurrent.futures.Future):
                    handle.result()
                else:
                    handle.wait()
        for block_medians, out in zip(medians, delays, strict=True):
            block_medians.append(statistics.median(out))
    return medians


def measure(threads: int, n: int, rounds: int, samples: int) -> dict:
    reserve = 1 if threads < 20 else threads // 6
    sup = TaskSupervisor(supervisor_id=f"bench{threads}", pool_size=threads - 2 * reserve,
                         reserve_normal=reserve, reserve_high=reserve, min_size="max")
    sup.start()
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=threads)
    runs: dict[str, list[float]] = {key: [] for key in ("std", "std_call", *(c[0] for c in CASES))}
    try:
        for _ in range(2):  # warm up: threads spawned, code paths hot
            stdlib_run(ex, 2000)
            engine_run(sup, 2000, "mixed")
            idiom_run(sup, 2000)
            many_run(sup, 2000)
        for _ in range(rounds):
            call, whole = stdlib_run(ex, n)
            runs["std_call"].append(call)
            runs["std"].append(whole)
            for mix in ("one", "lnh", "mixed", "uniform"):
                runs[mix].append(engine_run(sup, n, mix))
            runs["idiom"].append(idiom_run(sup, n))
            call, whole = many_run(sup, n)
            runs["many_call"].append(call)
            runs["many"].append(whole)
        latency = start_latencies((ex.submit, sup.submit), samples)
    finally:
        sup.stop()
        ex.shutdown()
    return {"runs": runs, "latency": latency, "reserve": reserve}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def report(threads: int, result: dict) -> list[bool]:
    runs, reserve = result["runs"], result["reserve"]
    oks = []
    print(f"{threads} threads (engine: pool_size {threads - 2 * reserve} + reserves "
          f"{reserve} + {reserve}, min_size=max; ThreadPoolExecutor({threads}))")
    print(f"  {'ThreadPoolExecutor, submit and wait':<44} "
          f"{statistics.median(runs['std']):>9,.0f} tasks/s")
    for key, label, target in CASES:
        base = runs["std_call"] if key == "many_call" else runs["std"]
        ratios = [e / s for e, s in zip(runs[key], base, strict=True)]
        ok = statistics.median(ratios) >= target
        oks.append(ok)
        print(f"  {label:<44} {statistics.median(runs[key]):>9,.0f} tasks/s   ratio "
              f"{spread(ratios)}   target >= {target}  {'ok' if ok else 'BELOW'}")
    std_lat, eng_lat = result["latency"]
    ratios = [e / s for e, s in zip(eng_lat, std_lat, strict=True)]
    ok = statistics.median(ratios) <= 1.0
    oks.append(ok)
    print(f"  {'start latency, idle pool (median)':<44} TPE "
          f"{statistics.median(std_lat) * 1e6:.1f} us, engine "
          f"{statistics.median(eng_lat) * 1e6:.1f} us   ratio {spread(ratios)}   "
          f"target <= 1.0  {'ok' if ok else 'ABOVE'}")
    return oks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", default="8,30")
    parser.add_argument("--latency-samples", type=int, default=500)
    args = parser.parse_args()
    print(f"thread pool: {args.tasks:,} no-op tasks per case and round, {args.rounds} rounds; "
          f"ratio = median of the rounds' engine/stdlib ratios [lowest-highest]")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    oks = []
    for threads in (int(t) for t in args.threads.split(",")):
        oks += report(threads, measure(threads, args.tasks, args.rounds,
                                       args.latency_samples))
    print(f"{sum(oks)} of {len(oks)} figures at or past their target")


if __name__ == "__main__":
    main()
