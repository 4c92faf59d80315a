"""Mixed load: all four priorities, short and long tasks, some delayed, some failing.

Every task type of the thread pool: auto-completed tasks (``submit``) and
``put_task`` tasks that mark themselves completed. The pool is kept small
so queues, reserves and waits are visible.
"""

import random
import time

from engine import TASK_CRITICAL, TASK_HIGH, TASK_LOW, TASK_NORMAL

DEFAULT_DURATION = 20.0

# (priority, weight): mostly routine work, a little urgent work.
MIX = [(TASK_LOW, 40), (TASK_NORMAL, 35), (TASK_HIGH, 20), (TASK_CRITICAL, 5)]


class ScenarioFailure(Exception):
    """The deliberate failure some tasks raise."""


def work(seconds: float, fail: bool = False) -> float:
    time.sleep(seconds)
    if fail:
        raise ScenarioFailure(f"failed on purpose after {seconds:.3f} s")
    return seconds


def self_completing(seconds: float, supervisor, _task_id=None) -> None:
    """A put_task target: finishes its work, then releases its own slot."""
    time.sleep(seconds)
    supervisor.mark_task_completed(task_id=_task_id)


async def run(ctx):
    sup = ctx.supervisor
    sup.set_thread_pool(pool_size=8, reserve_normal=2, reserve_high=2)
    rng = random.Random(7)
    priorities = [p for p, w in MIX for _ in range(w)]
    while ctx.running:
        for _ in range(rng.randint(2, 6)):
            priority = rng.choice(priorities)
            seconds = rng.expovariate(1 / 0.08)
            delay = rng.uniform(0.1, 1.5) if rng.random() < 0.15 else None
            if rng.random() < 0.1:
                ctx.put_task(self_completing, args=(seconds, sup), priority=priority,
                             delay=delay)
            else:
                ctx.submit(work, seconds, fail=rng.random() < 0.08, priority=priority,
                           delay=delay, name=f"work-{seconds * 1000:.0f}ms")
        await ctx.sleep(0.05)
