"""The typed client: the console's one door to a supervisor.

``SupervisorClient`` is what the console needs from a supervisor, and all it
may use: reads (a complete snapshot, events after a sequence number with the
oldest one still held, live tasks and finished outcomes for reconciling, the
live stack of a running task) and typed commands. ``LocalClient``
implements it for a supervisor in this process; a client for a supervisor
in another process implements the same protocol, and no widget changes.

Reads are synchronous and never block: a local supervisor answers them
under its lock in microseconds (``task_stack`` reads frames, it never waits
for the task); a remote client serves them from the state it keeps, or with
one bounded request (the console reads a remote ``task_stack`` off the GUI
thread). Commands return, or raise the engine's own exception (``ValueError``,
``TypeError``, ``LookupError``, ``RuntimeError`` with its message): the
bridge shows that message to the operator. Commands that may wait (stopping
the supervisor, an aloop or a worker, submitting a big batch) are
coroutines, awaited on the console's loop so that it keeps drawing.

It also re-exports the engine's record types and helpers the widgets show
(they import nothing else from the engine but its constants).

``LocalClient`` is called on the GUI thread (the supervisor's main loop when
it runs on the console's qasync loop); its blocking parts run in worker
threads of that loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection
from typing import Any, Protocol, TypeVar

from engine import (
    MAX_SIZE,
    MP_POOL_BROKEN,
    MP_POOL_REBUILDING,
    EventBatch,
    FinishedTask,
    PoolStats,
    RunningTask,
    SchedulerStats,
    StackFrame,
    SupervisorStats,
    TaskEvent,
    TaskStack,
    TaskState,
    TaskSupervisor,
    percentiles,
    safe_repr,
)
from runner import batch as batches
from runner.scenario import Scenario, ScenarioRun

T = TypeVar("T")

#: A batch bigger than this is submitted from a worker thread.
BACKGROUND_BATCH = 1_000
#: Seconds an aloop or worker stop, or a worker restart, may wait.
COMMAND_WAIT = 10.0

TaskRecord = TaskState | FinishedTask


class SupervisorClient(Protocol):
    """What the console may read from and ask of one supervisor."""

    supervisor_id: str

    # -- reads: never block ------------------------------------------------
    def snapshot(self) -> SupervisorStats: ...
    def events(self, after_seq: int, limit: int) -> EventBatch: ...
    def live_tasks(self, ids: Collection[Any] | None) -> dict[Any, TaskState]:
        """The unfinished tasks of ``ids`` (those no longer unfinished are left
        out), or every unfinished task when ``ids`` is ``None``."""
        ...
    def finished_tasks(self, ids: Collection[Any]) -> dict[Any, FinishedTask]: ...
    def task_record(self, task_id: Any) -> TaskRecord | None: ...
    def task_stack(self, task_id: Any) -> TaskStack:
        """The live stack of running task ``task_id``: ``LookupError`` if it
        is not running, ``RuntimeError`` (saying why) if its stack cannot be
        read (a process task; a started task none of whose code runs)."""
        ...
    def is_active(self) -> bool: ...

    # -- commands: return or raise the engine's error ----------------------
    def start(self) -> None: ...
    def set_thread_pool(self, **changes: Any) -> None: ...
    def set_mp_pool(self, **changes: Any) -> None: ...
    def set_timeouts(self, **values: Any) -> None:
        """Any of ``poll_delay``, ``timeout_warning``, ``timeout_critical``,
        ``run_warning``, ``run_critical`` (seconds; ``None``: off, except
        poll_delay), in one command: all taken or none."""
        ...
    def cancel(self, ids: Collection[Any]) -> dict[Any, Exception | None]: ...
    def resubmit(self, ids: Collection[Any]) -> dict[Any, Any]: ...
    def create_aloop(self, name: str, *, default: bool = False, daemon: bool = False,
                     start: bool = True) -> None: ...
    def start_aloop(self, name: str) -> None: ...
    def set_default_aloop(self, name: str | None) -> None: ...
    async def stop_aloop(self, name: str, *, wait: bool | float = COMMAND_WAIT,
                         cancel_tasks: bool = False) -> None: ...
    async def start_worker(self, name: str) -> None: ...
    async def stop_worker(self, name: str, *, wait: bool | float = COMMAND_WAIT) -> None: ...
    async def submit_batch(self, batch: batches.Batch) -> list[Any]: ...
    def start_scenario(self, scenario: Scenario, duration: float) -> ScenarioRun: ...
    async def stop(self, *, wait: bool | float, cancel_tasks: bool = False,
                   stop_schedulers: bool = True) -> None: ...
    def stop_now(self) -> None: ...


class LocalClient:
    """``SupervisorClient`` for a supervisor in this process.

    ``loop`` is the console's asyncio loop: the supervisor's main loop when
    the console hosts it (``start()`` starts it there), and the loop that
    scenarios run on. Without one, ``start()`` gives the supervisor its own
    loop thread and the loop running at call time is used.
    """

    def __init__(self, supervisor: TaskSupervisor,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._sup = supervisor
        self._loop = loop
        self.supervisor_id = supervisor.id

    # -- reads ---------------------------------------------------------------
    def snapshot(self) -> SupervisorStats:
        return self._sup.stats()

    def events(self, after_seq: int, limit: int) -> EventBatch:
        return self._sup.event_batch(after_seq, limit)

    def live_tasks(self, ids: Collection[Any] | None) -> dict[Any, TaskState]:
        """The unfinished tasks of ``ids``, or all of them for ``None``
        (frozen records taken under one lock hold)."""
        return self._sup.live_tasks(ids)

    def finished_tasks(self, ids: Collection[Any]) -> dict[Any, FinishedTask]:
        return self._sup.finished_tasks(ids)

    def task_record(self, task_id: Any) -> TaskRecord | None:
        ids = (task_id,)
        record: TaskRecord | None = self._sup.live_tasks(ids).get(task_id)
        if record is None:
            record = self._sup.finished_tasks(ids).get(task_id)
        return record

    def task_stack(self, task_id: Any) -> TaskStack:
        return self._sup.task_stack(task_id)  # immediate: frames are read, never waited for

    def is_active(self) -> bool:
        return self._sup.is_active()

    # -- commands ------------------------------------------------------------
    def start(self) -> None:
        self._sup.start(loop=self._loop)

    def set_thread_pool(self, **changes: Any) -> None:
        self._sup.set_thread_pool(**changes)

    def set_mp_pool(self, **changes: Any) -> None:
        self._sup.set_mp_pool(**changes)

    def set_timeouts(self, **values: Any) -> None:
        self._sup.set_timeouts(**values)

    def cancel(self, ids: Collection[Any]) -> dict[Any, Exception | None]:
        return _each(ids, lambda task_id: self._sup.cancel_task(task_id) and None)

    def resubmit(self, ids: Collection[Any]) -> dict[Any, Any]:
        return _each(ids, lambda task_id: self._sup.resubmit(task_id).id)

    def create_aloop(self, name: str, *, default: bool = False, daemon: bool = False,
                     start: bool = True) -> None:
        self._sup.create_aloop(name, default=default, daemon=daemon, start=start)

    def start_aloop(self, name: str) -> None:
        self._sup.start_aloop(name)

    def set_default_aloop(self, name: str | None) -> None:
        self._sup.set_default_aloop(name)

    async def stop_aloop(self, name: str, *, wait: bool | float = COMMAND_WAIT,
                         cancel_tasks: bool = False) -> None:
        if self._sup.get_aloop(name) is None:  # refused at once, not from a thread
            raise LookupError(f"no aloop named {name!r}")
        await self._in_thread(self._sup.stop_aloop, name, wait=wait, cancel_tasks=cancel_tasks)

    async def start_worker(self, name: str) -> None:
        worker = self._sup.get_scheduler(name)
        restart = getattr(worker, "restart", None)
        if restart is None:
            raise TypeError(f"scheduler {name!r} is not a worker: it cannot be started here")
        await self._in_thread(restart, wait=COMMAND_WAIT)

    async def stop_worker(self, name: str, *, wait: bool | float = COMMAND_WAIT) -> None:
        worker = self._sup.get_scheduler(name)
        await self._in_thread(worker.stop, wait=wait)

    async def submit_batch(self, batch: batches.Batch) -> list[Any]:
        if batch.count > BACKGROUND_BATCH:
            tasks = await self._in_thread(batches.submit, self._sup, batch)
        else:
            tasks = batches.submit(self._sup, batch)
        return [task.id for task in tasks]

    def start_scenario(self, scenario: Scenario, duration: float) -> ScenarioRun:
        run = ScenarioRun(scenario, self._sup, duration)
        run.start(self._loop or asyncio.get_running_loop())
        return run

    async def stop(self, *, wait: bool | float, cancel_tasks: bool = False,
                   stop_schedulers: bool = True) -> None:
        options = {"wait": wait, "cancel_tasks": cancel_tasks,
                   "stop_schedulers": stop_schedulers}
        if self._on_supervisor_loop():
            await self._sup.astop(**options)
        else:
            await self._in_thread(self._sup.stop, **options)

    def stop_now(self) -> None:
        self._sup.stop(wait=False, cancel_tasks=True)

    # -- helpers ---------------------------------------------------------------
    def _on_supervisor_loop(self) -> bool:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self._loop is running and self._sup.is_active()

    @staticmethod
    async def _in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def _each(ids: Collection[Any], command: Callable[[Any], Any]) -> dict[Any, Any]:
    """``command`` for every id: its result, or the exception that refused it."""
    answers: dict[Any, Any] = {}
    for task_id in ids:
        try:
            answers[task_id] = command(task_id)
        except (LookupError, RuntimeError, ValueError, TypeError) as exc:
            answers[task_id] = exc
    return answers


__all__ = [
    "BACKGROUND_BATCH", "COMMAND_WAIT", "MAX_SIZE", "MP_POOL_BROKEN", "MP_POOL_REBUILDING",
    "EventBatch", "FinishedTask",
    "LocalClient", "PoolStats", "RunningTask", "SchedulerStats", "StackFrame",
    "SupervisorClient", "SupervisorStats", "TaskEvent", "TaskRecord", "TaskStack", "TaskState",
    "percentiles", "safe_repr",
]
