"""Where the thread pool's time goes: per-task counts of one flood, per engine and mix.

The flood is bench_threads' case: N no-op tasks submitted from the main
thread (``sup.submit(noop, _priority=p)``, the priorities of
``bench_threads.priorities``), then ``wait_completed``; the pool is
bench_threads' (8 threads: ``pool_size`` 6 + reserves 1 + 1; 30 threads:
20 + 5 + 5; ``min_size="max"``). Every measurement runs in a fresh process
of its own (``--child``) that imports the ``engine`` package found in
``--engine PATH``, warms the pool up with 2,000 tasks of one priority (every
thread started and hot, no thread past ``max_size`` left over), then floods
it. Per task, for each engine and mix:

* **hand-offs** (``counts``) -- the actions passed to
  ``ThreadPool.run_actions`` during the flood, by class name (``Wake``: a
  parked thread released; ``Spawn``: a thread started) and by what they
  were for (a task of its own, the hand-off queue of critical tasks past
  ``max_size``, retire); the pool's threads at the end and at most during
  the flood, and the process's threads at the end;
* **supervisor lock** (``counts``) -- acquisitions of the supervisor's one
  lock (the one ``TaskSupervisor.__init__`` creates, made a counting proxy)
  by the submitting main thread and by the pool's threads; *contended*: a
  first ``acquire(blocking=False)`` failed, so the thread blocked; and the
  releases made while a thread is blocked on it (each a futex wake);
* **context switches and futex calls** (``syscalls``) -- of the flood
  alone, in uninstrumented runs: ``getrusage`` (every thread of the
  process: voluntary, a thread blocked; involuntary, preempted), ``perf
  stat -e context-switches,syscalls:sys_enter_futex`` enabled and disabled
  around the flood (``--control``), and ``strace -f -c -e trace=futex``
  attached to the process for the flood only; ``ThreadPoolExecutor`` with
  as many threads and the same flood for comparison. strace stops a thread
  at every syscall, which changes the interleaving: its counts are an upper
  bound, perf's the undisturbed ones;
* **futex callers** (``callers``, not by default) -- ``perf record`` of the
  flood's futex calls with native call chains, each put down to the GIL
  (take, drop), a blocked lock acquire or a lock release waking a waiter
  (one run each);
* **memory** (``memory``, ``tracemalloc`` from the process's start) --
  *queued*: the net bytes and blocks a task holds while queued (every
  non-critical task of the mix queued behind a pool held by HIGH tasks;
  critical tasks never queue), snapshot diff; *flood*: the traced peak
  above the start, divided by N (what the flood held at once, per task),
  and the snapshot diff once it is done with the caller still holding its
  ``Task`` objects (what each finished task costs its holder). The
  ledger's bounded rings (events, history, waits) are filled first, so the
  diffs show per-task costs, not ring growth;
* **profile** (``yappi``) -- CPU clock, every thread, builtins included,
  from before the pool's threads start to after they exit (a function's
  own time is booked when it returns), less a run without the flood: the
  functions with the most own time (``tsub``), calls per task.

Counts are the point, not timings: the proxy lock and the profilers slow the
engine down and shift its interleaving, and the figures of a busy, shared
machine move from run to run (``--repeat`` runs each count and flood and
takes the median; the spread is printed for the flood's counts).

    python benchmarks/profile_threads.py [--engine [LABEL=]PATH ...] [--mix one,mixed,uniform]
        [--tasks N] [--threads 8[,30]] [--sections counts,memory,syscalls,yappi[,callers]]
        [--yappi-mix one,uniform] [--repeat R] [--strace-repeat R] [--json FILE]

``--engine`` may be given several times (default: this repository); PATH is
the directory that contains the ``engine`` package.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections import Counter
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARMUP = 2_000
MEMORY_WARMUP = 8_000  # > the ring capacities: 20,000 events at three a task, 2,000 history
MIXES = ("one", "lnh", "mixed", "uniform")


def noop() -> None:
    pass


# ---------------------------------------------------------------------------------------
# the child side: one measurement of one engine, printed as one JSON line
# ---------------------------------------------------------------------------------------
def load_engine(path: str) -> Any:
    sys.path.insert(0, os.path.abspath(path))
    import engine

    where = os.path.dirname(os.path.abspath(engine.__file__))
    if where != os.path.join(os.path.abspath(path), "engine"):
        raise SystemExit(f"imported engine from {where}, not from {path}")
    return engine


def priorities(engine: Any, n: int, mix: str) -> list[int]:
    """bench_threads.priorities: the same sequence for the same mix."""
    c, h, nm, lo = engine.TASK_CRITICAL, engine.TASK_HIGH, engine.TASK_NORMAL, engine.TASK_LOW
    if mix == "one":
        return [nm] * n
    if mix == "lnh":
        lnh = [lo, nm, h]
        return [lnh[i % 3] for i in range(n)]
    if mix == "uniform":
        return [engine.PRIORITIES[i % 4] for i in range(n)]
    weights = [c] * 1 + [h] * 4 + [nm] * 7 + [lo] * 8  # the mixed scenario's 5/20/35/40 %
    return [weights[(i * 7) % len(weights)] for i in range(n)]


def pool_shape(threads: int) -> tuple[int, int]:
    reserve = 1 if threads < 20 else threads // 6
    return threads - 2 * reserve, reserve


def make_supervisor(engine: Any, threads: int) -> Any:
    pool_size, reserve = pool_shape(threads)
    return engine.TaskSupervisor(supervisor_id=f"profile{threads}", pool_size=pool_size,
                                 reserve_normal=reserve, reserve_high=reserve, min_size="max")


def flood(engine: Any, sup: Any, prios: list[int]) -> list[Any]:
    submit = sup.submit
    tasks = [submit(noop, _priority=p) for p in prios]
    engine.wait_completed(tasks)
    return tasks


def warm_up(engine: Any, sup: Any, n: int = WARMUP) -> None:
    flood(engine, sup, priorities(engine, n, "one"))
    time.sleep(0.05)  # the last workers park


def rusage() -> tuple[int, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)  # Linux: every thread of the process
    return r.ru_nvcsw, r.ru_nivcsw


class CountingLock:
    """Stands for the supervisor's lock and counts, while ``counting``, by
    the main thread or another: acquisitions; contended ones (a first
    non-blocking try failed, so the thread blocked: a futex wait); releases
    made while another thread is blocked on it (each one a futex wake: the
    releasing thread, which keeps the GIL, may take and release the lock
    again several times before the woken one runs). The counts are written
    while the lock is held: no race between threads."""

    def __init__(self, real: Any) -> None:
        self._lock = real
        self._try = real.acquire
        self._release = real.release
        self.locked = real.locked
        self._blocked: list[int] = []  # one item per thread blocked in acquire (atomic ops)
        self.main = threading.get_ident()
        self.counting = False
        self.counts = {"main": 0, "main_contended": 0, "main_wakes": 0,
                       "pool": 0, "pool_contended": 0, "pool_wakes": 0}

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._try(False):
            contended = False
        elif not blocking:
            return False
        else:
            self._blocked.append(1)
            try:
                if not self._try(True, timeout):
                    return False
            finally:
                self._blocked.pop()
            contended = True
        if self.counting:
            who = "main" if threading.get_ident() == self.main else "pool"
            self.counts[who] += 1
            if contended:
                self.counts[who + "_contended"] += 1
        return True

    __enter__ = acquire

    def release(self) -> None:
        if self.counting and self._blocked:
            self.counts["main_wakes" if threading.get_ident() == self.main
                        else "pool_wakes"] += 1
        self._release()

    def __exit__(self, *exc: object) -> None:
        self.release()


def counting_supervisor(engine: Any, threads: int) -> tuple[Any, CountingLock]:
    """A supervisor whose lock counts (``CountingLock``).

    An engine whose lock is a ``SupervisorLock`` (``engine.suplock``) gets its
    inner acquire and release replaced before it starts, and its ``serve``
    counted too (``served``: finishes left while the lock was taken). An
    older engine's plain ``threading.Lock`` is replaced as it is made, in
    ``TaskSupervisor.__init__`` (for calls made by that constructor only)."""
    import engine.supervisor as supervisor_module

    if hasattr(getattr(supervisor_module, "SupervisorLock", None), "pending"):
        sup = make_supervisor(engine, threads)
        outer = sup._lock
        counting = CountingLock(types.SimpleNamespace(
            acquire=outer.acquire, release=outer._release, locked=outer.locked))
        outer.acquire, outer._release = counting.acquire, counting.release
        serve = outer.serve

        def counted_serve(request: Any, actions: list) -> None:
            if counting.counting:
                counting.counts["served"] = counting.counts.get("served", 0) + 1
            serve(request, actions)

        outer.serve = counted_serve
        counting.counts["served"] = 0
        return sup, counting
    init_code = supervisor_module.TaskSupervisor.__init__.__code__
    real_lock = threading.Lock
    made: list[CountingLock] = []

    def lock_factory() -> Any:
        real = real_lock()
        if sys._getframe(1).f_code is init_code:
            made.append(CountingLock(real))
            return made[-1]
        return real

    threading.Lock = lock_factory  # type: ignore[misc]
    try:
        sup = make_supervisor(engine, threads)
    finally:
        threading.Lock = real_lock  # type: ignore[misc]
    if len(made) != 1 or sup._lock is not made[0] or sup._threads._lock is not made[0]:
        raise SystemExit("the supervisor's lock was not the one created in its __init__")
    return sup, made[0]


class HandOffs:
    """Wraps ``ThreadPool.run_actions``: counts each action by class name and
    by what it was for, and the most pool threads seen."""

    def __init__(self, threads_module: Any) -> None:
        self.counting = False
        self._per_thread: list[Counter] = []
        self._local = threading.local()
        self.peak_alive = 0
        take = getattr(threads_module, "TAKE", None)
        retire = threads_module._RETIRE
        original = threads_module.ThreadPool.run_actions
        handoffs = self

        def what(item: Any) -> str:
            if item is None:
                return "idle"
            if take is not None and item is take:
                return "hand-off queue"
            if item is retire:
                return "retire"
            return "task"

        def run_actions(pool: Any, actions: list) -> None:
            if handoffs.counting and actions:
                counts = getattr(handoffs._local, "counts", None)
                if counts is None:
                    counts = handoffs._local.counts = Counter()
                    handoffs._per_thread.append(counts)
                for action in actions:
                    kind = type(action).__name__
                    if kind == "Wake":
                        item = action.worker.item
                    else:  # Spawn: ``first`` (after), ``task`` (before)
                        item = getattr(action, "first", getattr(action, "task", None))
                    counts[f"{kind} ({what(item)})"] += 1
                    counts[kind] += 1
                original(pool, actions)
                handoffs.peak_alive = max(handoffs.peak_alive, pool._alive)
            else:
                original(pool, actions)

        threads_module.ThreadPool.run_actions = run_actions

    def totals(self) -> dict[str, int]:
        total: Counter = Counter()
        for counts in self._per_thread:
            total.update(counts)
        return dict(total)


def child_counts(engine: Any, args: argparse.Namespace) -> dict:
    import engine.threads as threads_module

    handoffs = HandOffs(threads_module)
    sup, lock = counting_supervisor(engine, args.threads)
    sup.start()
    try:
        warm_up(engine, sup)
        prios = priorities(engine, args.tasks, args.mix)
        handoffs.peak_alive = sup._threads._alive
        lock.counting = handoffs.counting = True
        flood(engine, sup, prios)
        lock.counting = handoffs.counting = False
        alive = sup._threads._alive
        os_threads = threading.active_count()
    finally:
        sup.stop()
    return {"handoffs": handoffs.totals(), "lock": lock.counts, "pool_threads_end": alive,
            "pool_threads_peak": handoffs.peak_alive, "os_threads_end": os_threads}


WINDOW_ENV = "PROFILE_THREADS_WINDOW"


class Window:
    """The flood alone, for an outside counter named in ``$PROFILE_THREADS_WINDOW``:
    ``perf:CTL:ACK`` -- ``perf stat -D -1 --control fifo:CTL,ACK`` counts
    from ``enable`` to ``disable``; ``strace:OUT`` -- ``strace -f -c -e
    trace=futex -p <this process>`` attaches (every thread) at the start and
    is interrupted at the end (its summary in OUT). Also ``getrusage``."""

    def __enter__(self) -> Window:
        kind, _, rest = os.environ.get(WINDOW_ENV, "").partition(":")
        self._kind = kind
        if kind == "perf":
            ctl, ack = rest.split(":")
            self._ctl = open(ctl, "w")  # noqa: SIM115 - closed in __exit__
            self._ack = open(ack)  # noqa: SIM115
            self._perf("enable")
        elif kind == "strace":
            self._strace = subprocess.Popen(
                ["strace", "-f", "-c", "-e", "trace=futex", "-o", rest, "-p", str(os.getpid())],
                stderr=subprocess.PIPE, text=True)
            while "attached" not in (line := self._strace.stderr.readline()):  # type: ignore[union-attr]
                if not line:
                    raise SystemExit("strace did not attach")
        self._rusage = rusage()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        after = rusage()
        self.voluntary = after[0] - self._rusage[0]
        self.involuntary = after[1] - self._rusage[1]
        if self._kind == "perf":
            self._perf("disable")
            self._ctl.close()
            self._ack.close()
        elif self._kind == "strace":
            import signal

            self._strace.send_signal(signal.SIGINT)
            self._strace.communicate()

    def _perf(self, command: str) -> None:
        self._ctl.write(command + "\n")
        self._ctl.flush()
        self._ack.readline()

    def result(self) -> dict:
        return {"voluntary": self.voluntary, "involuntary": self.involuntary,
                "seconds": self.seconds}


def child_flood(engine: Any, args: argparse.Namespace) -> dict:
    sup = make_supervisor(engine, args.threads)
    sup.start()
    try:
        warm_up(engine, sup)
        prios = priorities(engine, args.tasks, args.mix)
        with Window() as window:
            flood(engine, sup, prios)
    finally:
        sup.stop()
    return window.result()


def child_tpe(args: argparse.Namespace) -> dict:
    import concurrent.futures

    ex = concurrent.futures.ThreadPoolExecutor(max_workers=args.threads)
    try:
        concurrent.futures.wait([ex.submit(noop) for _ in range(WARMUP)])
        time.sleep(0.05)
        submit = ex.submit
        with Window() as window:
            concurrent.futures.wait([submit(noop) for _ in range(args.tasks)])
    finally:
        ex.shutdown()
    return window.result()


def _diff(new: Any, old: Any, n: int, top: int) -> dict:
    """Net bytes and blocks per task from snapshot ``old`` to ``new``; the
    largest sites (file:line, bytes and blocks per task)."""
    stats = new.compare_to(old, "lineno")
    size = sum(s.size_diff for s in stats)
    count = sum(s.count_diff for s in stats)
    sites = []
    for s in sorted(stats, key=lambda s: -s.size_diff)[:top]:
        frame = s.traceback[0]
        sites.append([f"{os.path.basename(frame.filename)}:{frame.lineno}",
                      s.size_diff / n, s.count_diff / n])
    return {"bytes": size / n, "blocks": count / n, "sites": sites}


def child_memory(engine: Any, args: argparse.Namespace) -> dict:
    import gc
    import tracemalloc

    n = args.tasks
    # Traced from the start: an object allocated untraced and freed later
    # (a ring entry pushed out) would not count as freed.
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    tracemalloc.start(1)
    sup = make_supervisor(engine, args.threads)
    sup.start()
    try:
        warm_up(engine, sup, MEMORY_WARMUP)
        # queued: every thread busy with a HIGH task, which no queued task may pass
        gate = threading.Event()
        blockers = [sup.submit(gate.wait, _priority=engine.TASK_HIGH)
                    for _ in range(args.threads)]
        while any(t.time_started is None for t in blockers):
            time.sleep(0.001)
        prios = [p for p in priorities(engine, n, args.mix) if p != engine.TASK_CRITICAL]
        gc.collect()
        before = tracemalloc.take_snapshot().filter_traces(ignore)
        submit = sup.submit
        tasks = [submit(noop, _priority=p) for p in prios]
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(ignore)
        gate.set()  # before the queue-timeout warnings (5 s) would add their own
        engine.wait_completed(blockers + tasks)
        queued = _diff(after, before, len(prios), 6)
        queued["tasks"] = len(prios)
        del tasks, blockers, before, after
        time.sleep(0.05)
        # the flood
        prios = priorities(engine, n, args.mix)
        gc.collect()
        before = tracemalloc.take_snapshot().filter_traces(ignore)
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        tasks = flood(engine, sup, prios)
        peak = tracemalloc.get_traced_memory()[1]
        time.sleep(0.05)
        gc.collect()
        done = tracemalloc.take_snapshot().filter_traces(ignore)
        held = _diff(done, before, n, 6)
        del tasks
    finally:
        sup.stop()
        tracemalloc.stop()
    return {"queued": queued, "flood_peak_bytes": (peak - start) / n, "flood_held": held}


def child_yappi(engine: Any, args: argparse.Namespace) -> dict:
    """yappi from before the pool's threads start to after they exit: a
    function's own time is recorded when it returns, so the workers' loop
    (``_thread_main``) counts only if the profile sees it begin and end.
    The parent subtracts a run with ``--tasks 0`` (start, warm-up, stop)."""
    import yappi

    yappi.set_clock_type("cpu")
    yappi.start(builtins=True, profile_threads=True)
    sup = make_supervisor(engine, args.threads)
    sup.start()
    try:
        warm_up(engine, sup)
        flood(engine, sup, priorities(engine, args.tasks, args.mix))
    finally:
        sup.stop()
    for thread in threading.enumerate():  # each worker loop returns: its own time counts
        if thread.name.startswith(f"supervisor_{sup.id}_pool_"):
            thread.join(5.0)
    yappi.stop()
    main_id = threading.main_thread().ident
    thread_cpu = {"main": 0.0, "pool": 0.0}
    for t in yappi.get_thread_stats():
        thread_cpu["main" if t.tid == main_id else "pool"] += t.ttot
    funcs = {}
    for f in yappi.get_func_stats():
        module = os.path.basename(f.module) if f.module else ""
        where = f"{module}:{f.lineno}" if f.lineno else module
        row = funcs.setdefault(f"{f.name} ({where})", [0, 0.0])
        row[0] += f.ncall
        row[1] += f.tsub
    return {"threads": thread_cpu, "funcs": funcs}


def yappi_diff(run: dict, base: dict, top: int) -> dict:
    """The flood alone: ``run`` minus ``base`` (the same process with no
    flood), per function; the ``top`` functions by own time."""
    rows = []
    for key, (ncall, tsub) in run["funcs"].items():
        b_ncall, b_tsub = base["funcs"].get(key, (0, 0.0))
        rows.append([key, ncall - b_ncall, tsub - b_tsub])
    rows.sort(key=lambda r: -r[2])
    threads = {k: v - base["threads"][k] for k, v in run["threads"].items()}
    return {"total_tsub": sum(r[2] for r in rows), "threads": threads, "top": rows[:top]}


def run_child(args: argparse.Namespace) -> None:
    if args.child == "tpe":
        result = child_tpe(args)
    else:
        engine = load_engine(args.engine[0])
        result = {"counts": child_counts, "flood": child_flood, "memory": child_memory,
                  "yappi": child_yappi}[args.child](engine, args)
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------
# the parent side: runs the children, prints the tables
# ---------------------------------------------------------------------------------------
def engine_label(path: str) -> str:
    try:
        commit = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--", "engine"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.path.basename(os.path.abspath(path))
    return commit + ("+" if dirty else "")


def child_command(kind: str, path: str | None, mix: str, threads: int,
                  tasks: int) -> list[str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--mix", mix,
           "--threads", str(threads), "--tasks", str(tasks)]
    if path is not None:
        cmd += ["--engine", path]
    return cmd


def run_json(cmd: list[str], prefix: list[str] | None = None,
             env: dict[str, str] | None = None) -> dict:
    out = subprocess.run((prefix or []) + cmd, capture_output=True, text=True,
                         env=None if env is None else {**os.environ, **env})
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def perf_events() -> list[str]:
    if shutil.which("perf") is None:
        return []
    for events in (["context-switches", "syscalls:sys_enter_futex"], ["context-switches"]):
        probe = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(events), "true"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and "<not" not in probe.stderr:
            return events
    return []


def flood_under_perf(cmd: list[str], events: list[str]) -> dict[str, float]:
    """The child's result and perf's counts, both of the flood alone."""
    with tempfile.TemporaryDirectory() as tmp:
        ctl, ack, out = (os.path.join(tmp, name) for name in ("ctl", "ack", "out"))
        os.mkfifo(ctl)
        os.mkfifo(ack)
        result = run_json(cmd, ["perf", "stat", "-x,", "-D", "-1", "--control",
                                f"fifo:{ctl},{ack}", "-o", out, "-e", ",".join(events), "--"],
                          {WINDOW_ENV: f"perf:{ctl}:{ack}"})
        with open(out) as lines:
            for line in lines:
                fields = line.split(",")
                if len(fields) > 2 and fields[2] in events and fields[0].strip().isdigit():
                    result[fields[2]] = float(fields[0])
    return result


def flood_under_strace(cmd: list[str]) -> dict[str, float]:
    """strace's futex calls and errors during the flood alone."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        run_json(cmd, env={WINDOW_ENV: f"strace:{out}"})
        with open(out) as lines:
            for line in lines:
                fields = line.split()
                if fields and fields[-1] == "futex":
                    return {"futex": float(fields[3]),
                            "futex errors": float(fields[4]) if len(fields) == 6 else 0.0}
    return {"futex": 0.0, "futex errors": 0.0}


#: The innermost of these in a futex call's native stack names its cause.
FUTEX_CALLERS = {"take_gil": "GIL: take", "drop_gil": "GIL: drop",
                 "PyThread_acquire_lock_timed": "lock: blocked acquire",
                 "PyThread_release_lock": "lock: release waking a waiter"}


def futex_callers(cmd: list[str]) -> dict[str, float]:
    """``perf record`` of the flood's futex calls with native call chains:
    the calls by cause (``FUTEX_CALLERS``; else ``other``)."""
    with tempfile.TemporaryDirectory() as tmp:
        ctl, ack, data = (os.path.join(tmp, name) for name in ("ctl", "ack", "data"))
        os.mkfifo(ctl)
        os.mkfifo(ack)
        run_json(cmd, ["perf", "record", "-q", "-D", "-1", "--control", f"fifo:{ctl},{ack}",
                       "-o", data, "-e", "syscalls:sys_enter_futex", "-m", "16M",
                       "--call-graph", "dwarf,1024", "--"], {WINDOW_ENV: f"perf:{ctl}:{ack}"})
        script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym"],
                                capture_output=True, text=True).stdout
        stats = subprocess.run(["perf", "report", "-i", data, "--stats"],
                               capture_output=True, text=True).stdout
    causes: Counter = Counter()
    for sample in script.split("\n\n"):
        lines = sample.strip().splitlines()
        if not lines:
            continue
        frames = [line.split()[1] for line in lines[1:] if len(line.split()) > 1]
        causes[next((FUTEX_CALLERS[f] for f in frames if f in FUTEX_CALLERS), "other")] += 1
    for line in stats.splitlines():  # samples perf could not write (buffer full)
        if line.strip().startswith("LOST_SAMPLES events:") and "%" not in line:
            causes["lost"] += int(line.split(":")[1])
    return dict(causes)


def per_task_runs(runs: list[dict], n: int) -> dict[str, list[float]]:
    """Each key's values over the runs, per task."""
    keys = sorted(set().union(*runs)) if runs else []
    return {k: [r.get(k, 0.0) / n for r in runs] for k in keys}


def median_dicts(runs: list[dict]) -> dict[str, float]:
    keys = set().union(*runs)
    return {k: statistics.median(r.get(k, 0) for r in runs) for k in keys}


def measure_all(args: argparse.Namespace, engines: list[tuple[str, str]]) -> dict:
    n, sections = args.tasks, args.sections
    results: dict = {"tasks": n, "engines": engines, "mixes": args.mix, "cells": {}}
    events = perf_events() if "syscalls" in sections else []
    strace = "syscalls" in sections and shutil.which("strace") is not None
    for threads in args.threads:
        cells = results["cells"][str(threads)] = {}
        targets = [(label, path, mix) for mix in args.mix for label, path in engines]
        if sections & {"syscalls", "callers"}:  # the same flood through the standard pool
            targets.append(("ThreadPoolExecutor", None, "one"))
        for label, path, mix in targets:
            kind = "tpe" if path is None else "flood"
            cell = cells.setdefault(f"{label}|{mix}", {})
            print(f"  [{threads} threads] {label} {mix} ...", file=sys.stderr, flush=True)
            if path is not None and "counts" in sections:
                runs = [run_json(child_command("counts", path, mix, threads, n))
                        for _ in range(args.repeat)]
                flat = [{**{f"lock {k}": v / n for k, v in r["lock"].items()},
                         "lock all": (r["lock"]["main"] + r["lock"]["pool"]) / n,
                         "lock contended": (r["lock"]["main_contended"]
                                            + r["lock"]["pool_contended"]) / n,
                         "lock wakes": (r["lock"]["main_wakes"] + r["lock"]["pool_wakes"]) / n,
                         **{k: v / n for k, v in r["handoffs"].items()},
                         "pool threads, end": r["pool_threads_end"],
                         "pool threads, peak": r["pool_threads_peak"],
                         "OS threads, end": r["os_threads_end"]} for r in runs]
                cell["counts"] = median_dicts(flat)
                cell["counts_runs"] = flat
            if "syscalls" in sections:
                cmd = child_command(kind, path, mix, threads, n)
                runs = [flood_under_perf(cmd, events) if events else run_json(cmd)
                        for _ in range(args.repeat)]
                for r in runs:
                    r.pop("seconds", None)
                cell["flood"] = per_task_runs(runs, n)
                if strace:
                    cell["flood"].update(per_task_runs(
                        [flood_under_strace(cmd) for _ in range(args.strace_repeat)], n))
            if "callers" in sections and shutil.which("perf") is not None:
                cell["futex callers"] = {k: v / n for k, v in futex_callers(
                    child_command(kind, path, mix, threads, n)).items()}
            if path is not None and "memory" in sections:
                cell["memory"] = run_json(child_command("memory", path, mix, threads, n))
            if path is not None and "yappi" in sections and mix in args.yappi_mix:
                cell["yappi"] = yappi_diff(
                    run_json(child_command("yappi", path, mix, threads, n)),
                    run_json(child_command("yappi", path, mix, threads, 0)), args.top)
    return results


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} [{fmt(min(values))}-{fmt(max(values))}]"


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


def print_table(title: str, columns: list[str], rows: list[tuple[str, list[Any]]]) -> None:
    if not rows:
        return
    width = max(len(r[0]) for r in rows) + 2
    col = max(9, *(len(c) + 2 for c in columns))
    print(f"  {title}")
    print("  " + " " * width + "".join(f"{c:>{col}}" for c in columns))
    for label, values in rows:
        print("  " + f"{label:<{width}}" + "".join(f"{fmt(v):>{col}}" for v in values))
    print()


def report(results: dict, mixes: list[str]) -> None:
    labels = [label for label, _ in results["engines"]]
    for threads, cells in results["cells"].items():
        report_threads(int(threads), cells, results["tasks"], labels, mixes)


def report_threads(threads: int, cells: dict, n: int, labels: list[str],
                   mixes: list[str]) -> None:
    pool_size, reserve = pool_shape(threads)
    print(f"== {threads} threads (pool_size {pool_size} + reserves {reserve} + {reserve}, "
          f"min_size=max): a flood of {n:,} no-op tasks, per task unless said")
    keys = [f"{label}|{mix}" for mix in mixes for label in labels]
    columns = [f"{mix}:{label}" for mix in mixes for label in labels]

    def row(section: str, key: str, name: str | None = None) -> tuple[str, list[Any]]:
        return (name or key, [cells.get(c, {}).get(section, {}).get(key) for c in keys])

    counts: set[str] = set()
    for c in keys:
        counts |= set(cells.get(c, {}).get("counts", {}))
    rows = []
    for action in ("Wake", "Spawn"):
        if action in counts:
            rows.append(row("counts", action))
            rows += [row("counts", k, "  " + k) for k in sorted(counts)
                     if k.startswith(action + " (")]
    rows += [row("counts", k) for k in ("pool threads, end", "pool threads, peak",
                                        "OS threads, end") if k in counts]
    print_table("hand-offs (ThreadPool.run_actions during the flood) and threads", columns,
                rows)
    rows = [row("counts", f"lock {k}", name) for k, name in (
        ("main", "lock: main thread (submit, wait)"),
        ("main_contended", "  of which contended"),
        ("pool", "lock: pool threads"),
        ("pool_contended", "  of which contended"),
        ("all", "lock: all"),
        ("contended", "  of which contended"),
        ("main_wakes", "releases while a thread waits: main"),
        ("pool_wakes", "releases while a thread waits: pool"),
        ("wakes", "releases while a thread waits: all"),
        ("served", "finishes left while it was taken, served")) if f"lock {k}" in counts]
    print_table("supervisor lock acquisitions", columns, rows)

    flood_keys = [k for k in [*keys, "ThreadPoolExecutor|one"] if "flood" in cells.get(k, {})]
    if flood_keys:
        metrics = [(k, name) for k, name in (
            ("voluntary", "cs voluntary"), ("involuntary", "cs involuntary"),
            ("context-switches", "perf cs"), ("syscalls:sys_enter_futex", "perf futex"),
            ("futex", "strace futex"), ("futex errors", "strace errors"))
            if any(k in cells[c]["flood"] for c in flood_keys)]
        width = max(len(k) for k in flood_keys)
        print("  the flood alone, uninstrumented: context switches (getrusage, every thread; "
              "perf) and futex calls (perf; strace -f), per task: median [lowest-highest]")
        print("  " + " " * width + "".join(f"{name:>20}" for _, name in metrics))
        for c in flood_keys:
            values = cells[c]["flood"]
            print("  " + f"{c.replace('|', ' '):<{width}}" + "".join(
                f"{spread(values[k]) if values.get(k) else '-':>20}" for k, _ in metrics))
        print()

    caller_keys = [k for k in [*keys, "ThreadPoolExecutor|one"]
                   if "futex callers" in cells.get(k, {})]
    if caller_keys:
        causes = [*FUTEX_CALLERS.values(), "other", "lost"]
        rows = [(cause, [cells[k]["futex callers"].get(cause, 0.0) for k in caller_keys])
                for cause in causes]
        rows.append(("all", [sum(v for c, v in cells[k]["futex callers"].items() if c != "lost")
                             for k in caller_keys]))
        print_table("futex calls of the flood by cause (perf record, native call chains; "
                    "one run)", [k.replace("|", ":").replace("ThreadPoolExecutor:one", "TPE")
                                 for k in caller_keys], rows)

    mem = [cells.get(c, {}).get("memory") for c in keys]
    if any(mem):
        def pick(m: dict | None, *path: str) -> Any:
            for p in path:
                m = None if m is None else m.get(p)
            return m

        rows = [("queued: tasks queued", [pick(m, "queued", "tasks") for m in mem]),
                ("queued: net bytes / queued task", [pick(m, "queued", "bytes") for m in mem]),
                ("queued: net blocks / queued task", [pick(m, "queued", "blocks") for m in mem]),
                ("flood: traced peak above start / task", [pick(m, "flood_peak_bytes")
                                                           for m in mem]),
                ("flood done, Tasks held: net bytes / task", [pick(m, "flood_held", "bytes")
                                                              for m in mem]),
                ("flood done, Tasks held: net blocks / task", [pick(m, "flood_held", "blocks")
                                                               for m in mem])]
        print_table("memory (tracemalloc: snapshot diffs; traced peak)", columns, rows)
        for c, m in zip(columns, mem, strict=True):
            if m:
                sites = ", ".join(f"{site} {size:.0f} B" for site, size, _ in
                                  m["queued"]["sites"][:4])
                print(f"  {c} queued, largest sites per task: {sites}")
        print()

    for key, column in zip(keys, columns, strict=True):
        prof = cells.get(key, {}).get("yappi")
        if not prof:
            continue
        cpu = prof["threads"]
        print(f"  yappi {column}: CPU {prof['total_tsub'] / n * 1e6:.1f} us/task under the "
              f"profiler (main thread {cpu['main'] / n * 1e6:.1f}, pool threads "
              f"{cpu['pool'] / n * 1e6:.1f}); the most own time:")
        for name, ncall, tsub in prof["top"]:
            print(f"    {tsub / prof['total_tsub'] * 100:5.1f} %  {tsub / n * 1e6:6.2f} us  "
                  f"{ncall / n:6.2f} calls/task  {name}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="append", metavar="[LABEL=]PATH",
                        help="directory that contains the engine package (repeatable; "
                             "default: this repository)")
    parser.add_argument("--mix", default="one,mixed,uniform",
                        help=f"comma-separated, of {', '.join(MIXES)}")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--threads", default="8", help="comma-separated: 8, 30")
    parser.add_argument("--sections", default="counts,memory,syscalls,yappi",
                        help="of counts, memory, syscalls, yappi, callers")
    parser.add_argument("--yappi-mix", default="one,uniform")
    parser.add_argument("--top", type=int, default=12, help="yappi: functions listed")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of each count and flood (median)")
    parser.add_argument("--strace-repeat", type=int, default=1)
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--child", choices=["counts", "flood", "tpe", "memory", "yappi"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.engine = args.engine or [REPO]
        args.threads = int(args.threads)
        run_child(args)
        return
    engines = []
    for spec in args.engine or [REPO]:
        label, _, path = spec.rpartition("=")
        engines.append((label or engine_label(path), path))
    args.mix = args.mix.split(",")
    args.yappi_mix = args.yappi_mix.split(",")
    args.threads = [int(t) for t in args.threads.split(",")]
    args.sections = set(args.sections.split(","))
    for mix in args.mix:
        if mix not in MIXES:
            parser.error(f"unknown mix {mix!r}")
    print(f"profile_threads: {args.tasks:,} no-op tasks per flood, submitted from the main "
          f"thread then wait_completed; counts: median of {args.repeat} runs")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("engines: " + ", ".join(f"{label} = {os.path.abspath(path)}"
                                  for label, path in engines))
    print()
    results = measure_all(args, engines)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    report(results, args.mix)


if __name__ == "__main__":
    main()
