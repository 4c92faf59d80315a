"""One worker of each kind, running side by side.

A repeating worker, an async worker on an aloop, an interval worker, an
event worker triggered by the scenario, and a queue worker fed with items.
Workers submit their own tasks; they are stopped when the scenario ends.
"""

import asyncio
import random

from engine import (
    TASK_HIGH,
    TASK_LOW,
    BackgroundAsyncWorker,
    BackgroundEventWorker,
    BackgroundIntervalWorker,
    BackgroundQueueWorker,
    BackgroundWorker,
)
from runner.workloads import work

DEFAULT_DURATION = 15.0


def housekeeping(**kwargs):
    work(0.02)


async def heartbeat(**kwargs):
    await asyncio.sleep(0.01)


def sample_metrics(**kwargs):
    work(0.005)


def rebuild_index(**kwargs):
    work(0.1)


def handle_item(item, **kwargs):
    work(item)


async def run(ctx):
    sup = ctx.supervisor
    if sup.get_aloop() is None:
        sup.create_aloop("scenario", default=True, daemon=True)
    workers = [
        BackgroundWorker("housekeeping", housekeeping, delay=0.2, priority=TASK_LOW,
                         supervisor=sup),
        BackgroundAsyncWorker("heartbeat", heartbeat, delay=0.1, supervisor=sup),
        BackgroundIntervalWorker("sample-metrics", sample_metrics, interval=0.25,
                                 supervisor=sup),
        BackgroundEventWorker("rebuild-index", rebuild_index, priority=TASK_HIGH,
                              supervisor=sup),
        BackgroundQueueWorker("handle-items", handle_item, supervisor=sup),
    ]
    for worker in workers:
        worker.start()
    _, _, _, event_worker, queue_worker = workers
    rng = random.Random(5)
    try:
        tick = 0
        while ctx.running:
            for _ in range(rng.randint(0, 4)):
                queue_worker.put_threadsafe(rng.uniform(0.001, 0.02))
            if tick % 10 == 0:  # once a second
                event_worker.trigger_threadsafe()
            tick += 1
            await ctx.sleep(0.1)
    finally:
        for worker in workers:
            worker.stop(wait=False)
