"""Scenarios: Python files that drive a supervisor over time.

A scenario file defines ``async def run(ctx)`` and, optionally,
``DESCRIPTION`` (else its docstring) and ``DEFAULT_DURATION`` (seconds).
``run`` is awaited on the host's asyncio loop -- ``asyncio.run`` in the
headless runner, the Qt loop in the console -- and drives the engine only
through its public API, reached as ``ctx.supervisor``. It should submit
through ``ctx.submit`` / ``ctx.put_task`` (or pass tasks to ``ctx.track``) so
the host can account for every task, and pace itself with
``await ctx.sleep(s)``, which returns ``False`` once the run should end.

This module owns loading scenario files and the ``ScenarioContext``; it has
no Qt and no output of its own.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from engine import TASK_NORMAL, TT_THREAD, Task, TaskSupervisor, background_task

from . import files

SCENARIO_DIR = files.RESOURCES / "scenarios"


class ScenarioError(Exception):
    """A scenario file cannot be found or loaded; the message says why."""


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
    run = getattr(module, "run", None)
    if run is None or not asyncio.iscoroutinefunction(run):
        raise ScenarioError(f"scenario {path.name} must define 'async def run(ctx)'")
    description = getattr(module, "DESCRIPTION", None) or (module.__doc__ or "").strip()
    duration = getattr(module, "DEFAULT_DURATION", 10.0)
    return Scenario(path.stem, path, description.splitlines()[0] if description else "",
                    float(duration), run)


def _import_file(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ScenarioError(f"{path.name} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


class ScenarioContext:
    """What a running scenario sees: the supervisor, its clock and its tasks.

    Used from the host loop's thread only.
    """

    def __init__(self, supervisor: TaskSupervisor, duration: float, name: str = "scenario"):
        self.supervisor = supervisor
        self.duration = duration
        self.log = logging.getLogger(f"scenario.{name}")
        self.tasks: list[Task] = []
        self._t0 = time.monotonic()
        self._stop = asyncio.Event()

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

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
        self.tasks.append(task)
        return task

    def submit(self, target: Callable[..., Any], *args: Any, priority: int = TASK_NORMAL,
               delay: float | None = None, name: str | None = None, tt: int = TT_THREAD,
               **kwargs: Any) -> Task:
        """A task completed when ``target`` returns (``supervisor.submit``);
        ``tt=TT_MP`` runs it in the process pool (import it from a module)."""
        return self.track(self.supervisor.submit(target, *args, _priority=priority,
                                                 _delay=delay, _name=name, _tt=tt, **kwargs))

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
