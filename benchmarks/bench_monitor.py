"""What watching a service costs it: thread-pool throughput with a console
attached through the monitor, against the same service unattached.

The service is this process: a supervisor (pool 6 + reserves 1 + 1,
``min_size="max"``) serving its monitor on a private Unix socket, flooded
with N no-op tasks in the ``mixed`` scenario's priorities (5 % CRITICAL)
per round, submitted then waited for. Attached rounds run, in another
process as a console would, a ``RemoteClient`` polling the snapshot and
the events since the last ones at ``--hz`` (10, the console's refresh), plus
a Prometheus-style scrape of ``/metrics`` every ``--scrape`` seconds.
Unattached and attached rounds alternate (which goes first alternates
too); the ratio is the median over the rounds of attached / unattached,
the spread the lowest and highest round. Target: at least 0.95.
The CPU that watching takes is printed too, steadier than the throughput on
a shared machine: the service's loop thread (which serves the monitor) and
the watcher process, in % of a core over the flood.

    python benchmarks/bench_monitor.py [--tasks N] [--rounds R] [--hz F] [--scrape S]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from engine import (  # noqa: E402
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TaskSupervisor,
    wait_completed,
)

MIX = [TASK_CRITICAL] * 1 + [TASK_HIGH] * 4 + [TASK_NORMAL] * 7 + [TASK_LOW] * 8
TARGET = 0.95


def noop() -> None:
    pass


# -- the watcher (the other process) ---------------------------------------------------
def scrape(path: str, token: str) -> int:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    conn = http.client.HTTPConnection("monitor", timeout=5)
    conn.sock = sock
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    body = conn.getresponse().read()
    conn.close()
    return len(body)


def watch(address: str, hz: float, every: float) -> None:
    """Attach, say so on stdout, then watch until stdin closes."""
    from gui.remote import RemoteClient

    client = RemoteClient(address, hz=hz)
    if not client.wait_connected(10):
        raise SystemExit(f"could not attach to {address}: {client.last_error}")
    token = open(client.token_file, encoding="utf-8").read().strip()
    done = threading.Event()

    def scraper() -> None:
        while not done.wait(every):
            scrape(address.partition(":")[2], token)

    def reader() -> None:  # what the console's bridge does with the kept events
        seq = 0
        while not done.wait(1 / hz):
            batch = client.events(seq, 5000)
            if batch.events:
                seq = batch.events[-1].seq

    threads = [threading.Thread(target=scraper, daemon=True),
               threading.Thread(target=reader, daemon=True)]
    for thread in threads:
        thread.start()
    print("attached", flush=True)
    sys.stdin.read()
    done.set()
    client.close()


# -- the service (this process) -------------------------------------------------------
def cpu_seconds(stat_path: str) -> float:
    """User + system CPU of a process or thread, from its ``/proc/.../stat``."""
    with open(stat_path, encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_stat(sup: TaskSupervisor) -> str:
    return f"/proc/self/task/{sup._life.runner.thread.native_id}/stat"


def flood(sup: TaskSupervisor, n: int, watcher: int | None = None) -> tuple[float, float, float]:
    """(tasks/s, the loop thread's and the watcher's CPU in % of a core)."""
    stats = [loop_stat(sup)] + ([f"/proc/{watcher}/stat"] if watcher else [])
    before = [cpu_seconds(path) for path in stats]
    submit = sup.submit
    t0 = time.perf_counter()
    tasks = [submit(noop, _priority=MIX[i % len(MIX)]) for i in range(n)]
    wait_completed(tasks)
    elapsed = time.perf_counter() - t0
    shares = [100 * (cpu_seconds(path) - b) / elapsed for path, b in zip(stats, before,
                                                                            strict=True)]
    return n / elapsed, shares[0], shares[1] if watcher else 0.0


def attached_round(sup: TaskSupervisor, address: str, n: int, hz: float, every: float
                   ) -> tuple[float, float, float]:
    watcher = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--watch", address, "--hz", str(hz),
         "--scrape", str(every)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": ROOT})
    try:
        line = watcher.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "attached":
            raise RuntimeError(f"the watcher did not attach: {line!r}")
        time.sleep(2 * every)  # a scrape or two and the polling under way first
        return flood(sup, n, watcher.pid)
    finally:
        watcher.stdin.close()  # type: ignore[union-attr]
        watcher.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--scrape", type=float, default=1.0, help="seconds between scrapes")
    parser.add_argument("--watch", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        watch(args.watch, args.hz, args.scrape)
        return
    print(f"monitor cost: {args.tasks:,} no-op tasks per round (mixed priorities), pool 6 + "
          f"1 + 1, {args.rounds} rounds; attached = a RemoteClient at {args.hz:g} Hz in "
          f"another process and /metrics every {args.scrape:g} s")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    sup = TaskSupervisor(supervisor_id="bench-monitor", pool_size=6, reserve_normal=1,
                         reserve_high=1, min_size="max")
    sup.start()
    try:
        monitor = sup.serve_monitor()
        flood(sup, args.tasks)  # warm up
        alone, watched = [], []
        for r in range(args.rounds):
            order = ("alone", "watched") if r % 2 == 0 else ("watched", "alone")
            for kind in order:
                if kind == "alone":
                    alone.append(flood(sup, args.tasks))
                else:
                    watched.append(attached_round(sup, monitor.address, args.tasks, args.hz,
                                                  args.scrape))
    finally:
        sup.stop(wait=10)
    ratios = [w[0] / a[0] for w, a in zip(watched, alone, strict=True)]
    med = statistics.median(ratios)

    def share(rounds: list[tuple], i: int) -> str:
        values = [r[i] for r in rounds]
        return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}] %"

    print(f"  unattached                {statistics.median(a[0] for a in alone):>9,.0f} tasks/s"
          f"   the loop thread {share(alone, 1)} of a core")
    print(f"  attached                  {statistics.median(w[0] for w in watched):>9,.0f} tasks/s"
          f"   the loop thread {share(watched, 1)}, the watcher {share(watched, 2)}")
    print(f"  attached / unattached: ratio {med:.2f} [{min(ratios):.2f}-{max(ratios):.2f}]   "
          f"target >= {TARGET}  {'ok' if med >= TARGET else 'BELOW'}")


if __name__ == "__main__":
    main()
