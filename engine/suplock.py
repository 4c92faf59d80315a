"""The supervisor's lock: a mutex whose release also serves the pool's
worker threads that found it taken.

Why not a plain ``threading.Lock``: under the GIL, a thread blocked in
``acquire`` is handed the lock by the kernel on ``release`` but cannot run
until it also gets the GIL, which the releasing thread keeps. The releasing
thread then blocks on the lock itself at its next acquisition, hands the GIL
over, and the pool has become a convoy: from the first contended acquisition
on, every acquisition costs a GIL hand-off and a context switch (1.0-1.6
per task, measured, where ``ThreadPoolExecutor`` makes 0.01-0.5), and it
stays that way while the pool is busy. The lock is held about 40 % of the
time under a flood of small tasks, so a preempted holder is common.

So a pool worker that finishes a task while the lock is taken does not
block on it: it leaves its finish as a *request* (``pending``, a deque:
append and popleft are atomic) and waits on its own wake lock. Whoever
releases the lock first serves every pending request (``serve``: finish the
task, give the worker its next one) and releases only when none is left;
the hand-offs that decided (waking those workers) run after the release
(``carry_out``). A request appended just as the holder released is not
lost: its worker tries the lock once more after appending, and the holder
looks only after releasing (and serves if it can take the lock back; if
another thread took it, that one looks in turn on its own release). Every release of this
lock goes through ``release``: nothing else releases the inner lock.

The main thread never serves: Ctrl+C is raised in the main thread, and
must not land in the middle of another thread's finish. Its release only
puts ``SERVE`` in the inbox of the oldest requesting worker, which then
takes the lock and serves. That worker is not claimed (it stays in
``pending``, so an interruption there loses nothing): if another thread
serves it first, the ``SERVE`` it finds later is a no-op. A worker has at
most one ``SERVE`` on its way (``serve_sent``, set by the main thread,
cleared by the worker as it takes it): a requesting worker whose flag is
set is about to take it, so the main thread sends no other.

Threads: any thread may acquire and release it, as a ``threading.Lock``
(``with``, ``acquire(blocking, timeout)``, ``release``, ``locked``);
``pending`` is appended to by the pool's worker threads only; ``serve`` and
``carry_out`` are set once, by the thread pool, before any worker runs.
A request is an object with an ``inbox`` (``queue.SimpleQueue``) and a
``serve_sent`` flag.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

_main_thread_id = threading.main_thread().ident
#: Put in a requesting worker's inbox by the main thread: take the lock and serve.
SERVE = object()


class SupervisorLock:
    """A mutex like ``threading.Lock``; see the module docstring."""

    __slots__ = ("acquire", "locked", "_release", "pending", "serve", "carry_out")

    def __init__(self) -> None:
        lock = threading.Lock()
        #: ``acquire(blocking=True, timeout=-1)``: the inner lock's own (C, no
        #: extra frame: the pool's hot path calls it directly).
        self.acquire = lock.acquire
        self.locked = lock.locked
        self._release = lock.release
        #: Requests of workers that found the lock taken; served under it.
        self.pending: deque[Any] = deque()
        #: ``serve(request, actions)``, called with the lock held: carry out one
        #: request, appending hand-offs to ``actions``.
        self.serve: Callable[[Any, list], None] | None = None
        #: ``carry_out(actions)``, called unlocked after a release that served.
        self.carry_out: Callable[[list], None] | None = None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Release the lock, then serve the pending requests (taking it back
        if it is free). Looking only after the release is what makes a request
        safe: one left before it is seen here, one left after it finds the
        lock free itself (or taken by a thread that will look in turn)."""
        self._release()
        pending = self.pending
        if not pending:  # the common case: nobody asked
            return
        if threading.get_ident() == _main_thread_id:
            try:
                worker = pending[0]
            except IndexError:  # served by another thread meanwhile
                return
            if not worker.serve_sent:
                worker.serve_sent = True
                worker.inbox.put(SERVE)
            return
        actions: list = []
        serve = self.serve
        try:
            while pending and self.acquire(False):
                try:
                    while pending:
                        serve(pending.popleft(), actions)
                finally:
                    self._release()
        finally:
            if actions:
                self.carry_out(actions)

    def __repr__(self) -> str:
        return (f"<SupervisorLock {'locked' if self.locked() else 'unlocked'}, "
                f"{len(self.pending)} pending>")
