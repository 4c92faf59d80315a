"""CPU-bound work across the process pool with all priorities.

More work is offered than the pool's processes can do, so the mp queues
fill and drain by priority; critical tasks bypass admission.
"""

import random

from engine import PRIORITIES, TT_MP
from runner.workloads import burn

DEFAULT_DURATION = 15.0


async def run(ctx):
    sup = ctx.supervisor
    sup.set_mp_pool(pool_size=2, reserve_normal=1, reserve_high=1)
    rng = random.Random(3)
    while ctx.running:
        for _ in range(rng.randint(1, 3)):
            priority = PRIORITIES[0] if rng.random() < 0.03 else rng.choice(PRIORITIES[1:])
            ctx.submit(burn, rng.randint(100_000, 600_000), priority=priority, tt=TT_MP,
                       name="crunch")
        await ctx.sleep(0.1)
