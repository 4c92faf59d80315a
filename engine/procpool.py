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
worker can take it (none is ready yet, or they all just died and their
replacements are starting) waits in the pool's pending queue and goes to
the first worker that can; the sender never blocks and never gets "no live
worker".

Starting in the background (see ``engine.procstart`` for when processes
are started and restarted, and why): the constructor starts no process and
returns at once; the reader thread starts them, a few booting at a time.
Each worker says when it is *ready* (its initializer has run) and only then
takes jobs. While some workers are not ready, a job goes only to an idle
ready worker, else it waits in the pending queue for the next worker that
becomes idle or ready -- jobs sent right after creation spread over the
workers as they come up instead of queueing behind the first one; once all
are ready, ``send`` is as described above. ``wait_ready()`` waits until
every worker is ready; ``worker_pids()`` lists the processes started so far;
``processes`` is the number the pool keeps, started or not.

A pool is *broken* after too many start failures in a row (the restart
policy: ``engine.procstart``): it starts no more processes, fails every job
waiting for a worker and raises on every new ``send`` with one
``PoolBrokenError`` that says why -- the last exit code or exception, and,
when the worker died before the engine's code ran while its main module is
re-run in every worker, that an mp script's main module must be guarded
with ``if __name__ == "__main__":`` (the engine uses the ``forkserver``
start method). Workers still alive finish their jobs and exit. A broken
pool stays broken: create a new one. A pool created while this process is
itself a worker still being prepared by ``multiprocessing`` (an unguarded
main module creating a pool at import) exits that process at once with
code ``EXIT_UNGUARDED_MAIN`` and a message on stderr, so the parent can name
the cause precisely instead of starting it again.

Shutting down while workers start: ``terminate()`` kills the processes
started so far, and a process the reader was starting meanwhile is killed
as soon as it is; none is left behind. ``shutdown()`` keeps the promise
that jobs already sent run: the pool goes on starting workers only while
jobs wait for one, then every worker gets the exit message.

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

Threads: ``send``, ``submit``, ``shutdown``, ``terminate``, ``wait_ready``
and the properties may be called from any thread, callbacks included
(``wait_ready`` not from a callback: the reader, which calls them, is what
makes workers ready). Processes are started, watched and reaped only by the
reader thread. POSIX only (``SUPPORTED``: socket pairs, non-blocking sends,
sentinels a selector can wait on).
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import itertools
import logging
import multiprocessing
import os
import selectors
import threading
from collections.abc import Callable
from typing import Any

from .procchild import (
    DONTWAIT,
    EXIT_MESSAGE,
    MAX_SPIN,
    MAX_START_FAILURES,  # noqa: F401 - re-exported (tests name it here)
    READ_SIZE,
    READY,
    SLOT_RUNNING,
    SLOT_STAGE,
    SPIN,
    STAGE_READY,
    STATUS_ID,
    SUPPORTED,
    Callback,
    PoolBrokenError,
    WorkerDiedError,
    WorkerStartError,  # noqa: F401 - re-exported (engine names it)
    decode_result,
    error_text,
    exit_if_bootstrapping,
    frame,
    job_name,
    mp_context,
    pickle_job,
    preload_engine,
    reimported_main,
    split_frames,
    start_failure,
)
from .procpipe import PoolWorker, kill, start_worker
from .procstart import BOOT_AT_ONCE, StartSchedule  # noqa: F401 - BOOT_AT_ONCE: named here too
from .usercode import log_contained, safe_repr
from .validate import check_seconds

log = logging.getLogger(__name__)


# -- the parent ---------------------------------------------------------------------

_RESULTS, _EXITED, _WAKE = "results", "exited", "wake"
_pool_ids = itertools.count(1)

Job = tuple[int, Callback, Any, bytes]  # job id, callback, fn, body
Writes = list[tuple[PoolWorker, list[bytes]]]  # messages to write, in order


class ProcessPool(concurrent.futures.Executor):
    """``processes`` worker processes, each fed through its own pipe,
    started in the background (see the module docstring).

    ``send(fn, args, kwargs, callback)`` is the fast path: ``callback(ok,
    value)`` is called exactly once, from the pool's reader thread, with the
    result (``ok``) or the exception -- ``WorkerDiedError`` if the worker died
    while running the job, or the pool was terminated; ``PoolBrokenError`` if
    the pool broke (see the module docstring) before a worker could take it.
    ``submit`` is the ``Executor`` API built on it. ``initializer(*initargs)``
    runs in each worker process as it starts (as for ``multiprocessing.Pool``).
    ``spin``: seconds a worker keeps looking for its next job after sending a
    result before it blocks (default ``SPIN``, 100 us; 0 blocks at once; at
    most ``MAX_SPIN``): see ``engine.procchild.SPIN``.
    """

    def __init__(self, processes: int | None = None,
                 context: multiprocessing.context.BaseContext | None = None,
                 initializer: Callable[..., Any] | None = None, initargs: tuple = (), *,
                 spin: float = SPIN) -> None:
        if not SUPPORTED:
            raise RuntimeError("ProcessPool needs a POSIX system; use multiprocessing.Pool")
        if processes is None:
            processes = os.cpu_count() or 1
        if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
            raise ValueError(f"processes must be a positive int, got {processes!r}")
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be callable, got {initializer!r}")
        spin = check_seconds("spin", spin)
        if spin > MAX_SPIN:
            raise ValueError(f"spin must be at most {MAX_SPIN:g} s, got {spin!r}")
        exit_if_bootstrapping("a ProcessPool")
        self._spin = spin
        self._processes = processes
        self._ctx = context if context is not None else mp_context()
        preload_engine(self._ctx)
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._name = f"ProcessPool-{next(_pool_ids)}"
        self._main = reimported_main() if self._ctx.get_start_method() != "fork" else None
        self._job_ids = itertools.count(1)
        self._reader_ident: int | None = None
        # Guards ``_workers`` (the list, and each worker's ``jobs``,
        # ``ready``, ``exit_sent``, ``takes_jobs``, ``gone``, ``eof`` and
        # ``reaped``), ``_ready_count``, ``_pending``, ``_shutdown``,
        # ``_terminated``, ``_broken``, the start failure counts of
        # ``_starts`` and ``_wake_w``. Held only for bookkeeping:
        # never while writing, reading, pickling, starting a process or
        # calling back. ``_lock`` and a worker's ``send_lock`` are never held
        # together. ``_ready_changed`` (on this lock) is notified when a
        # worker becomes ready and when the pool closes (``wait_ready``).
        self._lock = threading.Lock()
        self._ready_changed = threading.Condition(self._lock)
        self._shutdown = False
        self._terminated = False
        self._broken: str | None = None  # why the pool is broken (final)
        # Jobs no worker could take yet (none ready, or all busy while some
        # are still starting), oldest first: for the next worker that can.
        self._pending: collections.deque[Job] = collections.deque()
        # By index; None until the reader has started that index's first process.
        self._workers: list[PoolWorker | None] = [None] * processes
        self._ready_count = 0  # workers ready and not gone
        # What the reader still has to start, and when (its own).
        self._starts = StartSchedule(processes)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        # What the reader waits on: each worker's pipe and sentinel, and the
        # wake pipe. Registered once per process (a fresh poll set per wait
        # would cost more than the rest of a tiny task's round trip); changed
        # only by the reader thread.
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, (_WAKE, None))
        self._reader = threading.Thread(target=self._read_loop, name=f"{self._name}-reader",
                                        daemon=True)
        try:
            self._reader.start()
        except BaseException:
            self._selector.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            raise

    # -- public ---------------------------------------------------------------
    @property
    def processes(self) -> int:
        """How many worker processes the pool keeps (started or not yet)."""
        return self._processes

    @property
    def broken(self) -> str | None:
        """Why the pool is broken (it runs nothing any more), or ``None``."""
        return self._broken

    @property
    def ready_processes(self) -> int:
        """Worker processes ready for jobs now (alive, initializer done)."""
        return self._ready_count

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes started so far, by index (one
        per index once the pool has started; fewer while it starts, see
        ``wait_ready``). A dead worker's pid stays until it is replaced."""
        with self._lock:
            return [w.pid for w in self._workers if w is not None]

    def in_flight(self) -> int:
        """Jobs sent and not yet called back."""
        with self._lock:
            return (sum(len(w.jobs) for w in self._workers if w is not None)
                    + len(self._pending))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every worker process is ready for jobs: ``True``, or
        ``False`` once ``timeout`` s have passed or the pool is shut down or
        broken. Not needed to send jobs (they wait for a worker)."""
        timeout = check_seconds("timeout", timeout, allow_none=True)
        if threading.get_ident() == self._reader_ident:
            raise RuntimeError(f"wait_ready() from a callback of {self._name} would wait for "
                               f"itself (the reader thread makes workers ready)")
        with self._ready_changed:
            self._ready_changed.wait_for(
                lambda: self._shutdown or self._ready_count >= self._processes, timeout)
            return not self._shutdown and self._ready_count >= self._processes

    def send(self, fn: Callable[..., Any], args: tuple, kwargs: dict,
             callback: Callback) -> None:
        """Run ``fn(*args, **kwargs)`` in a worker; ``callback(ok, value)`` once.

        Raises (and never calls ``callback``) if the job cannot be pickled,
        the pool was shut down (``RuntimeError``) or is broken
        (``PoolBrokenError``).
        """
        body = pickle_job(fn, args, kwargs)
        writes = None
        with self._lock:
            self._check_open_locked()
            job_id = next(self._job_ids)
            worker = None if self._pending else self._pick_locked()
            if worker is not None:
                worker.jobs[job_id] = (callback, fn, body)
            else:  # behind the jobs already waiting
                self._pending.append((job_id, callback, fn, body))
                writes = self._take_pending_locked()
        if worker is not None:
            worker.write(frame(job_id, body))
        elif writes:
            _write_all(writes)

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # sent at once: too late to cancel
        self.send(fn, args, kwargs, functools.partial(_settle, future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more jobs; workers exit once their jobs are done.

        Jobs already sent run, those still waiting for a worker included
        (the pool goes on starting workers only while jobs wait for one).
        ``wait`` blocks until then (and the processes are joined);
        ``cancel_futures`` terminates instead: jobs in flight fail.
        """
        if cancel_futures:
            self.terminate()
            return
        with self._lock:
            self._shutdown = True
            writes = [] if self._pending else self._exit_all_locked()
            self._ready_changed.notify_all()
        _write_all(writes)
        self._wake()
        if wait:
            self._join_reader()

    def terminate(self) -> None:
        """Kill the worker processes now (those starting too); every job in
        flight fails."""
        with self._lock:
            self._shutdown = self._terminated = True
            started = [w for w in self._workers if w is not None]
            victims = [(w.pid, w.jobs) for w in started]
            victims.append((None, {job[0]: job[1:] for job in self._pending}))
            self._pending = collections.deque()
            alive = [w.process for w in started if not w.reaped]
            for worker in started:
                worker.jobs = {}
            self._ready_changed.notify_all()
        for process in alive:
            kill(process)
        self._wake()
        self._join_reader()  # the reader reaps the processes (and kills one it was starting)
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

    def _pick_locked(self) -> PoolWorker | None:
        """The worker the next job goes to: an idle one that takes jobs
        (lowest index) -- else, once every worker is up, the one with the
        fewest jobs in flight (ties: lowest index) -- else ``None`` (the job
        waits: none is ready, or all that are are busy while others start)."""
        best, fewest, up = None, 0, 0
        for worker in self._workers:
            if worker is not None and worker.takes_jobs:
                n = len(worker.jobs)
                if not n:
                    return worker
                up += 1
                if best is None or n < fewest:
                    best, fewest = worker, n
        return best if up == self._processes else None

    def _take_pending_locked(self) -> Writes:
        """Give waiting jobs to the workers that can take them now (oldest
        first); once shut down and none waits, every worker gets the exit
        message. Returns what to write, in order, after the lock."""
        writes: Writes = []
        pending = self._pending
        while pending:
            worker = self._pick_locked()
            if worker is None:
                break
            job = pending.popleft()
            worker.jobs[job[0]] = job[1:]
            writes.append((worker, frame(job[0], job[3])))
        if self._shutdown and not pending:
            writes += self._exit_all_locked()
        return writes

    def _exit_all_locked(self) -> Writes:
        """The exit message for every live worker that did not get it yet
        (no job may be written to one after it)."""
        exits: Writes = []
        for worker in self._workers:
            if worker is not None and not (worker.exit_sent or worker.gone or worker.reaped):
                worker.exit_sent = True
                worker.update_takes_jobs()
                exits.append((worker, [EXIT_MESSAGE]))
        return exits

    def _may_start_locked(self) -> bool:
        """Whether the pool starts processes: until it is shut down -- and
        after that while jobs wait for a worker -- unless broken or terminated."""
        return (not self._terminated and self._broken is None
                and (not self._shutdown or bool(self._pending)))

    def _resend(self, jobs: list[Job], why: str) -> None:
        """Send again jobs that never ran (``why``: their worker died first),
        ahead of those waiting; if the pool is broken (or was terminated),
        fail them instead."""
        with self._lock:
            broken, failed = self._broken, self._broken is not None or self._terminated
            writes: Writes = []
            if not failed:
                self._pending.extendleft(reversed(jobs))
                writes = self._take_pending_locked()
        _write_all(writes)
        for _, callback, fn, _ in jobs if failed else ():
            _call(callback, False, PoolBrokenError(broken) if broken else WorkerDiedError(
                f"{why} before it could run task {job_name(fn)}, and {self._name} was "
                f"terminated"))

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
                for key, _ in select(self._select_timeout()):
                    role, worker = key.data
                    if role is _RESULTS:
                        if not worker.eof and not worker.reaped:
                            self._read_results(worker, view)
                    elif role is _EXITED:
                        self._worker_exited(worker, view)
                    else:
                        os.read(self._wake_r, 4096)
                if self._starts:
                    self._start_due()
        except BaseException:  # noqa: BLE001 - the reader must end the pool cleanly
            log.exception("%s: the reader thread failed; terminating the pool", self._name)
            self._abort()
        finally:
            self._close()

    def _finished(self) -> bool:
        with self._lock:
            return (self._shutdown and not self._pending
                    and all(w is None or w.reaped for w in self._workers))

    def _select_timeout(self) -> float | None:
        """0 while a first start may happen now (results are read between
        starts), else until the next restart is due, else no timeout."""
        return self._starts.timeout(self._may_start_first()) if self._starts else None

    def _may_start_first(self) -> bool:
        """Whether the next first start may happen now (``StartSchedule``);
        drops those left once the pool starts no more."""
        if not self._starts.first:
            return False
        with self._lock:
            if not self._may_start_locked():
                self._starts.first.clear()
                return False
            booting = sum(1 for w in self._workers
                          if w is not None and not w.booted and not w.gone)
        return self._starts.may_start_first(booting)

    def _start_due(self) -> None:
        """Restart the workers whose back-off is over, then start the next
        index for the first time if it may start now (one per turn)."""
        for index in self._starts.due_restarts():
            self._start_at(index)
        if self._may_start_first():
            self._start_at(self._starts.first.popleft())

    def _read_results(self, worker: PoolWorker, view: memoryview) -> None:
        try:
            n = worker.sock.recv_into(view)
        except OSError:
            n = 0
        if not n:  # the child closed its end: it is exiting, its sentinel follows
            with self._lock:
                worker.eof = True
                worker.update_takes_jobs()
            self._selector.unregister(worker.sock)
            return
        worker.rbuf += view[:n]
        self._deliver(worker, split_frames(worker.rbuf))

    def _deliver(self, worker: PoolWorker, frames: list[tuple[int, bytes]]) -> None:
        if not frames:
            return
        found: list = []
        writes: Writes | None = None
        with self._lock:
            while not worker.ready and frames and frames[0][0] == STATUS_ID:  # its first
                _, status = frames.pop(0)
                worker.booted = True
                if status == READY:
                    self._worker_ready_locked(worker)
            if frames:
                pop = worker.jobs.pop
                found = [(pop(job_id, None), body) for job_id, body in frames]
                self._starts.served_locked(worker.index)  # the pool is not broken
            if self._pending:  # jobs that waited for a worker that can take them
                writes = self._take_pending_locked()
        if writes:
            _write_all(writes)
        for entry, body in found:
            if entry is None:
                continue  # already failed (the pool was terminated)
            ok, value = decode_result(body, entry[1])
            _call(entry[0], ok, value)

    def _worker_ready_locked(self, worker: PoolWorker) -> None:
        worker.ready = True
        worker.update_takes_jobs()
        if not worker.gone:
            self._ready_count += 1
            self._ready_changed.notify_all()

    def _worker_exited(self, worker: PoolWorker, view: memoryview) -> None:
        """Deliver what the worker sent before it ended, fail the job it was
        running, send the ones it never ran to other workers, and start a
        replacement at its index (unless the pool starts no more) -- at once,
        or after a back-off if it died while starting."""
        with self._lock:
            if worker.ready and not worker.gone:
                self._ready_count -= 1
            worker.gone = True  # callbacks run below must not send to it
            worker.update_takes_jobs()
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
        if never_ran:  # first: they keep the pool starting if it is shutting down
            self._resend(never_ran, f"mp worker process {worker.pid} died (exit code {code})")
        if stage == STAGE_READY:
            self._start_at(worker.index)  # at once
        else:
            self._start_failed(worker.index, start_failure(worker.pid, stage, code,
                                                            self._initializer, self._main))
        if ran is not None:
            log.error("mp worker process %s died (exit code %s) while running task %s",
                      worker.pid, code, job_name(ran[1]))
            _call(ran[0], False, WorkerDiedError(
                f"mp worker process {worker.pid} died (exit code {code}) while running task "
                f"{job_name(ran[1])}"))

    def _start_failed(self, index: int, reason: str) -> None:
        """A worker at ``index`` could not start: restart it after a back-off,
        or break the pool after too many start failures in a row."""
        with self._lock:
            if not self._may_start_locked():
                return
            failures, delay = self._starts.failed_locked(index)
        if delay is None:
            self._break(f"{self._name} is broken: {failures} worker processes in a row died "
                        f"while starting or could not be started, so it starts no more and "
                        f"runs nothing; the last: {reason}")
            return
        log.warning("%s: %s; restarting it in %.2f s (start failure %d of at most %d in a "
                    "row)", self._name, reason, delay, failures, MAX_START_FAILURES)
        self._starts.restart_after(index, delay)

    def _break(self, reason: str) -> None:
        """Too many start failures: start nothing more, fail what waits for a
        worker, refuse new jobs; live workers finish their jobs and exit."""
        with self._lock:
            if self._broken is not None or not self._may_start_locked():
                return
            self._broken = reason
            self._shutdown = True
            stranded, self._pending = list(self._pending), collections.deque()
            exits = self._exit_all_locked()
            self._ready_changed.notify_all()
        self._starts.clear()
        log.error("%s", reason)
        _write_all(exits)
        for _, callback, _, _ in stranded:
            _call(callback, False, PoolBrokenError(reason))

    def _start_at(self, index: int) -> None:
        """Start the process at ``index`` (a first start or a replacement)."""
        with self._lock:
            if not self._may_start_locked():
                return
        try:
            new = start_worker(self._ctx, self._name, index, self._initializer,
                               self._initargs, self._spin)
        except BaseException as exc:  # noqa: BLE001 - OSError (EAGAIN...) and the like
            self._start_failed(index, f"a worker process could not be started ({error_text(exc)})")
            return
        exit_now = False
        with self._lock:
            terminated = self._terminated
            if not terminated:
                self._workers[index] = new
                # shut down (nothing waits) or broken while it started
                exit_now = new.exit_sent = not self._may_start_locked()
        if terminated:  # while it started: it must not outlive the pool
            kill(new.process)
            new.process.join()
            new.sock.close()
            return
        self._watch(new)
        if exit_now:
            new.write([EXIT_MESSAGE])

    def _abort(self) -> None:
        """The reader failed: kill and reap everything, fail every job."""
        with self._lock:
            self._shutdown = self._terminated = True
            started = [w for w in self._workers if w is not None]
            victims = [(w, w.jobs) for w in started]
            stranded, self._pending = list(self._pending), collections.deque()
            for worker in started:
                worker.jobs = {}
                worker.reaped = True
            self._ready_changed.notify_all()
        self._starts.clear()
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
            if worker is not None:
                worker.release()
        self._selector.close()
        with self._lock:
            wake_w, self._wake_w = self._wake_w, None
            self._ready_changed.notify_all()
        os.close(wake_w)
        os.close(self._wake_r)

    def _join_reader(self) -> None:
        if threading.get_ident() != self._reader_ident:
            self._reader.join()

    # -- helpers ---------------------------------------------------------------------
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
        return (f"<{self._name} processes={self._processes} ready={self._ready_count} "
                f"{state}>")


def _write_all(writes: Writes) -> None:
    """Write messages decided under the pool's lock (after it), in order."""
    for worker, buffers in writes:
        worker.write(buffers)


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
