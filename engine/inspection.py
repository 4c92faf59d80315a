"""What a supervisor shows of itself: snapshots, events, tasks, schedulers.

``Inspection`` is the read side of ``TaskSupervisor`` (a base class: it
reads the supervisor's own ledger and registries under their locks, and
changes nothing but its memory of the schedulers it has seen). Every read
takes the lock once and copies plain fields; frozen records are built
outside it. Snapshots cost O(priorities + aloops + schedulers), never
O(tasks); ``live_tasks(ids)`` and ``finished_tasks(ids)`` cost O(len(ids)).

Any thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from time import monotonic
from typing import Any

from .constants import TASK_TYPES
from .pool import Admission, PoolSettings
from .stats import (
    EventBatch,
    PoolStats,
    SchedulerStats,
    SupervisorInfo,
    SupervisorStats,
    TaskEvent,
    TaskState,
    percentiles,
)
from .task import FinishedTask, Task
from .validate import MAX_SIZE, check_task_id

_ACTIVE = "active"  # TaskSupervisor's state while it accepts tasks


class Inspection:
    """The read side of ``TaskSupervisor``."""

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

    def get_info(self) -> SupervisorInfo:
        with self._lock:
            settings = self._thread_settings
            alive, _ = self._threads.counts_locked()
            info = SupervisorInfo(
                supervisor_id=self.id, active=self._state == _ACTIVE,
                thread_tasks_count=self._threads.admission.active,
                mp_tasks_count=self._mp.admission.active,
                thread_pool_size=settings.pool_size,
                thread_reserve_normal=settings.reserve_normal,
                thread_reserve_high=settings.reserve_high,
                thread_min_size=settings.effective_min_size,
                thread_max_size=settings.effective_max_size,
                threads_alive=alive, poll_delay=self._poll_delay)
        return info

    def stats(self) -> SupervisorStats:
        """An immutable snapshot of every counter; O(1) in the number of tasks."""
        with self._lock:
            now = monotonic()
            alive, busy = self._threads.counts_locked()
            thread = _pool_stats(self._threads.admission, self._thread_settings, alive, busy)
            mp = _pool_stats(self._mp.admission, self._mp.admission.settings,
                             self._mp.counts_locked(), 0)
            coroutine = _pool_stats(self._coroutines.admission,
                                    self._coroutines.admission.settings, 0, 0)
            waits = self._ledger.waits.recent(now)
            last_seq = self._ledger.events.last_seq
            active = self._state == _ACTIVE
        with self._registry_lock:
            aloop_list = list(self._aloops.values())
            default = self._default_aloop
        info = self._scheduler_info()
        aloops = {a.name: a.is_active() for a in aloop_list}
        with self._lock:
            aloop_tasks = {a.name: a.tasks_pending for a in aloop_list}
        p50, p95, wmax = percentiles(waits)
        return SupervisorStats(
            supervisor_id=self.id, time=now, active=active, thread=thread, mp=mp,
            coroutine=coroutine, wait_p50=p50, wait_p95=p95, wait_max=wmax,
            poll_delay=self._poll_delay, timeout_warning=self._timeouts.warning,
            timeout_critical=self._timeouts.critical, last_event_seq=last_seq, aloops=aloops,
            aloop_tasks=aloop_tasks,
            schedulers={name: s.active for name, s in info.items() if s.registered},
            default_aloop=None if default is None else default.name, scheduler_info=info)

    def events_since(self, seq: int = 0, limit: int | None = None) -> list[TaskEvent]:
        """Task events with a sequence number above ``seq``, oldest first."""
        return self._event_batch("seq", seq, limit).events

    def event_batch(self, after_seq: int = 0, limit: int | None = None) -> EventBatch:
        """Task events with a sequence number above ``after_seq`` (at most
        ``limit``), with the ring's bounds: ``batch.lost_before(after_seq)``
        says how many the ring dropped before they were read."""
        return self._event_batch("after_seq", after_seq, limit)

    def _event_batch(self, name: str, after_seq: object, limit: object) -> EventBatch:
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {after_seq!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ValueError(f"limit must be None or an integer >= 1, got {limit!r}")
        ring = self._ledger.events
        with self._lock:
            raw = ring.since(after_seq, limit)
            oldest, last = ring.oldest_seq, ring.last_seq
        return EventBatch([TaskEvent(*r) for r in raw], oldest, last)

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

    def finished_tasks(self, ids: Iterable[Any]) -> dict[Any, FinishedTask]:
        """The history's records of those of ``ids`` it still holds (frozen
        ``FinishedTask`` records, never the tasks themselves)."""
        ids = _id_list(ids)
        with self._lock:
            history = self._ledger.history
            records = [history.record(task_id) for task_id in ids]
        return {r.id: r for r in records if r is not None}

    # -- schedulers ---------------------------------------------------------------
    def get_scheduler(self, name: str) -> Any:
        """The registered scheduler or worker shown as ``name`` (``stats().
        scheduler_info``); a stopped worker stays known while it exists."""
        if not isinstance(name, str):
            raise TypeError(f"scheduler name must be a string, got {name!r}")
        found = self._known_schedulers().get(name)
        if found is None:
            raise LookupError(f"no scheduler or worker named {name!r}")
        return found

    def _known_schedulers(self) -> dict[str, Any]:
        """Registered schedulers and the workers seen registered before (a
        worker leaves the registry when it stops; it can start again), by
        unique name, in the order first seen."""
        with self._registry_lock:
            registered = list(self._schedulers)
            seen = self._seen_schedulers
            for scheduler in registered:  # a worker can start again: remember it
                if callable(getattr(scheduler, "restart", None)) and scheduler not in seen:
                    try:
                        seen[scheduler] = None
                    except TypeError:  # not weakly referable: known while registered
                        pass
            known = list(seen) + [s for s in registered if s not in seen]
        named: dict[str, Any] = {}
        for scheduler in known:
            base = name = scheduler_name(scheduler)
            number = 1
            while name in named:
                number += 1
                name = f"{base} #{number}"
            named[name] = scheduler
        return named

    def _scheduler_info(self) -> dict[str, SchedulerStats]:
        with self._registry_lock:
            registered = set(map(id, self._schedulers))
        return {name: _scheduler_stats(name, s, id(s) in registered)
                for name, s in self._known_schedulers().items()}


def scheduler_name(scheduler: Any) -> str:
    return str(getattr(scheduler, "name", None) or repr(scheduler))


def _scheduler_stats(name: str, scheduler: Any, registered: bool) -> SchedulerStats:
    is_active = getattr(scheduler, "is_active", None)
    active = bool(is_active()) if callable(is_active) else registered
    kind = getattr(scheduler, "kind", None)
    if isinstance(kind, str):  # the engine's workers: "interval", "queue", ...
        kind = f"{kind} worker" if kind != "worker" else "worker"
    else:
        kind = ("async scheduler" if callable(getattr(scheduler, "loop", None))
                else "sync scheduler")
    runs, errors, last = (getattr(scheduler, attr, None) for attr in ("runs", "errors",
                                                                      "last_run"))
    return SchedulerStats(name, kind, active, registered,
                          runs if isinstance(runs, int) else None,
                          errors if isinstance(errors, int) else None,
                          last if isinstance(last, (int, float)) else None)


def _id_list(ids: Iterable[Any]) -> list[Any]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be an iterable of task ids, got {ids!r}")
    ids = list(ids)
    if len(ids) > MAX_SIZE:
        raise ValueError(f"ids must hold at most {MAX_SIZE} task ids, got {len(ids)}")
    for task_id in ids:
        check_task_id(task_id)
    return ids


def _pool_stats(admission: Admission, settings: PoolSettings, alive: int,
                busy: int) -> PoolStats:
    return PoolStats(
        running=dict(admission.running), queued=dict(admission.queued),
        delayed=dict(admission.delayed), limits=dict(admission.limits),
        pool_size=settings.pool_size, reserve_normal=settings.reserve_normal,
        reserve_high=settings.reserve_high, min_size=settings.effective_min_size,
        max_size=settings.effective_max_size, threads_alive=alive, threads_busy=busy,
        submitted=admission.submitted, started=admission.started,
        completed=admission.completed, failed=admission.failed, canceled=admission.canceled)


__all__ = ["Inspection", "scheduler_name"]
