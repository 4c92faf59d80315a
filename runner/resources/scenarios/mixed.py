"""Mixed load: all four priorities and every task type, some delayed, some failing.

Thread tasks completed automatically (``submit``) and ``put_task`` tasks
that mark themselves completed, coroutine tasks on an aloop, and process
tasks in the mp pool. The pools are kept small so queues, reserves and waits
are visible.
"""

import asyncio
import random

from engine import TASK_CRITICAL, TASK_HIGH, TASK_LOW, TASK_NORMAL, TT_MP
from runner.workloads import burn, work

DEFAULT_DURATION = 20.0

# (priority, weight): mostly routine work, a little urgent work.
MIX = [(TASK_LOW, 40), (TASK_NORMAL, 35), (TASK_HIGH, 20), (TASK_CRITICAL, 5)]


def self_completing(seconds: float, supervisor, _task_id=None) -> None:
    """A put_task target: finishes its work, then releases its own slot."""
    work(seconds)
    supervisor.mark_task_completed(task_id=_task_id)


async def poll_service(seconds: float, fail: bool = False) -> float:
    """A coroutine task: waits on (simulated) I/O without holding a thread."""
    await asyncio.sleep(seconds)
    if fail:
        raise ConnectionError("service did not answer")
    return seconds


async def run(ctx):
    sup = ctx.supervisor
    # Small pools for the load offered: the reserves are used and queues form.
    sup.set_thread_pool(pool_size=4, reserve_normal=1, reserve_high=1)
    sup.set_mp_pool(pool_size=1, reserve_normal=1, reserve_high=1)
    if sup.get_aloop() is None:
        sup.create_aloop("scenario", default=True, daemon=True)
    rng = random.Random(7)
    priorities = [p for p, w in MIX for _ in range(w)]
    while ctx.running:
        for _ in range(rng.randint(2, 6)):
            priority = rng.choice(priorities)
            seconds = rng.expovariate(1 / 0.08)
            delay = rng.uniform(0.1, 1.5) if rng.random() < 0.15 else None
            fail = rng.random() < 0.08
            kind = rng.random()
            if kind < 0.1:
                ctx.put_task(self_completing, args=(seconds, sup), priority=priority,
                             delay=delay)
            elif kind < 0.25:
                ctx.run_coroutine(poll_service, seconds, fail=fail, priority=priority,
                                  delay=delay, name="poll-service")
            elif kind < 0.35:
                ctx.submit(burn, rng.randint(20_000, 200_000), priority=priority, delay=delay,
                           tt=TT_MP, name="mp-burn")
            else:
                ctx.submit(work, seconds, fail=fail, priority=priority, delay=delay,
                           name=f"work-{seconds * 1000:.0f}ms")
        await ctx.sleep(0.05)
