"""A supervisor's life cycle: start, the stop plan, and the stop at exit.

``Lifecycle`` owns the main loop (a ``LoopThread`` of ours headless, or the
caller's loop) and the one stop plan that both ``stop()`` and ``astop()``
drive (``StopPlan``): they differ only in how they wait.

The plan, in order:

1. refuse new tasks at once (state STOPPING);
2. with ``stop_schedulers``, ask every scheduler and worker to stop, and
   wait for them until the deadline (the late ones are logged and their
   loops canceled);
3. fail coroutine tasks whose loop is closed; with ``cancel_tasks`` (or
   no time to wait) cancel what is queued or delayed, and the running
   coroutines with ``cancel_tasks``;
4. when waiting, wait until no task is left, or the deadline;
5. the last step (``StopPlan.finish``), every part of it run even if an
   earlier one was interrupted: cancel what a bounded wait left queued,
   close the thread pool (running threads are never killed: logged and
   abandoned), terminate our own process pool, ask the aloops and the
   main loop to stop, then join them. Whatever happens it ends STOPPED.

Bounded: with ``wait=N`` a stop returns within N s plus ``STOP_GRACE``.
Every step waits against the one deadline of the stop, never a budget of
its own: the schedulers and the tasks until the deadline, then every loop
together until ``close_by(deadline)``, ``CLOSE_GRACE`` after it (all the
loops are asked to stop before the first is joined), so a stop whose
schedulers, coroutines and aloops all misbehave pays that grace once.
Exception-safe: interrupted (Ctrl+C), it still ends stopped, so ``start()``
and ``stop()`` work again. So does ``start()``: it turns ACTIVE last, under
the lock; interrupted before that it is rolled back (loop thread stopped,
threads it reserved released), after it every remaining step still runs.

Threads: ``start``, ``stop``, ``block`` and ``is_active`` from any thread
(a waiting ``stop`` not from the supervisor's own threads); ``astop`` on the
supervisor's own loop. ``_SUPERVISORS`` and ``stop_at_exit`` serve the
interpreter's exit, once the main thread has ended.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .aloop import close_by, remaining
from .constants import (
    TASK_STATUS_CANCELED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
)
from .dispatch import ACTIVE, STARTING, STOPPED, STOPPING, Action, close_coroutines
from .ledger import Callback, run_callbacks
from .loopthread import LoopThread, running_on
from .usercode import log_contained
from .validate import check_flag, check_wait

if TYPE_CHECKING:
    from .coroutines import CoroutinePool
    from .dispatch import Dispatcher
    from .mp import MpPool
    from .registry import Registry
    from .threads import ThreadPool
    from .timeouts import Watches

log = logging.getLogger("engine.supervisor")
monotonic = time.monotonic


class Lifecycle:
    """Start and stop of one supervisor; see the module docstring.

    ``runner`` (our loop thread, ``None`` with a caller's loop) is written
    only by start and stop, which the dispatcher's ``state`` serializes;
    ``stopped`` is set while the supervisor is stopped.
    """

    def __init__(self, supervisor_id: str, dispatcher: Dispatcher, threads: ThreadPool,
                 mp: MpPool, coroutines: CoroutinePool, registry: Registry,
                 timeouts: Watches) -> None:
        self.id = supervisor_id
        self.dispatcher = dispatcher
        # The supervisor's lock: guards the dispatcher's state and loop, the
        # ledger and the pools (see engine.supervisor).
        self.lock = dispatcher.lock
        self.ledger = dispatcher.ledger
        self.threads = threads
        self.mp = mp
        self.coroutines = coroutines
        self.registry = registry
        self.timeouts = timeouts
        self.runner: LoopThread | None = None
        # Monitors served on the main loop (engine.monitor), closed by the
        # stop; appended and taken under the lock.
        self.monitors: list[Any] = []
        self.stopped = threading.Event()
        self.stopped.set()

    # -- state ----------------------------------------------------------------------------
    def is_active(self) -> bool:
        dispatcher = self.dispatcher
        if dispatcher.state == ACTIVE and self._loop_closed():
            self._stop_after_closed_loop()
        return dispatcher.state == ACTIVE

    def _loop_closed(self) -> bool:
        loop = self.dispatcher.loop
        return loop is not None and loop.is_closed()

    def _stop_after_closed_loop(self) -> None:
        """The host's loop was closed without ``astop()``: stop without it."""
        if self._begin_stop():
            log.warning("supervisor %r: its loop was closed without stop(); stopping", self.id)
            StopPlan(self, monotonic(), False, False).finish(join=False)

    def on_own_loop(self) -> bool:
        return running_on(self.dispatcher.loop)

    def own_thread(self) -> str | None:
        """What of this supervisor runs the calling thread, if anything."""
        if self.on_own_loop() or (self.runner is not None and self.runner.is_current()):
            return "the main loop"
        if self.threads.owns_current_thread():
            return "a task thread"
        aloop = self.registry.aloop_of_current_thread()
        return None if aloop is None else f"aloop {aloop.name!r}"

    # -- start --------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"loop must be an asyncio event loop, got {loop!r}")
        if loop is not None and loop.is_closed():
            raise ValueError(f"loop {loop!r} is closed")
        dispatcher = self.dispatcher
        with self.lock:
            if dispatcher.state != STOPPED:
                raise RuntimeError(f"supervisor {self.id!r} is already {dispatcher.state}")
            dispatcher.state = STARTING  # refuses tasks and a second start
        runner = None
        actions: list[Action] = []
        try:
            if self.runner is not None:  # left by a stop interrupted before it asked
                self.runner.request_stop()
                self.runner = None
            if loop is None:
                runner = LoopThread(f"supervisor_{self.id}_event_loop", daemon=True,
                                    on_closed=self.coroutines.end_orphans)
                runner.start()
                loop = runner.loop
            with self.lock:
                dispatcher.loop, self.runner = loop, runner
                self.mp.active = True
                self.stopped.clear()
                self.threads.reopen_locked(actions)
                dispatcher.state = ACTIVE  # last: from here on, stop() undoes all of it
        except BaseException:  # refused thread, Ctrl+C: back to stopped, nothing left
            self._roll_back_start(runner, actions)
            raise
        # Active: every step from here runs, even after a Ctrl+C in an earlier one.
        self._run_all((lambda: self.timeouts.attach(loop),
                       lambda: self.threads.run_actions(actions),
                       self.registry.restart_aloops))
        log.info("supervisor %r started", self.id)

    def _roll_back_start(self, runner: LoopThread | None, actions: list[Action]) -> None:
        """A start interrupted before the supervisor was active: undo what it
        did, so nothing is left running and ``start()`` works again."""
        dispatcher = self.dispatcher
        with self.lock:
            if dispatcher.state != STARTING:  # active already: stop() undoes it
                return
            dispatcher.loop, self.runner = None, None
            self.mp.active = False
            self.threads.close_locked(actions)
            self.stopped.set()
            dispatcher.state = STOPPED
        try:  # threads it reserved start, see the pool closed and exit: counts stay right
            self.threads.run_actions(actions)
        finally:
            if runner is not None:
                runner.request_stop()

    @staticmethod
    def _run_all(steps: tuple[Callable[[], Any], ...]) -> None:
        """Run every step even if an earlier one is interrupted (Ctrl+C); the
        first interruption is re-raised once all of them have run."""
        interrupted: BaseException | None = None
        for step in steps:
            try:
                step()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    # -- stop ---------------------------------------------------------------------------
    def stop(self, wait: bool | float, stop_schedulers: bool, cancel_tasks: bool) -> None:
        deadline = self._check_stop(wait, stop_schedulers, cancel_tasks, asynchronous=False)
        if not self._begin_stop():
            if wait is not False:  # another caller is stopping it: wait for that
                self.stopped.wait(remaining(deadline))
            return
        plan = StopPlan(self, deadline, stop_schedulers, cancel_tasks)
        interrupted = True
        try:
            for futures in plan.waits():
                concurrent.futures.wait(futures, remaining(deadline))
            interrupted = False
        finally:
            plan.finish(join=wait is not False and not interrupted)

    async def astop(self, wait: bool | float, stop_schedulers: bool, cancel_tasks: bool) -> None:
        deadline = self._check_stop(wait, stop_schedulers, cancel_tasks, asynchronous=True)
        loop = asyncio.get_running_loop()
        if not self._begin_stop():
            if wait is not False:  # another caller is stopping it: wait for that
                await loop.run_in_executor(None, self.stopped.wait, remaining(deadline))
            return
        plan = StopPlan(self, deadline, stop_schedulers, cancel_tasks)
        interrupted = True
        try:
            for futures in plan.waits():
                await asyncio.wait([asyncio.wrap_future(f) for f in futures],
                                   timeout=remaining(deadline))
            interrupted = False
        finally:
            join = wait is not False and not interrupted
            if join and self.runner is None:  # a host's loop (the console): keep it responsive
                await loop.run_in_executor(None, plan.finish, True)
            else:  # our own loop thread must not join itself; or no waiting
                plan.finish(join=False)

    def _check_stop(self, wait: object, stop_schedulers: object, cancel_tasks: object,
                    asynchronous: bool) -> float | None:
        """Validate the stop arguments and the calling thread; the deadline."""
        timeout = check_wait(wait)
        check_flag("stop_schedulers", stop_schedulers)
        check_flag("cancel_tasks", cancel_tasks)
        if asynchronous:
            if not self.on_own_loop():
                raise RuntimeError(f"astop() must be awaited on supervisor {self.id!r}'s own "
                                   f"loop; elsewhere call stop()")
        elif wait is not False:
            inside = self.own_thread()
            if inside:
                raise RuntimeError(f"stop(wait={wait!r}) called from {inside} of supervisor "
                                   f"{self.id!r} would wait for itself: call it from another "
                                   f"thread, use stop(wait=False), or 'await astop()' on the "
                                   f"supervisor's loop")
        return None if timeout is None else monotonic() + timeout

    def _begin_stop(self) -> bool:
        with self.lock:
            if self.dispatcher.state != ACTIVE:
                return False
            self.dispatcher.state = STOPPING
        log.info("supervisor %r stopping", self.id)
        return True


class StopPlan:
    """One stop of one supervisor: ``waits()`` yields the futures to wait
    for at each step (until ``deadline``), ``finish(join)`` is the last step."""

    def __init__(self, life: Lifecycle, deadline: float | None, stop_schedulers: bool,
                 cancel_tasks: bool) -> None:
        self.life = life
        self.deadline = deadline
        self.stop_schedulers = stop_schedulers
        self.cancel_tasks = cancel_tasks
        # The loop threads asked to stop, by what they run, for the last join.
        self.stopping: list[tuple[str, LoopThread]] = []

    def waits(self) -> Iterator[list[concurrent.futures.Future]]:
        life = self.life
        waiting = self.deadline is None or self.deadline > monotonic()
        if self.stop_schedulers:
            stopping = life.registry.stop_schedulers()
            if waiting and stopping:
                yield [f for _, f in stopping]
            life.registry.abandon_schedulers(stopping)
        life.coroutines.end_orphans()
        if self.cancel_tasks or not waiting:
            self._cancel_pending(coroutines=self.cancel_tasks)
        if waiting:
            drained: concurrent.futures.Future = concurrent.futures.Future()
            if not self._add_drain_listener(lambda: drained.done() or drained.set_result(None)):
                yield [drained]

    def finish(self, join: bool) -> None:
        """The last step of every stop: whatever happens, it ends STOPPED.

        Every loop is asked to stop first; with ``join`` they are then
        joined together until ``close_by(deadline)`` (no deadline:
        ``CLOSE_GRACE`` once every task has ended). Each step runs even if an
        earlier one was interrupted (a second Ctrl+C): the first
        interruption is re-raised once all of them have run.
        """
        life = self.life
        steps: tuple[Callable[[], Any], ...] = (
            life.coroutines.end_orphans,
            lambda: self._cancel_pending(coroutines=False),  # what a bounded wait left
            self._close_threads,
            self._close_mp,
            lambda: life.registry.stop_aloops(self.stopping),
            self._close_monitors,
            self._stop_loop,
            lambda: self._join_loops(join))
        interrupted: BaseException | None = None
        try:
            for step in steps:
                try:
                    step()
                except BaseException as exc:  # noqa: BLE001 - finish the others first
                    if interrupted is None:
                        interrupted = exc
        finally:
            with life.lock:
                life.dispatcher.state = STOPPED
            life.stopped.set()
            log.info("supervisor %r stopped", life.id)
        if interrupted is not None:
            raise interrupted

    def _add_drain_listener(self, callback: Callable[[], Any]) -> bool:
        """Call ``callback`` once no task is left; ``True`` if none is left now."""
        ledger = self.life.ledger
        with self.life.lock:
            if not ledger.tasks:
                return True
            ledger.drain_listeners.append(callback)
            return False

    def _cancel_pending(self, coroutines: bool) -> None:
        """Cancel every queued and delayed task (and running coroutines)."""
        life = self.life
        pools = life.dispatcher.pools
        callbacks: list[Callback] = []
        now = monotonic()
        try:
            with life.lock:
                ledger = life.ledger
                doomed = [(life.threads, t) for t in life.threads.admission.drain_queued()]
                doomed += [(life.mp, t) for t in life.mp.admission.drain_queued()]
                doomed += [(pools[t.tt], t) for t in ledger.tasks.values()
                           if t.status == TASK_STATUS_DELAYED
                           or (t.tt == TT_COROUTINE and t.status == TASK_STATUS_QUEUED)]
                coros = [t.target for _, t in doomed if t.tt == TT_COROUTINE]
                for pool, task in doomed:
                    callbacks += ledger.finish_locked(
                        pool.admission, task, TASK_STATUS_CANCELED, None, None, now) or ()
                running = [t for t in ledger.tasks.values()
                           if coroutines and t.tt == TT_COROUTINE]
            close_coroutines(coros)
            life.coroutines.cancel_running(running)
            if doomed:
                log.info("supervisor %r canceled %d queued or delayed task(s)", life.id,
                         len(doomed))
        finally:  # waiters are woken even if this thread is interrupted
            run_callbacks(callbacks, log)

    def _close_threads(self) -> None:
        life = self.life
        actions: list[Action] = []
        with life.lock:
            life.dispatcher.state = STOPPED
            life.ledger.drain_listeners = []
            life.threads.close_locked(actions)
            stuck = [t for t in life.ledger.tasks.values() if t.status == TASK_STATUS_STARTED]
        life.threads.run_actions(actions)
        for task in stuck:
            log.warning("supervisor %r stopped while task %r (%s) still runs; it is "
                        "abandoned", life.id, task.id, task.name)

    def _close_mp(self) -> None:
        """Terminate our own process pool; tasks still in flight on it fail."""
        mp = self.life.mp
        mp.active = False
        backend = mp.backend
        if backend is not None and backend.owned:
            mp.set_backend(None)
            mp.retire(backend, terminate=True,
                      reason="the supervisor stopped and terminated its mp pool")

    def _close_monitors(self) -> None:
        """Close the monitors while the main loop still runs (they are served on it)."""
        life = self.life
        with life.lock:
            monitors, life.monitors = life.monitors, []
        for monitor in monitors:
            monitor.close()

    def _stop_loop(self) -> None:
        """Ask the main loop to stop if it is ours; the host's loop only loses its timer."""
        life = self.life
        runner = life.runner
        if runner is not None:  # first: interrupted before this, start() asks again
            runner.request_stop()
            self.stopping.append(("its loop thread", runner))
        life.dispatcher.loop, life.runner = None, None
        life.timeouts.detach()

    def _join_loops(self, join: bool) -> None:
        """With ``join``, wait for every loop asked to stop, all against the
        one ``close_by`` time; those still busy then are logged and abandoned."""
        if not join:
            return
        end = close_by(self.deadline)
        for what, runner in self.stopping:
            if not runner.join(remaining(end)):
                log.warning("supervisor %r: %s is still busy after the stop (something "
                            "blocks its loop); it is abandoned", self.life.id, what)


#: Every supervisor created, for the stop at interpreter exit.
_SUPERVISORS: weakref.WeakSet = weakref.WeakSet()


def watch_at_exit(supervisor: Any) -> None:
    """Stop ``supervisor`` at interpreter exit if it is still active then."""
    _SUPERVISORS.add(supervisor)


def stop_at_exit() -> None:
    """Stop what a program left running once its main thread has ended.

    Registered with ``threading._register_atexit`` (as ``concurrent.futures``
    does): it runs before the interpreter joins non-daemon threads, which an
    ``atexit`` hook would not.
    """
    for supervisor in list(_SUPERVISORS):
        try:
            if supervisor.is_active():
                supervisor.stop(wait=supervisor.exit_wait)
        except BaseException as exc:  # noqa: BLE001 - never break the exit of the program
            log_contained(f"the stop at exit of supervisor {supervisor.id!r}", exc, log)


_register_exit = getattr(threading, "_register_atexit", None)
if _register_exit is not None:
    _register_exit(stop_at_exit)
else:  # pragma: no cover - every supported CPython has it
    import atexit
    atexit.register(stop_at_exit)


__all__ = ["Lifecycle", "StopPlan", "stop_at_exit", "watch_at_exit"]
