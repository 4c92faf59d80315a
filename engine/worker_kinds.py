"""The kinds of background worker, built on ``BackgroundWorker`` (``engine.workers``).

``BackgroundAsyncWorker`` (a coroutine executor on an aloop),
``BackgroundIntervalWorker`` (absolute ticks, no drift),
``BackgroundEventWorker`` (once per trigger, coalesced) and
``BackgroundQueueWorker`` (once per queued item, drained in one thread task),
the last two on ``WakeableWorker`` (sleeps until another thread hands it
work); and the ``background_worker`` decorator that picks the kind from its
options. The rules -- containment, argument checks, bounded stops -- are the
base class's (see ``engine.workers``).

Threads: as for ``BackgroundWorker``: ``put_threadsafe`` and
``trigger_threadsafe`` from any thread, ``put`` and ``trigger`` from any
running asyncio loop; the waits run on the worker's loop.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import queue as stdlib_queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .constants import TASK_NORMAL, TT_THREAD, check_priority
from .validate import check_callable, check_flag, check_seconds
from .workers import (
    STOPPING,
    BackgroundWorker,
    TaskSupervisor,
    call_soon_threadsafe,
    check_loop_ref,
    check_name,
    check_supervisor,
    optional_seconds,
)


class BackgroundAsyncWorker(BackgroundWorker):
    """A ``BackgroundWorker`` whose executor is a coroutine, run on an aloop."""

    kind = "async"


class BackgroundIntervalWorker(BackgroundWorker):
    """Runs its executor every ``interval`` seconds, on absolute ticks (no drift).

    ``delay=`` is accepted as another name for ``interval``. A run that
    overruns skips the ticks it missed instead of bunching up.
    """

    kind = "interval"

    def __init__(self, *args: Any, interval: float | None = None, **kwargs: Any) -> None:
        self._triggered = False  # an extra execution asked for; guarded by _lock
        delay = kwargs.pop("delay", None)
        if interval is not None and delay is not None:
            raise ValueError(f"give interval= or delay= (the same thing for an interval "
                             f"worker), not both: got interval={interval!r}, delay={delay!r}")
        if interval is None:
            interval = delay
        if interval is None:
            raise ValueError("BackgroundIntervalWorker needs interval= (seconds > 0)")
        super().__init__(*args, interval=check_seconds("interval", interval, positive=True),
                         **kwargs)
        self._next_tick: float | None = None

    def trigger_threadsafe(self) -> None:
        """One execution now, besides the ticks (from any thread); the ticks
        keep their times. Triggers while it runs coalesce into one more."""
        with self._lock:
            self._triggered = True
        call_soon_threadsafe(self._loop, self._set_wake)

    async def trigger(self) -> None:
        self.trigger_threadsafe()

    def _take_trigger(self) -> bool:
        with self._lock:
            triggered, self._triggered = self._triggered, False
        return triggered

    async def _wait_due(self) -> bool:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next_tick is None or not self._loop_runs:
            self._take_trigger()  # the first execution is now anyway
            self._next_tick = now
            return self._active
        due = self._next_tick + self.interval
        if due < now:  # overran: skip missed ticks
            due += (int((now - due) / self.interval) + 1) * self.interval
        while True:
            if self._take_trigger():
                return self._active  # an extra run: the tick stays due
            if not await self._sleep(due - loop.time()):
                return False
            if loop.time() >= due:
                self._next_tick = due
                return True


class WakeableWorker(BackgroundWorker):
    """A worker that sleeps until another thread hands it work."""

    async def _sleep_until_woken(self, has_work: Callable[[], bool]) -> bool:
        while True:
            with self._lock:
                if not self._active:
                    return False
                if has_work():
                    self._waiting = False
                    return True
                self._waiting = True
                self._wake.clear()
            await self._wake.wait()

    def _wake_threadsafe(self) -> None:
        """Called with ``_lock`` held, after new work was recorded."""
        if self._waiting:
            self._waiting = False
            call_soon_threadsafe(self._loop, self._set_wake)


class BackgroundEventWorker(WakeableWorker):
    """Runs its executor once per trigger; triggers during a run coalesce into one more."""

    kind = "event"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._triggered = False  # guarded by _lock

    def trigger_threadsafe(self) -> None:
        """Ask for one more execution (from any thread)."""
        with self._lock:
            self._triggered = True
            self._wake_threadsafe()

    async def trigger(self) -> None:
        self.trigger_threadsafe()

    def get_event_obj(self) -> _WorkerEvent:
        """The worker's trigger as an event object (``set()`` triggers it,
        ``is_set()`` says whether a trigger waits), for code written for the
        original library's ``get_event_obj()``."""
        return _WorkerEvent(self)

    async def _wait_due(self) -> bool:
        if not await self._sleep_until_woken(lambda: self._triggered):
            return False
        with self._lock:
            self._triggered = False
        return True


class BackgroundQueueWorker(WakeableWorker):
    """Runs its executor on each item put, in order, as soon as the previous one ends.

    The executor gets the item as its first argument. Items put while the
    worker is stopped wait for its next start.
    """

    kind = "queue"

    def __init__(self, *args: Any, q: Any = None, queue: Any = None, **kwargs: Any) -> None:
        order = _queue_order(q if q is not None else queue)
        super().__init__(*args, **kwargs)
        self.order = order  # "fifo", "lifo" or "priority"
        # Pending items, guarded by _lock: a deque (fifo/lifo) or a heap (priority).
        self._items: Any = [] if order == "priority" else deque()
        self._count = itertools.count()  # ties in a heap keep their arrival order
        # Chosen once for the order (the put and the drain are the hot path):
        # _push(item) queues an item, _take_locked() gives the next one
        # (oldest, newest or smallest first); both with _lock held.
        if order == "priority":
            items, count = self._items, self._count
            self._push: Callable[[Any], None] = (
                lambda item: heapq.heappush(items, (item, next(count))))
            self._take_locked: Callable[[], Any] = lambda: heapq.heappop(items)[0]
        else:
            self._push = self._items.append
            self._take_locked = self._items.pop if order == "lifo" else self._items.popleft

    def put_threadsafe(self, item: Any) -> None:
        """Queue ``item`` for the executor (from any thread)."""
        with self._lock:
            self._push(item)
            self._wake_threadsafe()

    def get_queue_obj(self) -> _WorkerQueue:
        """The worker's queue as a queue object (``put_nowait``, ``await
        put``, ``qsize``, ``empty``), for code written for the original
        library's ``get_queue_obj()``."""
        return _WorkerQueue(self)

    async def put(self, item: Any) -> None:
        self.put_threadsafe(item)

    @property
    def qsize(self) -> int:
        return len(self._items)

    async def _wait_due(self) -> bool:
        return await self._sleep_until_woken(lambda: bool(self._items))

    async def _execute(self, *extra: Any) -> Any:
        if self._is_static_run() or self._is_async():
            with self._lock:
                if not self._items:
                    return None
                item = self._take_locked()
            return await super()._execute(item)
        # A thread task drains what is queued: no loop round trip per item.
        value = await self._attempt(lambda: self._await_task(self._submit(self._drain, (), {})))
        if value is STOPPING:
            return False
        self._loop_runs += 1
        self.last_run = time.time()
        return value

    def _drain(self) -> bool | None:
        """On a pool thread: run the executor on each queued item, in order."""
        self._exec_thread = threading.get_ident()
        try:
            return self._drain_items()
        finally:
            self._exec_thread = None

    def _drain_items(self) -> bool | None:
        task = self._sup.dispatcher.pools[TT_THREAD].current_task()
        kwargs = {**self._executor_kwargs(), "_task_id": None if task is None else task.id}
        # The executor itself when run is not overridden: one call per item, not two.
        run = self._executor_func if type(self).run is BackgroundWorker.run else self.run
        items, lock, take, args, clock = self._items, self._lock, self._take_locked, \
            self._args, time.time
        while self._active:
            with lock:
                if not items:
                    return None
                item = take()
            try:
                result = run(item, *args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - the containment policy (docstring)
                self._report(exc)
                result = None
            self.runs += 1
            self.last_run = clock()
            if result is False:
                return False
        return None


#: The queue classes ``q=`` takes (the original library passed one), by order.
_QUEUE_ORDERS = {stdlib_queue.Queue: "fifo", stdlib_queue.SimpleQueue: "fifo",
                 stdlib_queue.LifoQueue: "lifo", stdlib_queue.PriorityQueue: "priority",
                 asyncio.Queue: "fifo", asyncio.LifoQueue: "lifo",
                 asyncio.PriorityQueue: "priority"}


def _queue_order(q: Any) -> str:
    """``q=``: ``None``/``True`` (FIFO) or a queue class, its order; else TypeError."""
    if q is None or q is True:
        return "fifo"
    if isinstance(q, type):
        for kind in q.__mro__:  # a subclass orders as its standard base
            if kind in _QUEUE_ORDERS:
                return _QUEUE_ORDERS[kind]
    raise TypeError(f"q must be True or a queue class (queue.Queue, queue.LifoQueue, "
                    f"queue.PriorityQueue or their asyncio counterparts), got {q!r}")


class _WorkerQueue:
    """A queue worker's pending items seen as a queue (``get_queue_obj``)."""

    def __init__(self, worker: BackgroundQueueWorker) -> None:
        self._worker = worker

    def put_nowait(self, item: Any) -> None:
        self._worker.put_threadsafe(item)

    async def put(self, item: Any) -> None:
        self._worker.put_threadsafe(item)

    def qsize(self) -> int:
        return self._worker.qsize

    def empty(self) -> bool:
        return not self._worker.qsize


class _WorkerEvent:
    """An event worker's trigger seen as an event (``get_event_obj``)."""

    def __init__(self, worker: BackgroundEventWorker) -> None:
        self._worker = worker

    def set(self) -> None:
        self._worker.trigger_threadsafe()

    def is_set(self) -> bool:
        return self._worker._triggered


def background_worker(f: Callable[..., Any] | None = None, *, interval: float | None = None,
                      delay: float | None = None, delay_before: float | None = None,
                      q: Any = False, queue: Any = False, e: bool = False, event: bool = False,
                      priority: int = TASK_NORMAL, loop: Any = None, name: str | None = None,
                      on_error: Callable[[BaseException], Any] | None = None, o: Any = None,
                      supervisor: TaskSupervisor | None = None) -> Any:
    """Turn a function into a worker (not started: call ``.start()``).

    ``q``/``queue`` → queue worker (``True``, or a queue class for its order:
    ``queue.PriorityQueue`` runs the smallest item first, ``LifoQueue`` the
    newest), ``e``/``event`` → event worker,
    ``interval`` → interval worker, else a worker repeating every ``delay``;
    ``delay_before`` seconds pass before the first execution. A coroutine
    function runs on an aloop. The options are checked when the
    decorator is made, before any function is given to it.
    """
    check_callable("f", f)
    kind = _decorator_kind(q, queue, e, event, interval, delay)
    optional_seconds("delay", delay)
    optional_seconds("delay_before", delay_before)
    check_priority(priority)
    check_loop_ref(loop)
    if name is not None:
        check_name(name)
    check_callable("on_error", on_error)
    check_supervisor(supervisor)
    if f is None:
        return lambda func: background_worker(
            func, interval=interval, delay=delay, delay_before=delay_before, q=q, queue=queue,
            e=e, event=event, priority=priority, loop=loop, name=name, on_error=on_error, o=o,
            supervisor=supervisor)
    common = dict(name=name, executor_func=f, priority=priority, loop=loop,
                  delay_before=delay_before, on_error=on_error, o=o, supervisor=supervisor)
    if kind == "queue":
        chosen = q if q is not False else queue
        return BackgroundQueueWorker(delay=delay, q=chosen, **common)
    if kind == "event":
        return BackgroundEventWorker(delay=delay, **common)
    if kind == "interval":
        return BackgroundIntervalWorker(interval=interval, **common)
    if inspect.iscoroutinefunction(f):
        return BackgroundAsyncWorker(delay=delay, **common)
    return BackgroundWorker(delay=delay, **common)


def _decorator_kind(q: object, queue: object, e: object, event: object,
                    interval: object, delay: object) -> str:
    for flag, value in (("q", q), ("queue", queue)):
        if value is None:  # _queue_order takes None for "not given"; here False is that
            raise TypeError(f"{flag} must be True or a queue class, got None")
        if value is not False:
            _queue_order(value)
    for flag, value in (("e", e), ("event", event)):
        check_flag(flag, value)
    kinds = [k for k, chosen in (("queue", q is not False or queue is not False),
                                 ("event", e or event),
                                 ("interval", interval is not None)) if chosen]
    if len(kinds) > 1:
        raise ValueError(f"background_worker: choose one kind of worker, got "
                         f"{' and '.join(kinds)} (q/queue={q or queue!r}, e/event={e or event}, "
                         f"interval={interval!r})")
    if kinds == ["interval"]:
        check_seconds("interval", interval, positive=True)
        if delay is not None:
            raise ValueError(f"background_worker: give interval= or delay=, not both: got "
                             f"interval={interval!r}, delay={delay!r}")
    return kinds[0] if kinds else "worker"


__all__ = ["BackgroundAsyncWorker", "BackgroundEventWorker", "BackgroundIntervalWorker",
           "BackgroundQueueWorker", "WakeableWorker", "background_worker"]
