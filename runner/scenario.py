"""Scenarios: Python files that drive a supervisor over time.

A scenario file defines ``async def run(ctx)`` and, optionally,
``DESCRIPTION`` (else its docstring) and ``DEFAULT_DURATION`` (seconds).
``run`` is awaited on the host's asyncio loop -- ``asyncio.run`` in the
headless runner, the Qt loop in the console -- and drives the engine only
through its public API, reached as ``ctx.supervisor``. It should submit
through ``ctx.submit`` / ``ctx.submit_many`` / ``ctx.put_task`` (or pass tasks
to ``ctx.track``) so the host can account for every task, and pace itself with
``await ctx.sleep(s)``, which returns ``False`` once the run should end.

Scenario files are untrusted input. Loading one turns *anything* it raises
at import -- ``SystemExit`` from ``sys.exit()``, ``KeyboardInterrupt``
included -- into a ``ScenarioError`` naming the original (its
``__cause__``), and checks what it defines (``run``, a string
``DESCRIPTION``, a finite ``DEFAULT_DURATION`` of at most ``MAX_DURATION``).
``Scenario.run(ctx)`` is the file's ``run`` wrapped so that whatever it
raises, but cancellation, ends the scenario as one ``ScenarioRunError``: a
host awaiting it never sees ``SystemExit`` or ``KeyboardInterrupt`` from a
scenario, which asyncio would re-raise out of its loop.

``ScenarioRun`` is one run of a scenario on a host's loop, as a console
drives it: ``start(loop)``, ``request_stop()`` (the scenario is asked to end
and canceled if it has not within ``STOP_GRACE`` seconds), its ``state``
(``running``, ``stopping``, then ``finished``, ``stopped`` -- it ended when
asked --, ``failed`` or ``canceled``), ``progress()``, and what it raised
(``error``, ``traceback``) once ``done()``. Done callbacks run once, on the
loop.

This module owns loading scenario files, scenario durations, the
``ScenarioContext`` and ``ScenarioRun``; it has no Qt and no output of its
own. Loading may be done from any thread; a context and a run are used from
their host loop's thread only.

A context counts the tasks it tracks and keeps only the unfinished ones:
memory follows what is still running, not how many a scenario submitted.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from engine import (
    STATUS_NAMES,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TT_THREAD,
    Task,
    TaskSupervisor,
    background_task,
)
from engine.usercode import safe_repr

from . import files
from .taskscript import describe_error, format_user_traceback

SCENARIO_DIR = files.RESOURCES / "scenarios"
log = logging.getLogger("runner")


# Longest scenario run: a day. Durations become timer intervals in the hosts
# (a QTimer holds at most 2**31 ms, about 24.8 days) and a longer run is a typo.
MAX_DURATION = 86_400.0
DEFAULT_DURATION = 10.0
#: Seconds a scenario asked to stop gets to return before it is canceled.
STOP_GRACE = 3.0
#: How a tracked task may end (``ScenarioContext.outcomes``).
OUTCOMES = (TASK_STATUS_COMPLETED, TASK_STATUS_FAILED, TASK_STATUS_CANCELED)
#: A context sweeps its finished tasks out once it tracks this many (or twice
#: as many as were unfinished at the last sweep).
SWEEP_MIN = 1_000
#: ``ScenarioContext.submit_many``: tasks per ``supervisor.submit_many`` call
#: (no more than the engine admits under one lock hold, so a call is accepted
#: or refused whole and every accepted task is tracked).
SUBMIT_CHUNK = 1_000


class ScenarioError(Exception):
    """A scenario file cannot be found or loaded; the message says why."""


class ScenarioRunError(ScenarioError):
    """A scenario's ``run`` raised; ``__cause__`` is what it raised."""


def check_duration(value: object, name: str = "duration") -> float:
    """``value`` as seconds if it is a finite number in (0, ``MAX_DURATION``];
    ``TypeError`` / ``ValueError`` naming ``name`` and the value if not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {safe_repr(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    if value > MAX_DURATION:
        raise ValueError(f"{name} must be at most {MAX_DURATION:,.0f} s (a day), "
                         f"got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    description: str
    default_duration: float
    run: Callable[[ScenarioContext], Any]


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``resources/scenarios``."""
    return files.builtin_names(SCENARIO_DIR)


def resolve(ref: str | Path) -> Path:
    """A built-in scenario name or a path to a ``.py`` file → its path."""
    return files.resolve(ref, SCENARIO_DIR, "scenario", ScenarioError)


def load(ref: str | Path) -> Scenario:
    """Import a scenario file; ``ScenarioError`` with the cause if it is broken."""
    path = resolve(ref)
    module = _import_file(path, f"scenario_{path.stem}")
    # The module's namespace, not getattr(): a module-level __getattr__ would
    # run scenario code for every name the file does not define.
    namespace = vars(module)
    run = namespace.get("run")
    if run is None or not asyncio.iscoroutinefunction(run):
        raise ScenarioError(f"scenario {path.name} must define 'async def run(ctx)'")
    description = namespace.get("DESCRIPTION") or namespace.get("__doc__") or ""
    if not isinstance(description, str):
        raise ScenarioError(f"scenario {path.name}: DESCRIPTION must be a string, got "
                            f"{safe_repr(description)}")
    duration = namespace.get("DEFAULT_DURATION", DEFAULT_DURATION)
    try:
        duration = check_duration(duration, "DEFAULT_DURATION")
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario {path.name}: {exc}") from None
    lines = description.strip().splitlines()
    return Scenario(path.stem, path, lines[0] if lines else "", duration,
                    _contained(path.stem, run))


def _import_file(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - sys.exit() in a scenario must not end us
        sys.modules.pop(module_name, None)
        raise ScenarioError(f"{path.name} failed to import: {describe_error(exc)}") from exc
    return module


def _contained(name: str, run: Callable[[ScenarioContext], Any]) -> Callable[..., Any]:
    """``run`` whose every exception but cancellation comes out as ``ScenarioRunError``."""
    @functools.wraps(run)
    async def contained(ctx: ScenarioContext) -> Any:
        try:
            return await run(ctx)
        except asyncio.CancelledError:
            raise  # the host ended the scenario
        except BaseException as exc:  # noqa: BLE001 - asyncio re-raises SystemExit out of the loop
            raise ScenarioRunError(f"scenario {name} raised {describe_error(exc)}") from exc
    return contained


class ScenarioContext:
    """What a running scenario sees: the supervisor, its clock and its tasks.

    The tasks it tracks are counted, not kept: ``submitted`` and
    ``outcomes()`` (by how they ended) count all of them, ``tasks`` holds
    only those not finished yet, so a scenario that floods a million tasks
    keeps alive no more ``Task`` objects than are unfinished -- plus, between
    two reads, at most about ``SWEEP_MIN`` or as many again finished ones:
    finished tasks are swept out (and counted) when the list of tracked
    tasks has doubled since the last sweep, and by every read. That costs
    O(1) per task, amortized, on the loop thread, and nothing on the threads
    that run the tasks (a done callback per task would halve a flood's rate).

    Used from the host loop's thread only.
    """

    def __init__(self, supervisor: TaskSupervisor, duration: float, name: str = "scenario"):
        self.supervisor = supervisor
        self.duration = check_duration(duration)
        self.log = logging.getLogger(f"scenario.{name}")
        self.started_at = time.monotonic()
        self._stop = asyncio.Event()
        self._tracked: list[Task] = []  # unfinished at the last sweep, then the newer ones
        self._sweep_at = SWEEP_MIN  # len(_tracked) that triggers the next sweep
        self._outcomes: dict[int, int] = dict.fromkeys(OUTCOMES, 0)  # status → tasks swept
        self._submitted = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def remaining(self) -> float:
        return max(0.0, self.duration - self.elapsed())

    @property
    def running(self) -> bool:
        """False once the duration is over or the host asked the scenario to end."""
        return not self._stop.is_set() and self.elapsed() < self.duration

    def request_stop(self) -> None:
        self._stop.set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (less if the run ends); return ``self.running``."""
        timeout = min(seconds, self.remaining())
        try:
            await asyncio.wait_for(self._stop.wait(), timeout)
        except TimeoutError:
            pass
        return self.running

    def track(self, task: Task) -> Task:
        """Count ``task`` as one of this scenario's, until it ends; ``task``."""
        if not isinstance(task, Task):
            raise TypeError(f"track() takes a Task, got {safe_repr(task)}")
        self._submitted += 1
        self._tracked.append(task)
        if len(self._tracked) >= self._sweep_at:
            self._sweep()
        return task

    def _track_many(self, tasks: list[Task]) -> None:
        """``track`` for tasks the engine returned (``Task`` objects already)."""
        self._submitted += len(tasks)
        self._tracked += tasks
        if len(self._tracked) >= self._sweep_at:
            self._sweep()

    def _sweep(self) -> None:
        """Count the finished tasks out of ``_tracked``; keep the unfinished."""
        outcomes = self._outcomes
        unfinished = []
        for task in self._tracked:
            status = task.status
            if status in outcomes:
                outcomes[status] += 1
            else:
                unfinished.append(task)
        self._tracked = unfinished
        self._sweep_at = max(SWEEP_MIN, 2 * len(unfinished))

    @property
    def submitted(self) -> int:
        """How many tasks were tracked (submitted through this context)."""
        return self._submitted

    @property
    def tasks(self) -> list[Task]:
        """The tracked tasks not finished yet, oldest first (a new list)."""
        self._sweep()
        return list(self._tracked)

    def unfinished_count(self) -> int:
        self._sweep()
        return len(self._tracked)

    def outcomes(self) -> dict[str, int]:
        """How the tracked tasks that ended did: ``completed``, ``failed``,
        ``canceled`` → count."""
        self._sweep()
        return {STATUS_NAMES[status]: n for status, n in self._outcomes.items()}

    def submit(self, target: Callable[..., Any], *args: Any, priority: int = TASK_NORMAL,
               delay: float | None = None, name: str | None = None, tt: int = TT_THREAD,
               **kwargs: Any) -> Task:
        """A task completed when ``target`` returns (``supervisor.submit``);
        ``tt=TT_MP`` runs it in the process pool (import it from a module)."""
        return self.track(self.supervisor.submit(target, *args, _priority=priority,
                                                 _delay=delay, _name=name, _tt=tt, **kwargs))

    def submit_many(self, target: Callable[..., Any], args_iterable: Iterable[Any], *,
                    priority: int = TASK_NORMAL, tt: int = TT_THREAD,
                    delay: float | None = None, name: str | None = None,
                    kwargs: dict | None = None) -> list[Task]:
        """One task per item of ``args_iterable`` (a tuple or list of positional
        arguments for ``target``), in order, all with one priority, type,
        delay and name; the tasks, each tracked as ``submit`` tracks one.

        Through ``supervisor.submit_many``, ``SUBMIT_CHUNK`` tasks a call: far
        cheaper than a loop of ``submit`` for a flood. Every item is checked
        before any task is submitted; ``kwargs`` (optional) are shared by
        every call. If the engine refuses a call (the supervisor stopped), the
        tasks already accepted stay tracked and its exception propagates,
        with a note of how many went in.
        """
        if isinstance(args_iterable, (str, bytes)) or not isinstance(args_iterable, Iterable):
            raise TypeError(f"args_iterable must be an iterable of argument tuples, got "
                            f"{safe_repr(args_iterable)}")
        items = args_iterable if type(args_iterable) is list else list(args_iterable)
        for index, args in enumerate(items):
            if not isinstance(args, (tuple, list)):
                raise TypeError(f"args_iterable[{index}] must be a tuple or list of "
                                f"positional arguments, got {safe_repr(args)}")
        submit_many = self.supervisor.submit_many
        tasks: list[Task] = []
        try:
            for start in range(0, max(len(items), 1), SUBMIT_CHUNK):  # [] is checked too
                chunk = submit_many(target, items[start:start + SUBMIT_CHUNK],
                                    priority=priority, delay=delay, name=name, tt=tt,
                                    kwargs=kwargs)
                self._track_many(chunk)
                tasks += chunk
        except Exception as exc:
            if tasks:
                exc.add_note(f"{len(tasks):,} of the {len(items):,} tasks were submitted "
                             f"(and are tracked) before that")
            raise
        return tasks

    def run_coroutine(self, coro_func: Callable[..., Any], *args: Any,
                      priority: int = TASK_NORMAL, delay: float | None = None,
                      loop: Any = None, name: str | None = None, **kwargs: Any) -> Task:
        """``coro_func(*args, **kwargs)`` as a coroutine task on ``loop`` (an
        aloop name or ``ALoop``; default: the supervisor's default aloop)."""
        submit = background_task(coro_func, priority=priority, delay=delay, loop=loop,
                                 name=name, supervisor=self.supervisor)
        return self.track(submit(*args, **kwargs))

    def put_task(self, target: Callable[..., Any], *, args: tuple = (),
                 kwargs: dict | None = None, priority: int = TASK_NORMAL,
                 delay: float | None = None) -> Task:
        """A ``put_task`` task: ``target`` gets ``_task_id`` and marks itself completed."""
        return self.track(self.supervisor.put_task(target, args=args, kwargs=kwargs,
                                                   priority=priority, delay=delay))


RUNNING, STOPPING = "running", "stopping"
FINISHED, STOPPED, FAILED, CANCELED = "finished", "stopped", "failed", "canceled"
ENDED = frozenset((FINISHED, STOPPED, FAILED, CANCELED))


class ScenarioRun:
    """One run of ``scenario`` against ``supervisor`` for ``duration`` seconds.

    Built anywhere, then started, stopped and read on its host loop's thread
    only. ``state`` is ``"idle"`` until ``start``.
    """

    def __init__(self, scenario: Scenario, supervisor: TaskSupervisor,
                 duration: float) -> None:
        self.scenario = scenario
        self.name = scenario.name
        self.supervisor = supervisor
        self.duration = check_duration(duration)
        self.state = "idle"
        self.error: BaseException | None = None
        self.traceback = ""
        self.context: ScenarioContext | None = None
        self._task: asyncio.Task | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._callbacks: list[Callable[[ScenarioRun], Any]] = []
        self._ended_at: float | None = None

    # -- life cycle ----------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the scenario as a task on ``loop`` (from that loop's thread)."""
        if self._task is not None:
            raise RuntimeError(f"scenario run {self.name!r} was already started")
        if loop.is_closed():
            raise RuntimeError(f"cannot start scenario {self.name!r}: its loop is closed")
        self.context = ScenarioContext(self.supervisor, self.duration, self.name)
        self._task = loop.create_task(self.scenario.run(self.context),
                                      name=f"scenario {self.name}")
        self._task.add_done_callback(self._on_done)
        self.state = RUNNING
        log.info("scenario %s started for %g s", self.name, self.duration)

    def request_stop(self) -> None:
        """Ask the scenario to end; cancel it if it still runs ``STOP_GRACE`` s later."""
        if self._task is None or self._task.done() or self.context is None:
            return
        self.context.request_stop()
        if self.state == RUNNING:
            self.state = STOPPING
            self._grace = self._task.get_loop().call_later(STOP_GRACE, self._cancel_late)

    def cancel(self) -> None:
        """End the scenario now (its coroutine gets ``CancelledError``)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _cancel_late(self) -> None:
        if self._task is not None and not self._task.done():
            log.warning("scenario %s did not end %g s after it was asked to: canceling it",
                        self.name, STOP_GRACE)
            self._task.cancel()

    def _on_done(self, task: asyncio.Task) -> None:
        if self._grace is not None:
            self._grace.cancel()
        self._ended_at = time.monotonic()
        if task.cancelled():
            self.state = CANCELED
        else:
            exc = task.exception()  # retrieved: the loop does not report it again
            if exc is not None:  # a ScenarioRunError: what the scenario raised is its cause
                self.state = FAILED
                self.error = exc
                cause = exc.__cause__
                self.traceback = (format_user_traceback(cause, self.scenario.path)
                                  if cause is not None else "")
            else:
                self.state = STOPPED if self.state == STOPPING else FINISHED
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            self._call(fn)

    def _call(self, fn: Callable[[ScenarioRun], Any]) -> None:
        try:
            fn(self)
        except Exception:  # one host callback must not keep the others from running
            log.exception("a done callback of scenario %s raised", self.name)

    # -- reading -------------------------------------------------------------
    @property
    def task(self) -> asyncio.Task | None:
        """The asyncio task running the scenario (``None`` before ``start``)."""
        return self._task

    def done(self) -> bool:
        return self.state in ENDED

    def add_done_callback(self, fn: Callable[[ScenarioRun], Any]) -> None:
        """``fn(run)`` once the run has ended (soon, on the loop, if it has)."""
        if self.done() and self._task is not None:
            self._task.get_loop().call_soon(self._call, fn)
        else:
            self._callbacks.append(fn)

    async def wait(self) -> None:
        """Until the run has ended (never raises what the scenario raised)."""
        if self._task is not None:
            await asyncio.wait((self._task,))

    def elapsed(self) -> float:
        """Seconds run, at most ``duration``."""
        ctx = self.context
        if ctx is None:
            return 0.0
        if self.state == FINISHED:
            return self.duration
        end = self._ended_at if self._ended_at is not None else time.monotonic()
        return min(end - ctx.started_at, self.duration)

    def progress(self) -> float:
        """0..1 of the duration (1 once finished)."""
        return self.elapsed() / self.duration

    @property
    def tasks_submitted(self) -> int:
        return 0 if self.context is None else self.context.submitted
