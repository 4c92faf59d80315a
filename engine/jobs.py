"""Async job schedulers: coroutine functions run at set times on an aloop.

The original library's schedulers (``aiosched``, driven through
``create_async_job_scheduler`` / ``create_async_job`` / ``cancel_async_job``)
with the same arguments and results, without their polling and their drift:

* **One timer per scheduler.** The jobs of a scheduler are a heap by due
  time, kept on its aloop's thread; one ``loop.call_at`` handle is armed for
  the head. A job created or canceled from another thread is posted to the
  loop (``call_soon_threadsafe``) and re-arms the timer if it changes the
  head. Nothing wakes between due times.
* **A canceled job is gone at once.** ``cancel`` takes it out of the
  scheduler's jobs (``jobs``, ``stats().jobs``) under the lock, at once; its
  heap entry is deleted lazily: counted as dead on the loop, dropped when it
  reaches the head, and the heap is rebuilt without the dead entries as soon
  as they are more than half of it (and more than ``COMPACT_MIN``). So the
  heap holds at most about twice the live jobs, and each cancel costs
  O(log n) amortized, whatever the canceled jobs' due times.
* **No drift.** A job's ``k``-th run is due ``timer + k * interval`` seconds
  after it was created, whatever its runs take. A run missed because the
  loop was blocked is skipped, not run late in a burst (``aiosched`` ran
  every missed run at once); a job's ``number`` counts the runs it makes,
  so skipped ones do not use it up.
* **Lightweight runs**, as the library documents: each run is an asyncio
  task on the scheduler's aloop, not a supervisor ``Task`` (no events), and
  runs of one job may overlap. The scheduler counts ``runs`` and ``errors``
  and keeps ``last_run`` (``time.time()``): it is registered with the
  supervisor (``register_scheduler``), so ``stats().scheduler_info`` and the
  console's workers panel show it, and ``supervisor.stop()`` stops it.
* **Contained.** Whatever a job raises -- when called or while awaited,
  ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` included -- is
  logged on the ``engine.jobs`` logger and counted in ``errors``; the job
  keeps its schedule and the scheduler and the loop keep serving.

Where it runs: on the aloop given (``aloop=``, a name or an ``ALoop``), else
on the supervisor's default aloop (the library's rule, so that jobs share
loop-bound objects with the default aloop), else on an aloop of its own,
``async_job_scheduler_<name>`` (``daemon=`` applies to that one only), which
the scheduler starts and stops with itself.

Stopping (``stop(wait=...)``, or the supervisor's stop): no run starts any
more at once; runs in flight are waited for (at most ``wait`` seconds, then
canceled). Jobs are kept: ``start()`` runs them again on their schedule.

Threads: ``create_threadsafe``, ``cancel``, ``start``, ``stop`` and every
reader may be called from any thread (``stop`` with a wait not from the
scheduler's own aloop); ``create`` is awaited on any loop. The heap, the
timer and the runs in flight belong to the aloop's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import heapq
import inspect
import itertools
import logging
import math
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .aloop import ALoop
from .usercode import call_user, log_contained
from .validate import check_callable, check_count, check_flag, check_seconds, check_wait

log = logging.getLogger("engine.jobs")

#: The shortest interval: a smaller one (0 included) is run at this one, as
#: ``aiosched`` did (its ``min_interval``).
MIN_INTERVAL = 0.001

#: Dead (canceled) heap entries tolerated before the heap is compacted, at
#: least; beyond it they may not be more than half of the heap.
COMPACT_MIN = 64

NEW, RUNNING, STOPPING, STOPPED = "new", "running", "stopping", "stopped"

_ids = itertools.count(1)


class AsyncScheduledJob:
    """One job: ``target(*args, **kwargs)`` every ``interval`` seconds, the
    first run ``timer`` seconds after its creation, ``number`` times (0:
    until canceled). Returned by ``create_async_job``; ``cancel()`` from any
    thread. ``runs`` and ``last_run`` (``time.time()``) are read-only."""

    def __init__(self, scheduler: AsyncJobScheduler, target: Callable[..., Any], args: tuple,
                 kwargs: dict, interval: float, timer: float, number: int) -> None:
        self.id = next(_ids)
        self.scheduler = scheduler
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.interval = max(interval, MIN_INTERVAL)
        self.timer = timer
        self.number = number
        self.runs = 0
        self.last_run: float | None = None
        self.created = time.monotonic()
        # Written once (True → False) by cancel() or the last run; read anywhere.
        self._active = True
        # Owned by the aloop's thread: the next due run's index, whether the
        # job has an entry in the heap, and whether that entry is counted dead.
        self._index = 0
        self._in_heap = False
        self._dead_in_heap = False

    def __repr__(self) -> str:
        state = "active" if self._active else "finished"
        return f"<AsyncScheduledJob {self.id} {getattr(self.target, '__name__', '?')} {state}>"

    @property
    def active(self) -> bool:
        """False once canceled or once its ``number`` of runs have started."""
        return self._active

    def cancel(self) -> None:
        """No run of this job starts any more (one in flight finishes)."""
        self.scheduler.cancel(self)

    def __lt__(self, other: AsyncScheduledJob) -> bool:  # heap ties: the older job first
        return self.id < other.id


class AsyncJobScheduler:
    """Runs its jobs on one aloop; see the module docstring. Created by
    ``TaskSupervisor.create_async_job_scheduler``: ``name``, its
    ``supervisor``, the ``aloop`` it runs on, or ``None`` with ``own_aloop``
    (one of its own, created on its first start, ``daemon`` or not)."""

    #: What ``stats().scheduler_info`` and the console's workers panel call it.
    stats_kind = "async job scheduler"

    def __init__(self, name: str, supervisor: Any, aloop: ALoop | None,
                 own_aloop: bool, daemon: bool) -> None:
        self.name = self.id = name
        self.supervisor = supervisor
        self._aloop = aloop
        self._own_aloop = own_aloop
        self._daemon = daemon
        # Guards _state, _loop, _future, _jobs, and the creation of _aloop (own).
        self._lock = threading.Lock()
        self._state = NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: concurrent.futures.Future | None = None
        self._jobs: set[AsyncScheduledJob] = set()  # active jobs (the heap's source on start)
        self._ended = threading.Event()  # set when a run of loop() has ended
        self._ended.set()
        # Written on the aloop's thread only; read from any (plain ints/floats).
        self.runs = 0
        self.errors = 0
        self.last_run: float | None = None
        # The aloop thread's own state while loop() runs; _dead counts the
        # heap entries of canceled jobs (those with _dead_in_heap).
        self._heap: list[tuple[float, AsyncScheduledJob]] = []
        self._dead = 0
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task] = set()
        self._stop_event: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<AsyncJobScheduler {self.name!r} {self._state}>"

    @property
    def aloop(self) -> ALoop | None:
        """The aloop it runs on (created on its first start if it has its own)."""
        return self._aloop

    def is_active(self) -> bool:
        return self._state == RUNNING

    @property
    def jobs(self) -> list[AsyncScheduledJob]:
        """The active jobs, oldest first."""
        with self._lock:
            return sorted(self._jobs, key=lambda job: job.id)

    def stats(self) -> AsyncJobSchedulerStats:
        """A snapshot: active ``jobs`` (canceled ones never count), the
        ``heap_size`` (entries in its timer heap: live jobs while it runs,
        plus dead entries of canceled jobs not yet dropped), ``runs``,
        ``errors``, ``last_run``; from any thread."""
        with self._lock:
            jobs, state = len(self._jobs), self._state
        return AsyncJobSchedulerStats(self.name, state, jobs, len(self._heap), self.runs,
                                      self.errors, self.last_run)

    # -- jobs --------------------------------------------------------------------------------
    def create_threadsafe(self, target: Callable[..., Any], args: tuple | list = (),
                          kwargs: dict | None = None, interval: float = 0, timer: float = 0,
                          number: int = 0) -> AsyncScheduledJob:
        """Create a job: ``target(*args, **kwargs)`` (a coroutine function)
        every ``interval`` seconds, the first run ``timer`` seconds from now,
        ``number`` times (0: until canceled); from any thread. Jobs
        created before ``start()`` wait for it; a stopped scheduler refuses
        new ones (``RuntimeError``)."""
        job = self._new_job(target, args, kwargs, interval, timer, number)
        with self._lock:
            if self._state in (STOPPING, STOPPED):
                raise RuntimeError(f"async job scheduler {self.name!r} is stopped: start() it "
                                   f"before creating jobs")
            self._jobs.add(job)
            loop = self._loop if self._state == RUNNING else None
        if loop is not None:
            self._post(loop, self._schedule, job)
        return job

    async def create(self, target: Callable[..., Any], **kwargs: Any) -> AsyncScheduledJob:
        """``create_threadsafe`` for a coroutine (the library's ``await create()``)."""
        return self.create_threadsafe(target, **kwargs)

    def cancel(self, job: AsyncScheduledJob) -> None:
        """Cancel ``job`` (a job of this scheduler); a finished one: nothing to do."""
        if not isinstance(job, AsyncScheduledJob):
            raise TypeError(f"job must be an AsyncScheduledJob, got {job!r}")
        if job.scheduler is not self:
            raise ValueError(f"job {job!r} belongs to async job scheduler "
                             f"{job.scheduler.name!r}, not {self.name!r}")
        with self._lock:
            job._active = False
            self._jobs.discard(job)
            loop = self._loop if self._state == RUNNING else None
        if loop is not None:
            self._post(loop, self._drop, job)

    def _new_job(self, target: Any, args: Any, kwargs: Any, interval: Any, timer: Any,
                 number: Any) -> AsyncScheduledJob:
        check_callable("target", target, allow_none=False)
        if not (inspect.iscoroutinefunction(target)
                or inspect.iscoroutinefunction(type(target).__call__)):
            raise TypeError(f"target must be a coroutine function (async def), got {target!r}")
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"args must be a tuple or a list, got {args!r}")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a dict or None, got {kwargs!r}")
        interval = check_seconds("interval", interval)
        timer = check_seconds("timer", timer)
        number = check_count("number", number, maximum=sys.maxsize)
        return AsyncScheduledJob(self, target, tuple(args), dict(kwargs or {}), interval,
                                 timer, number)

    # -- start and stop ----------------------------------------------------------------------
    def start(self) -> None:
        """Run the jobs (those created before included); ``RuntimeError`` if
        it runs already or the supervisor is not active."""
        with self._lock:
            if self._state in (RUNNING, STOPPING):
                raise RuntimeError(f"async job scheduler {self.name!r} is already running")
            if not self.supervisor.is_active():
                raise RuntimeError(f"supervisor {self.supervisor.id!r} is not active: start() "
                                   f"it before starting async job scheduler {self.name!r}")
            aloop = self._aloop_to_run()
            if not aloop.is_active():
                if not self._own_aloop:
                    raise RuntimeError(f"aloop {aloop.name!r} of async job scheduler "
                                       f"{self.name!r} is not running")
                aloop.start()
            self._state, self._loop = RUNNING, aloop.get_loop()
            self._ended.clear()
            try:
                future = self.supervisor.register_scheduler(self, loop=self._loop)
            except BaseException:
                self._state, self._loop = STOPPED, None
                self._ended.set()
                raise
            self._future = future
        future.add_done_callback(self._loop_ended)
        log.info("async job scheduler %r started on aloop %r", self.name, aloop.name)

    def _aloop_to_run(self) -> ALoop:
        """Under ``_lock``: its aloop; its own is created on the first start."""
        if self._aloop is None:
            self._aloop = self.supervisor.create_aloop(own_aloop_name(self.name),
                                                       daemon=self._daemon, start=False)
        return self._aloop

    def stop(self, wait: bool | float = True) -> None:
        """Start no more runs; wait for the runs in flight (``True``: until
        they end; N: at most N seconds, then cancel them; ``False``: not at
        all). A scheduler not running: nothing to do."""
        timeout = check_wait(wait)
        with self._lock:
            loop, future = self._loop, self._future
            running = self._state == RUNNING
            aloop = self._aloop
            if running and timeout != 0 and aloop is not None and aloop.owns_current_thread():
                raise RuntimeError(f"async job scheduler {self.name!r} cannot wait for itself: "
                                   f"stop(wait=False) from its own aloop")
            if running:
                self._state = STOPPING
        if running and loop is not None:
            self._post(loop, self._request_stop)
        if future is None or timeout == 0:
            return
        if not self._ended.wait(timeout):
            future.cancel()  # cancels loop(), which cancels the runs in flight
            log.warning("async job scheduler %r: runs still in flight after %s s were canceled",
                        self.name, timeout)

    def _loop_ended(self, future: concurrent.futures.Future) -> None:
        """Done callback of ``loop()`` (on any thread): the scheduler is stopped."""
        with self._lock:
            if self._future is future:
                self._state, self._loop, self._future = STOPPED, None, None
            aloop = self._aloop if self._own_aloop else None
        self._ended.set()
        log.info("async job scheduler %r stopped", self.name)
        if aloop is not None and aloop.is_active():
            try:
                aloop.stop(wait=False)
            except BaseException as exc:  # noqa: BLE001 - a done callback must not raise
                log_contained(f"stopping the aloop of async job scheduler {self.name!r}", exc,
                              log)

    @staticmethod
    def _post(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed meanwhile: loop() has ended with it
            pass

    # -- the aloop's thread --------------------------------------------------------------------
    async def loop(self) -> None:
        """The scheduler's run, on its aloop (``register_scheduler`` runs it)."""
        self._stop_event = asyncio.Event()
        with self._lock:
            stopping = self._state != RUNNING
        try:
            if stopping:  # stopped before loop() began
                return
            self._schedule_all()  # not here: loop()'s frame would keep them all alive
            await self._stop_event.wait()
            if self._inflight:
                await asyncio.gather(*list(self._inflight), return_exceptions=True)
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            for task in list(self._inflight):  # left by a cancellation of loop()
                task.cancel()
            self._heap_clear()

    def _schedule_all(self) -> None:
        """Put every active job (those created before the start) in the heap."""
        with self._lock:
            jobs = sorted(self._jobs, key=lambda job: job.id)
        for job in jobs:
            self._schedule(job)

    def _request_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stop_event is not None:
            self._stop_event.set()
        self._heap_clear()

    def _heap_clear(self) -> None:
        for _, job in self._heap:
            job._in_heap = job._dead_in_heap = False
        self._heap = []
        self._dead = 0

    def _pop_head(self) -> AsyncScheduledJob:
        """Take the head entry out of the heap; its job."""
        job = heapq.heappop(self._heap)[1]
        job._in_heap = False
        if job._dead_in_heap:
            job._dead_in_heap = False
            self._dead -= 1
        return job

    def _drop(self, job: AsyncScheduledJob) -> None:
        """Posted by ``cancel``: count the job's entry dead, compact the heap
        once dead entries dominate it, re-arm the timer."""
        if job._in_heap and not job._dead_in_heap:
            job._dead_in_heap = True
            self._dead += 1
            if self._dead > COMPACT_MIN and 2 * self._dead > len(self._heap):
                self._compact()
        self._rearm()

    def _compact(self) -> None:
        """Rebuild the heap with the live entries only: O(n), once per n/2 cancels."""
        live = []
        for entry in self._heap:
            job = entry[1]
            if job._dead_in_heap:
                job._in_heap = job._dead_in_heap = False
            else:
                live.append(entry)
        heapq.heapify(live)
        self._heap = live
        self._dead = 0

    def _schedule(self, job: AsyncScheduledJob) -> None:
        """Put ``job`` in the heap at its next due run (not yet past)."""
        if job._in_heap or not job._active or self._state != RUNNING:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        first = job.created + job.timer - time.monotonic() + now  # in the loop's clock
        due = first + job._index * job.interval
        if due < now and job._index > 0:  # missed runs (a blocked loop): skip them
            job._index += math.ceil((now - due) / job.interval)
            due = first + job._index * job.interval
        job._in_heap = True
        heapq.heappush(self._heap, (due, job))
        self._rearm()

    def _rearm(self) -> None:
        """One timer, at the head of the heap (canceled jobs there are dropped)."""
        heap = self._heap
        while heap and not heap[0][1]._active:
            self._pop_head()
            heap = self._heap
        if self._timer is not None:
            if heap and self._timer.when() == heap[0][0]:
                return
            self._timer.cancel()
            self._timer = None
        if heap and self._state == RUNNING:
            self._timer = asyncio.get_running_loop().call_at(heap[0][0], self._fire)

    def _fire(self) -> None:
        """The timer: start every job that is due, schedule its next run."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._heap and self._heap[0][0] <= now and self._state == RUNNING:
            job = self._pop_head()
            if not job._active:
                continue
            job._index += 1
            # number counts runs, not ticks: skipped ticks do not use it up.
            if job.number and job.runs + 1 >= job.number:
                with self._lock:
                    job._active = False
                    self._jobs.discard(job)
            self._run(job, loop)
            self._schedule_next(job)
        self._rearm()

    def _schedule_next(self, job: AsyncScheduledJob) -> None:
        if job._active:
            self._schedule(job)

    def _run(self, job: AsyncScheduledJob, loop: asyncio.AbstractEventLoop) -> None:
        self.runs += 1
        job.runs += 1
        self.last_run = job.last_run = time.time()
        what = f"async job {job.id} ({getattr(job.target, '__name__', '?')}) of scheduler " \
               f"{self.name!r}"
        ok, coro = call_user(what, job.target, *job.args, logger=log, **job.kwargs)
        if not ok:
            self.errors += 1
            return
        if not inspect.isawaitable(coro):
            self.errors += 1
            log.error("%s returned %r, not an awaitable", what, type(coro).__name__)
            return
        task = loop.create_task(self._await_run(what, coro))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _await_run(self, what: str, coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - the containment policy (usercode)
            self.errors += 1
            log_contained(what, exc, log)


@dataclasses.dataclass(frozen=True)
class AsyncJobSchedulerStats:
    """``AsyncJobScheduler.stats()``: ``name``, ``state`` (new, running,
    stopping, stopped), ``jobs`` (active), ``heap_size``, ``runs``, ``errors``,
    ``last_run`` (``time.time()`` or ``None``)."""

    name: str
    state: str
    jobs: int
    heap_size: int
    runs: int
    errors: int
    last_run: float | None


def own_aloop_name(name: str) -> str:
    return f"async_job_scheduler_{name}"


class JobSchedulers:
    """The async job schedulers of one supervisor, by name, and the default."""

    def __init__(self, supervisor: Any) -> None:
        self._supervisor = supervisor
        # Guards _schedulers and _default.
        self._lock = threading.Lock()
        self._schedulers: dict[str, AsyncJobScheduler] = {}
        self._default: AsyncJobScheduler | None = None

    def all(self) -> dict[str, AsyncJobScheduler]:
        with self._lock:
            return dict(self._schedulers)

    @property
    def default(self) -> AsyncJobScheduler | None:
        return self._default

    def create(self, name: Any, aloop: Any, start: Any, default: Any,
               daemon: Any) -> AsyncJobScheduler:
        if not isinstance(name, str) or not name:
            raise ValueError(f"async job scheduler name must be a non-empty string, "
                             f"got {name!r}")
        for flag, value in (("start", start), ("default", default), ("daemon", daemon)):
            check_flag(flag, value)
        supervisor = self._supervisor
        if aloop is not None and not isinstance(aloop, (str, ALoop)):
            raise TypeError(f"aloop must be an aloop name, an ALoop or None, got {aloop!r}")
        if isinstance(aloop, str):
            aloop = supervisor.get_aloop(aloop)  # LookupError names it
        elif isinstance(aloop, ALoop) and supervisor.aloops.get(aloop.name) is not aloop:
            raise ValueError(f"{aloop!r} is not an aloop of supervisor {supervisor.id!r}")
        if aloop is None:
            aloop = supervisor.get_aloop()
        own = aloop is None
        if daemon and not own:
            raise ValueError(f"daemon=True applies only to an aloop of the scheduler's own; "
                             f"async job scheduler {name!r} runs on aloop {aloop.name!r}")
        own_aloop = supervisor.aloops.get(own_aloop_name(name)) if own else None
        if own_aloop is not None:
            with self._lock:
                previous = self._schedulers.get(name)
            if previous is None or previous._aloop is not own_aloop:
                raise ValueError(f"an aloop named {own_aloop.name!r} already exists: pass "
                                 f"it as aloop= or choose another scheduler name")
            if own_aloop.daemon != daemon:
                raise ValueError(f"the aloop of the previous async job scheduler {name!r} is "
                                 f"{'' if own_aloop.daemon else 'not '}a daemon: daemon="
                                 f"{daemon!r} cannot change that")
            aloop = own_aloop  # a stopped scheduler of that name had it: the new one takes it
        if start and not supervisor.is_active():
            raise RuntimeError(f"supervisor {supervisor.id!r} is not active: start() it before "
                               f"creating a started async job scheduler (or pass start=False)")
        scheduler = AsyncJobScheduler(name, supervisor, aloop, own, daemon)
        with self._lock:
            previous = self._schedulers.get(name)
            if previous is not None and previous._state != STOPPED and \
                    previous._state != NEW:
                raise ValueError(f"an async job scheduler named {name!r} already exists "
                                 f"and is not stopped")
            if previous is not None and previous._state == NEW:
                raise ValueError(f"an async job scheduler named {name!r} already exists "
                                 f"(not started: start() it)")
            self._schedulers[name] = scheduler
            previous_default = self._default
            if default or self._default is previous and previous is not None:
                self._default = scheduler
        if start:
            try:
                scheduler.start()
            except BaseException:
                with self._lock:  # as if never created
                    if self._schedulers.get(name) is scheduler:
                        if previous is None:
                            del self._schedulers[name]
                        else:
                            self._schedulers[name] = previous
                    if self._default is scheduler:
                        self._default = previous_default
                raise
        return scheduler

    def resolve(self, scheduler: Any) -> AsyncJobScheduler:
        if scheduler is None:
            found = self._default
            if found is None:
                raise RuntimeError(f"supervisor {self._supervisor.id!r} has no default async "
                                   f"job scheduler: create one with create_async_job_scheduler"
                                   f"(name, default=True) or pass scheduler=")
            return found
        if isinstance(scheduler, str):
            with self._lock:
                found = self._schedulers.get(scheduler)
            if found is None:
                raise LookupError(f"no async job scheduler named {scheduler!r}")
            return found
        if isinstance(scheduler, AsyncJobScheduler):
            with self._lock:
                ours = self._schedulers.get(scheduler.name) is scheduler
            if not ours:
                raise ValueError(f"{scheduler!r} is not an async job scheduler of supervisor "
                                 f"{self._supervisor.id!r}")
            return scheduler
        raise TypeError(f"scheduler must be an async job scheduler, its name or None, "
                        f"got {scheduler!r}")

    def set_default(self, scheduler: Any) -> None:
        found = None if scheduler is None else self.resolve(scheduler)
        with self._lock:
            self._default = found


# Guards the creation of each supervisor's JobSchedulers (made on first use).
_create_lock = threading.Lock()


def schedulers_of(supervisor: Any) -> JobSchedulers:
    """The supervisor's ``JobSchedulers``, created on first use."""
    found = supervisor.__dict__.get("_async_job_schedulers")
    if found is None:
        with _create_lock:
            found = supervisor.__dict__.get("_async_job_schedulers")
            if found is None:
                found = supervisor.__dict__["_async_job_schedulers"] = JobSchedulers(supervisor)
    return found


__all__ = ["COMPACT_MIN", "MIN_INTERVAL", "AsyncJobScheduler", "AsyncJobSchedulerStats",
           "AsyncScheduledJob", "JobSchedulers", "schedulers_of"]
