"""``ProcessPool``: the engine's own process pool, and what crosses the process
boundary (the child-side call, the errors, the start method).

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
* The pool knows which jobs are in flight on which worker, so a worker that
  dies fails exactly its own jobs with ``WorkerDiedError``; a replacement is
  started at the same index and the other workers are untouched.

Wire format (compatible with ``multiprocessing.connection.Connection``
framing, which the child uses): a job is ``job id (8 bytes) + pickle((fn,
args, kwargs))``, a result is ``job id (8 bytes) + pickle((ok, value))``, an
empty message tells the worker to exit. The id comes first so a job or a
result that cannot be unpickled still fails the right job. Plain ``pickle``
(not multiprocessing's ``ForkingPickler``, three times slower to set up):
connections and sockets cannot be passed as arguments.

Writes never block a thread that holds a pool lock or the reader thread: a
job is written with a non-blocking send; if the worker's pipe is full, the
rest goes to a per-worker backlog written by a short-lived spill thread (a
reader blocked on a full pipe while the child blocks on a full result pipe
would deadlock).

Start method: ``forkserver`` where available, else ``spawn``. Never ``fork``:
the console's process runs Qt and many threads, and a forked child inherits
locks other threads held at fork time (CPython #84559); ``forkserver`` forks
children from a clean single-threaded server instead.

Children run ``_child_call``, which returns ``(ok, value)`` instead of
raising, so an exception whose class cannot be unpickled (CPython #103061)
still arrives, as a ``RemoteTaskError`` carrying its text and traceback.

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
import os
import pickle
import selectors
import socket
import struct
import threading
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SUPPORTED = os.name == "posix"

START_METHOD = ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                else "spawn")


def mp_context() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context(START_METHOD)


class WorkerDiedError(RuntimeError):
    """The process running a task died (killed, crashed) before it finished."""


class RemoteTaskError(Exception):
    """A child's exception that could not be sent back as itself."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message, remote_traceback)
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        return self.args[0]


def _child_call(target: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """Runs in the child process: the target's result or exception, never a raise."""
    try:
        return True, target(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - sent back as data
        text = traceback.format_exc()
        try:
            exc.add_note(f"remote traceback:\n{text}")
            pickle.loads(pickle.dumps(exc))
            return False, exc
        except Exception:
            return False, RemoteTaskError(f"{type(exc).__qualname__}: {exc}", text)


Callback = Callable[[bool, Any], Any]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_dumps = pickle.dumps
_loads = pickle.loads
# Connection framing: "!i" length, or -1 then a "!Q" length for > 2 GiB.
_LENGTH = struct.Struct("!i")
_BIG_LENGTH = struct.Struct("!Q")
_JOB_ID = struct.Struct("!Q")
_JOB_HEADER = struct.Struct("!iQ")      # length, job id
_BIG_JOB_HEADER = struct.Struct("!iQQ")  # -1, length, job id
_MAX_SMALL = 0x7FFFFFFF
_EXIT = _LENGTH.pack(0)  # an empty message: the worker exits
_READ_SIZE = 1 << 18
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


# -- the child ---------------------------------------------------------------------

def _worker_main(conn: multiprocessing.connection.Connection,
                 initializer: Callable[..., Any] | None, initargs: tuple) -> None:
    """A worker process: run jobs from ``conn`` until an empty message or EOF."""
    failure = None
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:  # noqa: BLE001 - every job reports it instead
            failure = RemoteTaskError(f"the process pool's initializer {initializer!r} "
                                      f"failed: {type(exc).__qualname__}: {exc}",
                                      traceback.format_exc())
    recv, send = conn.recv_bytes, conn.send_bytes
    while True:
        try:
            data = recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if not data:
            return
        reply = data[:8] + _run_job(data, failure)
        try:
            send(reply)
        except OSError:
            return  # the parent is gone


def _run_job(data: bytes, failure: BaseException | None) -> bytes:
    """The pickled ``(ok, value)`` for one job message; never raises."""
    fn: Any = None
    if failure is not None:
        outcome: tuple[bool, Any] = (False, failure)
    else:
        try:
            fn, args, kwargs = _loads(memoryview(data)[8:])
        except BaseException as exc:  # noqa: BLE001
            outcome = (False, RemoteTaskError(
                f"the job could not be unpickled in the worker process "
                f"({type(exc).__qualname__}: {exc})", traceback.format_exc()))
        else:
            outcome = _child_call(fn, args, kwargs)
    try:
        return _dumps(outcome, _PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - e.g. an unpicklable result
        return _dumps((False, RemoteTaskError(
            f"the result of {_name(fn)} cannot be pickled ({type(exc).__qualname__}: {exc})",
            traceback.format_exc())), _PROTOCOL)


def _name(fn: Any) -> str:
    return repr(getattr(fn, "__qualname__", None) or fn)


# -- the parent ---------------------------------------------------------------------

class _Worker:
    """One worker process and the parent's end of its pipe.

    ``jobs``, ``eof`` and ``reaped`` are guarded by the pool's ``_lock``;
    ``backlog`` and ``close_after_spill`` by ``send_lock``; ``rbuf`` belongs to
    the reader thread.
    """

    __slots__ = ("index", "process", "pid", "sentinel", "sock", "jobs", "eof", "reaped",
                 "send_lock", "backlog", "close_after_spill", "spill_thread", "rbuf")

    def __init__(self, index: int, process: Any, sock: socket.socket) -> None:
        self.index = index
        self.process = process
        self.pid: int = process.pid
        self.sentinel: int = process.sentinel
        self.sock = sock
        # job id -> (callback, fn), oldest first; fn only names the job in errors
        self.jobs: dict[int, tuple[Callback, Any]] = {}
        self.eof = False      # the child closed its end: stop reading, await the sentinel
        self.reaped = False   # the process has exited and was joined: never picked again
        # Guards writes on ``sock`` (whole messages, in order), ``backlog``
        # (bytes a spill thread still has to write, in order; None if none)
        # and ``close_after_spill``. Held only for non-blocking work.
        self.send_lock = threading.Lock()
        self.backlog: collections.deque | None = None
        self.close_after_spill = False
        self.spill_thread: threading.Thread | None = None
        self.rbuf = bytearray()


_RESULTS, _EXITED, _WAKE = "results", "exited", "wake"
_pool_ids = itertools.count(1)


class ProcessPool(concurrent.futures.Executor):
    """``processes`` worker processes, each fed through its own pipe.

    ``send(fn, args, kwargs, callback)`` is the fast path: ``callback(ok,
    value)`` is called exactly once, from the pool's reader thread, with the
    result (``ok``) or the exception -- ``WorkerDiedError`` if the worker died
    with the job in flight, or the pool was terminated. ``submit`` is the
    ``Executor`` API built on it.
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
        self._processes = processes
        self._ctx = context if context is not None else mp_context()
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._name = f"ProcessPool-{next(_pool_ids)}"
        self._job_ids = itertools.count(1)
        self._reader_ident: int | None = None
        # Guards ``_workers`` (the list, and each worker's ``jobs``, ``eof``
        # and ``reaped``), ``_shutdown``, ``_terminated``, ``_replacing`` and
        # ``_wake_w``. Held only for bookkeeping: never while writing,
        # reading, pickling, starting a process or calling back. ``_changed``
        # (same lock) is notified when a replacement worker is installed or
        # the pool shuts down. ``_lock`` and a worker's ``send_lock`` are
        # never held together.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._shutdown = False
        self._terminated = False
        self._replacing = 0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._workers: list[_Worker] = []
        try:
            for index in range(processes):
                self._workers.append(self._start_worker(index))
        except BaseException:
            for worker in self._workers:
                worker.process.kill()
                worker.process.join()
                worker.sock.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
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

    def worker_pids(self) -> list[int]:
        """The pids of the current worker processes, by index."""
        with self._lock:
            return [w.pid for w in self._workers]

    def in_flight(self) -> int:
        """Jobs sent and not yet called back."""
        with self._lock:
            return sum(len(w.jobs) for w in self._workers)

    def send(self, fn: Callable[..., Any], args: tuple, kwargs: dict,
             callback: Callback) -> None:
        """Run ``fn(*args, **kwargs)`` in a worker; ``callback(ok, value)`` once.

        Raises (and never calls ``callback``) if the job cannot be pickled or
        the pool was shut down.
        """
        body = _dumps((fn, args, kwargs), _PROTOCOL)
        with self._lock:
            worker = self._pick_locked()
            job_id = next(self._job_ids)
            worker.jobs[job_id] = (callback, fn)
        size = len(body) + 8
        if size <= _MAX_SMALL:
            header = _JOB_HEADER.pack(size, job_id)
        else:
            header = _BIG_JOB_HEADER.pack(-1, size, job_id)
        self._write(worker, [header, body])

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # sent at once: too late to cancel
        self.send(fn, args, kwargs, functools.partial(_settle, future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more jobs; workers exit once their jobs are done.

        ``wait`` blocks until then (and the processes are joined);
        ``cancel_futures`` terminates instead: jobs in flight fail.
        """
        if cancel_futures:
            self.terminate()
            return
        with self._lock:
            first = not self._shutdown
            self._shutdown = True
            workers = [w for w in self._workers if not w.reaped]
            self._changed.notify_all()
        if first:
            for worker in workers:
                self._write(worker, [_EXIT])
            self._wake()
        if wait:
            self._join_reader()

    def terminate(self) -> None:
        """Kill the worker processes now; every job in flight fails."""
        with self._lock:
            self._shutdown = self._terminated = True
            victims = [(w, w.jobs) for w in self._workers]
            alive = [w.process for w in self._workers if not w.reaped]
            for worker in self._workers:
                worker.jobs = {}
            self._changed.notify_all()
        for process in alive:
            _kill(process)
        self._wake()
        self._join_reader()  # the reader reaps the processes
        for worker, jobs in victims:
            for callback, fn in jobs.values():
                _call(callback, False, WorkerDiedError(
                    f"mp worker process {worker.pid} was killed: the process pool terminated "
                    f"while task {_name(fn)} was in flight on it"))

    # -- sending ----------------------------------------------------------------
    def _pick_locked(self) -> _Worker:
        """The live worker with the fewest jobs in flight (ties: lowest index)."""
        while True:
            if self._shutdown:
                raise RuntimeError(f"cannot send jobs to {self._name}: it was shut down")
            best, fewest = None, 0
            for worker in self._workers:
                if not worker.reaped and not worker.eof and (
                        best is None or len(worker.jobs) < fewest):
                    best, fewest = worker, len(worker.jobs)
            if best is not None:
                return best
            # Every worker died at once: wait for the reader to replace one
            # (it never waits here itself, and replaces before calling back).
            if not self._replacing or threading.get_ident() == self._reader_ident:
                raise RuntimeError(f"{self._name} has no live worker process")
            self._changed.wait()

    def _write(self, worker: _Worker, buffers: list[bytes]) -> None:
        """Write one message without ever blocking: what the pipe cannot take
        now goes to the worker's backlog, written by a spill thread."""
        with worker.send_lock:
            if worker.backlog is not None:
                worker.backlog.append(b"".join(buffers))
                return
            try:
                sent = worker.sock.sendmsg(buffers, (), _DONTWAIT)
            except BlockingIOError:
                sent = 0
            except OSError:
                # The worker died, or its pipe broke (then it is no use: end
                # it). Its sentinel fires and the reader fails the jobs it
                # had in flight, this one included, and replaces it.
                _kill(worker.process)
                return
            if sent == sum(map(len, buffers)):
                return
            worker.backlog = collections.deque([b"".join(buffers)[sent:]])
            worker.spill_thread = threading.Thread(
                target=self._spill, args=(worker,), daemon=True,
                name=f"{self._name}-spill-{worker.index}")
            worker.spill_thread.start()

    def _spill(self, worker: _Worker) -> None:
        """Write ``worker.backlog`` (blocking); the only writer while it exists."""
        while True:
            with worker.send_lock:
                chunk = worker.backlog[0] if worker.backlog else None
                if chunk is None:
                    worker.backlog = None
                    if worker.close_after_spill:
                        worker.sock.close()
                    return
            try:
                worker.sock.sendall(chunk)
            except OSError:  # as in _write: the reader fails its jobs
                _kill(worker.process)
                with worker.send_lock:
                    worker.backlog.clear()
                continue
            with worker.send_lock:
                worker.backlog.popleft()

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
        view = memoryview(bytearray(_READ_SIZE))
        try:
            select = self._selector.select
            while not self._finished():
                for key, _ in select():
                    role, worker = key.data
                    if role is _RESULTS:
                        if not worker.eof and not worker.reaped:
                            self._read_results(worker, view)
                    elif role is _EXITED:
                        self._worker_exited(worker, view)
                    else:
                        os.read(self._wake_r, 4096)
        except BaseException:
            log.exception("%s: the reader thread failed; terminating the pool", self._name)
            self._abort()
        finally:
            self._close()

    def _finished(self) -> bool:
        with self._lock:
            return self._shutdown and all(w.reaped for w in self._workers)

    def _read_results(self, worker: _Worker, view: memoryview) -> None:
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
        self._deliver(worker, _split_frames(worker.rbuf))

    def _deliver(self, worker: _Worker, frames: list[tuple[int, bytes]]) -> None:
        with self._lock:
            pop = worker.jobs.pop
            found = [(pop(job_id, None), body) for job_id, body in frames]
        for entry, body in found:
            if entry is None:
                continue  # already failed (the pool was terminated)
            try:
                ok, value = _loads(body)
            except Exception as exc:
                ok, value = False, RemoteTaskError(
                    f"the result of {_name(entry[1])} could not be unpickled "
                    f"({type(exc).__qualname__}: {exc})", traceback.format_exc())
            _call(entry[0], ok, value)

    def _worker_exited(self, worker: _Worker, view: memoryview) -> None:
        """Deliver what the worker sent before it ended, fail the rest of its
        jobs, and start a replacement at its index (unless shutting down)."""
        while not worker.eof:  # the process is gone: read what is left
            try:
                n = worker.sock.recv_into(view, 0, _DONTWAIT)
            except OSError:  # BlockingIOError: a grandchild holds its end
                n = 0
            if not n:
                break
            worker.rbuf += view[:n]
            self._deliver(worker, _split_frames(worker.rbuf))
        self._unwatch(worker)
        worker.process.join()
        code = worker.process.exitcode
        with self._lock:
            victims, worker.jobs = worker.jobs, {}
            worker.reaped = True
            replace = not self._shutdown
            self._replacing += replace
        self._release_socket(worker)
        if replace:
            self._replace(worker.index)
        if victims:
            log.error("mp worker process %s died (exit code %s): %d job(s) failed",
                      worker.pid, code, len(victims))
        for position, (callback, fn) in enumerate(victims.values()):
            what = "while running task" if position == 0 else "before it could run task"
            _call(callback, False, WorkerDiedError(
                f"mp worker process {worker.pid} died (exit code {code}) {what} {_name(fn)}"))

    def _replace(self, index: int) -> None:
        try:
            new = self._start_worker(index)
        except Exception:
            log.exception("%s: could not start a replacement worker process", self._name)
            new = None
        with self._lock:
            self._replacing -= 1
            if new is not None and not self._terminated:
                self._workers[index] = new
                exit_now, kill = self._shutdown, False
            else:
                exit_now, kill = False, new is not None
            self._changed.notify_all()
        if new is not None and not kill:
            self._watch(new)
        if exit_now:  # shut down while it started: it exits like the others
            self._write(new, [_EXIT])
        elif kill:
            _kill(new.process)
            new.process.join()
            new.sock.close()

    def _abort(self) -> None:
        """The reader failed: kill and reap everything, fail every job."""
        with self._lock:
            self._shutdown = self._terminated = True
            victims = [(w, w.jobs) for w in self._workers]
            for worker in self._workers:
                worker.jobs = {}
                worker.reaped = True
        for worker, jobs in victims:
            _kill(worker.process)
            worker.process.join(1.0)
            for callback, _ in jobs.values():
                _call(callback, False, WorkerDiedError(
                    f"{self._name} failed; mp worker process {worker.pid} was killed"))

    def _close(self) -> None:
        """The reader ends: release the sockets and the wake pipe."""
        for worker in self._workers:
            self._release_socket(worker)
        self._selector.close()
        with self._lock:
            wake_w, self._wake_w = self._wake_w, None
        os.close(wake_w)
        os.close(self._wake_r)

    def _release_socket(self, worker: _Worker) -> None:
        with worker.send_lock:
            if worker.backlog is None:
                worker.sock.close()
            else:
                worker.close_after_spill = True

    def _join_reader(self) -> None:
        if threading.get_ident() != self._reader_ident:
            self._reader.join()

    # -- helpers ---------------------------------------------------------------------
    def _start_worker(self, index: int) -> _Worker:
        parent_sock, child_sock = socket.socketpair()
        child_conn = multiprocessing.connection.Connection(child_sock.detach())
        process = self._ctx.Process(
            target=_worker_main, args=(child_conn, self._initializer, self._initargs),
            name=f"{self._name}-worker-{index}", daemon=True)
        try:
            process.start()
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_conn.close()
        return _Worker(index, process, parent_sock)

    def _watch(self, worker: _Worker) -> None:
        self._selector.register(worker.sock, selectors.EVENT_READ, (_RESULTS, worker))
        self._selector.register(worker.sentinel, selectors.EVENT_READ, (_EXITED, worker))

    def _unwatch(self, worker: _Worker) -> None:
        for obj in (worker.sock, worker.sentinel):
            try:
                self._selector.unregister(obj)
            except KeyError:  # the pipe, after EOF
                pass

    def __repr__(self) -> str:
        state = ("terminated" if self._terminated else "shut down" if self._shutdown
                 else "running")
        return f"<{self._name} processes={self._processes} {state}>"


def _split_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Take the complete messages off the front of ``buf``: (job id, body)."""
    frames = []
    pos, end = 0, len(buf)
    while end - pos >= 4:
        (size,) = _LENGTH.unpack_from(buf, pos)
        start = pos + 4
        if size < 0:
            if end - start < 8:
                break
            (size,) = _BIG_LENGTH.unpack_from(buf, start)
            start += 8
        if end - start < size:
            break
        (job_id,) = _JOB_ID.unpack_from(buf, start)
        frames.append((job_id, bytes(buf[start + 8:start + size])))
        pos = start + size
    if pos:
        del buf[:pos]
    return frames


def _kill(process: Any) -> None:
    """SIGKILL ``process`` unless it was already reaped."""
    try:
        process.kill()
    except OSError:
        pass


def _call(callback: Callback, ok: bool, value: Any) -> None:
    try:
        callback(ok, value)
    except Exception:
        log.exception("callback %r of a process pool job failed", callback)


def _settle(future: concurrent.futures.Future, ok: bool, value: Any) -> None:
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
