"""Helpers shared by the engine tests (imported by conftest and test modules).

Every supervisor a test creates goes through ``make_supervisor`` (or the
``sup`` fixture built on it), so teardown always releases the gates the test
opened and stops the supervisor. Tests wait on events, conditions and
``Task.wait``; ``wait_until`` polls only for state that has no hook (OS thread
counts converging, a delayed task entering its queue).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from engine import PRIORITIES, PRIORITY_NAMES, TaskSupervisor

#: A gate nobody releases gives up after this long, so a broken test cannot
#: leave a thread blocked for the rest of the session.
GATE_TIMEOUT = 30.0
#: Bound for anything that should happen "at once" (a task starting after its
#: slot frees, a stop returning): generous, it only matters when it fails.
WAIT = 5.0


class Gate:
    """A task target that records its call and blocks until released."""

    def __init__(self, result: Any = None, label: Any = None,
                 log: StartLog | None = None) -> None:
        self.started = threading.Event()
        self.released = threading.Event()
        self.finished = threading.Event()
        self.result = result
        self.label = label
        self.log = log
        self.calls = 0
        self.args: tuple = ()
        self.kwargs: dict = {}
        self.thread_name: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.args = args
        self.kwargs = kwargs
        self.thread_name = threading.current_thread().name
        if self.log is not None:
            self.log.record(self.label)
        self.started.set()
        try:
            if not self.released.wait(GATE_TIMEOUT):
                raise TimeoutError("gate never released")
            return self.result
        finally:
            self.finished.set()

    def release(self) -> None:
        self.released.set()


class StartLog:
    """Labels in the order their targets started, with a condition to wait on."""

    def __init__(self) -> None:
        self.order: list[Any] = []
        self._cond = threading.Condition()

    def record(self, label: Any) -> None:
        with self._cond:
            self.order.append(label)
            self._cond.notify_all()

    def wait_for_count(self, n: int, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.order) >= n, timeout)

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self.order)


class Recorder:
    """A callable that records every call (thread-safe) and sets an event."""

    def __init__(self, result: Any = None) -> None:
        self.calls: list[tuple[tuple, dict]] = []
        self.called = threading.Event()
        self.result = result
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls.append((args, kwargs))
        self.called.set()
        return self.result


def timeless(pool: Any) -> Any:
    """A pool's stats without the seconds its longest task has run (the clock)."""
    longest = pool.longest
    return pool if longest is None else dataclasses.replace(
        pool, longest=dataclasses.replace(longest, seconds=0.0))


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT,
               interval: float = 0.005) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)


def pool_threads(supervisor: TaskSupervisor) -> list[threading.Thread]:
    prefix = f"supervisor_{supervisor.id}_pool_"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def counts(**by_name: int) -> dict[int, int]:
    """A per-priority dict as in ``PoolStats``: ``counts(high=2)``, zeros elsewhere."""
    names = {PRIORITY_NAMES[p].lower(): p for p in PRIORITIES}
    result = dict.fromkeys(PRIORITIES, 0)
    for name, n in by_name.items():
        result[names[name]] = n
    return result


def check_invariant(pool_stats: Any) -> None:
    """The documented reconciliation, spelled out field by field."""
    s = pool_stats
    rhs = (s.completed + s.failed + s.canceled + sum(s.queued.values())
           + sum(s.delayed.values()) + sum(s.running.values()))
    assert s.submitted == rhs, s
    assert s.reconciles(), s


def events_of(supervisor: TaskSupervisor, task_id: Any, kind: str | None = None) -> list:
    return [e for e in supervisor.events_since(0)
            if e.task_id == task_id and (kind is None or e.kind == kind)]


class SupervisorFactory:
    """Creates supervisors and gates; ``close()`` releases and stops them all."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._count = 0
        self.supervisors: list[TaskSupervisor] = []
        self.gates: list[Gate] = []

    def __call__(self, start: bool = True, loop: asyncio.AbstractEventLoop | None = None,
                 **kwargs: Any) -> TaskSupervisor:
        self._count += 1
        kwargs.setdefault("supervisor_id", f"{self._name}{self._count}")
        supervisor = TaskSupervisor(**kwargs)
        self.supervisors.append(supervisor)
        if start:
            supervisor.start(loop=loop)
        return supervisor

    def gate(self, result: Any = None, label: Any = None, log: StartLog | None = None) -> Gate:
        gate = Gate(result, label, log)
        self.gates.append(gate)
        return gate

    def close(self) -> None:
        for gate in self.gates:
            gate.release()
        for supervisor in self.supervisors:
            if supervisor.is_active():
                supervisor.stop(wait=1, cancel_tasks=True)


def run_on(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = WAIT) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)
