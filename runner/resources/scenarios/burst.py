"""Burst: a sudden flood far beyond the pool, to watch the queues drain by priority.

A trickle of routine work, then twice a flood of a few thousand short tasks
of every priority at once. Critical tasks start at once; HIGH, then NORMAL,
then LOW drain in that order.
"""

import random
import time

from engine import PRIORITIES, TASK_LOW, TASK_NORMAL

DEFAULT_DURATION = 12.0
FLOOD = 3000


def work(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def flood(ctx, rng):
    # One task in 50 is CRITICAL, the rest HIGH, NORMAL and LOW in turn, each
    # with its own duration: one submit_many call per priority, most urgent first.
    durations = {priority: [] for priority in PRIORITIES}
    for i in range(FLOOD):
        priority = PRIORITIES[1 + i % 3] if i % 50 else PRIORITIES[0]
        durations[priority].append((rng.uniform(0.002, 0.01),))
    for priority, args in durations.items():
        ctx.submit_many(work, args, priority=priority, name="flood")


async def run(ctx):
    ctx.supervisor.set_thread_pool(pool_size=6, reserve_normal=2, reserve_high=2)
    rng = random.Random(11)
    floods_at = [1.0, ctx.duration / 2]
    while ctx.running:
        if floods_at and ctx.elapsed() >= floods_at[0]:
            floods_at.pop(0)
            ctx.log.info("flood of %d tasks", FLOOD)
            flood(ctx, rng)
        ctx.submit(work, rng.uniform(0.01, 0.05), priority=rng.choice((TASK_LOW, TASK_NORMAL)),
                   name="trickle")
        await ctx.sleep(0.05)
