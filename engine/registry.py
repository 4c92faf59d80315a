"""The registry of a supervisor's aloops and schedulers.

``Registry`` owns the aloops by name (and which one is the default, and
which ones to start again with the supervisor), the registered schedulers
and workers (with the future of each async ``loop()``), and the memory of
workers seen registered before (a worker leaves the registry when it stops
and can start again by name). It names schedulers uniquely for the stats
and ``get_scheduler`` (``worker.name`` or the repr, duplicates suffixed
`` #2``) and describes each one (``SchedulerStats``).

Threads: any. ``lock`` guards the dictionaries only; it is never held while
a loop starts or stops or user code (a scheduler's ``loop()``/``stop()``)
runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from .aloop import ALoop
from .stats import SchedulerStats
from .usercode import UserExit, call_user, log_contained, shielded
from .validate import check_flag

if TYPE_CHECKING:
    from .coroutines import CoroutinePool
    from .dispatch import Dispatcher
    from .loopthread import LoopThread

log = logging.getLogger("engine.supervisor")
monotonic = time.monotonic


class Registry:
    """Aloops and schedulers of one supervisor; see the module docstring."""

    def __init__(self, supervisor: Any, dispatcher: Dispatcher,
                 coroutines: CoroutinePool) -> None:
        self._supervisor = supervisor  # the front: its id, and the aloops' owner
        self._dispatcher = dispatcher
        self._coroutines = coroutines
        # Guards _aloops, _default, _to_restart, _schedulers and _seen.
        self.lock = threading.Lock()
        self._aloops: dict[str, ALoop] = {}
        self._default: ALoop | None = None
        self._to_restart: list[ALoop] = []
        self._schedulers: dict[Any, concurrent.futures.Future | None] = {}
        # Every worker ever registered, weakly (in the order first seen).
        self._seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def _id(self) -> str:
        return self._supervisor.id

    # -- aloops ---------------------------------------------------------------------------
    def aloops(self) -> dict[str, ALoop]:
        with self.lock:
            return dict(self._aloops)

    def aloops_and_default(self) -> tuple[list[ALoop], ALoop | None]:
        with self.lock:
            return list(self._aloops.values()), self._default

    def create_aloop(self, name: str, default: bool, daemon: bool, start: bool) -> ALoop:
        if not isinstance(name, str) or not name:
            raise ValueError(f"aloop name must be a non-empty string, got {name!r}")
        for flag, value in (("default", default), ("daemon", daemon), ("start", start)):
            check_flag(flag, value)
        aloop = ALoop(name, self._supervisor, daemon=daemon, dispatcher=self._dispatcher,
                      coroutines=self._coroutines)
        with self.lock:
            if name in self._aloops:
                raise ValueError(f"an aloop named {name!r} already exists")
            self._aloops[name] = aloop
            previous_default = self._default
            if default:
                self._default = aloop
        if start:
            try:
                aloop.start()
            except BaseException:  # the OS refused the thread, Ctrl+C...
                if not aloop.is_active():  # as if never created; else it runs: keep it
                    with self.lock:
                        del self._aloops[name]
                        if self._default is aloop:
                            self._default = previous_default
                raise
        return aloop

    def get_aloop(self, name: str | None = None) -> ALoop | None:
        with self.lock:
            if name is None:
                return self._default
            try:
                return self._aloops[name]
            except KeyError:
                raise LookupError(f"no aloop named {name!r}") from None

    def set_default_aloop(self, aloop: ALoop | str | None) -> None:
        if isinstance(aloop, str):
            aloop = self.get_aloop(aloop)
        with self.lock:
            if aloop is not None and self._aloops.get(getattr(aloop, "name", None)) is not aloop:
                raise ValueError(f"{aloop!r} is not an aloop of supervisor {self._id!r}")
            self._default = aloop

    def resolve_loop(self, ref: Any) -> asyncio.AbstractEventLoop:
        """An aloop name, an ``ALoop``, an asyncio loop, or ``None`` (the
        default aloop) → a running asyncio loop."""
        if isinstance(ref, asyncio.AbstractEventLoop):
            return ref
        aloop = self.get_aloop(ref) if ref is None or isinstance(ref, str) else ref
        if aloop is None:
            raise RuntimeError(f"supervisor {self._id!r} has no default aloop: create one with "
                               f"create_aloop(name, default=True) or pass loop=")
        if not isinstance(aloop, ALoop):
            raise TypeError(f"loop must be an aloop name, an ALoop or an asyncio loop, "
                            f"got {ref!r}")
        if not aloop.is_active():
            raise RuntimeError(f"aloop {aloop.name!r} is not running")
        return aloop.get_loop()

    def aloop_of_current_thread(self) -> ALoop | None:
        with self.lock:
            aloops = list(self._aloops.values())
        return next((a for a in aloops if a.owns_current_thread()), None)

    def stop_aloops(self, stopping: list[tuple[str, LoopThread]]) -> None:
        """Ask every active aloop to stop (they restart with the supervisor),
        without waiting: each ``(name, loop thread)`` asked is appended to
        ``stopping``, for the stop to join them all against one deadline."""
        with self.lock:
            active = [a for a in self._aloops.values() if a.is_active()]
            self._to_restart = active
        interrupted: BaseException | None = None
        for aloop in active:  # every one is asked, even after an interruption
            runner = aloop.runner
            try:
                aloop.stop_until(monotonic(), cancel_tasks=True, join=False)
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                interrupted = interrupted or exc
            if runner is not None:
                stopping.append((f"aloop {aloop.name!r}", runner))
        if interrupted is not None:
            raise interrupted

    def restart_aloops(self) -> None:
        """Start again the aloops the last stop stopped."""
        with self.lock:
            restart, self._to_restart = self._to_restart, []
        for aloop in restart:
            if not aloop.is_active():  # an interrupted stop may have left it running
                aloop.start()

    # -- schedulers ------------------------------------------------------------------------
    def register_scheduler(self, scheduler: Any, loop: asyncio.AbstractEventLoop
                           ) -> concurrent.futures.Future:
        """Run ``scheduler.loop()`` on ``loop`` (checked by the caller)."""
        with self.lock:
            if scheduler in self._schedulers:
                raise ValueError(f"scheduler {scheduler!r} is already registered")
            coro = scheduler.loop()
            try:
                future = asyncio.run_coroutine_threadsafe(shielded(coro), loop)
            except BaseException:
                coro.close()
                raise
            self._schedulers[scheduler] = future
            self._remember_locked(scheduler)
        future.add_done_callback(lambda f: self._scheduler_ended(scheduler, f))
        return future

    def register_sync_scheduler(self, scheduler: Any) -> None:
        if not callable(getattr(scheduler, "stop", None)):
            raise TypeError(f"a scheduler needs a stop() method, got {scheduler!r}")
        with self.lock:
            if scheduler in self._schedulers:
                raise ValueError(f"scheduler {scheduler!r} is already registered")
            self._schedulers[scheduler] = None
            self._remember_locked(scheduler)

    def unregister(self, scheduler: Any, sync: bool) -> None:
        with self.lock:
            if scheduler not in self._schedulers or (
                    (self._schedulers[scheduler] is None) != sync):
                raise LookupError(f"{'sync ' if sync else ''}scheduler {scheduler!r} is not "
                                  f"registered")
            del self._schedulers[scheduler]

    def schedulers(self) -> list[Any]:
        with self.lock:
            return list(self._schedulers)

    def _remember_locked(self, scheduler: Any) -> None:
        """A worker can start again once stopped: remember it by name."""
        if callable(getattr(scheduler, "restart", None)) and scheduler not in self._seen:
            try:
                self._seen[scheduler] = None
            except TypeError:  # not weakly referable: known while registered
                pass

    def _scheduler_ended(self, scheduler: Any, future: concurrent.futures.Future) -> None:
        if not future.cancelled():
            exc = future.exception()
            if exc is not None:
                log_contained(f"scheduler {scheduler_name(scheduler)!r}",
                              exc.original if isinstance(exc, UserExit) else exc, log)
        with self.lock:
            if self._schedulers.get(scheduler) is future:
                del self._schedulers[scheduler]

    def stop_schedulers(self) -> list[tuple[Any, concurrent.futures.Future]]:
        """Ask every scheduler to stop, each ``stop()`` in a thread of its own
        (user code that may block); ``(scheduler, future)`` pairs to wait for:
        the end of its ``stop()`` call, and of its ``loop()`` if it has one."""
        with self.lock:
            schedulers = list(self._schedulers.items())
        waits = []
        for scheduler, loop_future in schedulers:
            stopped = _StopCall()
            name = scheduler_name(scheduler)

            def call_stop(scheduler: Any = scheduler, stopped: _StopCall = stopped,
                          name: str = name) -> None:
                call_user(f"stop() of scheduler {name!r}", scheduler.stop, wait=False,
                          logger=log)
                stopped.set_result(None)

            try:
                threading.Thread(target=call_stop, name=f"supervisor_{self._id}_stop_{name}",
                                 daemon=True).start()
            except RuntimeError as exc:  # no thread left: call it here
                log.warning("no thread to stop scheduler %r in (%s): stopping it inline",
                            name, exc)
                call_stop()
            waits.append((scheduler, stopped))
            if loop_future is not None:
                waits.append((scheduler, loop_future))
        return waits

    def abandon_schedulers(self, waits: list[tuple[Any, concurrent.futures.Future]]) -> None:
        """Log what did not stop in time; cancel the loops still running."""
        late = {}
        for scheduler, future in waits:
            if not future.done():
                late[id(scheduler)] = scheduler
                if not isinstance(future, _StopCall):
                    future.cancel()
        for scheduler in late.values():
            log.warning("supervisor %r: scheduler %r did not stop in time; it is abandoned",
                        self._id, scheduler_name(scheduler))

    # -- by name ---------------------------------------------------------------------------
    def known_schedulers(self) -> dict[str, Any]:
        """Registered schedulers and the workers seen registered before, by
        unique name, in the order first seen."""
        with self.lock:
            registered = list(self._schedulers)
            seen = self._seen
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

    def get_scheduler(self, name: str) -> Any:
        if not isinstance(name, str):
            raise TypeError(f"scheduler name must be a string, got {name!r}")
        found = self.known_schedulers().get(name)
        if found is None:
            raise LookupError(f"no scheduler or worker named {name!r}")
        return found

    def scheduler_info(self) -> dict[str, SchedulerStats]:
        """Each known scheduler's ``SchedulerStats``, by unique name;
        O(schedulers)."""
        with self.lock:
            registered = set(map(id, self._schedulers))
        return {name: _scheduler_stats(name, s, id(s) in registered)
                for name, s in self.known_schedulers().items()}


class _StopCall(concurrent.futures.Future):
    """The end of one scheduler's ``stop()`` call (never canceled)."""


def scheduler_name(scheduler: Any) -> str:
    return str(getattr(scheduler, "name", None) or repr(scheduler))


def _scheduler_stats(name: str, scheduler: Any, registered: bool) -> SchedulerStats:
    is_active = getattr(scheduler, "is_active", None)
    active = bool(is_active()) if callable(is_active) else registered
    kind = getattr(scheduler, "stats_kind", None)  # shown as it is (async job schedulers)
    if isinstance(kind, str):
        pass
    elif isinstance(kind := getattr(scheduler, "kind", None), str):  # workers: "interval", ...
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


__all__ = ["Registry", "scheduler_name"]
