"""Stuck tasks: a few long-running tasks among quick ones, past the run thresholds.

It sets run_warning 2 s and run_critical 5 s, then starts, one after the
other, tasks that hold their slot far longer than the rest: a thread task
waiting on an upstream that never answers, a thread task crunching in a
loop, and a coroutine task awaiting a chain of calls; quick tasks keep
flowing around them. Their rows turn amber, then red, the status bar counts
them, and selecting one shows where it is stuck (its live stack). The long
tasks end with the scenario.
"""

import asyncio
import threading

from engine import TASK_HIGH, TASK_LOW
from runner.workloads import burn, work

DEFAULT_DURATION = 30.0
RUN_WARNING = 2.0
RUN_CRITICAL = 5.0


def wait_for_upstream(released: threading.Event, timeout: float) -> str:
    """Blocked on a reply that does not come (until the scenario ends)."""
    released.wait(timeout)
    return "gave up waiting"


def crunch_until(released: threading.Event) -> int:
    """Work in a loop that never reaches its end condition (short bursts of
    CPU, so that the console's own thread keeps the interpreter too)."""
    rounds = 0
    while not released.wait(0.02):
        burn(2_000)
        rounds += 1
    return rounds


async def read_ledger(released: threading.Event) -> None:
    while not released.is_set():
        await asyncio.sleep(0.1)


async def reconcile_ledger(released: threading.Event) -> str:
    """A coroutine awaiting a call that keeps waiting."""
    await read_ledger(released)
    return "reconciled"


async def run(ctx):
    sup = ctx.supervisor
    sup.set_thread_pool(pool_size=6, reserve_normal=1, reserve_high=1)
    sup.set_timeouts(run_warning=RUN_WARNING, run_critical=RUN_CRITICAL)
    if sup.get_aloop() is None:
        sup.create_aloop("scenario", default=True, daemon=True)
    released = threading.Event()
    long_ones = [
        lambda: ctx.submit(wait_for_upstream, released, 3600.0, name="fetch-report"),
        lambda: ctx.submit(crunch_until, released, priority=TASK_LOW, name="resize-images"),
        lambda: ctx.run_coroutine(reconcile_ledger, released, priority=TASK_HIGH,
                                  name="reconcile-ledger"),
    ]
    try:
        tick = 0
        while ctx.running:
            if tick % 10 == 0 and long_ones:  # one more long task each second
                long_ones.pop(0)()
            ctx.submit(work, 0.05 + (tick % 7) * 0.02, name="quick")
            tick += 1
            await ctx.sleep(0.1)
    finally:
        released.set()  # the long tasks end with the scenario
