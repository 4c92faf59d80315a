"""Dispatch: the protocol of the three pools, and the routing of tasks to them.

**The pool protocol.** A pool (``ThreadPool``, ``MpPool``, ``CoroutinePool``)
runs the tasks of one type. The supervisor's lock guards its state; its
``*_locked`` methods are called with that lock held and never block, sleep
or run user code. What they decide that must happen outside the lock (wake
a thread, start one, send a job, schedule a coroutine) they append to a
list of typed hand-off actions; the caller releases the lock, then passes
that list to the same pool's ``run_actions`` -- in a ``finally`` block, so
an interrupted caller never strands a task it admitted. (One wake is done
under the lock: the thread pool's ``submit_locked`` wakes a parked worker
for a task that starts at once, see there.)

``admission``
    the pool's ``Admission`` (rules, queues, counts).
``submit_locked(task, now, actions)``
    a new task (registered in the ledger, not delayed): start it now if
    admission allows, else queue it.
``submit_many_locked(tasks, now, actions)``
    the same for new tasks of one priority, in order (``submit_many``).
``release_locked(task, now, actions)``
    a delayed task's delay is over: queue it, start what may start.
``finish_locked(task, status, result, exception, actions)``
    end a task and refill its slot; returns the callbacks to run unlocked.
``run_actions(actions)``
    without the lock: carry out the hand-offs.

The actions (a pool receives only its own kinds):

* ``Wake(worker)`` -- release a parked thread worker; its ``item`` says
  what for: a task to run, the hand-off queue, or retire;
* ``Spawn(first)`` -- start an OS thread for ``first`` (the same choices;
  ``None``: an idle thread, prespawned up to ``min_size``);
* ``Send(task)`` -- send an admitted mp task to its backend (``task.handle``);
* ``Schedule(task)`` -- schedule a coroutine task's wrapper on its loop.

**Routing** (``Dispatcher``): the supervisor's ``submit``, ``put_task``,
``resubmit``, ``mark_task_completed`` and ``cancel_task`` and the engine's
own submissions (workers, ``background_task``, aloops) come here. It checks
every argument before anything changes, builds the ``Task`` outside the
lock, then under one lock hold checks that the supervisor accepts tasks,
registers the task and hands it to its pool; delays are timers on the
supervisor's loop. Its ``state`` and ``loop`` are written by the life cycle
(``engine.lifecycle``) under the lock.

Threads: every method may be called from any thread; ``*_locked`` ones with
the supervisor's lock held.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .admission import Admission
from .constants import (
    PRIORITY_NAMES,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_STARTED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    check_priority,
)
from .ledger import Callback, Ledger, run_callbacks
from .task import Task
from .validate import check_seconds, check_task_id

if TYPE_CHECKING:
    from .coroutines import CoroutinePool

monotonic = time.monotonic

#: ``submit_many``: tasks admitted per lock hold, and the most in one batch.
BATCH_CHUNK = 1_000
MAX_BATCH = 10_000_000

#: The supervisor's states (``Dispatcher.state``). Tasks are accepted only
#: while ACTIVE; STARTING and STOPPING refuse them and a second start.
STOPPED, STARTING, ACTIVE, STOPPING = "stopped", "starting", "active", "stopping"


# -- the hand-off actions -------------------------------------------------------------
class Wake:
    """Release parked thread ``worker`` (its ``item`` was set under the lock)."""

    __slots__ = ("worker",)

    def __init__(self, worker: Any) -> None:
        self.worker = worker


class Spawn:
    """Start an OS thread whose first item is ``first``: a task to run, the
    pool's marker for its hand-off queue, or ``None`` (an idle thread)."""

    __slots__ = ("first",)

    def __init__(self, first: Any) -> None:
        self.first = first


class Send:
    """Send admitted mp ``task`` to its backend, ``task.handle``."""

    __slots__ = ("task",)

    def __init__(self, task: Task) -> None:
        self.task = task


class Schedule:
    """Schedule coroutine ``task``'s wrapper on its loop (``task.handle.loop``)."""

    __slots__ = ("task",)

    def __init__(self, task: Task) -> None:
        self.task = task


Action = Wake | Spawn | Send | Schedule


class Pool(Protocol):
    """What the dispatcher, the ledger's readers and the stop plan need of a pool."""

    admission: Admission

    def submit_locked(self, task: Task, now: float, actions: list[Action]) -> None: ...

    def submit_many_locked(self, tasks: list[Task], now: float,
                           actions: list[Action]) -> None: ...

    def release_locked(self, task: Task, now: float, actions: list[Action]) -> None: ...

    def finish_locked(self, task: Task, status: int, result: Any,
                      exception: BaseException | None,
                      actions: list[Action]) -> list[Callback] | None: ...

    def run_actions(self, actions: list[Action]) -> None: ...


# -- routing --------------------------------------------------------------------------
class Dispatcher:
    """Routes tasks to their pools; the engine-internal door for submitting.

    Guarded by ``lock`` (the supervisor's): ``state``, ``loop`` and, through
    the ledger and the pools, every task. ``_ids`` needs no lock (``next``
    on a count is atomic).
    """

    def __init__(self, supervisor_id: str, lock: threading.Lock, ledger: Ledger,
                 pools: dict[int, Pool], prepare_mp: Callable[[Callable[..., Any]], None]
                 ) -> None:
        self.supervisor_id = supervisor_id
        self.lock = lock
        self.ledger = ledger
        self.pools = pools
        self._coroutines: CoroutinePool = pools[TT_COROUTINE]  # type: ignore[assignment]
        # Before an mp task is built: checks that its target pickles and makes
        # sure there is a pool (the supervisor's; raises to refuse the task).
        self._prepare_mp = prepare_mp
        self.state = STOPPED
        self.loop: asyncio.AbstractEventLoop | None = None  # the supervisor's main loop
        self._ids = itertools.count(1)

    # -- submitting ------------------------------------------------------------------
    def submit(self, *, target: Callable[..., Any], args: tuple | list = (),
               kwargs: dict | None = None, callback: Callable[[Any], Any] | None = None,
               priority: int = TASK_NORMAL, delay: float | None = None, tt: int = TT_THREAD,
               task_id: Any = None, name: str | None = None, auto: bool = True) -> Task:
        """Submit a thread or mp task; every argument is checked first.

        ``auto``: completed when ``target`` returns (``submit``); else it
        holds its slot until ``complete`` (``put_task``). A put_task target
        and every mp target receive ``_task_id`` in their kwargs.
        """
        if task_id is not None:
            check_task_id(task_id)
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"args must be a tuple or list, got {args!r}")
        name, kwargs, delay = self._check(target, kwargs, callback, priority, delay, tt, name)
        numbered = task_id is None
        if numbered:
            task_id = next(self._ids)
        if not auto or tt == TT_MP:
            kwargs = {**kwargs, "_task_id": task_id}
        # Built outside the lock (held as briefly as possible); it becomes
        # visible to other threads only once registered under the lock.
        task = Task(task_id, name, tt, priority, target, tuple(args), kwargs, callback, delay,
                    auto, self.lock, self.supervisor_id)
        return self._admit(task, renumber=numbered)

    def submit_call(self, target: Callable[..., Any], args: tuple, kwargs: dict,
                    callback: Callable[[Any], Any] | None, priority: int,
                    delay: float | None, tt: int, name: str | None) -> Task:
        """``submit`` of a call whose ``args`` / ``kwargs`` came from ``*args``
        / ``**kwargs`` (a tuple and a fresh dict): the supervisor's
        ``submit`` and ``background_task``. Positional, for the hot path."""
        name, kwargs, delay = self._check(target, kwargs, callback, priority, delay, tt, name)
        task_id = next(self._ids)
        if tt == TT_MP:
            kwargs["_task_id"] = task_id
        task = Task(task_id, name, tt, priority, target, args, kwargs, callback, delay, True,
                    self.lock, self.supervisor_id)
        return self._admit(task, renumber=True)

    def submit_checked(self, target: Callable[..., Any], args: tuple, kwargs: dict,
                       callback: Callable[[Any], Any] | None, priority: int,
                       delay: float | None, name: str) -> Task:
        """``submit_call`` of a thread task whose target, callback, priority,
        delay (``None`` or > 0) and name the caller has checked already:
        ``background_task``'s wrapper checks them once, when it is made, not
        on every call."""
        task = Task(next(self._ids), name, TT_THREAD, priority, target, args, kwargs, callback,
                    delay, True, self.lock, self.supervisor_id)
        return self._admit(task, renumber=True)

    def submit_many(self, *, target: Callable[..., Any], args_iterable: Iterable[Any],
                    kwargs: dict | None = None, callback: Callable[[Any], Any] | None = None,
                    priority: int = TASK_NORMAL, delay: float | None = None,
                    tt: int = TT_THREAD, name: str | None = None) -> list[Task]:
        """One task per item of ``args_iterable`` (each a tuple or list of
        positional arguments), in order; the tasks, in that order.

        Everything is checked, and every ``Task`` built, before the first one
        is accepted; then they are registered and queued or started under
        one lock hold per ``BATCH_CHUNK`` tasks (so a huge batch never keeps
        the pool's threads waiting for the lock for long), with the same
        guarantees as one ``submit`` each: strict priority, FIFO within the
        batch, each task ends exactly once.
        """
        if isinstance(args_iterable, (str, bytes)) or not isinstance(args_iterable, Iterable):
            raise TypeError(f"args_iterable must be an iterable of argument tuples, got "
                            f"{args_iterable!r}")
        items = list(args_iterable)
        if len(items) > MAX_BATCH:
            raise ValueError(f"args_iterable must hold at most {MAX_BATCH:,} items, got "
                             f"{len(items):,}")
        for index, args in enumerate(items):
            if not isinstance(args, (tuple, list)):
                raise TypeError(f"args_iterable[{index}] must be a tuple or list of "
                                f"positional arguments, got {args!r}")
        name, kwargs, delay = self._check(target, kwargs, callback, priority, delay, tt, name)
        ids, lock, sid = self._ids, self.lock, self.supervisor_id
        if tt == TT_MP:
            tasks = []
            for args in items:
                task_id = next(ids)
                tasks.append(Task(task_id, name, tt, priority, target, tuple(args),
                                  {**kwargs, "_task_id": task_id}, callback, delay, True, lock,
                                  sid))
        else:
            tasks = [Task(next(ids), name, tt, priority, target, tuple(args), kwargs, callback,
                          delay, True, lock, sid) for args in items]
        for start in range(0, len(tasks), BATCH_CHUNK):
            try:
                self._admit_chunk(tasks[start:start + BATCH_CHUNK])
            except RuntimeError as exc:
                if start:
                    exc.add_note(f"{start:,} of the batch's {len(tasks):,} tasks had been "
                                 f"accepted before it was refused (task ids "
                                 f"{tasks[0].id!r}-{tasks[start - 1].id!r})")
                raise
        return tasks

    def _check(self, target: Any, kwargs: Any, callback: Any, priority: Any, delay: Any,
               tt: Any, name: Any) -> tuple[str, dict, float | None]:
        """The checks shared by ``submit`` and ``submit_many``; the task
        name, kwargs and delay to use."""
        if not callable(target):
            raise TypeError(f"task target must be callable, got {target!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        if type(priority) is not int or priority not in PRIORITY_NAMES:
            check_priority(priority)  # raises, unless an int subclass of a priority's value
        if (tt != TT_THREAD and tt != TT_MP) or tt is True:
            raise ValueError(f"unknown task type {tt!r}: use TT_THREAD (1) or TT_MP (2)")
        if name is None:
            name = getattr(target, "__qualname__", None) or repr(target)
        elif not isinstance(name, str):
            raise TypeError(f"task name must be a string, got {name!r}")
        if delay is not None:
            delay = check_seconds("delay", delay) or None
        if kwargs is None:
            kwargs = {}
        elif not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a dict, got {kwargs!r}")
        if tt == TT_MP:
            self._prepare_mp(target)
        return name, kwargs, delay

    def submit_coroutine(self, coro: Coroutine, loop: asyncio.AbstractEventLoop, *,
                         name: str | None = None, priority: int | None = None,
                         delay: float | None = None) -> Task:
        """A coroutine task on ``loop`` (an aloop's or any running asyncio
        loop). ``coro`` is closed if it is refused."""
        if not asyncio.iscoroutine(coro):
            raise TypeError(f"expected a coroutine object, got {coro!r}")
        try:
            priority = check_priority(TASK_NORMAL if priority is None else priority)
            if delay is not None:
                delay = check_seconds("delay", delay) or None
            if loop.is_closed():
                raise RuntimeError(f"loop {loop!r} is closed")
            task = Task(next(self._ids), name or coro.__qualname__, TT_COROUTINE, priority,
                        coro, (), {}, None, delay, True, self.lock, self.supervisor_id)
            task.handle = self._coroutines.handle_for(loop)
        except BaseException:
            coro.close()
            raise
        return self._admit(task, renumber=False, coro=coro)

    def resubmit(self, task_id: Any) -> Task:
        """A new task like ``task_id`` (live, or a history record that kept
        its target): same target, arguments, callback, priority, type,
        delay and mode."""
        check_task_id(task_id)
        with self.lock:
            task = self.ledger.tasks.get(task_id) or self.ledger.history.get(task_id)
        if task is None:
            raise LookupError(f"no task with id {task_id!r}: it is neither live nor in the "
                              f"history any more")
        if task.tt == TT_COROUTINE:
            raise ValueError(f"task {task_id!r} ({task.name}) is a coroutine task: a "
                             f"coroutine runs once, it cannot be re-run")
        if task.target is None:
            raise ValueError(f"task {task_id!r} ({task.name}) cannot be re-run: its target "
                             f"was not kept (the history keeps only small, plain targets "
                             f"and arguments once nobody holds the task)")
        kwargs = {k: v for k, v in task.kwargs.items() if k != "_task_id"}
        return self.submit(target=task.target, args=task.args, kwargs=kwargs,
                           callback=task.callback, priority=task.priority, delay=task.delay,
                           tt=task.tt, name=task.name, auto=task.auto)

    def _admit(self, task: Task, renumber: bool, coro: Any = None) -> Task:
        """Register ``task`` and queue, start or delay it, under one lock
        hold; then the hand-off. A refused coroutine is closed."""
        pool = self.pools[task.tt]
        actions: list[Action] = []
        accepted = False
        try:
            with self.lock:
                self.check_active_locked()
                ledger = self.ledger
                if renumber and task.id in ledger.tasks:
                    self._renumber_locked(task)
                ledger.register_locked(task)
                now = task.time_submitted = monotonic()
                if task.delay:
                    ledger.delay_locked(pool.admission, task, now)
                else:
                    pool.submit_locked(task, now, actions)
                loop = self.loop
                accepted = True
        except BaseException:
            if coro is not None and not accepted:  # not accepted: nobody else will close it
                coro.close()
            raise
        finally:  # an accepted task is handed off even if this thread is interrupted
            if accepted:
                if task.delay:
                    self._start_delay(task, loop)
                elif actions:
                    pool.run_actions(actions)
        return task

    def _admit_chunk(self, tasks: list[Task]) -> None:
        """``_admit`` for tasks of one batch (numbered by the dispatcher, one
        type, priority and delay) under one lock hold: registered, then
        delayed, or handed to the pool together (``submit_many_locked``);
        then the hand-offs, carried out even if this thread is interrupted."""
        pool = self.pools[tasks[0].tt]
        admission, ledger = pool.admission, self.ledger
        delayed = tasks[0].delay
        actions: list[Action] = []
        accepted = False
        loop = None
        try:
            with self.lock:
                self.check_active_locked()
                loop = self.loop
                register, live = ledger.register_locked, ledger.tasks
                now = monotonic()
                registered = 0
                try:
                    for task in tasks:
                        if task.id in live:  # a number put_task(task_id=...) chose
                            self._renumber_locked(task)
                        register(task)
                        task.time_submitted = now
                        registered += 1
                except BaseException:  # interrupted: none of the chunk was accepted
                    for task in tasks[:registered]:
                        del live[task.id]
                    raise
                accepted = True
                if delayed:
                    for task in tasks:
                        ledger.delay_locked(admission, task, now)
                else:
                    pool.submit_many_locked(tasks, now, actions)
        finally:
            if accepted and delayed:
                for task in tasks:
                    self._start_delay(task, loop)
            elif actions:
                pool.run_actions(actions)

    def _renumber_locked(self, task: Task) -> None:
        """A number the caller chose (``put_task(task_id=7)``) is live: the
        next free one instead."""
        while task.id in self.ledger.tasks:
            task.id = next(self._ids)
        if "_task_id" in task.kwargs:
            task.kwargs["_task_id"] = task.id

    def check_active_locked(self) -> None:
        """``RuntimeError`` unless the supervisor accepts tasks."""
        if self.state != ACTIVE:
            raise RuntimeError(f"supervisor {self.supervisor_id!r} is not active "
                               f"({self.state}): start() it before submitting tasks")
        if self.loop.is_closed():  # the host closed its loop without astop()
            raise RuntimeError(f"supervisor {self.supervisor_id!r} is not active: its loop "
                               f"was closed without stop()")

    # -- delays (timers on the supervisor's loop) --------------------------------------
    def _start_delay(self, task: Task, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._schedule_release, loop, task,
                                      task.time_submitted + task.delay)
        except RuntimeError:  # loop closed by a concurrent stop, which canceled it
            if task.status == TASK_STATUS_DELAYED:
                raise

    def _schedule_release(self, loop: asyncio.AbstractEventLoop, task: Task, due: float) -> None:
        # A weak reference: a delayed task canceled meanwhile (with its
        # arguments) is not kept alive by its timer until the original due time.
        loop.call_later(max(0.0, due - monotonic()), self._release, weakref.ref(task))

    def _release(self, ref: weakref.ref[Task]) -> None:
        task = ref()
        if task is None:
            return  # canceled and dropped meanwhile
        actions: list[Action] = []
        pool = self.pools[task.tt]
        try:
            with self.lock:
                if task.status != TASK_STATUS_DELAYED:
                    return  # canceled meanwhile
                pool.release_locked(task, monotonic(), actions)
        finally:
            pool.run_actions(actions)

    # -- completing and canceling -----------------------------------------------------
    def complete(self, task_id: Any, tt: int | None = None) -> None:
        """Complete started task ``task_id`` (``mark_task_completed``, which
        checked ``task_id`` and ``tt``)."""
        actions: list[Action] = []
        callbacks = pool = None
        try:
            with self.lock:
                found = self.ledger.tasks.get(task_id)
                if found is None or (tt is not None and found.tt != tt):
                    raise LookupError(f"no live task with id {task_id!r}"
                                      + (f" and type {tt!r}" if tt is not None else ""))
                if found.status != TASK_STATUS_STARTED:
                    raise RuntimeError(f"task {task_id!r} has not started: cancel_task() it "
                                       f"instead")
                pool = self.pools[found.tt]
                callbacks = pool.finish_locked(found, TASK_STATUS_COMPLETED, found.result, None,
                                               actions)
        finally:  # what the lock decided happens even if this thread is interrupted
            if pool is not None:
                pool.run_actions(actions)
            run_callbacks(callbacks)

    def cancel(self, task_id: Any) -> Task:
        """Cancel a queued or delayed task: it never runs."""
        check_task_id(task_id)
        callbacks = None
        try:
            with self.lock:
                task = self.ledger.tasks.get(task_id)
                if task is None:
                    raise LookupError(f"no live task with id {task_id!r}")
                if task.status == TASK_STATUS_STARTED:
                    raise RuntimeError(f"task {task_id!r} ({task.name}) has already started "
                                       f"and cannot be canceled")
                callbacks = self.ledger.finish_locked(
                    self.pools[task.tt].admission, task, TASK_STATUS_CANCELED, None, None,
                    monotonic())
        finally:  # waiters are woken even if this thread is interrupted
            run_callbacks(callbacks)
        if task.tt == TT_COROUTINE:
            close_coroutines([task.target])
        return task


def close_coroutines(coros: list[Any]) -> None:
    """Close coroutines of tasks canceled before they started (no "never
    awaited" warning; their wrapper, if it runs later, closes nothing new)."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


__all__ = ["ACTIVE", "STARTING", "STOPPED", "STOPPING", "Action", "Dispatcher", "Pool",
           "Schedule", "Send", "Spawn", "Wake", "close_coroutines"]
