"""The thread pool: OS worker threads and the dispatch of thread tasks.

Admission and dispatch share the supervisor's lock and a single hand-off:

* A submitting thread decides under the lock whether its task may start
  (``Admission``) and, if so, assigns it to an idle worker (LIFO, so warm
  threads are reused and cold ones retire) or reserves a new thread. It
  wakes that worker (its inbox) at once, before counting the start, so the
  thread's own wake-up overlaps the rest of the submission; a new thread
  is started after the release. Nothing polls, nothing goes through an
  event loop.
* A worker that finishes a target completes the task and takes the next
  task itself, in the same lock hold, so a freed slot is refilled without
  any wake-up at all. With nothing to take it parks itself on the idle
  stack in that same hold, so a task can never be queued behind a worker
  that is about to sleep.
* If the lock is taken when a worker finishes, the worker does not block
  on it (that turns the pool into a GIL convoy: see ``engine.suplock``): it
  leaves its finish as a request, and the lock's next releaser serves it --
  ends the task and hands the worker its next one (``Wake``), or parks it.
  A parked worker waits on its own inbox (``queue.SimpleQueue``).
* Critical tasks started past ``max_size`` (extending the pool) go on the
  pool's *hand-off queue* instead of getting a thread each: one thread is
  sent for it (woken or started), a thread that takes a task there first
  sends the next one if tasks remain, and a worker finishing its task takes
  the oldest one there before anything else. Invariant: while the hand-off
  queue holds a task, a thread is on its way to it (``_coming >= 1``). So a
  critical task still never waits for another task to *finish* -- only for
  threads to arrive, one after the other -- while a burst of them under a
  flood, where the busy workers get there first, costs one or two wake-ups
  instead of one each (a woken thread that must then win the GIL costs
  several context switches) and no longer piles up hundreds of threads.

Workers above ``min_size`` that stay idle ``idle_timeout`` seconds retire.
At most ``max_size`` threads run non-critical tasks; critical tasks always
start, on extra threads past ``max_size`` if needed, which stay parked for
reuse at most ``EXTRA_THREAD_IDLE`` seconds. Threads are daemons: a target that never
returns cannot hang interpreter exit (``stop(wait=N)`` logs and abandons it).

Whatever a target or its ``callback=`` raises (``SystemExit`` included) is
contained on the worker thread (see ``usercode``): the target's exception
fails its task, the callback's is logged, and the thread goes on serving.
If the OS refuses a new thread, the task it was for fails (for the hand-off
queue: its newest task, then another thread is tried for the rest) and the
thread counts are given back.

``ThreadPool`` follows the pool protocol of ``engine.dispatch`` (actions
``Wake`` and ``Spawn``). Threads: ``*_locked`` methods with the supervisor's
lock held, from any thread; ``run_actions``, ``current_task`` and
``owns_current_thread`` from any thread without it; the rest runs on the
pool's own worker threads.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from typing import Any

from .admission import Admission, PoolSettings
from .constants import (
    TASK_CRITICAL,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
)
from .dispatch import Action, Spawn, Wake
from .ledger import Callback, Ledger, run_callbacks
from .suplock import SERVE, SupervisorLock
from .task import Task
from .usercode import call_user

log = logging.getLogger(__name__)

_RETIRE = object()  # hand-off item that tells a parked worker to exit
#: Hand-off item of a served finish with callbacks and no next task: run the
#: callbacks, then take the next task or park (the slot stays counted busy until then).
_PARK = object()
#: Hand-off item from the main thread (``SupervisorLock``): take the lock and serve.
_SERVE = SERVE
#: What ``Wake`` puts in a parked worker's inbox: its ``item`` is set.
_WOKEN = object()
#: Hand-off item (``Wake``, ``Spawn``): go to the hand-off queue and take its oldest task.
TAKE = object()
EXTRA_THREAD_IDLE = 1.0  # seconds a thread above max_size stays parked
monotonic = time.monotonic


class _Worker:
    """A pool thread: its hand-off point while parked, its task while busy,
    its finish while it waits for it to be served."""

    __slots__ = ("inbox", "item", "task", "request", "callbacks", "serve_sent")

    def __init__(self) -> None:
        # Where the parked worker waits: the dispatcher sets ``item`` under the
        # supervisor's lock, then puts ``WOKEN`` here; the main thread puts
        # ``SERVE`` (``engine.suplock``), which needs no claim on the worker.
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.item: Any = None
        # The task whose target runs on this thread (its own thread writes it).
        self.task: Task | None = None
        # (task, result, exception) of a finish left in the lock's ``pending``
        # (``engine.suplock``); ``None`` once served, under the lock.
        self.request: tuple | None = None
        # Callbacks of the served finish, for this thread to run once woken.
        self.callbacks: list[Callback] | None = None
        # A ``SERVE`` is in the inbox, not taken yet (``engine.suplock``).
        self.serve_sent = False


class ThreadPool:
    """Runs thread tasks on OS threads named ``<name_prefix><n>``.

    Every field below is guarded by ``lock`` (the supervisor's lock), shared
    with ``admission`` and ``ledger``:

    * ``_idle`` -- parked workers, each with ``item is None``, waiting on its inbox;
    * ``_alive`` -- threads started and not exited (reserved before start);
    * ``_busy`` -- started tasks: assigned a thread (running or about to),
      or on ``_handoff``;
    * ``_handoff`` -- critical tasks started past ``max_size`` waiting for
      a thread, oldest first;
    * ``_coming`` -- threads woken or started for ``_handoff`` that have not
      reached it yet (at least 1 whenever ``_handoff`` is not empty);
    * ``_closing`` -- supervisor not running (stopped, or stopping): no new
      threads; workers exit when nothing is eligible;
    * ``max_size`` / ``min_size`` -- effective OS thread limits.
    Invariant: ``_alive == (_busy - len(_handoff)) + len(_idle) + _coming
    + (threads deciding to exit)``.
    """

    def __init__(self, name_prefix: str, lock: SupervisorLock, settings: PoolSettings,
                 ledger: Ledger, idle_timeout: float = 30.0) -> None:
        self.name_prefix = name_prefix
        self._lock = lock
        self.admission = Admission(settings)
        self._ledger = ledger
        self.idle_timeout = idle_timeout
        self._idle: list[_Worker] = []
        self._alive = 0
        self._busy = 0
        self._handoff: deque[Task] = deque()
        self._coming = 0
        self._closing = True  # no threads until reopen_locked() (supervisor start)
        self._names = itertools.count(1)
        self._current = threading.local()
        # Every pool thread's worker by thread ident (added and removed by the
        # thread itself: single dict operations, atomic); read by thread_of.
        self._workers: dict[int, _Worker] = {}
        self.max_size = settings.effective_max_size
        self.min_size = settings.effective_min_size
        lock.serve = self._serve_locked
        lock.carry_out = self.run_actions

    # -- called with the lock held ----------------------------------------
    def configure_locked(self, settings: PoolSettings, actions: list[Action]) -> None:
        """Apply new settings: admit what now fits, retire what no longer does."""
        self.admission.configure(settings)
        self.max_size = settings.effective_max_size
        self.min_size = settings.effective_min_size
        self.dispatch_locked(actions)
        excess = self._alive - self.max_size
        while excess > 0 and self._idle:
            self._retire_one_locked(actions)
            excess -= 1
        if not self._closing:
            self.prespawn_locked(actions)

    def prespawn_locked(self, actions: list[Action]) -> None:
        """Start idle threads up to ``min_size``."""
        for _ in range(self.min_size - self._alive):
            self._alive += 1
            actions.append(Spawn(None))

    def submit_locked(self, task: Task, now: float, actions: list[Action],
                      wake_now: bool = True) -> None:
        """Start ``task`` now if admission allows, else queue it.

        With ``wake_now``, a task that starts on a parked worker wakes it
        here, under the lock, before its start is counted (the one wake not
        left to ``run_actions``): a woken thread takes 20-60 us to run on
        another core, which the counting and the release then overlap instead
        of preceding (start latency on an idle pool: ``benchmarks/README.md``).
        The worker cannot end the task before the counting is done, as ending
        takes the lock; ``SimpleQueue.put`` never blocks.
        """
        admission = self.admission
        p = task.priority
        ledger = self._ledger
        if p != TASK_CRITICAL and not (
            admission.may_start(p) and self._busy < self.max_size
            and not admission.is_blocked(p)
        ):
            ledger.queue_locked(admission, task, now)
            return
        worker = None
        if wake_now and self._idle and self._busy < self.max_size:
            self._busy += 1
            worker = self._idle.pop()  # the warmest
            worker.item = task
        try:
            if worker is not None:
                worker.inbox.put(_WOKEN)
        finally:  # counted even if this thread is interrupted right after the wake
            ledger.queue_locked(admission, task, now, file=False)
            ledger.start_locked(admission, task, now)
        if worker is None:
            self._assign_locked(task, actions)

    def submit_many_locked(self, tasks: list[Task], now: float,
                           actions: list[Action]) -> None:
        """``submit_locked`` for new tasks of one priority, in order: they
        start while admission allows; once one queues, the rest queue behind
        it together (none of them could start either). Their wakes are left
        to ``run_actions``: one lock hold may start a whole pool's worth."""
        for i, task in enumerate(tasks):
            self.submit_locked(task, now, actions, wake_now=False)
            if task.status == TASK_STATUS_QUEUED:
                if i + 1 < len(tasks):
                    self._ledger.queue_many_locked(self.admission, tasks[i + 1:], now)
                return

    def release_locked(self, task: Task, now: float, actions: list[Action]) -> None:
        """A delayed task's delay is over: queue it and dispatch."""
        self._ledger.queue_locked(self.admission, task, now, released=True)
        self.dispatch_locked(actions)

    def dispatch_locked(self, actions: list[Action], own: bool = False) -> Task | None:
        """Start queued tasks while the most urgent one may start.

        With ``own``, the first task is returned for the calling worker
        instead of being handed off.
        """
        admission = self.admission
        while True:
            task = admission.head()
            if task is None:
                return None
            p = task.priority
            if not admission.may_start(p):
                return None
            if p != TASK_CRITICAL and self._busy - own >= self.max_size:
                return None  # no OS thread may take it
            self._ledger.start_locked(admission, task, monotonic(), head=True)
            if own:
                return task
            self._assign_locked(task, actions)

    def finish_locked(self, task: Task, status: int, result: Any,
                      exception: BaseException | None,
                      actions: list[Action]) -> list[Callback] | None:
        """End a started task and refill its slot."""
        callbacks = self._ledger.finish_locked(
            self.admission, task, status, result, exception, monotonic())
        self.dispatch_locked(actions)
        return callbacks

    def close_locked(self, actions: list[Action]) -> None:
        """Supervisor stopping: idle workers exit, busy ones exit when done."""
        self._closing = True
        while self._idle:
            self._retire_one_locked(actions)

    def reopen_locked(self, actions: list[Action]) -> None:
        self._closing = False
        self.prespawn_locked(actions)

    def counts_locked(self) -> tuple[int, int]:
        return self._alive, self._busy

    def _assign_locked(self, task: Task, actions: list[Action]) -> None:
        """Started ``task`` gets a thread: within ``max_size`` a parked worker
        (or a new thread) of its own at once; past it -- a critical task
        extending the pool -- the hand-off queue, with a thread on its way."""
        self._busy += 1
        if self._busy <= self.max_size:
            self._thread_for_locked(task, actions)
            return
        self._handoff.append(task)
        if not self._coming:
            self._send_thread_locked(actions)

    def _send_thread_locked(self, actions: list[Action]) -> None:
        """Wake a parked worker for the hand-off queue, or start a thread."""
        self._coming += 1
        self._thread_for_locked(TAKE, actions)

    def _thread_for_locked(self, item: Any, actions: list[Action]) -> None:
        """A thread for ``item`` (a task, or ``TAKE``): the warmest parked
        worker, else a new thread."""
        if self._idle:
            worker = self._idle.pop()
            worker.item = item
            actions.append(Wake(worker))
        else:
            self._alive += 1
            actions.append(Spawn(item))

    def _arrive_locked(self, actions: list[Action]) -> Task | None:
        """A thread sent to the hand-off queue arrives: it takes the oldest
        task there, and sends the next thread if tasks remain; ``None`` if
        busy workers took them all first."""
        self._coming -= 1
        handoff = self._handoff
        if not handoff:
            return None
        task = handoff.popleft()
        if handoff and not self._coming:
            self._send_thread_locked(actions)
        return task

    def _retire_one_locked(self, actions: list[Action]) -> None:
        worker = self._idle.pop(0)  # the coldest
        worker.item = _RETIRE
        self._alive -= 1
        actions.append(Wake(worker))

    # -- called without the lock --------------------------------------------
    def run_actions(self, actions: list[Action]) -> None:
        """Carry out hand-offs decided under the lock: wake or start workers.

        Every hand-off is carried out even if the calling thread is
        interrupted (Ctrl+C on the main thread); the interruption is
        re-raised afterwards, so no assigned task is left without its thread.
        """
        interrupted: BaseException | None = None
        for action in actions:
            try:
                if type(action) is Wake:
                    action.worker.inbox.put(_WOKEN)
                else:  # Spawn: a thread for a task, for the hand-off queue, or idle
                    first, action.first = action.first, None
                    # In a list the thread empties: Thread keeps its args for life.
                    thread = threading.Thread(
                        target=self._thread_main, args=([first],),
                        name=f"{self.name_prefix}{next(self._names)}", daemon=True)
                    try:
                        thread.start()
                    except RuntimeError as exc:  # "can't start new thread": it never ran
                        self._thread_refused(first, exc)
            except BaseException as exc:  # noqa: BLE001 - the hand-off itself was done
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    def _thread_refused(self, first: Any, exc: BaseException) -> None:
        """The OS refused a thread reserved under the lock: give the
        reservation back and fail the task it was for -- for a thread meant
        for the hand-off queue, the newest task there if no other thread is
        coming, then another thread is tried for the rest (each refusal ends
        at most one task: bounded). The counters stay right."""
        actions: list[Action] = []
        callbacks = None
        task = None
        with self._lock:
            self._alive -= 1
            if first is TAKE:
                self._coming -= 1
                if self._handoff and not self._coming:
                    task = self._handoff.pop()
            elif first is not None:
                task = first
            if task is not None:
                self._busy -= 1
                error = RuntimeError(f"no thread could be started for task {task.id!r}: "
                                     f"{type(exc).__name__}: {exc}")
                error.__cause__ = exc
                callbacks = self.finish_locked(task, TASK_STATUS_FAILED, None, error, actions)
            if self._handoff and not self._coming:
                self._send_thread_locked(actions)
        log.error("the OS refused a new worker thread (%s: %s)%s", type(exc).__name__, exc,
                  f"; task {task.id!r} ({task.name}) fails" if task is not None else "")
        self.run_actions(actions)
        run_callbacks(callbacks, log)

    def current_task(self) -> Task | None:
        """The task whose target runs in the calling thread, if any."""
        worker = getattr(self._current, "worker", None)
        return None if worker is None else worker.task

    def owns_current_thread(self) -> bool:
        """True when called from one of this pool's worker threads."""
        return getattr(self._current, "worker", None) is not None

    def thread_of(self, task: Task) -> tuple[int | None, str]:
        """Any thread, no lock: the ident and name of the pool thread whose
        target is ``task``'s right now; ``(None, "")`` if none."""
        for ident, worker in list(self._workers.items()):
            if worker.task is task:
                thread = threading._active.get(ident)  # type: ignore[attr-defined]
                return ident, "" if thread is None else thread.name
        return None, ""

    def _thread_main(self, first: list[Any]) -> None:
        """A pool thread's life, known to ``thread_of`` while it lasts."""
        ident = threading.get_ident()
        worker = _Worker()
        self._workers[ident] = worker
        try:
            self._serve_thread(worker, first)
        finally:
            del self._workers[ident]

    def _serve_thread(self, worker: _Worker, first: list[Any]) -> None:
        """A worker thread: run a task, then, in ONE lock hold, finish it and
        take the next one (the hand-off queue first) or park. If the lock is
        taken, the finish is left to its holder (``engine.suplock``) and the
        thread waits for its next task like a parked one. The hot path of
        the pool: its steps are written out here rather than spread over
        small calls."""
        self._current.worker = worker
        lock = self._lock
        acquire = lock.acquire
        task = first.pop()
        if task is None or task is TAKE:
            actions: list[Action] = []
            with lock:
                if task is TAKE:
                    task = self._arrive_locked(actions)
                if task is None:
                    if self._closing or self._alive > self.max_size:
                        self._alive -= 1
                        return
                    self._idle.append(worker)
            if actions:
                self.run_actions(actions)
        while True:
            if task is None:
                task = self._park(worker)
                if task is None:
                    return
            worker.task = task
            exception = None
            try:
                result = task.target(*task.args, **task.kwargs)
            except BaseException as exc:  # noqa: BLE001 - a task failure is data
                result, exception = None, exc
            worker.task = None
            if exception is None and task.callback is not None:
                _call_callback(task, result)
            if not acquire(False):  # taken: leave the finish to its holder
                self._leave(worker, (task, result, exception))
                task = None  # the next one comes with the wake, as for a parked worker
                result = exception = None
                continue
            actions = []
            try:
                callbacks = self._finish_locked(task, result, exception)
                task = self._next_locked(actions)
                exiting = task is None and self._rest_locked(worker)
            finally:
                lock.release()
            if actions:
                self.run_actions(actions)
            if callbacks:
                run_callbacks(callbacks, log)
            if exiting:
                return
            result = exception = callbacks = None  # nothing of a finished task while parked

    def _finish_locked(self, task: Task, result: Any,
                       exception: BaseException | None) -> list[Callback] | None:
        """The target of ``task`` returned ``result`` or raised ``exception``:
        end the task (a ``put_task`` one holds its slot until marked completed)."""
        if task.time_completed is not None:  # marked completed by its target
            return None
        if exception is not None:
            return self._ledger.finish_locked(self.admission, task, TASK_STATUS_FAILED, None,
                                              exception, monotonic())
        if task.auto:
            return self._ledger.finish_locked(self.admission, task, TASK_STATUS_COMPLETED,
                                              result, None, monotonic())
        task.result = result  # put_task: the slot is held until mark_task_completed
        return None

    def _next_locked(self, actions: list[Action]) -> Task | None:
        """The next task for a worker whose slot just freed: the hand-off
        queue's oldest first, else the queue head if it may start."""
        if self._handoff:  # started while the slot was busy: run it here (a thread is coming)
            task = self._handoff.popleft()
            self._busy -= 1  # the hand-off had counted it: this slot is free
            self.dispatch_locked(actions)  # what the finish lets start
            return task
        return self.dispatch_locked(actions, own=True)

    def _rest_locked(self, worker: _Worker) -> bool:
        """A worker with nothing to take: its slot frees; it parks on the idle
        stack, or, closing, exits (True)."""
        self._busy -= 1
        if self._closing:
            self._alive -= 1
            return True
        worker.item = None
        self._idle.append(worker)
        return False

    def _leave(self, worker: _Worker, request: Any) -> None:
        """Leave ``request`` to the lock's holder (``_serve_locked``), or serve
        it now if the lock is free; the answer comes in the worker's inbox."""
        worker.request = request
        lock = self._lock
        lock.pending.append(worker)
        if lock.acquire(False):  # free (or released meanwhile): serve it, and any other, now
            lock.release()

    def _serve_locked(self, worker: _Worker, actions: list[Action]) -> None:
        """Serve what ``worker`` left while the lock was taken (called by the
        lock's holder, ``SupervisorLock.release``): ``(task, result,
        exception)`` -- end that task (``task`` ``None``: nothing to end) and
        give the worker its next task, its callbacks to run, or a place on the
        idle stack; ``TAKE`` -- its arrival at the hand-off queue."""
        request = worker.request
        worker.request = None
        if request is TAKE:
            task = self._arrive_locked(actions)
            if task is not None:
                worker.item = task
            elif self._closing:
                self._alive -= 1
                worker.item = _RETIRE
            else:
                self._idle.append(worker)
                return  # parked
            actions.append(Wake(worker))
            return
        task, result, exception = request
        callbacks = None if task is None else self._finish_locked(task, result, exception)
        task = self._next_locked(actions)
        if task is not None:
            worker.item = task
        elif callbacks:
            worker.item = _PARK  # it runs them, then takes the next or parks itself
        elif self._rest_locked(worker):
            worker.item = _RETIRE
        else:
            return  # parked: its wake comes with its next task
        worker.callbacks = callbacks
        actions.append(Wake(worker))

    def _park(self, worker: _Worker) -> Task | None:
        """Wait, parked or with a finish left to be served, until woken with
        something to do; ``None`` means this thread must exit."""
        lock = self._lock
        while True:
            # Threads above max_size (critical extensions) only linger briefly.
            timeout = self.idle_timeout
            if self._alive > self.max_size:
                timeout = min(timeout, EXTRA_THREAD_IDLE)
            try:
                token = worker.inbox.get(timeout=timeout)
            except queue.Empty:
                with lock:
                    waiting = worker.item is None and worker.request is None
                    if waiting and self._alive > self.min_size:
                        self._idle.remove(worker)
                        self._alive -= 1
                        return None
                if waiting:
                    continue
                token = worker.inbox.get()  # the hand-off's wake is imminent
            if token is _SERVE:  # the main thread held the lock when a finish was left
                worker.serve_sent = False  # first: a holder seen below sends it again
                if lock.acquire(False):  # else its holder serves, or sends SERVE again
                    lock.release()  # serves every pending finish (this one's too)
                continue
            item = worker.item
            worker.item = None
            callbacks = worker.callbacks
            if callbacks is not None:
                worker.callbacks = None
                run_callbacks(callbacks, log)
            if item is _RETIRE:
                return None
            if item is _PARK:  # a served finish with callbacks: now the next task, or park
                self._leave(worker, (None, None, None))
                continue
            if item is not TAKE:
                return item  # a task of its own
            self._leave(worker, TAKE)  # woken for the hand-off queue: its arrival

def _call_callback(task: Task, result: Any) -> None:
    """Run the task's ``callback=``; whatever it raises is logged (usercode)."""
    call_user(f"callback {task.callback!r} of task {task.id!r} ({task.name})",
              task.callback, result, logger=log)  # type: ignore[arg-type]
