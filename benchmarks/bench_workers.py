"""Queue worker throughput against a plain thread draining a ``queue.Queue``.

One producer thread puts N items; the consumer calls a no-op on each. The
time runs from the first put to the last item processed.

    python benchmarks/bench_workers.py [--items N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import TaskSupervisor, background_worker  # noqa: E402


def plain_thread(n: int) -> float:
    q: queue.Queue = queue.Queue()
    done = threading.Event()

    def consume() -> None:
        count = 0
        while True:
            item = q.get()
            if item is None:
                break
            count += 1
        done.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    t0 = time.perf_counter()
    for i in range(n):
        q.put(i)
    q.put(None)
    done.wait()
    elapsed = time.perf_counter() - t0
    consumer.join()
    return n / elapsed


def queue_worker(sup: TaskSupervisor, n: int) -> float:
    done = threading.Event()
    count = [0]

    @background_worker(q=True, supervisor=sup)
    def consume(item, **_):
        count[0] += 1
        if count[0] == n:
            done.set()

    consume.start()
    t0 = time.perf_counter()
    for i in range(n):
        consume.put_threadsafe(i)
    done.wait()
    elapsed = time.perf_counter() - t0
    consume.stop()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sup = TaskSupervisor(supervisor_id="bench-workers")
    sup.start()
    try:
        plain_thread(10_000)
        queue_worker(sup, 10_000)
        plain, worker = [], []
        for _ in range(args.rounds):
            plain.append(plain_thread(args.items))
            worker.append(queue_worker(sup, args.items))
    finally:
        sup.stop()
    p, w = statistics.median(plain), statistics.median(worker)
    print(f"queue worker, {args.items} items, median of {args.rounds} rounds")
    print(f"  thread draining queue.Queue {p:>10,.0f} items/s")
    print(f"  BackgroundQueueWorker       {w:>10,.0f} items/s   ratio {w / p:.2f}")


if __name__ == "__main__":
    main()
