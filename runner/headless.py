"""The headless run: a scenario against the default supervisor, then a summary.

``run_headless`` starts ``engine.task_supervisor``, awaits the scenario for
its duration on an ``asyncio.run`` loop in the calling thread, waits for the
scenario's tasks to finish, stops the supervisor and prints one line per
priority. It returns the process exit code: 0 when every task the scenario
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

from engine import (
    PRIORITIES,
    PRIORITY_NAMES,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    Task,
    TaskSupervisor,
    task_supervisor,
)
from engine.stats import percentiles

from .scenario import ScenarioContext, ScenarioError, load

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
    sup.start()
    t0 = time.monotonic()
    try:
        ctx = asyncio.run(_drive(scenario.run, sup, duration, scenario.name))
        unfinished = _drain(ctx.tasks, drain)
    finally:
        sup.stop(wait=5, cancel_tasks=True)
    elapsed = time.monotonic() - t0
    stats = sup.stats()
    print(f"scenario {scenario.name}: {len(ctx.tasks)} tasks in {elapsed:.1f} s "
          f"(ran {duration:g} s, drained in {elapsed - min(elapsed, duration):.1f} s)", file=out)
    print(format_summary(ctx.tasks, elapsed), file=out)
    lost = [t for t in ctx.tasks if not t.is_completed()]
    ok = stats.thread.reconciles() and stats.thread.pending == 0 and not lost
    if unfinished:
        print(f"HUNG: {len(unfinished)} task(s) still unfinished after {drain:g} s", file=out)
    for task in lost[:10]:
        print(f"  unfinished: {task!r}", file=out)
    if not stats.thread.reconciles():
        print(f"LOST: counters do not reconcile: {stats.thread}", file=out)
    print("result: OK, every task ended" if ok else "result: FAILED", file=out)
    return 0 if ok else 1


async def _drive(run, sup: TaskSupervisor, duration: float, name: str) -> ScenarioContext:
    ctx = ScenarioContext(sup, duration, name)
    try:
        await run(ctx)
    except Exception:
        log.exception("scenario %s raised", name)
    return ctx


def _drain(tasks: list[Task], timeout: float) -> list[Task]:
    deadline = time.monotonic() + timeout
    for task in tasks:
        if not task.wait(max(0.0, deadline - time.monotonic())):
            break
    return [t for t in tasks if not t.is_completed()]


def format_summary(tasks: list[Task], elapsed: float) -> str:
    """A table: per priority submitted, completed, failed, canceled, waits, tasks/s."""
    header = (f"{'priority':<10}{'submitted':>10}{'completed':>10}{'failed':>8}{'canceled':>9}"
              f"{'wait p50':>10}{'wait p95':>10}{'tasks/s':>9}")
    lines = [header, "-" * len(header)]
    groups = [(PRIORITY_NAMES[p], [t for t in tasks if t.priority == p]) for p in PRIORITIES]
    groups.append(("total", tasks))
    for label, group in groups:
        counts = {s: 0 for s in (TASK_STATUS_COMPLETED, TASK_STATUS_FAILED, TASK_STATUS_CANCELED)}
        waits = []
        for task in group:
            if task.status in counts:
                counts[task.status] += 1
            if task.time_started is not None:
                waits.append(task.time_started - task.time_queued)
        p50, p95, _ = percentiles(waits)
        done = counts[TASK_STATUS_COMPLETED] + counts[TASK_STATUS_FAILED]
        lines.append(
            f"{label:<10}{len(group):>10}{counts[TASK_STATUS_COMPLETED]:>10}"
            f"{counts[TASK_STATUS_FAILED]:>8}{counts[TASK_STATUS_CANCELED]:>9}"
            f"{p50 * 1000:>8.1f}ms{p95 * 1000:>8.1f}ms{done / elapsed if elapsed else 0:>9.1f}")
    return "\n".join(lines)
