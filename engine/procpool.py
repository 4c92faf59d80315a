"""``ProcessPool``: the engine's own process pool (its parent side: sending,
the reader thread, deaths and restarts; what crosses the process boundary is
in ``engine.procchild``, each worker's pipe in ``engine.procpipe``).

Why it exists: through a ``multiprocessing.Pool`` every completion hops
through two Pool threads (result handler, then task handler), each a GIL
hand-off, before the next task reaches a worker -- with an admission window
of a few tasks per process the workers wait on the parent -- and a killed
worker cannot be tied to its task, so every task in flight has to fail.
Here:

* Each worker process has its own duplex pipe (a socket pair). ``send()``
  picks the worker with the fewest jobs in flight (ties: lowest index),
  pickles on the calling thread and writes the job to that worker's pipe at
  once -- the engine calls it from the thread that submits or completes a
  task, so the next task reaches a worker without any thread hop.
* One reader thread waits, without polling, on every worker's pipe and
  process sentinel plus a wake pipe (for shutdown). It uses a selector
  registered once rather than ``multiprocessing.connection.wait``, which
  builds a new poll set on every call (about 10 us, as much as the rest of a
  tiny task's round trip). It reads whatever results are buffered in one
  call, and runs each job's callback exactly once, never under a pool lock.
* The pool knows which jobs are in flight on which worker, and each worker
  writes the id of the job it is running (and how far it got in starting)
  into a small shared-memory slot, read after it dies. So a worker that dies
  fails exactly the one job it was running, with ``WorkerDiedError``; the
  jobs queued behind it on its pipe never ran, and are sent again, once, to
  a live worker. A replacement is started at the same index and the other
  workers are untouched.

A task never fails for a worker it did not run on. A job sent while no
worker is alive (they all just died and their replacements are starting)
waits in the pool's pending queue and goes to the first replacement; the
sender never blocks and never gets "no live worker".

Workers that die while starting (the restart policy). A worker that exits
before it is ready for jobs -- while ``multiprocessing`` prepares it
(re-running the parent's main module), in the pool's ``initializer``, or one
that cannot be started at all (``OSError`` from fork or the forkserver) -- is
a *start failure*:

* it is restarted after a back-off of ``RESTART_BACKOFF`` s doubled for each
  consecutive start failure at its index, capped at ``RESTART_BACKOFF_MAX``
  (0.05, 0.1, 0.2, 0.4 ... 2 s); a worker that dies after it was ready (a
  job crashed it, it was killed) is replaced at once;
* after ``MAX_START_FAILURES`` (5) start failures in a row, with no job
  completing in between (a job result resets the count), the pool is
  *broken*: it starts no more processes, fails every job waiting for a
  worker and raises on every new ``send`` with one ``PoolBrokenError`` that
  says why -- the last exit code or exception, and, when the worker died
  before the engine's code ran while its main module is re-run in every
  worker, that an mp script's main module must be guarded with ``if
  __name__ == "__main__":`` (the engine uses the ``forkserver`` start
  method). Workers still alive finish their jobs and exit. A broken pool
  stays broken: create a new one.

A pool created while this process is itself a worker still being prepared
by ``multiprocessing`` (an unguarded main module creating a pool at import)
exits that process at once with code ``EXIT_UNGUARDED_MAIN`` and a message
on stderr, so the parent can name the cause precisely instead of starting
it again. Processes that cannot be started when the pool is created raise
``WorkerStartError`` from the constructor.

Wire format: see ``engine.procchild``.

Writes never block a thread that holds a pool lock or the reader thread: see
``engine.procpipe`` (one ``PoolWorker`` per process).

Start method: ``forkserver`` where available, else ``spawn``. Never ``fork``:
the console's process runs Qt and many threads, and a forked child inherits
locks other threads held at fork time (CPython #84559); ``forkserver`` forks
children from a clean single-threaded server instead.

What user values can break is contained on both sides (see ``engine.procchild``
for the child's side): in the parent, a result whose unpickling raises fails
its job, and a callback that raises anything is logged; the reader thread
survives both.

Threads: ``send``, ``submit``, ``shutdown``, ``terminate`` and the properties
may be called from any thread, callbacks included. POSIX only (``SUPPORTED``:
socket pairs, non-blocking sends, sentinels a selector can wait on).
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from .procchild import (
    DONTWAIT,
    EXIT_MESSAGE,
    EXIT_UNGUARDED_MAIN,
    GUARD_ADVICE,
    MAX_START_FAILURES,
    READ_SIZE,
    RESTART_BACKOFF,
    RESTART_BACKOFF_MAX,
    SLOT_RUNNING,
    SLOT_STAGE,
    STAGE_INIT,
    STAGE_READY,
    SUPPORTED,
    Callback,
    PoolBrokenError,
    WorkerDiedError,
    WorkerStartError,
    decode_result,
    error_text,
    exit_if_bootstrapping,
    frame,
    job_name,
    mp_context,
    pickle_job,
    reimported_main,
    split_frames,
    worker_main,
)
from .procpipe import PoolWorker, kill
from .usercode import log_contained, safe_repr

log = logging.getLogger(__name__)


# -- the parent ---------------------------------------------------------------------

_RESULTS, _EXITED, _WAKE = "results", "exited", "wake"
_pool_ids = itertools.count(1)
monotonic = time.monotonic

Job = tuple[int, Callback, Any, bytes]  # job id, callback, fn, body


class ProcessPool(concurrent.futures.Executor):
    """``processes`` worker processes, each fed through its own pipe.

    ``send(fn, args, kwargs, callback)`` is the fast path: ``callback(ok,
    value)`` is called exactly once, from the pool's reader thread, with the
    result (``ok``) or the exception -- ``WorkerDiedError`` if the worker died
    while running the job, or the pool was terminated; ``PoolBrokenError`` if
    the pool broke (see the module docstring) before a worker could take it.
    ``submit`` is the ``Executor`` API built on it.
    """

    def __init__(self, processes: int | None = None,
                 context: multiprocessing.context.BaseContext | None = None,
                 initializer: Callable[..., Any] | None = None, initargs: tuple = ()) -> None:
        if not SUPPORTED:
            raise RuntimeError("ProcessPool needs a POSIX system; use multiprocessing.Pool")
        if processes is None:
            processes = os.cpu_count() or 1
        if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
            raise ValueError(f"processes must be a positive int, got {processes!r}")
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be callable, got {initializer!r}")
        exit_if_bootstrapping("a ProcessPool")
        self._processes = processes
        self._ctx = context if context is not None else mp_context()
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._name = f"ProcessPool-{next(_pool_ids)}"
        self._main = reimported_main() if self._ctx.get_start_method() != "fork" else None
        self._job_ids = itertools.count(1)
        self._reader_ident: int | None = None
        # Guards ``_workers`` (the list, and each worker's ``jobs``, ``gone``,
        # ``eof`` and ``reaped``), ``_pending``, ``_shutdown``,
        # ``_terminated``, ``_broken``, ``_start_failures``,
        # ``_index_failures`` and ``_wake_w``. Held only for bookkeeping:
        # never while writing, reading, pickling, starting a process or
        # calling back. ``_lock`` and a worker's ``send_lock`` are never held
        # together.
        self._lock = threading.Lock()
        self._shutdown = False
        self._terminated = False
        self._broken: str | None = None  # why the pool is broken (final)
        # Jobs no live worker could take (all had died): for the next replacement.
        self._pending: collections.deque[Job] = collections.deque()
        self._start_failures = 0  # consecutive, pool-wide; a job result resets it
        self._index_failures = [0] * processes  # consecutive, per index (back-off)
        # index -> monotonic time a replacement is due; the reader thread's own.
        self._restart_due: dict[int, float] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._workers: list[PoolWorker] = []
        try:
            for index in range(processes):
                self._workers.append(self._start_worker(index))
        except BaseException as exc:
            for worker in self._workers:
                worker.process.kill()
                worker.process.join()
                worker.sock.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            if isinstance(exc, OSError):
                raise WorkerStartError(
                    f"{self._name} could not start worker process {len(self._workers) + 1} "
                    f"of {processes}: {error_text(exc)}") from exc
            raise
        # What the reader waits on: each worker's pipe and sentinel, and the
        # wake pipe. Registered once (a fresh poll set per wait would cost
        # more than the rest of a tiny task's round trip); changed only by the
        # reader thread, or here before it starts.
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, (_WAKE, None))
        for worker in self._workers:
            self._watch(worker)
        self._reader = threading.Thread(target=self._read_loop, name=f"{self._name}-reader",
                                        daemon=True)
        self._reader.start()

    # -- public ---------------------------------------------------------------
    @property
    def processes(self) -> int:
        return self._processes

    @property
    def broken(self) -> str | None:
        """Why the pool is broken (it runs nothing any more), or ``None``."""
        return self._broken

    def worker_pids(self) -> list[int]:
        """The pids of the current worker processes, by index."""
        with self._lock:
            return [w.pid for w in self._workers]

    def in_flight(self) -> int:
        """Jobs sent and not yet called back."""
        with self._lock:
            return sum(len(w.jobs) for w in self._workers) + len(self._pending)

    def send(self, fn: Callable[..., Any], args: tuple, kwargs: dict,
             callback: Callback) -> None:
        """Run ``fn(*args, **kwargs)`` in a worker; ``callback(ok, value)`` once.

        Raises (and never calls ``callback``) if the job cannot be pickled,
        the pool was shut down (``RuntimeError``) or is broken
        (``PoolBrokenError``).
        """
        body = pickle_job(fn, args, kwargs)
        with self._lock:
            self._check_open_locked()
            job_id = next(self._job_ids)
            worker = self._assign_locked((job_id, callback, fn, body))
        if worker is not None:
            worker.write(frame(job_id, body))

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # sent at once: too late to cancel
        self.send(fn, args, kwargs, functools.partial(_settle, future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more jobs; workers exit once their jobs are done.

        ``wait`` blocks until then (and the processes are joined);
        ``cancel_futures`` terminates instead: jobs in flight fail. Jobs
        waiting for a replacement worker (theirs died) fail at once.
        """
        if cancel_futures:
            self.terminate()
            return
        with self._lock:
            first = not self._shutdown
            self._shutdown = True
            workers = [w for w in self._workers if not w.reaped]
            stranded, self._pending = list(self._pending), collections.deque()
        if first:
            for worker in workers:
                worker.write([EXIT_MESSAGE])
            self._wake()
        for _, callback, fn, _ in stranded:
            _call(callback, False, WorkerDiedError(
                f"{self._name} was shut down while task {job_name(fn)} waited for a worker "
                f"process (the one it was sent to had died before running it)"))
        if wait:
            self._join_reader()

    def terminate(self) -> None:
        """Kill the worker processes now; every job in flight fails."""
        with self._lock:
            self._shutdown = self._terminated = True
            victims = [(w.pid, w.jobs) for w in self._workers]
            victims.append((None, {job[0]: job[1:] for job in self._pending}))
            self._pending = collections.deque()
            alive = [w.process for w in self._workers if not w.reaped]
            for worker in self._workers:
                worker.jobs = {}
        for process in alive:
            kill(process)
        self._wake()
        self._join_reader()  # the reader reaps the processes
        for pid, jobs in victims:
            for callback, fn, _ in jobs.values():
                where = (f"mp worker process {pid} was killed" if pid is not None
                         else "it was waiting for a worker process")
                _call(callback, False, WorkerDiedError(
                    f"{where}: the process pool terminated while task {job_name(fn)} was in "
                    f"flight"))

    # -- sending ----------------------------------------------------------------
    def _check_open_locked(self) -> None:
        if self._broken is not None:
            raise PoolBrokenError(self._broken)
        if self._shutdown:
            raise RuntimeError(f"cannot send jobs to {self._name}: it was shut down")

    def _assign_locked(self, job: Job) -> PoolWorker | None:
        """Put ``job`` on the live worker with the fewest jobs in flight (ties:
        lowest index) and return it (the caller writes the job), or, with no
        live worker, on the pending queue (the next replacement takes it)."""
        best, fewest = None, 0
        for worker in self._workers:
            if not worker.gone and not worker.eof and (best is None or len(worker.jobs) < fewest):
                best, fewest = worker, len(worker.jobs)
        if best is None:
            self._pending.append(job)
            return None
        best.jobs[job[0]] = job[1:]
        return best

    def _resend(self, jobs: list[Job], why: str) -> None:
        """Send again jobs that never ran (``why``: their worker died first);
        if the pool is shutting down or broken, fail them instead."""
        writes = []
        with self._lock:
            broken, closed = self._broken, self._shutdown
            if not closed:
                for job in jobs:
                    worker = self._assign_locked(job)
                    if worker is not None:
                        writes.append((worker, job))
        for worker, job in writes:
            worker.write(frame(job[0], job[3]))
        for _, callback, fn, _ in jobs if closed else ():
            _call(callback, False, PoolBrokenError(broken) if broken else WorkerDiedError(
                f"{why} before it could run task {job_name(fn)}, and {self._name} is shutting "
                f"down: it was not sent again"))

    def _wake(self) -> None:
        with self._lock:
            if self._wake_w is not None:
                try:
                    os.write(self._wake_w, b"x")
                except BlockingIOError:
                    pass  # already full: the reader wakes anyway

    # -- the reader thread ---------------------------------------------------------
    def _read_loop(self) -> None:
        self._reader_ident = threading.get_ident()
        view = memoryview(bytearray(READ_SIZE))
        try:
            select = self._selector.select
            while not self._finished():
                due = self._restart_due
                timeout = max(0.0, min(due.values()) - monotonic()) if due else None
                for key, _ in select(timeout):
                    role, worker = key.data
                    if role is _RESULTS:
                        if not worker.eof and not worker.reaped:
                            self._read_results(worker, view)
                    elif role is _EXITED:
                        self._worker_exited(worker, view)
                    else:
                        os.read(self._wake_r, 4096)
                if due:
                    self._restart_due_workers()
        except BaseException:  # noqa: BLE001 - the reader must end the pool cleanly
            log.exception("%s: the reader thread failed; terminating the pool", self._name)
            self._abort()
        finally:
            self._close()

    def _finished(self) -> bool:
        with self._lock:
            return self._shutdown and all(w.reaped for w in self._workers)

    def _read_results(self, worker: PoolWorker, view: memoryview) -> None:
        try:
            n = worker.sock.recv_into(view)
        except OSError:
            n = 0
        if not n:  # the child closed its end: it is exiting, its sentinel follows
            with self._lock:
                worker.eof = True
            self._selector.unregister(worker.sock)
            return
        worker.rbuf += view[:n]
        self._deliver(worker, split_frames(worker.rbuf))

    def _deliver(self, worker: PoolWorker, frames: list[tuple[int, bytes]]) -> None:
        if not frames:
            return
        with self._lock:
            pop = worker.jobs.pop
            found = [(pop(job_id, None), body) for job_id, body in frames]
            self._start_failures = 0  # a worker serves: the pool is not broken
            self._index_failures[worker.index] = 0
        for entry, body in found:
            if entry is None:
                continue  # already failed (the pool was terminated)
            ok, value = decode_result(body, entry[1])
            _call(entry[0], ok, value)

    def _worker_exited(self, worker: PoolWorker, view: memoryview) -> None:
        """Deliver what the worker sent before it ended, fail the job it was
        running, send the ones it never ran to live workers, and start a
        replacement at its index (unless shutting down) -- at once, or after
        a back-off if it died while starting."""
        with self._lock:
            worker.gone = True  # callbacks run below must not send to it
        while not worker.eof:  # the process is gone: read what is left
            try:
                n = worker.sock.recv_into(view, 0, DONTWAIT)
            except OSError:  # BlockingIOError: a grandchild holds its end
                n = 0
            if not n:
                break
            worker.rbuf += view[:n]
            self._deliver(worker, split_frames(worker.rbuf))
        self._unwatch(worker)
        worker.process.join()
        code = worker.process.exitcode
        stage, running = worker.slot[SLOT_STAGE], worker.slot[SLOT_RUNNING]
        with self._lock:
            jobs, worker.jobs = worker.jobs, {}
            worker.reaped = True
            ran = jobs.pop(running, None) if stage == STAGE_READY else None
            never_ran = [(job_id, *entry) for job_id, entry in jobs.items()]
        worker.release()
        if stage == STAGE_READY:
            # At once, before the callbacks below can send more jobs.
            self._replace(worker.index)
        else:
            self._start_failed(worker.index, self._start_failure(worker, stage, code))
        if ran is not None:
            log.error("mp worker process %s died (exit code %s) while running task %s",
                      worker.pid, code, job_name(ran[1]))
        if never_ran:
            self._resend(never_ran, f"mp worker process {worker.pid} died (exit code {code})")
        if ran is not None:
            _call(ran[0], False, WorkerDiedError(
                f"mp worker process {worker.pid} died (exit code {code}) while running task "
                f"{job_name(ran[1])}"))

    def _start_failure(self, worker: PoolWorker, stage: int, code: int | None) -> str:
        """Why ``worker``, which never became ready, ended."""
        died = f"worker process {worker.pid} exited with code {code} while starting"
        if stage == STAGE_INIT:
            return f"{died}, in the pool's initializer {safe_repr(self._initializer)}"
        if code == EXIT_UNGUARDED_MAIN and self._main is not None:
            return (f"{died}: the parent's main module {self._main!r}, re-run in the worker "
                    f"by multiprocessing, tried to create a process pool at import; "
                    f"{GUARD_ADVICE}")
        if self._main is not None and (code is None or code > 0):
            return (f"{died}, before the engine's worker code ran: multiprocessing re-runs "
                    f"the parent's main module {self._main!r} in each worker and it failed "
                    f"(or exited) there; {GUARD_ADVICE}")
        return (f"{died}, before the engine's worker code ran (while multiprocessing "
                f"prepared it)")

    def _start_failed(self, index: int, reason: str) -> None:
        """A worker at ``index`` could not start: restart it after a back-off,
        or break the pool after too many start failures in a row."""
        with self._lock:
            if self._shutdown:
                return
            self._start_failures += 1
            self._index_failures[index] += 1
            failures, here = self._start_failures, self._index_failures[index]
        if failures >= MAX_START_FAILURES:
            self._break(f"{self._name} is broken: {failures} worker processes in a row died "
                        f"while starting or could not be started, so it starts no more and "
                        f"runs nothing; the last: {reason}")
            return
        delay = min(RESTART_BACKOFF * 2 ** (here - 1), RESTART_BACKOFF_MAX)
        log.warning("%s: %s; restarting it in %.2f s (start failure %d of at most %d in a "
                    "row)", self._name, reason, delay, failures, MAX_START_FAILURES)
        self._restart_due[index] = monotonic() + delay

    def _break(self, reason: str) -> None:
        """Too many start failures: start nothing more, fail what waits for a
        worker, refuse new jobs; live workers finish their jobs and exit."""
        with self._lock:
            if self._broken is not None or self._shutdown:
                return
            self._broken = reason
            self._shutdown = True
            stranded, self._pending = list(self._pending), collections.deque()
            live = [w for w in self._workers if not w.gone and not w.reaped]
        self._restart_due.clear()
        log.error("%s", reason)
        for worker in live:
            worker.write([EXIT_MESSAGE])
        for _, callback, _, _ in stranded:
            _call(callback, False, PoolBrokenError(reason))

    def _restart_due_workers(self) -> None:
        now = monotonic()
        for index, due in sorted(self._restart_due.items()):
            if due <= now:
                del self._restart_due[index]
                self._replace(index)

    def _replace(self, index: int) -> None:
        with self._lock:
            if self._shutdown:
                return
        try:
            new = self._start_worker(index)
        except BaseException as exc:  # noqa: BLE001 - OSError (EAGAIN...) and the like
            self._start_failed(index, f"a worker process could not be started ({error_text(exc)})")
            return
        pending: list[Job] = []
        with self._lock:
            terminated, exit_now = self._terminated, self._shutdown
            if not terminated:
                self._workers[index] = new
                if not exit_now:  # the jobs that waited for a live worker
                    pending, self._pending = list(self._pending), collections.deque()
        if terminated:  # while it started
            kill(new.process)
            new.process.join()
            new.sock.close()
            return
        self._watch(new)
        if exit_now:  # shut down while it started: it exits like the others
            new.write([EXIT_MESSAGE])
        elif pending:
            self._resend(pending, "their worker process died")

    def _abort(self) -> None:
        """The reader failed: kill and reap everything, fail every job."""
        with self._lock:
            self._shutdown = self._terminated = True
            victims = [(w, w.jobs) for w in self._workers]
            stranded, self._pending = list(self._pending), collections.deque()
            for worker in self._workers:
                worker.jobs = {}
                worker.reaped = True
        self._restart_due.clear()
        for worker, jobs in victims:
            kill(worker.process)
            worker.process.join(1.0)
            for callback, _, _ in jobs.values():
                _call(callback, False, WorkerDiedError(
                    f"{self._name} failed; mp worker process {worker.pid} was killed"))
        for _, callback, _, _ in stranded:
            _call(callback, False, WorkerDiedError(f"{self._name} failed"))

    def _close(self) -> None:
        """The reader ends: release the sockets and the wake pipe."""
        for worker in self._workers:
            worker.release()
        self._selector.close()
        with self._lock:
            wake_w, self._wake_w = self._wake_w, None
        os.close(wake_w)
        os.close(self._wake_r)

    def _join_reader(self) -> None:
        if threading.get_ident() != self._reader_ident:
            self._reader.join()

    # -- helpers ---------------------------------------------------------------------
    def _start_worker(self, index: int) -> PoolWorker:
        slot = self._ctx.RawArray("Q", 2)
        parent_sock, child_sock = socket.socketpair()
        child_conn = multiprocessing.connection.Connection(child_sock.detach())
        process = self._ctx.Process(
            target=worker_main, args=(child_conn, self._initializer, self._initargs, slot),
            name=f"{self._name}-worker-{index}", daemon=True)
        try:
            process.start()
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_conn.close()
        return PoolWorker(index, self._name, process, parent_sock, slot)

    def _watch(self, worker: PoolWorker) -> None:
        self._selector.register(worker.sock, selectors.EVENT_READ, (_RESULTS, worker))
        self._selector.register(worker.sentinel, selectors.EVENT_READ, (_EXITED, worker))

    def _unwatch(self, worker: PoolWorker) -> None:
        for obj in (worker.sock, worker.sentinel):
            try:
                self._selector.unregister(obj)
            except KeyError:  # the pipe, after EOF
                pass

    def __repr__(self) -> str:
        state = ("terminated" if self._terminated else "broken" if self._broken
                 else "shut down" if self._shutdown else "running")
        return f"<{self._name} processes={self._processes} {state}>"


def _call(callback: Callback, ok: bool, value: Any) -> None:
    """Call a job's callback; whatever it raises (``SystemExit`` included) is
    logged: the reader thread, which calls it, serves every other job."""
    try:
        callback(ok, value)
    except BaseException as exc:  # noqa: BLE001 - the containment policy (usercode)
        log_contained(f"callback {safe_repr(callback)} of a process pool job", exc, log)


def _settle(future: concurrent.futures.Future, ok: bool, value: Any) -> None:
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
