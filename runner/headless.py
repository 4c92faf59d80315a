"""The headless run: a scenario against the default supervisor, then a summary.

``run_headless`` starts ``engine.task_supervisor``, awaits the scenario for
its duration on an ``asyncio.run`` loop in the calling thread, waits for the
scenario's tasks to finish, stops the supervisor and prints one line per
priority, tallied from the supervisor's task events (so tasks that workers
submit count too). It returns the process exit code: 0 when every task the scenario
submitted ended (completed, failed or canceled) and the supervisor's counters
reconcile, 1 when a task was lost or hung, 2 when the scenario is broken.
No Qt is imported here.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

from engine import Task, TaskSupervisor, task_supervisor

from .scenario import ScenarioContext, ScenarioError, load
from .tally import EventTally

log = logging.getLogger("runner")


def run_headless(ref: str, duration: float | None = None, drain: float = 60.0,
                 supervisor: TaskSupervisor | None = None, out: TextIO = sys.stdout) -> int:
    try:
        scenario = load(ref)
    except ScenarioError as exc:
        print(f"error: {exc}", file=out)
        return 2
    sup = supervisor or task_supervisor
    duration = scenario.default_duration if duration is None else duration
    tally = EventTally()
    sup.start()
    t0 = time.monotonic()
    try:
        ctx = asyncio.run(_drive(scenario.run, sup, duration, scenario.name, tally))
        unfinished = _drain(ctx.tasks, drain)
    finally:
        sup.stop(wait=5, cancel_tasks=True)
    elapsed = time.monotonic() - t0
    tally.poll(sup)
    stats = sup.stats()
    print(f"scenario {scenario.name}: ran {duration:g} s, {elapsed:.1f} s with the drain",
          file=out)
    print(tally.format(elapsed), file=out)
    lost = [t for t in ctx.tasks if not t.is_completed()]
    pools = {"thread": stats.thread, "mp": stats.mp, "coroutine": stats.coroutine}
    unreconciled = [name for name, pool in pools.items() if not pool.reconciles()]
    pending = sum(pool.pending for pool in pools.values())
    ok = not unreconciled and not pending and not lost
    if unfinished:
        print(f"HUNG: {len(unfinished)} task(s) still unfinished after {drain:g} s", file=out)
    for task in lost[:10]:
        print(f"  unfinished: {task!r}", file=out)
    if pending and not lost:
        print(f"HUNG: {pending} task(s) still pending after the stop", file=out)
    for name in unreconciled:
        print(f"LOST: {name} pool counters do not reconcile: {pools[name]}", file=out)
    print("result: OK, every task ended" if ok else "result: FAILED", file=out)
    return 0 if ok else 1


async def _drive(run, sup: TaskSupervisor, duration: float, name: str,
                 tally: EventTally) -> ScenarioContext:
    ctx = ScenarioContext(sup, duration, name)
    collector = asyncio.create_task(_collect(sup, tally))
    try:
        await run(ctx)
    except Exception:
        log.exception("scenario %s raised", name)
    finally:
        collector.cancel()
    return ctx


async def _collect(sup: TaskSupervisor, tally: EventTally) -> None:
    """Read the event ring often enough that it never wraps under a flood."""
    while True:
        tally.poll(sup)
        await asyncio.sleep(0.05)


def _drain(tasks: list[Task], timeout: float) -> list[Task]:
    deadline = time.monotonic() + timeout
    for task in tasks:
        if not task.wait(max(0.0, deadline - time.monotonic())):
            break
    return [t for t in tasks if not t.is_completed()]
