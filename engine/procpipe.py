"""``PoolWorker``: one worker process of a ``ProcessPool`` and the parent's
end of its pipe, written without ever blocking; ``start_worker`` starts one.

A job is written with one non-blocking ``sendmsg``; what the pipe cannot
take now goes to the worker's backlog, written in order by a short-lived
spill thread. Neither a thread holding a pool lock nor the pool's reader
thread ever blocks on a full pipe (a reader blocked on a full job pipe while
the child blocks on a full result pipe would deadlock). A write that fails
(the child died, its pipe broke) kills the process: its sentinel fires and
the pool's reader fails or re-sends the jobs it had in flight.

Threads: ``start_worker`` from the pool's reader thread; ``write`` and
``release`` from any thread (they take only the
worker's ``send_lock``, for non-blocking work); the spill thread is the
worker's own. The fields the pool owns are guarded by the pool's lock (see
``PoolWorker``).
"""

from __future__ import annotations

import collections
import multiprocessing.connection
import socket
import threading
from collections.abc import Callable
from typing import Any

from .procchild import DONTWAIT, Callback, worker_main

__all__ = ["PoolWorker", "kill", "start_worker"]


class PoolWorker:
    """One worker process and the parent's end of its pipe.

    ``jobs``, ``booted``, ``ready``, ``exit_sent``, ``takes_jobs``, ``gone``,
    ``eof`` and ``reaped`` are guarded by the pool's lock; ``backlog`` and
    ``close_after_spill`` by ``send_lock``; ``rbuf`` belongs to the pool's
    reader thread; ``slot`` is written by the child.
    """

    __slots__ = ("index", "name", "process", "pid", "sentinel", "sock", "slot", "jobs", "booted",
                 "ready", "exit_sent", "takes_jobs", "gone", "eof", "reaped", "send_lock",
                 "backlog", "close_after_spill", "spill_thread", "rbuf")

    def __init__(self, index: int, name: str, process: Any, sock: socket.socket,
                 slot: Any) -> None:
        self.index = index
        self.name = name  # the pool's name: names the spill thread
        self.process = process
        self.pid: int = process.pid
        self.sentinel: int = process.sentinel
        self.sock = sock
        self.slot = slot
        # job id -> (callback, fn, body), oldest first; fn names the job in
        # errors, body is kept to send the job again if this worker dies first
        self.jobs: dict[int, tuple[Callback, Any, bytes]] = {}
        self.booted = False     # the engine's code runs in the child (it said so)
        self.ready = False      # the child said it is ready for jobs (initializer done)
        self.exit_sent = False  # the exit message was written: no job may follow it
        # ready and not exit_sent, gone or eof: the pool may give it a job
        # (one field, for the pool's hot path; ``update_takes_jobs`` keeps it)
        self.takes_jobs = False
        self.gone = False     # the process ended (sentinel seen): never picked again
        self.eof = False      # the child closed its end: stop reading, await the sentinel
        self.reaped = False   # the process has exited and was joined
        # Guards writes on ``sock`` (whole messages, in order), ``backlog``
        # (bytes a spill thread still has to write, in order; None if none)
        # and ``close_after_spill``. Held only for non-blocking work.
        self.send_lock = threading.Lock()
        self.backlog: collections.deque | None = None
        self.close_after_spill = False
        self.spill_thread: threading.Thread | None = None
        self.rbuf = bytearray()

    def update_takes_jobs(self) -> None:
        """Recompute ``takes_jobs`` (with the pool's lock held)."""
        self.takes_jobs = self.ready and not (self.exit_sent or self.gone or self.eof)

    def write(self, buffers: list[bytes]) -> None:
        """Write one message without ever blocking: what the pipe cannot take
        now goes to the backlog, written by a spill thread."""
        with self.send_lock:
            if self.backlog is not None:
                self.backlog.append(b"".join(buffers))
                return
            try:
                sent = self.sock.sendmsg(buffers, (), DONTWAIT)
            except BlockingIOError:
                sent = 0
            except OSError:
                # The worker died, or its pipe broke (then it is no use: end
                # it). Its sentinel fires and the reader deals with the jobs
                # it had in flight, this one included, and replaces it.
                kill(self.process)
                return
            if sent == sum(map(len, buffers)):
                return
            self.backlog = collections.deque([b"".join(buffers)[sent:]])
            self.spill_thread = threading.Thread(
                target=self._spill, daemon=True, name=f"{self.name}-spill-{self.index}")
            self.spill_thread.start()

    def _spill(self) -> None:
        """Write the backlog (blocking); the only writer while it exists."""
        while True:
            with self.send_lock:
                chunk = self.backlog[0] if self.backlog else None
                if chunk is None:
                    self.backlog = None
                    if self.close_after_spill:
                        self.sock.close()
                    return
            try:
                self.sock.sendall(chunk)
            except OSError:  # as in write: the reader deals with its jobs
                kill(self.process)
                with self.send_lock:
                    self.backlog.clear()
                continue
            with self.send_lock:
                self.backlog.popleft()

    def release(self) -> None:
        """Close the parent's end of the pipe, once the backlog is written."""
        with self.send_lock:
            if self.backlog is None:
                self.sock.close()
            else:
                self.close_after_spill = True


def start_worker(context: Any, pool_name: str, index: int,
                 initializer: Callable[..., Any] | None, initargs: tuple,
                 spin: float) -> PoolWorker:
    """Start worker process ``index`` of pool ``pool_name`` (what
    ``Process.start`` raises propagates: ``OSError`` when the OS refuses);
    ``spin``: see ``engine.procchild.SPIN``."""
    slot = context.RawArray("Q", 2)
    parent_sock, child_sock = socket.socketpair()
    child_conn = multiprocessing.connection.Connection(child_sock.detach())
    process = context.Process(
        target=worker_main, args=(child_conn, initializer, initargs, slot, spin),
        name=f"{pool_name}-worker-{index}", daemon=True)
    try:
        process.start()
    except BaseException:
        parent_sock.close()
        raise
    finally:
        child_conn.close()
    return PoolWorker(index, pool_name, process, parent_sock, slot)


def kill(process: Any) -> None:
    """SIGKILL ``process`` unless it was already reaped."""
    try:
        process.kill()
    except OSError:
        pass
