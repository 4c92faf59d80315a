"""The multiprocessing pool: admission of ``TT_MP`` tasks and their backends.

``MpPool`` applies the thread pool's admission rules (reserves, strict
priority, FIFO, critical always admitted) to a process backend and sends an
admitted task to it. Results come back on the backend's own thread (the
``ProcessPool`` reader, the ``multiprocessing.Pool`` result handler, or an
executor's callback thread), which completes the task and sends the next
eligible one -- no polling.

Backends (``engine.backends``):

* the engine's ``ProcessPool`` (``procpool.py``; what ``create_mp_pool``
  and ``set_mp_pool`` make -- at once: it starts its processes in the
  background; admission counts tasks, not live processes, and a task
  admitted before a worker is up waits in the pool for the first that is):
  the admitting thread writes the task straight to a worker's pipe,
  and a worker that dies fails exactly the task it was running (the others
  are sent again) while the pool replaces it -- this backend is never
  rebuilt; if its workers keep dying while starting it breaks itself and
  fails every task with ``PoolBrokenError``.
* ``multiprocessing.Pool`` (``create_mp_pool`` with ``maxtasksperchild``, or
  set by the user). A worker killed mid-task is replaced by the Pool, but its
  task would never finish (CPython #96062). A watcher thread waits on the
  worker processes' sentinels; when one dies abnormally the backend is
  declared broken.
* any ``concurrent.futures.Executor``: a ``ProcessPoolExecutor`` is watched
  the same way (on its own it notices a dead worker only at its next
  result, then fails every pending future with ``BrokenProcessPool``); a
  Dask ``distributed`` client's executor handles worker loss itself.

When a backend breaks, every task in flight on it ends FAILED with a
``WorkerDiedError`` naming the cause, the backend is rebuilt with the same
size (for the two standard kinds) and queued tasks go to the new one.

Rebuilds are bounded (the rebuild policy). The first rebuild after a
successful task is immediate; each further consecutive one waits
``REBUILD_BACKOFF`` s doubled per rebuild, capped at ``REBUILD_BACKOFF_MAX``
(0.1, 0.2, 0.4, 0.8 s). After ``MAX_REBUILDS`` (5) breaks in a row with no
task completing successfully in between, the pool is not rebuilt again: a
``BrokenBackend`` takes its place and every queued and new mp task fails at
once with one ``PoolBrokenError`` saying why (the last worker death, and
the ``if __name__ == "__main__":`` advice when workers re-run the main
module) -- until ``mp_pool`` is set or ``create_mp_pool()`` called. A
successful task resets the count. The engine's own ``ProcessPool`` applies
the same kind of policy to each worker it restarts (``procstart.py``) and is
never rebuilt here. A backend's watcher starts once it is installed.

User code is contained (``usercode``): a ``callback=`` that raises anything
(``SystemExit`` included) is logged on the ``engine.mp`` logger and the task
keeps its target's outcome; a job that cannot be pickled (whatever its
``__reduce__`` raises) fails its task on the sending thread; on every
backend the job travels as bytes through ``procchild.child_job``, so a
result or an exception that cannot be pickled or unpickled fails its task
with a ``RemoteTaskError`` instead of breaking the backend's threads. A
``KeyboardInterrupt`` on the main thread is re-raised after the bookkeeping.

The start method (never ``fork``), the child-side call and the errors that
cross the process boundary live in ``procchild.py``.

``MpPool`` follows the pool protocol of ``engine.dispatch`` (action
``Send``; a started task's ``handle`` is the ``Backend`` it was sent to).
Threads: ``*_locked`` methods with the supervisor's lock held; the others
from any thread without it -- results arrive on the backends' own threads,
rebuilds run on a thread of their own.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.pool
import multiprocessing.reduction
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from .admission import CPU_COUNT, Admission, PoolSettings
from .backends import (
    Backend,
    BrokenBackend,
    ExecutorBackend,
    PoolBackend,
    ProcessPoolBackend,
)
from .constants import TASK_CRITICAL, TASK_STATUS_COMPLETED, TASK_STATUS_FAILED, TASK_STATUS_STARTED
from .dispatch import Action, Send
from .ledger import Callback, Ledger, run_callbacks
from .procchild import (  # noqa: F401 - re-exported: engine.mp names them too
    GUARD_ADVICE,
    START_METHOD,
    PoolBrokenError,
    RemoteTaskError,
    WorkerDiedError,
    WorkerStartError,
    child_call,
    child_job,
    decode_result,
    error_text,
    exit_if_bootstrapping,
    mp_context,
    pickle_job,
    reimported_main,
)
from .procchild import SUPPORTED as PROCESS_POOL_SUPPORTED
from .procpool import ProcessPool
from .task import Task
from .usercode import (
    call_user,
    is_main_interrupt,
    log_contained,
    reraise_if_main_interrupt,
    safe_repr,
)

log = logging.getLogger(__name__)
monotonic = time.monotonic

#: Breaks in a row (no task completing successfully in between) after which
#: a standard backend is not rebuilt again.
MAX_REBUILDS = 5
#: Wait before the second consecutive rebuild; doubled for each further one.
REBUILD_BACKOFF = 0.1
REBUILD_BACKOFF_MAX = 5.0

_PICKLABLE_TARGETS: dict[Any, None] = {}  # targets known to pickle (bounded, insertion order)


def check_picklable(target: Callable[..., Any]) -> None:
    """``TypeError`` if ``target`` cannot be sent to another process.

    Arguments are not checked here (pickling every argument twice would cost
    what the pool costs): one that cannot be pickled fails its task.
    """
    try:
        if target in _PICKLABLE_TARGETS:
            return
    except TypeError:  # unhashable callable: check it every time
        pass
    try:
        pickle.dumps(target)
    except BaseException as exc:  # noqa: BLE001 - a __reduce__ may raise anything
        reraise_if_main_interrupt(exc)
        raise TypeError(f"mp task target {safe_repr(target)} cannot be pickled "
                        f"({error_text(exc)}); mp targets must be importable module-level "
                        f"functions") from None
    try:
        _PICKLABLE_TARGETS[target] = None
        if len(_PICKLABLE_TARGETS) > 1024:
            del _PICKLABLE_TARGETS[next(iter(_PICKLABLE_TARGETS))]
    except TypeError:
        pass


def _rebuild_delay(breaks: int) -> float:
    """Seconds before the rebuild after ``breaks`` breaks in a row."""
    return 0.0 if breaks <= 1 else min(REBUILD_BACKOFF * 2 ** (breaks - 2), REBUILD_BACKOFF_MAX)


# multiprocessing.Pool's parameters, in its positional order
_POOL_ARGS = ("processes", "initializer", "initargs", "maxtasksperchild", "context")


class MpPool:
    """Admission and hand-off of mp tasks.

    Guarded by ``lock`` (the supervisor's lock): ``admission``, ``_backend``
    (``None`` while there is none or while a broken one is being rebuilt:
    tasks then wait in the queues, critical ones included), ``rebuilding``,
    ``_breaks`` and ``_rebuild_cancel``.
    """

    def __init__(self, lock: threading.Lock, ledger: Ledger) -> None:
        self._lock = lock
        self._ledger = ledger
        self.admission = Admission(PoolSettings(CPU_COUNT, 0, 0))
        self._backend: Backend | None = None
        self.rebuilding = False  # a broken backend is being replaced
        self.active = False  # the supervisor runs: a broken backend is rebuilt
        self._breaks = 0  # backends broken in a row; a successful task resets it
        # Set to call off the rebuild under way (a backend was set meanwhile).
        self._rebuild_cancel: threading.Event | None = None

    # -- backends --------------------------------------------------------
    def wrap(self, pool: Any, owned: bool) -> Backend:
        if isinstance(pool, ProcessPool):  # before Executor: it is one
            return ProcessPoolBackend(pool, owned, self._broken)
        if isinstance(pool, multiprocessing.pool.Pool):
            return PoolBackend(pool, owned, self._broken)
        if isinstance(pool, concurrent.futures.Executor):
            return ExecutorBackend(pool, owned, self._broken)
        raise TypeError(f"mp_pool must be a multiprocessing.Pool or a "
                        f"concurrent.futures.Executor, got {pool!r}")

    def create_pool(self, *args: Any, **kwargs: Any) -> ProcessPool | multiprocessing.pool.Pool:
        """A ``ProcessPool`` from ``multiprocessing.Pool`` arguments -- or a
        ``multiprocessing.Pool`` if ``maxtasksperchild`` is asked for (or the
        system is not POSIX)."""
        if len(args) > len(_POOL_ARGS):
            raise TypeError(f"create_mp_pool takes at most {len(_POOL_ARGS)} positional "
                            f"arguments {_POOL_ARGS}, got {len(args)}")
        for name, value in zip(_POOL_ARGS, args, strict=False):
            if name in kwargs:
                raise TypeError(f"create_mp_pool got {name!r} twice")
            kwargs[name] = value
        exit_if_bootstrapping("an mp pool")
        if kwargs.get("processes") is None:
            kwargs["processes"] = CPU_COUNT
        if kwargs.get("context") is None:
            kwargs["context"] = mp_context()
        own = {"spin": kwargs.pop("spin")} if "spin" in kwargs else {}
        if kwargs.get("maxtasksperchild") is not None or not PROCESS_POOL_SUPPORTED:
            if own:
                raise TypeError("create_mp_pool: spin is an option of the engine's ProcessPool; "
                                "the multiprocessing.Pool made for maxtasksperchild (or on a "
                                "system without ProcessPool) has none")
            return multiprocessing.pool.Pool(**kwargs)
        kwargs.pop("maxtasksperchild", None)
        unknown = sorted(set(kwargs) - set(_POOL_ARGS))
        if unknown:
            raise TypeError(f"create_mp_pool got unexpected argument(s) {unknown}; "
                            f"it takes {_POOL_ARGS} and spin")
        return ProcessPool(**kwargs, **own)

    @property
    def backend(self) -> Backend | None:
        return self._backend

    def set_backend(self, backend: Backend | None) -> Backend | None:
        """Install ``backend`` (the caller's choice: a rebuild under way is
        called off and the count of breaks starts again); returns the
        previous one (the caller closes it)."""
        actions: list[Action] = []
        try:
            with self._lock:
                previous, self._backend = self._backend, backend
                self.rebuilding = False
                self._breaks = 0
                if self._rebuild_cancel is not None:
                    self._rebuild_cancel.set()
                    self._rebuild_cancel = None
                self.dispatch_locked(actions)
            if backend is not None:
                backend.start_watching()  # installed: a death it reports is acted on
        finally:
            self.run_actions(actions)
        return previous

    # -- called with the lock held ----------------------------------------
    def submit_locked(self, task: Task, now: float, actions: list[Action]) -> None:
        """Send ``task`` now if admission allows (and there is a backend), else queue it."""
        admission = self.admission
        p = task.priority
        start = self._backend is not None and (p == TASK_CRITICAL or (
            admission.may_start(p) and not admission.is_blocked(p)))
        self._ledger.queue_locked(admission, task, now, file=not start)
        if start:
            self._start_locked(task, now, actions, head=False)

    def submit_many_locked(self, tasks: list[Task], now: float,
                           actions: list[Action]) -> None:
        """``submit_locked`` for each of new tasks of one priority, in order."""
        for task in tasks:
            self.submit_locked(task, now, actions)

    def release_locked(self, task: Task, now: float, actions: list[Action]) -> None:
        """A delayed task's delay is over: queue it and dispatch."""
        self._ledger.queue_locked(self.admission, task, now, released=True)
        self.dispatch_locked(actions)

    def dispatch_locked(self, actions: list[Action]) -> None:
        """Send queued tasks while the most urgent one may start."""
        if self._backend is None:
            return
        admission = self.admission
        while True:
            task = admission.head()
            if task is None or not admission.may_start(task.priority):
                return
            self._start_locked(task, monotonic(), actions, head=True)

    def finish_locked(self, task: Task, status: int, result: Any,
                      exception: BaseException | None,
                      actions: list[Action]) -> list[Callback] | None:
        """End ``task`` and send what may start next."""
        callbacks = self._ledger.finish_locked(self.admission, task, status, result, exception,
                                               monotonic())
        self.dispatch_locked(actions)
        return callbacks

    def _start_locked(self, task: Task, now: float, actions: list[Action], head: bool) -> None:
        self._ledger.start_locked(self.admission, task, now, head=head)
        task.handle = self._backend
        actions.append(Send(task))

    # -- called without the lock ---------------------------------------------
    def run_actions(self, actions: list[Action]) -> None:
        """Carry out the ``Send`` actions: each task to its backend. A task
        whose send raises (it cannot be pickled -- whatever its
        ``__reduce__`` raises --, the pool was closed under us or is broken)
        fails with that exception; the tasks its end lets start are appended
        and sent in this same loop (no recursion, however many fail)."""
        interrupt = None
        i = 0
        while i < len(actions):
            task = actions[i].task
            i += 1
            backend = task.handle
            try:
                backend.send(task, self._done)
            except BaseException as exc:  # noqa: BLE001 - user __reduce__ code included
                if is_main_interrupt(exc):
                    interrupt = exc
                self._finish(task, backend, False, exc, actions)
        reraise_if_main_interrupt(interrupt)

    def _done(self, task: Task, backend: Backend, ok: bool, value: Any) -> None:
        """A result or an exception came back for ``task`` (on the backend's
        thread): run its ``callback=`` (contained), then end it."""
        interrupt = None
        if ok and task.callback is not None and task.handle is backend \
                and task.time_completed is None:
            called, exc = call_user(
                f"callback {safe_repr(task.callback)} of mp task {safe_repr(task.id)} "
                f"({task.name})", task.callback, value, logger=log)
            if not called and is_main_interrupt(exc):
                interrupt = exc
        actions: list[Action] = []
        callbacks = None
        try:
            callbacks = self._end(task, backend, ok, value, actions)
        finally:
            # The next task first: its worker waits for it, while the
            # waiters of this one (and its record) can be served after.
            try:
                if actions:
                    self.run_actions(actions)
            finally:
                run_callbacks(callbacks, log)
        reraise_if_main_interrupt(interrupt)

    def _finish(self, task: Task, backend: Backend, ok: bool, value: Any,
                actions: list[Action]) -> None:
        """``_end``, then its callbacks."""
        run_callbacks(self._end(task, backend, ok, value, actions), log)

    def _end(self, task: Task, backend: Backend, ok: bool, value: Any,
             actions: list[Action]) -> list[Callback] | None:
        """End ``task`` with its outcome, unless it has ended already (failed
        by a broken backend, or marked completed); what may start next is
        appended to ``actions``. Returns the callbacks to run unlocked."""
        with self._lock:
            if task.time_completed is not None or task.handle is not backend:
                return None
            if not ok:
                return self.finish_locked(task, TASK_STATUS_FAILED, None, value, actions)
            self._breaks = 0  # a backend that completes tasks is not broken
            if task.auto:
                return self.finish_locked(task, TASK_STATUS_COMPLETED, value, None, actions)
            task.result = value  # put_task: the caller marks completion
            return None

    def retire(self, backend: Backend, terminate: bool, reason: str) -> None:
        """Let go of ``backend`` (no longer current). With ``terminate`` its
        processes are killed, so the tasks in flight on it end FAILED."""
        if terminate:
            self._fail_in_flight(backend, reason)
        backend.close(terminate)

    def _fail_in_flight(self, backend: Backend, reason: str) -> int:
        callbacks: list = []
        with self._lock:
            victims = [t for t in self._ledger.tasks.values()
                       if t.status == TASK_STATUS_STARTED and t.handle is backend]
            for task in victims:
                error = WorkerDiedError(f"{reason}; task {task.id!r} ({task.name}) was in "
                                        f"flight on that pool")
                callbacks += self._ledger.finish_locked(
                    self.admission, task, TASK_STATUS_FAILED, None, error, monotonic()) or ()
        run_callbacks(callbacks, log)
        return len(victims)

    def _broken(self, backend: Backend, reason: str) -> None:
        """Fail every task in flight on ``backend``, then rebuild it (after a
        back-off) -- or, after ``MAX_REBUILDS`` breaks in a row, give up."""
        try:
            self._handle_broken(backend, reason)
        except BaseException as exc:  # noqa: BLE001 - runs on a backend's own thread
            log_contained("handling the broken mp pool", exc, log)

    def _handle_broken(self, backend: Backend, reason: str) -> None:
        with self._lock:
            if backend is not self._backend:
                return  # already handled, or retired
            self._backend = None
            self.rebuilding = self.active
            self._breaks += 1
            breaks = self._breaks
            cancel = self._rebuild_cancel = threading.Event() if self.active else None
        failed = self._fail_in_flight(backend, reason)
        threading.Thread(target=backend.close, args=(True,), name="supervisor_mp_close",
                         daemon=True).start()
        if cancel is None:  # stopped: its owner is shutting it down; do not replace it
            log.info("%s after the supervisor stopped: %d task(s) failed, pool detached",
                     reason, failed)
            return
        if breaks >= MAX_REBUILDS:
            self._give_up(reason, breaks, cancel)
            return
        delay = _rebuild_delay(breaks)
        log.error("%s: %d task(s) failed, rebuilding the mp pool in %.2f s (break %d of at "
                  "most %d in a row)", reason, failed, delay, breaks, MAX_REBUILDS)
        threading.Thread(target=self._rebuild, args=(backend, delay, cancel),
                         name="supervisor_mp_rebuild", daemon=True).start()

    def _rebuild(self, old: Backend, delay: float, cancel: threading.Event) -> None:
        """Build a backend like ``old`` after ``delay`` s and install it,
        unless ``cancel`` is set meanwhile (a backend was set, or stopped).
        A rebuild that fails (``OSError``...) counts as one more break: it is
        tried again after the next back-off, within ``MAX_REBUILDS``."""
        try:
            while True:
                if delay and cancel.wait(delay):
                    return
                with self._lock:
                    if cancel.is_set() or not self.active:
                        return
                try:
                    replacement = old.rebuild() or self.wrap(self.create_pool(), owned=True)
                    break
                except BaseException as exc:  # noqa: BLE001 - OSError, a bad initializer...
                    log_contained("rebuilding the mp pool", exc, log)
                    reason = f"the mp pool could not be rebuilt ({error_text(exc)})"
                with self._lock:
                    self._breaks += 1
                    breaks = self._breaks
                if breaks >= MAX_REBUILDS:
                    self._give_up(reason, breaks, cancel)
                    return
                delay = _rebuild_delay(breaks)
                log.error("%s; trying again in %.2f s (break %d of at most %d in a row)",
                          reason, delay, breaks, MAX_REBUILDS)
            actions: list[Action] = []
            try:
                with self._lock:
                    installed = not cancel.is_set() and self.active and self._backend is None
                    if installed:
                        self._backend, self.rebuilding, self._rebuild_cancel = \
                            replacement, False, None
                        self.dispatch_locked(actions)
                if installed:
                    replacement.start_watching()
            finally:
                self.run_actions(actions)
            if not installed:  # a backend was set meanwhile, or the supervisor stopped
                replacement.close(terminate=True)
        except BaseException as exc:  # noqa: BLE001 - never lose the thread silently
            log_contained("rebuilding the mp pool", exc, log)

    def _give_up(self, reason: str, breaks: int, cancel: threading.Event) -> None:
        """Install a ``BrokenBackend``: queued and new mp tasks fail with why."""
        main = reimported_main() if START_METHOD != "fork" else None
        advice = (f"; if the workers die while starting: {GUARD_ADVICE}" if main is not None
                  else "")
        message = (f"the mp pool is broken: {reason}" if breaks <= 1 else
                   f"the mp pool is broken: it broke {breaks} times in a row without "
                   f"completing a task, so it is not rebuilt again; the last: {reason}")
        message += f"{advice}. Set mp_pool or call create_mp_pool() to replace it"
        log.error("%s", message)
        actions: list[Action] = []
        try:
            with self._lock:
                if cancel.is_set() or not self.active or self._backend is not None:
                    return
                self._backend, self.rebuilding, self._rebuild_cancel = \
                    BrokenBackend(message), False, None
                self.dispatch_locked(actions)
        finally:
            self.run_actions(actions)

    def counts_locked(self) -> int:
        return self._backend.processes if self._backend is not None else 0
