"""What a supervisor shows of itself: snapshots, events, tasks, schedulers.

``Inspection`` is the read side of ``TaskSupervisor``: it reads the ledger
and the pools under the supervisor's lock, the registry under its own, and
changes nothing. Every read takes the lock once and copies plain fields;
frozen records are built outside it. Snapshots cost O(priorities + aloops
+ schedulers), never O(tasks); ``live_tasks(ids)`` and
``finished_tasks(ids)`` cost O(len(ids)).

A snapshot also names the kind of mp pool there is (``mp_pool_kind``,
``None`` while there is none: it is created lazily), so a viewer never needs
the live pool object to know.

Threads: any.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from time import monotonic
from typing import TYPE_CHECKING, Any

from .admission import Admission, PoolSettings
from .backends import (
    Backend,
    BrokenBackend,
    ExecutorBackend,
    PoolBackend,
    ProcessPoolBackend,
)
from .constants import TASK_STATUS_STARTED, TASK_TYPES, TT_MP, TT_THREAD
from .dispatch import ACTIVE
from .stacks import TaskStack, stack_of
from .stats import (
    MP_POOL_BROKEN,
    MP_POOL_MULTIPROCESSING,
    MP_POOL_PROCESS,
    MP_POOL_REBUILDING,
    EventBatch,
    PoolStats,
    RunningTask,
    SupervisorInfo,
    SupervisorStats,
    TaskEvent,
    TaskState,
    percentiles,
)
from .task import FinishedTask, Task
from .validate import MAX_SIZE, check_flag, check_task_id

if TYPE_CHECKING:
    from .coroutines import CoroutinePool
    from .dispatch import Dispatcher
    from .mp import MpPool
    from .registry import Registry
    from .threads import ThreadPool


class Inspection:
    """The read side of one supervisor (``front``: its public settings)."""

    def __init__(self, front: Any, dispatcher: Dispatcher, threads: ThreadPool, mp: MpPool,
                 coroutines: CoroutinePool, registry: Registry) -> None:
        self._front = front
        self._dispatcher = dispatcher
        # The supervisor's lock: guards the ledger, the pools and the state read here.
        self._lock = dispatcher.lock
        self._ledger = dispatcher.ledger
        self._threads = threads
        self._mp = mp
        self._coroutines = coroutines
        self._registry = registry

    def get_task(self, task_id: Any) -> Task | FinishedTask | None:
        """A live task, or a recently finished one from the history; else ``None``."""
        check_task_id(task_id)
        with self._lock:
            return self._ledger.tasks.get(task_id) or self._ledger.history.get(task_id)

    def get_tasks(self, tt: int | None = None) -> list[Task]:
        """Live (unfinished) tasks, optionally of one type."""
        if tt is not None and (isinstance(tt, bool) or tt not in TASK_TYPES):
            raise ValueError(f"unknown task type {tt!r}")
        with self._lock:
            tasks = list(self._ledger.tasks.values())
        return tasks if tt is None else [t for t in tasks if t.tt == tt]

    def get_info(self, tt: Any = None, aloops: bool = True, schedulers: bool = True
                 ) -> SupervisorInfo:
        """Active task counts, pool settings, aloop and scheduler names; with
        ``tt`` ``None`` (every type), ``TT_THREAD`` or ``TT_MP``, also the
        running tasks' ids and the unfinished tasks of that type (O(tasks));
        ``tt=False``: counts only (O(1)). ``aloops`` / ``schedulers``: include
        their names."""
        if tt is not None and tt is not False and (isinstance(tt, bool) or
                                                   tt not in TASK_TYPES):
            raise ValueError(f"tt must be None, False, TT_THREAD, TT_MP or TT_COROUTINE, "
                             f"got {tt!r}")
        check_flag("aloops", aloops)
        check_flag("schedulers", schedulers)
        with self._lock:
            settings = self._threads.admission.settings
            mp_settings = self._mp.admission.settings if self._mp.backend is not None else None
            alive, _ = self._threads.counts_locked()
            counts = (self._dispatcher.state == ACTIVE, self._threads.admission.active,
                      self._mp.admission.active)
            tasks = None if tt is False else [t for t in self._ledger.tasks.values()
                                               if tt is None or t.tt == tt]
        front = self._front
        listed: dict = {}
        if tasks is not None:
            running = [t for t in tasks if t.status == TASK_STATUS_STARTED]
            listed = dict(
                tasks={t.id: t for t in tasks},
                thread_tasks=[t.id for t in running if t.tt == TT_THREAD]
                if tt in (None, TT_THREAD) else None,
                mp_tasks=[t.id for t in running if t.tt == TT_MP] if tt in (None, TT_MP)
                else None)
        if mp_settings is not None:
            listed.update(mp_pool_size=mp_settings.pool_size,
                          mp_reserve_normal=mp_settings.reserve_normal,
                          mp_reserve_high=mp_settings.reserve_high)
        return SupervisorInfo(
            supervisor_id=front.id, active=counts[0], thread_tasks_count=counts[1],
            mp_tasks_count=counts[2], thread_pool_size=settings.pool_size,
            thread_reserve_normal=settings.reserve_normal,
            thread_reserve_high=settings.reserve_high,
            thread_min_size=settings.effective_min_size,
            thread_max_size=settings.effective_max_size,
            threads_alive=alive, poll_delay=front.poll_delay,
            aloops=tuple(self._registry.aloops()) if aloops else (),
            schedulers=tuple(self._registry.known_schedulers()) if schedulers else (),
            **listed)

    def stats(self) -> SupervisorStats:
        """An immutable snapshot of every counter: O(1) in the number of
        tasks, but for the tasks past a run threshold (at most those running)."""
        aloop_list, default = self._registry.aloops_and_default()
        loops = [(a.name, a.get_loop()) for a in aloop_list]
        coroutines = self._coroutines
        front = self._front
        run = (front.run_warning, front.run_critical)
        with self._lock:
            now = monotonic()
            alive, busy = self._threads.counts_locked()
            thread = _pool_stats(self._threads.admission, alive, busy, now, run)
            mp = _pool_stats(self._mp.admission, self._mp.counts_locked(), 0, now, run)
            mp_kind = _mp_pool_kind(self._mp.backend, self._mp.rebuilding)
            coroutine = _pool_stats(coroutines.admission, 0, 0, now, run)
            samples = self._ledger.waits.copy_locked()
            last_seq = self._ledger.events.last_seq
            active = self._dispatcher.state == ACTIVE
            aloop_tasks = {name: coroutines.pending_locked(loop) for name, loop in loops}
        info = self._registry.scheduler_info()
        aloops = {a.name: a.is_active() for a in aloop_list}
        p50, p95, wmax = percentiles(self._ledger.waits.recent(samples, now))
        return SupervisorStats(
            supervisor_id=front.id, time=now, active=active, thread=thread, mp=mp,
            coroutine=coroutine, wait_p50=p50, wait_p95=p95, wait_max=wmax,
            poll_delay=front.poll_delay, timeout_warning=front.timeout_warning,
            timeout_critical=front.timeout_critical, last_event_seq=last_seq, aloops=aloops,
            aloop_tasks=aloop_tasks,
            schedulers={name: s.active for name, s in info.items() if s.registered},
            default_aloop=None if default is None else default.name, scheduler_info=info,
            mp_pool_kind=mp_kind, run_warning=run[0], run_critical=run[1])

    def events_since(self, seq: int = 0, limit: int | None = None) -> list[TaskEvent]:
        """Task events with a sequence number above ``seq``, oldest first."""
        return self._event_batch("seq", seq, limit).events

    def event_batch(self, after_seq: int = 0, limit: int | None = None) -> EventBatch:
        """Task events with a sequence number above ``after_seq`` (at most
        ``limit``), with the ring's bounds: ``batch.lost_before(after_seq)``
        says how many the ring dropped before they were read."""
        return self._event_batch("after_seq", after_seq, limit)

    def _event_batch(self, name: str, after_seq: object, limit: object) -> EventBatch:
        raw, oldest, last = self.event_rows(after_seq, limit, name)
        return EventBatch(list(map(_make_event, raw)), oldest, last)

    def event_rows(self, after_seq: object, limit: object,
                   name: str = "after_seq") -> tuple[list[tuple], int, int]:
        """``event_batch`` as the ring keeps it: ``(rows, oldest_seq,
        last_seq)``, each row a plain tuple of ``TaskEvent``'s fields (for the
        monitor, which writes them as JSON arrays: no object per event)."""
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {after_seq!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ValueError(f"limit must be None or an integer >= 1, got {limit!r}")
        ring = self._ledger.events
        with self._lock:
            raw = ring.since(after_seq, limit)
            return raw, ring.oldest_seq, ring.last_seq

    def live_tasks(self, ids: Iterable[Any] | None = None) -> dict[Any, TaskState]:
        """The unfinished tasks (all, or those of ``ids`` still unfinished),
        as frozen ``TaskState`` records taken under one lock hold."""
        if ids is not None:
            ids = _id_list(ids)
        with self._lock:
            table = self._ledger.tasks
            tasks = (list(table.values()) if ids is None
                     else [t for t in map(table.get, ids) if t is not None])
            return {t.id: TaskState(t.id, t.name, t.tt, t.priority, t.status, t.delay,
                                    t.time_submitted, t.time_queued, t.time_started)
                    for t in tasks}

    def task_stack(self, task_id: Any) -> TaskStack:
        """The live stack of running task ``task_id`` (``engine.stacks``)."""
        check_task_id(task_id)
        with self._lock:
            task = self._ledger.tasks.get(task_id)
            now = monotonic()
        return stack_of(task, task_id, now, self._threads)

    def finished_tasks(self, ids: Iterable[Any]) -> dict[Any, FinishedTask]:
        """The history's records of those of ``ids`` it still holds (frozen
        ``FinishedTask`` records, never the tasks themselves)."""
        ids = _id_list(ids)
        with self._lock:
            history = self._ledger.history
            records = [history.record(task_id) for task_id in ids]
        return {r.id: r for r in records if r is not None}


#: A raw event row as a ``TaskEvent``, made in C (a batch has up to thousands).
_make_event = functools.partial(tuple.__new__, TaskEvent)


def _id_list(ids: Iterable[Any]) -> list[Any]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be an iterable of task ids, got {ids!r}")
    ids = list(ids)
    if len(ids) > MAX_SIZE:
        raise ValueError(f"ids must hold at most {MAX_SIZE} task ids, got {len(ids)}")
    for task_id in ids:
        check_task_id(task_id)
    return ids


def _mp_pool_kind(backend: Backend | None, rebuilding: bool) -> str | None:
    """``SupervisorStats.mp_pool_kind`` of the mp pool's current backend."""
    if backend is None:
        return MP_POOL_REBUILDING if rebuilding else None
    if isinstance(backend, ProcessPoolBackend):
        return MP_POOL_PROCESS
    if isinstance(backend, PoolBackend):
        return MP_POOL_MULTIPROCESSING
    if isinstance(backend, BrokenBackend):
        return MP_POOL_BROKEN
    if isinstance(backend, ExecutorBackend):
        return type(backend.executor).__name__
    return type(backend).__name__


def _pool_stats(admission: Admission, alive: int, busy: int, now: float,
                run: tuple[float | None, float | None]) -> PoolStats:
    """Under the lock: the counts of one pool, its tasks past the run
    thresholds ``run`` (warning, critical) and its longest-running task."""
    settings: PoolSettings = admission.settings
    warning, critical = run
    first = next(iter(admission.started_tasks), None)
    longest = None if first is None else RunningTask(
        first.id, first.name, first.priority, max(0.0, now - first.time_started))
    return PoolStats(
        run_warnings=0 if warning is None else admission.past(now - warning),
        run_criticals=0 if critical is None else admission.past(now - critical),
        longest=longest,
        running=dict(admission.running), queued=dict(admission.queued),
        delayed=dict(admission.delayed), limits=dict(admission.limits),
        pool_size=settings.pool_size, reserve_normal=settings.reserve_normal,
        reserve_high=settings.reserve_high, min_size=settings.effective_min_size,
        max_size=settings.effective_max_size, threads_alive=alive, threads_busy=busy,
        submitted=admission.submitted, started=admission.started,
        completed=admission.completed, failed=admission.failed, canceled=admission.canceled)


__all__ = ["Inspection"]
