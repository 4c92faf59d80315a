"""The backends of the mp pool: where admitted ``TT_MP`` tasks run.

``Backend`` is the interface ``MpPool`` (``engine.mp``) sends tasks
through: ``send(task, done)`` (``done(task, backend, ok, value)`` once, on
the backend's own thread), ``worker_processes``, ``rebuild`` and
``close(terminate)``, with a watcher thread (``start_watching``, once the
backend is installed) that reports an abnormal exit of a known worker
process through ``on_broken``. The kinds: the engine's
``ProcessPool`` (never watched or rebuilt here), a ``multiprocessing.Pool``,
any ``concurrent.futures.Executor``, and ``BrokenBackend`` (every task
fails with ``PoolBrokenError``). See ``engine.mp`` for the policy.

Threads: ``send`` from any thread (the one that admits a task), callbacks
on the backend's own threads, the watcher on its own thread.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.pool
import multiprocessing.reduction
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .procchild import PoolBrokenError, child_job, decode_result, pickle_job
from .procpool import ProcessPool
from .task import Task
from .usercode import log_contained

log = logging.getLogger("engine.mp")

Done = Callable[[Task, "Backend", bool, Any], None]
Broken = Callable[["Backend", str], None]


class Backend:
    """Where admitted mp tasks run. ``owned``: the supervisor created it (and
    terminates it when it stops or replaces it).

    Backends whose worker processes are known are watched by a thread that
    waits on the processes' sentinels: an abnormal exit is reported at once
    through ``on_broken`` (the watcher re-reads the process list every half
    second, as pools replace workers -- within 10 ms while a
    ``multiprocessing.Pool`` lists fewer than it keeps: it is replacing one).
    """

    processes = 0

    def __init__(self, owned: bool, on_broken: Broken) -> None:
        self.owned = owned
        self._on_broken = on_broken
        self._closed = False
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._watcher: threading.Thread | None = None

    def send(self, task: Task, done: Done) -> None:
        raise NotImplementedError

    def worker_processes(self) -> list | None:
        """The live worker processes, or ``None`` if they cannot be known."""
        return None

    def rebuild(self) -> Backend | None:
        """A fresh backend like this one (owned by the supervisor), if possible."""
        return None

    def _terminate(self) -> None:
        raise NotImplementedError

    def start_watching(self) -> None:
        """Start the watcher (once), if the worker processes can be known.

        Called by ``MpPool`` once the backend is installed, not before: a
        death reported earlier would be dropped as coming from a backend
        that is not the current one, and no one would watch it again."""
        if self._watcher is None and not self._closed and self.worker_processes() is not None:
            self._watcher = threading.Thread(target=self._watch, name="supervisor_mp_watch",
                                             daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        try:
            self._watch_workers()
        except BaseException as exc:  # noqa: BLE001 - the pool's internals, user values
            log_contained("the mp pool's worker watcher", exc, log)

    def _watch_workers(self) -> None:
        waited_on: list = []
        while not self._closed:
            # Check the very processes waited on as well as the current ones:
            # a pool may drop a dead one from its list before we look again.
            workers = self.worker_processes() or []
            for worker in (*waited_on, *workers):
                if worker.exitcode not in (0, None):
                    self._on_broken(self, f"mp worker process {worker.pid} died "
                                          f"(exit code {worker.exitcode})")
                    return
            waited_on = workers
            timeout = 0.01 if self._replacing(workers) else 0.5
            multiprocessing.connection.wait([w.sentinel for w in workers] + [self._wake_r],
                                            timeout=timeout)

    def _replacing(self, workers: list) -> bool:
        """Whether the pool lists fewer processes than it keeps because it is
        replacing one that exited: then the watcher looks again within 10 ms
        (a worker that dies while starting is replaced within milliseconds;
        half a second blind would let it be restarted dozens of times)."""
        return False

    def close(self, terminate: bool) -> None:
        """Stop watching; ``terminate`` also kills the worker processes."""
        if not self._closed:
            self._closed = True
            self._wake_w.send(None)
        if terminate:
            self._terminate()


class PoolBackend(Backend):
    """A ``multiprocessing.Pool``."""

    def __init__(self, pool: multiprocessing.pool.Pool, owned: bool, on_broken: Broken) -> None:
        super().__init__(owned, on_broken)
        self.pool = pool
        self.processes = pool._processes

    def send(self, task: Task, done: Done) -> None:
        self.pool.apply_async(
            child_job, (job_bytes(task),),
            callback=lambda body: done(task, self, *decode_result(body, task.target)),
            error_callback=lambda exc: done(task, self, False, exc))

    def worker_processes(self) -> list:
        return list(self.pool._pool)

    def _replacing(self, workers: list) -> bool:
        return len(workers) < self.processes  # a Pool always keeps them all

    def rebuild(self) -> Backend:
        old = self.pool
        pool = type(old)(processes=self.processes, initializer=old._initializer,
                         initargs=old._initargs, maxtasksperchild=old._maxtasksperchild,
                         context=old._ctx)
        return PoolBackend(pool, True, self._on_broken)

    def _terminate(self) -> None:
        self.pool.terminate()


class ProcessPoolBackend(Backend):
    """The engine's ``ProcessPool``: it fails exactly the task a dying worker
    ran and replaces the worker, so this backend is never watched or rebuilt
    here. A pool whose workers keep dying while starting breaks itself
    (``PoolBrokenError`` from ``send``: every task then fails with it)."""

    def __init__(self, pool: ProcessPool, owned: bool, on_broken: Broken) -> None:
        super().__init__(owned, on_broken)
        self.pool = pool
        self.processes = pool.processes

    def send(self, task: Task, done: Done) -> None:
        self.pool.send(task.target, task.args, task.kwargs, functools.partial(done, task, self))

    def _terminate(self) -> None:
        self.pool.terminate()


class ExecutorBackend(Backend):
    """Any ``concurrent.futures.Executor`` (process pool, Dask client executor...)."""

    def __init__(self, executor: concurrent.futures.Executor, owned: bool,
                 on_broken: Broken) -> None:
        super().__init__(owned, on_broken)
        self.executor = executor
        self.processes = getattr(executor, "_max_workers", 0) or 0

    def send(self, task: Task, done: Done) -> None:
        future = self.executor.submit(child_job, job_bytes(task))
        sending = threading.get_ident()
        adding = [True]

        def resolve(f: concurrent.futures.Future) -> None:
            if adding[0] and threading.get_ident() == sending:
                # Done before the callback was added: add_done_callback runs
                # it at once, on the sending thread. Results come back on a
                # thread of the backend's, never on the thread that sends
                # (the task's callback= is user code; on the main thread a
                # KeyboardInterrupt it raises would read as Ctrl+C).
                threading.Thread(target=self._resolve, args=(task, f, done),
                                 name="supervisor_mp_result", daemon=True).start()
            else:
                self._resolve(task, f, done)

        future.add_done_callback(resolve)
        adding[0] = False

    def _resolve(self, task: Task, future: concurrent.futures.Future, done: Done) -> None:
        if future.cancelled():
            done(task, self, False, concurrent.futures.CancelledError("mp future canceled"))
            return
        exc = future.exception()
        if isinstance(exc, BrokenProcessPool):
            dead = [f"{p.pid} (exit code {p.exitcode})" for p in self.worker_processes() or ()
                    if p.exitcode not in (0, None)]
            who = f"mp worker process {', '.join(dead)}" if dead else "mp worker process"
            self._on_broken(self, f"{who} died ({exc})")
        elif exc is not None:
            done(task, self, False, exc)
        else:
            done(task, self, *decode_result(future.result(), task.target))

    def worker_processes(self) -> list | None:
        # A ProcessPoolExecutor starts workers on demand and only notices a
        # dead one at its next result (CPython 3.11): watch them ourselves.
        if isinstance(self.executor, concurrent.futures.ProcessPoolExecutor):
            return list((self.executor._processes or {}).values())
        return None

    def rebuild(self) -> Backend | None:
        old = self.executor
        if not isinstance(old, concurrent.futures.ProcessPoolExecutor):
            return None
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=old._max_workers, mp_context=old._mp_context,
            initializer=old._initializer, initargs=old._initargs)
        return ExecutorBackend(executor, True, self._on_broken)

    def _terminate(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in self.worker_processes() or ():
            if process.is_alive():
                process.terminate()


class BrokenBackend(Backend):
    """Where mp tasks go once a standard backend broke ``MAX_REBUILDS``
    times in a row: each fails at once with ``PoolBrokenError(reason)``."""

    def __init__(self, reason: str) -> None:
        super().__init__(True, lambda backend, why: None)
        self.reason = reason

    def send(self, task: Task, done: Done) -> None:
        raise PoolBrokenError(self.reason)

    def _terminate(self) -> None:
        pass


def job_bytes(task: Task) -> bytes:
    """``task``'s job pickled for ``child_job`` (with multiprocessing's
    pickler, as the backend itself would: it registers reducers for
    connections and the like)."""
    return bytes(pickle_job(task.target, task.args, task.kwargs,
                            multiprocessing.reduction.ForkingPickler.dumps))


__all__ = ["Backend", "BrokenBackend", "ExecutorBackend", "PoolBackend", "ProcessPoolBackend",
           "job_bytes"]
