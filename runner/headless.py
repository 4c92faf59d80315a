"""The headless run: a scenario against a supervisor, then a summary and an exit code.

``run_headless`` starts the supervisor (``engine.task_supervisor`` unless one
is given), awaits the scenario for its duration on an ``asyncio.run`` loop in
the calling thread, waits up to ``drain`` seconds for the scenario's tasks to
finish, stops the supervisor (``stop(wait=STOP_WAIT, cancel_tasks=True)``) and
prints one line per priority, tallied from the supervisor's task events (so
tasks that workers submit count too), then what went wrong, if anything, and
a last ``result:`` line.

It returns the process exit code:

* ``OK`` (0): every task the scenario submitted ended (completed, failed or
  canceled) and the supervisor's counters reconcile;
* ``LOST`` (1): a task was lost or hung;
* ``BROKEN`` (2): the scenario cannot be loaded, or its monitor cannot be
  served (nothing ran);
* ``RAISED`` (3): the scenario's ``run`` raised -- anything, ``SystemExit``
  and ``KeyboardInterrupt`` raised by the scenario's own code included; the
  error is named, with its traceback, after the summary. It wins over
  ``LOST``: tasks a failed scenario left behind are part of its failure;
* ``INTERRUPTED`` (130, what a shell reports for Ctrl+C): the operator
  pressed Ctrl+C.

Ctrl+C: called on the main thread, ``run_headless`` replaces the SIGINT
handler for the length of the run with one that raises nothing into the
engine or the scenario. The first press only records the request and, while
the loop runs, cancels the scenario (or the drain) on it; the run then stops
the supervisor as always (bounded), prints the summary so far, marked as
interrupted, and returns ``INTERRUPTED``. A second press exits the process at
once with ``INTERRUPTED``. The previous handler is restored at the end.
Called from another thread, Ctrl+C is the process's business.

No Qt is imported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from engine import Task, TaskSupervisor, task_supervisor

from .scenario import (
    Scenario,
    ScenarioContext,
    ScenarioError,
    ScenarioRunError,
    check_duration,
    load,
)
from .tally import EventTally
from .taskscript import format_user_traceback

OK, LOST, BROKEN, RAISED, INTERRUPTED = 0, 1, 2, 3, 130
STOP_WAIT = 5.0  # seconds the final stop waits for running tasks before abandoning them


def run_headless(ref: str, duration: float | None = None, drain: float = 60.0,
                 supervisor: TaskSupervisor | None = None, out: TextIO = sys.stdout,
                 monitor: str | None = None) -> int:
    """Run scenario ``ref`` (a built-in name or a path) and print its summary to
    ``out``; the exit code (see the module docstring). ``duration`` defaults to
    the scenario's own; a bad ``duration`` or ``drain`` is a ``ValueError`` /
    ``TypeError`` raised before anything starts. ``monitor``: serve the
    supervisor's monitor at that address during the run (``""``: a private
    default), announced as ``monitor: ADDRESS token-file PATH`` before the
    scenario starts; an address that cannot be served is ``BROKEN``."""
    if duration is not None:
        duration = check_duration(duration, "duration")
    drain = check_duration(drain, "drain")
    with _CtrlC() as ctrl_c:
        try:
            scenario = load(ref)
        except ScenarioError as exc:
            print(f"error: {exc}", file=out)
            return BROKEN
        sup = supervisor or task_supervisor
        duration = scenario.default_duration if duration is None else duration
        tally = EventTally()
        sup.start()
        t0 = time.monotonic()
        try:
            if monitor is not None:
                try:
                    served = sup.serve_monitor(monitor or None)
                except (ValueError, TypeError, RuntimeError, OSError) as exc:
                    print(f"error: monitor: {exc}", file=out)
                    return BROKEN
                print(f"monitor: {served.address} token-file {served.token_file}", file=out,
                      flush=True)
            run = asyncio.run(_drive(scenario, sup, duration, drain, tally, ctrl_c, out))
        finally:
            sup.stop(wait=STOP_WAIT, cancel_tasks=True)
        run.elapsed = time.monotonic() - t0
        tally.poll(sup)
        return _report(scenario, run, tally, sup, ctrl_c.pressed, out)


@dataclass
class _Run:
    """What the loop part of a run leaves for the report."""

    ctx: ScenarioContext
    duration: float
    drain: float
    ran: float = 0.0  # seconds the scenario ran
    elapsed: float = 0.0  # seconds from the start to the end of the stop
    error: ScenarioRunError | None = None
    unfinished: list[Task] = field(default_factory=list)  # after the drain


async def _drive(scenario: Scenario, sup: TaskSupervisor, duration: float, drain: float,
                 tally: EventTally, ctrl_c: _CtrlC, out: TextIO) -> _Run:
    """The scenario, then the drain; a first Ctrl+C cancels whichever runs."""
    run = _Run(ScenarioContext(sup, duration, scenario.name), duration, drain)
    loop = asyncio.get_running_loop()
    this = asyncio.current_task()

    def interrupt() -> None:  # on the loop: scenarios that catch the cancel see running False
        run.ctx.request_stop()
        this.cancel()

    collector = asyncio.create_task(_collect(sup, tally))
    ctrl_c.action = lambda: loop.call_soon_threadsafe(interrupt)
    try:
        if not ctrl_c.pressed:  # (pressed before the loop ran: nothing to start)
            print(f"scenario {scenario.name}: running for {duration:g} s "
                  f"(Ctrl+C stops it)", file=out, flush=True)
            try:
                await scenario.run(run.ctx)
            except ScenarioRunError as exc:
                run.error = exc
            finally:
                run.ran = run.ctx.elapsed()
        if not ctrl_c.pressed:
            run.unfinished = await _drain(run.ctx.tasks, drain)
    except asyncio.CancelledError:
        if not ctrl_c.pressed:
            raise
    finally:
        ctrl_c.action = None
        collector.cancel()
    return run


async def _collect(sup: TaskSupervisor, tally: EventTally) -> None:
    """Read the event ring often enough that it never wraps under a flood."""
    while True:
        tally.poll(sup)
        await asyncio.sleep(0.05)


async def _drain(tasks: list[Task], timeout: float) -> list[Task]:
    """Wait up to ``timeout`` seconds for every task to end; those still unfinished."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            for task in tasks:
                await _ended(task)
    return [t for t in tasks if not t.is_completed()]


async def _ended(task: Task) -> None:
    """Return once ``task`` has ended, whatever its outcome."""
    if task.is_completed():
        return
    try:
        await task
    except BaseException:  # noqa: BLE001 - the task's own exception, or our cancellation
        if asyncio.current_task().cancelling() or not task.is_completed():
            raise


def _report(scenario: Scenario, run: _Run, tally: EventTally, sup: TaskSupervisor,
            interrupted: bool, out: TextIO) -> int:
    """Print the summary and what went wrong; the exit code."""
    if interrupted:
        print(f"scenario {scenario.name}: INTERRUPTED by Ctrl+C after {run.ran:.1f} s of "
              f"{run.duration:g} s, {run.elapsed:.1f} s with the stop; the summary so far:",
              file=out)
    else:
        print(f"scenario {scenario.name}: ran {run.ran:.1f} s of {run.duration:g} s, "
              f"{run.elapsed:.1f} s with the drain", file=out)
    print(tally.format(run.elapsed), file=out)
    stats = sup.stats()
    pools = {"thread": stats.thread, "mp": stats.mp, "coroutine": stats.coroutine}
    unreconciled = [name for name, pool in pools.items() if not pool.reconciles()]
    pending = sum(pool.pending for pool in pools.values())
    lost = [t for t in run.ctx.tasks if not t.is_completed()]
    if run.unfinished:
        print(f"HUNG: {len(run.unfinished)} task(s) still unfinished after {run.drain:g} s",
              file=out)
    elif lost:  # interrupted: no drain, the stop abandoned what still ran
        print(f"{len(lost)} task(s) still unfinished after the stop", file=out)
    for task in lost[:10]:
        print(f"  unfinished: {task!r}", file=out)
    if pending and not lost:
        print(f"HUNG: {pending} task(s) still pending after the stop", file=out)
    for name in unreconciled:
        print(f"LOST: {name} pool counters do not reconcile: {pools[name]}", file=out)
    if run.error is not None:
        cause = run.error.__cause__ or run.error
        print(f"error: {run.error}", file=out)
        print(format_user_traceback(cause, scenario.path), end="", file=out)
    if interrupted:
        print("result: INTERRUPTED by Ctrl+C", file=out)
        return INTERRUPTED
    if run.error is not None:
        print("result: FAILED, the scenario raised", file=out)
        return RAISED
    if unreconciled or pending or lost:
        print("result: FAILED, task(s) lost or hung", file=out)
        return LOST
    print("result: OK, every task ended", file=out)
    return OK


class _CtrlC:
    """SIGINT for the length of a run (see the module docstring): the first press
    is recorded and calls ``action`` (set by the phase that runs), the second
    exits the process at once. Installed only on the main thread."""

    def __init__(self) -> None:
        self.pressed = False
        self.action: Callable[[], object] | None = None
        self._previous: object = None
        self._installed = False

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            # None: the previous handler was not set from Python; the default then.
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(signal.SIGINT, previous)

    def _on_sigint(self, signum: int, frame: object) -> None:
        # A signal handler runs between two bytecodes of the main thread, maybe
        # in the middle of a print: write to the file descriptor, not sys.stderr.
        if self.pressed:
            os.write(2, b"Ctrl+C again: exiting now\n")
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # best effort: maybe mid-write
                    stream.flush()
            os._exit(INTERRUPTED)
        self.pressed = True
        os.write(2, b"Ctrl+C: stopping the scenario and the supervisor "
                    b"(Ctrl+C again exits at once)\n")
        if self.action is not None:
            self.action()
