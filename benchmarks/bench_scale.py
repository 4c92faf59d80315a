"""Cost as work grows: 10^3 to 10^6 tasks queued at once, the engine against
ThreadPoolExecutor.

Every round holds the pool busy (each of its threads blocked on an Event), so
that all N no-op tasks queue, then releases it:

* submit -- tasks/s of N submits onto the held pool (``submit`` in a loop,
  one ``submit_many`` call; ``ThreadPoolExecutor.submit`` in a loop);
* drain -- tasks/s from the release until every task has finished
  (``wait_completed`` / ``concurrent.futures.wait``, on the last tasks first);
* GC -- the share of each of those times spent in the cyclic garbage
  collector (``gc.callbacks``, whichever thread it ran on);
* memory -- bytes per queued task, measured with ``tracemalloc`` (precise for
  Python objects; RSS is not used) in a round of its own, whose submit is not
  timed (tracing slows it; the collector is off meanwhile) and whose drain,
  untraced, is: every allocation the N submits made and still hold after a
  full collection, less the caller's list of handles. The supervisor has run
  more than a full event ring of tasks before, so the ring (bounded, about
  2.7 MB at capacity) is in its steady state and not charged to the tasks --
  but ``tracemalloc`` cannot net out the blocks freed that were allocated
  before tracing began, so at 10^3 the figure includes about 30 B a task of
  event-ring churn (new events' sequence numbers replacing old ones) and the
  live table's regrowth; at 10^5 and above that is under 1 B a task.

* the floor -- N engine ``Task`` objects built and kept in a list, nothing
  queued or run: what CPython's cyclic collector costs any design that hands
  out one Python object per task. Each full collection visits every object
  alive, and one runs whenever those have grown by a quarter, so building
  10^6 kept objects costs 0.5-0.6x per object what 10^4 do, whoever builds
  them (``ThreadPoolExecutor``, with five objects a future, loses more).

Each timed round goes through every size (ascending) and mode still
scheduled, so sizes are compared seconds, not minutes, apart. The engine's
figures at 10^6 should be within 20 % of those at 10^4 (flat), judged on CPU
time (other sessions on a shared machine move the wall clock): the drain as
it is, the submit against the floor's (its figure over the floor's, at least
0.8; ``--gc 20000,50,100``, the console's thresholds, shows the submit
itself nearly flat), with at most 500 B per queued task. ThreadPoolExecutor runs
up to ``--stdlib-max`` tasks (10^5: a queued future holds about 1.9 KB, so
10^6 of them would need about 1.9 GB).

Then, with the pool held busy:

* the start latency of one CRITICAL task (submit to its target running)
  while 200,000 tasks wait, and, block by block in turn, on a second
  supervisor held with none waiting: median and p95; the target is that the
  waiting tasks add nothing (at most 1.2x). Its absolute value is that of a
  thread wake-up, which moves 2-3x within minutes on a shared machine (8 to
  40 us here): for reference the start latency on an idle pool of both
  pools, and the floor, a bare ``Lock`` hand-off to a parked thread, each
  also as a multiple of the floor;
* the cost of ``stats()``, ``get_info()`` and ``event_batch()`` (the newest
  100 events, as the console reads them) with each N queued, in every engine
  round (the best timing, as ``timeit`` advises on a shared machine): us per
  call; O(1) if the 10^6 figure is within 2x of the 10^3 one.

Queue timeouts are switched off (with 10^6 tasks waiting, each would fire).
``--gc T0,T1,T2`` runs it all under other collector thresholds (the
console's are 20000,50,100); ``--detail`` prints where the memory goes, by
line, at the largest size.

    python benchmarks/bench_scale.py [--sizes 1000,10000,100000,1000000]
        [--rounds R] [--tasks-per-size N] [--threads T] [--stdlib-max N]
        [--waiting N] [--gc T0,T1,T2] [--detail]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import os
import platform
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import (  # noqa: E402
    TASK_CRITICAL,
    TASK_NORMAL,
    TaskSupervisor,
    wait_completed,
)
from engine.task import Task  # noqa: E402

perf_counter = time.perf_counter


def noop() -> None:
    pass


class GcClock:
    """Time spent in the cyclic garbage collector (``gc.callbacks``), any thread."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0  # generation-2 collections
        self._t0 = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = perf_counter()
        else:
            self.seconds += perf_counter() - self._t0
            self.full += info["generation"] == 2


GC = GcClock()

MODES = [("loop", "engine, submit in a loop"), ("many", "engine, submit_many"),
         ("std", "ThreadPoolExecutor.submit loop"), ("bare", "floor: a bare Task, kept")]
FLAT = 0.8  # the 10^6 throughput over the 10^4 one, at least
BYTES_TARGET = 500
LATENCY_GROWTH = 1.2  # CRITICAL start latency, 200,000 waiting over none waiting
O1_FACTOR = 2.0


# -- holding a pool busy ----------------------------------------------------------------
def hold(submit_one: Callable[[Callable[[], None]], object], threads: int) -> threading.Event:
    """Block every thread of a pool on an Event; return it (set it to release)."""
    gate = threading.Event()
    arrived = threading.Semaphore(0)

    def blocker() -> None:
        arrived.release()
        gate.wait()

    for _ in range(threads):
        submit_one(blocker)
    for _ in range(threads):
        if not arrived.acquire(timeout=10):
            raise RuntimeError("the pool's threads did not all start a blocker")
    return gate


BARE_LOCK = threading.Lock()


def bare_tasks(n: int) -> list:
    """The floor of any design that hands out one Python object per task: N
    engine ``Task`` objects built and kept in a list, nothing queued, nothing
    run. What it loses from 10^4 to 10^6 is CPython's collector walking the
    objects kept alive (each full collection visits all of them, and one runs
    whenever they have grown by a quarter), which no pool can avoid."""
    return [Task(i, "noop", 0, TASK_NORMAL, noop, (), {}, None, None, True, BARE_LOCK, "")
            for i in range(n)]


def submit_tasks(pool: object, mode: str, n: int) -> list:
    if mode == "bare":
        return bare_tasks(n)
    if mode == "many":
        return pool.submit_many(noop, [()] * n)  # type: ignore[attr-defined]
    submit = pool.submit  # type: ignore[attr-defined]
    return [submit(noop) for _ in range(n)]


def wait_all(mode: str, handles: list, threads: int) -> None:
    """Wait until every task of ``handles`` has finished: first the last
    ``threads`` of them, then all, by then (FIFO) finished or nearly: waiters
    registered on N running tasks would compete with the pool's threads for
    the GIL and the collector during the drain."""
    wait = concurrent.futures.wait if mode == "std" else wait_completed
    wait(handles[-threads:])
    wait(handles)


# -- probes of the read side ---------------------------------------------------------------
def per_call(fn: Callable[[], object], calls: int = 20, repeats: int = 15) -> float:
    """Seconds per call of ``fn``: the best of ``repeats`` timings of ``calls``
    calls (as ``timeit`` advises: slower timings are other processes' doing)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (perf_counter() - t0) / calls)
    return best


def probe_reads(sup: TaskSupervisor) -> dict[str, float]:
    last = sup.stats().last_event_seq
    after = max(0, last - 100)
    return {"stats": per_call(sup.stats), "get_info": per_call(lambda: sup.get_info(tt=False)),
            "event_batch": per_call(lambda: sup.event_batch(after, 1000))}


# -- one round -------------------------------------------------------------------------------
process_time = time.process_time


def one_round(pool: object, mode: str, n: int, threads: int, *, trace: bool = False,
              detail: bool = False) -> dict:
    """Submit ``n`` no-op tasks to ``pool`` held busy, then release and drain.

    Rates per second of wall clock and per second of the process's CPU time
    (every thread's; other processes on the machine do not inflate it).
    """
    if mode == "bare":
        return bare_round(n, trace=trace)
    submit_one = pool.submit  # type: ignore[attr-defined]
    gate = hold(submit_one, threads)
    gc.collect()
    out: dict = {}
    if trace:  # the collector off meanwhile (it only slows this untimed submit)
        gc.disable()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    gc0, full0 = GC.seconds, GC.full
    c0, t0 = process_time(), perf_counter()
    handles = submit_tasks(pool, mode, n)
    t1, c1 = perf_counter(), process_time()
    if trace:
        gc.enable()
        gc.collect()  # what is still held, not garbage not yet collected
        held = tracemalloc.get_traced_memory()[0] - base - sys.getsizeof(handles)
        out["bytes"] = held / n
        if detail:  # only the top lines: a snapshot kept would slow every later GC
            out["lines"] = [(stat.size, stat.count, stat.traceback[0]) for stat in
                            tracemalloc.take_snapshot().statistics("lineno")[:8]]
        tracemalloc.stop()
    else:
        out["submit"] = n / (t1 - t0)
        out["submit_cpu"] = n / max(c1 - c0, 1e-9)
        out["submit_gc"] = (GC.seconds - gc0) / (t1 - t0)
        out["submit_nogc"] = n / max(t1 - t0 - (GC.seconds - gc0), 1e-9)
        out["submit_full"] = GC.full - full0
    if isinstance(pool, TaskSupervisor):
        queued = pool.stats().thread.queued[TASK_NORMAL]
        if queued != n:
            raise RuntimeError(f"{queued:,} of {n:,} tasks queued: the pool was not held busy")
        out["reads"] = probe_reads(pool)  # the read side with n tasks queued
    gc0 = GC.seconds
    c2, t2 = process_time(), perf_counter()
    gate.set()
    wait_all(mode, handles, threads)
    t3, c3 = perf_counter(), process_time()
    out["drain"] = n / (t3 - t2)
    out["drain_cpu"] = n / max(c3 - c2, 1e-9)
    out["drain_gc"] = (GC.seconds - gc0) / (t3 - t2)
    out["drain_nogc"] = n / max(t3 - t2 - (GC.seconds - gc0), 1e-9)
    return out


def bare_round(n: int, *, trace: bool) -> dict:
    """The floor's round: only the submit figures (there is nothing to drain)."""
    gc.collect()
    if trace:
        gc.disable()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    gc0, full0 = GC.seconds, GC.full
    c0, t0 = process_time(), perf_counter()
    handles = bare_tasks(n)
    t1, c1 = perf_counter(), process_time()
    if trace:
        gc.enable()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base - sys.getsizeof(handles)
        tracemalloc.stop()
        return {"bytes": held / n}
    return {"submit": n / (t1 - t0), "submit_cpu": n / max(c1 - c0, 1e-9),
            "submit_gc": (GC.seconds - gc0) / (t1 - t0),
            "submit_nogc": n / max(t1 - t0 - (GC.seconds - gc0), 1e-9),
            "submit_full": GC.full - full0}


KEYS = ("submit", "submit_cpu", "submit_gc", "submit_nogc", "submit_full", "drain",
        "drain_cpu", "drain_gc", "drain_nogc")


def rounds_for(n: int, rounds: int, per_size: int) -> int:
    """Fewer rounds for the big sizes (a 10^6 round takes several seconds)."""
    return max(1, min(rounds, per_size // n))


def measure_sizes(sup: TaskSupervisor, ex: concurrent.futures.ThreadPoolExecutor,
                  sizes: list[int], rounds: int, per_size: int, threads: int,
                  stdlib_max: int, detail: bool) -> dict:
    """``results[n][mode]``: lists of each figure over the rounds, ``bytes``;
    ``results[n]["reads"]``. Each timed round goes through every size and
    mode still scheduled, so that a size is compared with the others
    measured seconds (not minutes) apart."""
    modes = {n: [m for m, _ in MODES if m != "std" or n <= stdlib_max] for n in sizes}
    results: dict = {n: {m: {key: [] for key in KEYS} for m in modes[n]} for n in sizes}
    for n in sizes:
        results[n]["reads"] = {}

    def add_reads(n: int, r: dict) -> None:
        best = results[n]["reads"]
        for key, value in r.get("reads", {}).items():
            best[key] = min(value, best.get(key, value))

    for n in sizes:  # the traced round: memory (its drain counts too)
        for m in modes[n]:
            r = one_round(ex if m == "std" else sup, m, n, threads, trace=True,
                          detail=detail and n == sizes[-1])
            runs = results[n][m]
            runs["bytes"] = r["bytes"]
            runs["lines"] = r.get("lines")
            for key in ("drain", "drain_cpu", "drain_gc", "drain_nogc"):
                if key in r:
                    runs[key].append(r[key])
            add_reads(n, r)
    for i in range(max(rounds_for(n, rounds, per_size) for n in sizes)):
        for n in sizes:
            if i >= rounds_for(n, rounds, per_size):
                continue
            for m in modes[n]:  # interleaved: drift of the machine hits every mode alike
                r = one_round(ex if m == "std" else sup, m, n, threads)
                for key in KEYS:
                    if key in r:
                        results[n][m][key].append(r[key])
                add_reads(n, r)
    return results


# -- start latency ---------------------------------------------------------------------------
def start_delays(submit_one: Callable, samples: int, calls: list | None = None) -> list[float]:
    """Seconds from submit to the target running, ``samples`` times in a row
    (and, into ``calls``, how long each submit call took)."""
    started = threading.Event()
    stamp = [0.0]

    def target() -> None:
        stamp[0] = perf_counter()
        started.set()

    delays = []
    for _ in range(samples):
        started.clear()
        t0 = perf_counter()
        handle = submit_one(target)
        t1 = perf_counter()
        started.wait()
        delays.append(stamp[0] - t0)
        if calls is not None:
            calls.append(t1 - t0)
        if isinstance(handle, concurrent.futures.Future):
            handle.result()
        else:
            handle.wait()
    return delays


def lock_handoff_delays(samples: int) -> list[float]:
    """The floor: seconds from releasing a Lock a parked thread waits on to
    that thread running (what any pool's wake-up of a parked thread costs)."""
    wake = threading.Lock()
    wake.acquire()
    started = threading.Event()
    stamp = [0.0]
    stop = [False]

    def parked() -> None:
        while True:
            wake.acquire()
            if stop[0]:
                return
            stamp[0] = perf_counter()
            started.set()

    thread = threading.Thread(target=parked, name="bench-handoff")
    thread.start()
    delays = []
    for _ in range(samples):
        started.clear()
        t0 = perf_counter()
        wake.release()
        started.wait()
        delays.append(stamp[0] - t0)
    stop[0] = True
    wake.release()
    thread.join()
    return delays


BLOCKS = 5  # latency samples are taken in blocks; the spread is that of the blocks' medians


def critical_submitter(sup: TaskSupervisor) -> Callable[[Callable[[], None]], object]:
    def critical(target: Callable[[], None]) -> object:
        return sup.submit(target, _priority=TASK_CRITICAL)
    return critical


def measure_latency(sup: TaskSupervisor, ex: concurrent.futures.ThreadPoolExecutor,
                    threads: int, waiting: int, samples: int) -> dict:
    """CRITICAL start latency on a held pool with ``waiting`` tasks queued
    and, interleaved block by block, on a second supervisor of the same
    shape held with nothing queued (so that the machine's drift, which moves
    thread wake-ups by 2x within minutes, hits both alike); the idle pools'
    start latency and the floor for reference. Each figure: a list of
    ``BLOCKS`` lists of delays."""
    per_block = max(1, samples // BLOCKS)
    out: dict = {key: [] for key in ("idle_engine", "idle_std", "floor", "critical_empty",
                                     "critical", "critical_call", "critical_empty_call",
                                     "idle_engine_call")}
    for _ in range(BLOCKS):  # interleaved
        out["idle_engine"].append(start_delays(sup.submit, per_block, out["idle_engine_call"]))
        out["idle_std"].append(start_delays(ex.submit, per_block))
        out["floor"].append(lock_handoff_delays(per_block))

    empty = TaskSupervisor(supervisor_id="bench-scale-empty", pool_size=threads,
                           reserve_normal=0, reserve_high=0, min_size="max")
    empty.timeout_warning = None
    empty.timeout_critical = None
    empty.start()
    gates = []
    backlog: list = []
    try:
        gates = [hold(sup.submit, threads), hold(empty.submit, threads)]
        backlog = sup.submit_many(noop, [()] * waiting)
        queued = sup.stats().thread.queued[TASK_NORMAL]
        if queued != waiting:
            raise RuntimeError(f"{queued:,} of {waiting:,} tasks queued")
        full, bare = critical_submitter(sup), critical_submitter(empty)
        start_delays(full, 20)  # warm up: the extra threads exist and are parked
        start_delays(bare, 20)
        for _ in range(BLOCKS):
            out["critical"].append(start_delays(full, per_block, out["critical_call"]))
            out["critical_empty"].append(start_delays(bare, per_block,
                                                      out["critical_empty_call"]))
    finally:
        for gate in gates:
            gate.set()
        wait_completed(backlog)
        empty.stop()
    return out


# -- report ---------------------------------------------------------------------------------
def spread(values: list[float], scale: float = 1.0, fmt: str = ",.0f") -> str:
    med = format(statistics.median(values) * scale, fmt)
    if len(values) == 1:
        return f"{med} [1 round]"
    return f"{med} [{format(min(values) * scale, fmt)}-{format(max(values) * scale, fmt)}]"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def verdict(ok: bool, bad: str) -> str:
    return "ok" if ok else bad


def report_sizes(results: dict, sizes: list[int], stdlib_max: int, detail: bool) -> list[bool]:
    oks = []
    med = statistics.median
    print("submit onto the held pool, then drain: tasks per second of wall clock, median "
          "[lowest-highest round], per second of CPU time (the process's), and the share of "
          "the wall time spent in the garbage collector; memory: B per queued task")
    print(f"  {'N':>9}  {'':<31} {'submit: wall':>26} {'CPU':>8} {'GC':>4} "
          f"{'drain: wall':>26} {'CPU':>8} {'GC':>4} {'B/task':>7}")
    for n in sizes:
        for m, label in MODES:
            r = results[n].get(m)
            if r is None:
                continue
            submit = spread(r["submit"]) if r["submit"] else "-"
            drain = (f"{spread(r['drain']):>26} {med(r['drain_cpu']):>8,.0f} "
                     f"{med(r['drain_gc']):>4.0%}" if r["drain"] else f"{'-':>26} {'':>8} {'':>4}")
            print(f"  {n:>9,}  {label:<31} {submit:>26} {med(r['submit_cpu']):>8,.0f} "
                  f"{med(r['submit_gc']):>4.0%} {drain} {r['bytes']:>7,.0f}")
    if sizes[-1] > stdlib_max:
        print(f"  (ThreadPoolExecutor not run above {stdlib_max:,} tasks: --stdlib-max)")
    big, ref = sizes[-1], 10_000 if 10_000 in sizes else sizes[0]

    def ratio(m: str, key: str, n: int) -> float:
        return med(results[n][m][key]) / med(results[ref][m][key])

    floor = ratio("bare", "submit_cpu", big)
    print(f"  flat: the figure at {big:,} over the one at {ref:,}, on CPU time (then wall "
          f"clock, which other sessions on the machine move, and wall clock less the time "
          f"in the garbage collector); a submit is judged against the floor's, {floor:.2f} "
          f"(wall {ratio('bare', 'submit', big):.2f}, less GC "
          f"{ratio('bare', 'submit_nogc', big):.2f}): what CPython's collector takes from "
          f"any pool that keeps an object per queued task")
    for m, label in MODES[:2]:
        for what in ("submit", "drain"):
            cpu = ratio(m, what + "_cpu", big)
            judged, against = (cpu / floor, " of the floor's") if what == "submit" else (cpu, "")
            ok = judged >= FLAT
            oks.append(ok)
            print(f"    {label}, {what}: {cpu:.2f} (wall {ratio(m, what, big):.2f}, less GC "
                  f"{ratio(m, what + '_nogc', big):.2f})" +
                  (f", {judged:.2f}{against}" if against else "") +
                  f"   target >= {FLAT}{against}  {verdict(ok, 'BELOW')}")
    print("    full (generation 2) collections during one submit: " + "; ".join(
        f"at {n:,}: in a loop {med(results[n]['loop']['submit_full']):.0f}, submit_many "
        f"{med(results[n]['many']['submit_full']):.0f}, the floor "
        f"{med(results[n]['bare']['submit_full']):.0f}" for n in (ref, big)))
    std_big = max((n for n in sizes if "std" in results[n]), default=ref)
    if std_big != ref and "std" in results[ref]:
        print(f"    for reference, {MODES[2][1]} at {std_big:,} over {ref:,}: submit "
              f"{ratio('std', 'submit_cpu', std_big):.2f} "
              f"({ratio('std', 'submit', std_big):.2f}), drain "
              f"{ratio('std', 'drain_cpu', std_big):.2f} ({ratio('std', 'drain', std_big):.2f})")
    for m, label in MODES[:2]:
        worst = max(results[n][m]["bytes"] for n in sizes)
        ok = worst <= BYTES_TARGET
        oks.append(ok)
        print(f"  memory: {label}, most B per queued task over the sizes: {worst:,.0f}   "
              f"target <= {BYTES_TARGET}  {verdict(ok, 'ABOVE')}")
    if detail:
        for m, label in MODES:
            lines = results[big].get(m, {}).get("lines")
            if not lines:
                continue
            print(f"  where the memory of {label} at {big:,} goes (tracemalloc, by line; "
                  f"the caller's list included):")
            for size, count, frame in lines:
                print(f"    {size / big:7.1f} B/task  {count / big:5.2f} blocks/task  "
                      f"{os.path.relpath(frame.filename)}:{frame.lineno}")
    return oks


def report_latency(lat: dict, waiting: int, threads: int) -> list[bool]:
    def figures(blocks: list[list[float]]) -> str:
        delays = [d for block in blocks for d in block]
        medians = [statistics.median(block) for block in blocks]
        return (f"median {statistics.median(delays) * 1e6:5.1f} us [{min(medians) * 1e6:.1f}-"
                f"{max(medians) * 1e6:.1f}], p95 {p95(delays) * 1e6:5.1f} us")

    def median_of(key: str) -> float:
        return statistics.median(d for block in lat[key] for d in block)

    crit = [d for block in lat["critical"] for d in block]
    print(f"start latency, submit to target running ({len(crit)} samples each, median "
          f"[lowest-highest median of {BLOCKS} blocks]):")
    print(f"  CRITICAL, pool full ({threads} threads blocked), {waiting:,} waiting: "
          f"{figures(lat['critical'])}")
    print(f"    of which the submit call itself:             "
          f"median {statistics.median(lat['critical_call']) * 1e6:5.1f} us")
    print(f"  CRITICAL, pool full, nothing waiting:           {figures(lat['critical_empty'])}")
    print(f"    of which the submit call itself:             "
          f"median {statistics.median(lat['critical_empty_call']) * 1e6:5.1f} us")
    growth = median_of("critical") / median_of("critical_empty")
    ok = growth <= LATENCY_GROWTH
    print(f"  what {waiting:,} waiting tasks add to a CRITICAL start (the two above, measured "
          f"block by block in turn): {growth:.2f}x   target <= {LATENCY_GROWTH}  "
          f"{verdict(ok, 'ABOVE')}")
    print(f"  for reference, idle pool, engine:               {figures(lat['idle_engine'])}")
    print(f"    of which the submit call itself:             "
          f"median {statistics.median(lat['idle_engine_call']) * 1e6:5.1f} us")
    print(f"  for reference, idle pool, ThreadPoolExecutor:   {figures(lat['idle_std'])}")
    print(f"  the floor, a bare Lock hand-off to a parked thread: {figures(lat['floor'])}")
    floor = median_of("floor")
    print(f"  the CRITICAL start over the floor: {median_of('critical') / floor:.2f}x with "
          f"{waiting:,} waiting, {median_of('critical_empty') / floor:.2f}x with none; an idle "
          f"pool: engine {median_of('idle_engine') / floor:.2f}x, ThreadPoolExecutor "
          f"{median_of('idle_std') / floor:.2f}x")
    return [ok]


def report_reads(results: dict, sizes: list[int]) -> list[bool]:
    small, big = sizes[0], sizes[-1]
    oks = []
    print("reads with N tasks queued (the queue-wait window full), us per call: the best of "
          "15 timings of 20 calls in each engine round; event_batch: the newest 100 events:")
    for n in sizes:
        reads = results[n]["reads"]
        print(f"  {n:>9,}  " + "   ".join(f"{k} {v * 1e6:6.1f}" for k, v in reads.items()))
    for key in results[big]["reads"]:
        ratio = results[big]["reads"][key] / results[small]["reads"][key]
        ok = ratio <= O1_FACTOR
        oks.append(ok)
        print(f"  O(1): {key} at {big:,} / at {small:,}: {ratio:.2f}   target <= {O1_FACTOR}  "
              f"{verdict(ok, 'ABOVE')}")
    return oks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed rounds per size, at most (plus one traced round)")
    parser.add_argument("--tasks-per-size", type=int, default=200_000,
                        help="fewer timed rounds for big sizes: at most this many tasks per "
                             "mode and size, at least one round")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--stdlib-max", type=int, default=100_000)
    parser.add_argument("--waiting", type=int, default=200_000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--detail", action="store_true",
                        help="where the memory goes, by line, at the largest size")
    parser.add_argument("--gc", default=None, metavar="T0,T1,T2",
                        help="gc.set_threshold for the run (the console's: 20000,50,100)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.gc:
        gc.set_threshold(*(int(t) for t in args.gc.split(",")))
    started = perf_counter()
    print(f"cost as work grows: {args.threads} threads each (engine pool_size {args.threads}, "
          f"no reserves, min_size=max; ThreadPoolExecutor({args.threads})), no-op tasks; per "
          f"size one round traced with tracemalloc (memory, drain) and up to {args.rounds} "
          f"timed rounds ({args.tasks_per_size:,} tasks per mode and size at most)")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"gc thresholds {gc.get_threshold()}")
    sup = TaskSupervisor(supervisor_id="bench-scale", pool_size=args.threads, reserve_normal=0,
                         reserve_high=0, min_size="max")
    sup.timeout_warning = None
    sup.timeout_critical = None
    sup.start()
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=args.threads)
    try:
        for m in ("loop", "many", "std"):  # warm up; more than a full event ring of tasks
            one_round(ex if m == "std" else sup, m, 10_000, args.threads)
        results = measure_sizes(sup, ex, sizes, args.rounds, args.tasks_per_size, args.threads,
                                args.stdlib_max, args.detail)
        latency = measure_latency(sup, ex, args.threads, args.waiting, args.latency_samples)
    finally:
        sup.stop()
        ex.shutdown()
    oks = report_sizes(results, sizes, args.stdlib_max, args.detail)
    oks += report_latency(latency, args.waiting, args.threads)
    oks += report_reads(results, sizes)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{sum(oks)} of {len(oks)} figures at or past their target "
          f"({perf_counter() - started:.0f} s, peak RSS {peak:,.0f} MB)")


if __name__ == "__main__":
    main()
