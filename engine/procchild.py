"""What crosses the process boundary of the engine's process pools.

The start method (``forkserver`` where available, never ``fork``), the
errors a parent sees (``WorkerDiedError``, ``PoolBrokenError``,
``WorkerStartError``, ``RemoteTaskError``), the job and result encoding
(``pickle_job``, ``decode_result``, ``child_job`` for the standard
backends), the wire format of ``ProcessPool``'s pipes (``frame``,
``split_frames``, ``LENGTH`` ... ``READY_MESSAGE``), the bootstrap checks of
an unguarded main module and why a worker died while starting
(``start_failure``), the forkserver preload (``preload_engine``), and
``worker_main``, the loop a ``ProcessPool`` worker process runs.

Wire format (compatible with ``multiprocessing.connection.Connection``
framing, which the child uses): a job is ``job id (8 bytes) + pickle((fn,
args, kwargs))``, a result is ``job id (8 bytes) + pickle((ok, value))``, an
empty message tells the worker to exit. The id comes first so a job or a
result that cannot be unpickled still fails the right job. Job id 0
(``STATUS_ID``: job ids start at 1) is a worker's word about itself:
``BOOTED_MESSAGE`` once the engine's code runs in it (only when there is an
initializer to run next: booting is what ``ProcessPool`` throttles, not the
initializer), then ``READY_MESSAGE`` once it is ready for jobs: the pool
gives jobs only to workers that said so. Plain ``pickle`` (not
multiprocessing's ``ForkingPickler``, three times slower to set up):
connections and sockets cannot be passed as arguments.

What a child's user values can break is contained there: ``_run_job``
returns the pickled ``(ok, value)`` and never raises -- a target raising
anything (``SystemExit`` and ``KeyboardInterrupt`` included), an exception
whose class cannot be unpickled (CPython #103061) or whose ``__reduce__``
raises, a result that cannot be pickled: each arrives as that job's failure
(a ``RemoteTaskError`` carrying the text and traceback where the exception
itself cannot travel) and the worker keeps serving. ``multiprocessing.Pool``
and executor backends (``mp.py``) send the same job through ``child_job``
(bytes in, bytes out), so they get the same containment.

Boot cost: a ``forkserver`` child unpickles ``worker_main`` and so imports
the ``engine`` package (110 ms of CPU: 30 workers kept both cores of a
2-core machine busy for two seconds). ``mp_context`` (and ``ProcessPool``
for a forkserver context of the caller's) asks the forkserver to preload
this module (``preload_engine``), so it is imported once in the server and
every child forks with it: a worker is ready in a few ms (30 in 0.2 s, two
booting at a time). It adds to the forkserver's preload list (it keeps the
caller's), takes effect when the forkserver starts (unless it already
runs), and so also serves the caller's own forkserver pools. What it cannot
spare: each child still re-runs the parent's main module (CPython 3.11's
forkserver does not preload it, whatever its preload list says), so a main
module with heavy imports costs every worker their import time.

Threads: the functions are pure and may be called from any thread of the
parent; ``worker_main``, ``child_call``, ``child_job`` and ``_run_job`` run
in the worker processes, where nothing they call raises out of them.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import pickle
import select
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from .usercode import is_main_interrupt, safe_repr

SUPPORTED = os.name == "posix"

START_METHOD = ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                else "spawn")

#: Consecutive start failures (no job completing in between) that break a pool.
MAX_START_FAILURES = 5
#: Restart delay after the first start failure at an index; doubled for each
#: further one there, capped at ``RESTART_BACKOFF_MAX``.
RESTART_BACKOFF = 0.05
RESTART_BACKOFF_MAX = 2.0
#: Exit code of a worker whose re-run main module tried to create a pool.
EXIT_UNGUARDED_MAIN = 78

GUARD_ADVICE = ('an mp script\'s main module must be guarded with '
                '`if __name__ == "__main__":` (the engine starts worker processes with the '
                f'{START_METHOD!r} start method, which re-runs the main module in each)')


def mp_context() -> multiprocessing.context.BaseContext:
    """The engine's context (``START_METHOD``), its forkserver preloading the engine."""
    context = multiprocessing.get_context(START_METHOD)
    preload_engine(context)
    return context


def preload_engine(context: multiprocessing.context.BaseContext) -> None:
    """Have ``context``'s forkserver (if it uses one and once it starts)
    import this module before forking workers, in addition to what it
    preloads already (see the module docstring: boot cost)."""
    if context.get_start_method() != "forkserver":
        return
    import multiprocessing.forkserver as forkserver

    server = getattr(forkserver, "_forkserver", None)
    preload = list(getattr(server, "_preload_modules", None) or ["__main__"])
    if __name__ not in preload:
        context.set_forkserver_preload([*preload, __name__])


class WorkerDiedError(RuntimeError):
    """The process running a task died (killed, crashed) before it finished."""


class PoolBrokenError(RuntimeError):
    """The pool's worker processes keep dying while starting (or cannot be
    started): it runs nothing any more. The message says why."""


class WorkerStartError(RuntimeError):
    """A worker process could not be started (the OS refused: ``__cause__``).

    No longer raised by ``ProcessPool``, whose processes start in the
    background: a pool none of whose processes can be started breaks
    (``PoolBrokenError``, naming the ``OSError``). Kept so code that catches
    it still imports."""


class RemoteTaskError(Exception):
    """A child's exception that could not be sent back as itself: its text,
    and the child's formatted traceback in ``remote_traceback``."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message, remote_traceback)
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        return self.args[0]


def error_text(exc: BaseException) -> str:
    """``Type: message`` for ``exc``, whatever its ``__str__`` does."""
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a user __str__ is user code
        message = "<str() raised>"
    return f"{type(exc).__qualname__}: {message}" if message else type(exc).__qualname__


def format_exc() -> str:
    try:
        return traceback.format_exc()
    except BaseException:  # noqa: BLE001 - a broken exception must not escape
        return ""


def child_call(target: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """Runs in the child process: the target's result or exception, never a raise.

    An exception that does not survive a pickle round trip (or whose pickling
    raises anything, ``SystemExit`` included) is replaced by a
    ``RemoteTaskError`` with its text and traceback.
    """
    try:
        return True, target(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - sent back as data
        text = format_exc()
        try:
            exc.add_note(f"remote traceback:\n{text}")
            pickle.loads(pickle.dumps(exc))
            return False, exc
        except BaseException:  # noqa: BLE001 - e.g. __reduce__ raising SystemExit
            return False, RemoteTaskError(error_text(exc), text)


def child_job(body: bytes) -> bytes:
    """A whole job for another backend (``multiprocessing.Pool``, an
    executor): ``pickle((fn, args, kwargs))`` in, ``pickle((ok, value))`` out.

    Bytes both ways, so that neither the backend's own pickling of the job
    nor of the result can fail (or raise ``SystemExit``) in its threads."""
    return _run_job(body, None)


def pickle_job(fn: Any, args: tuple, kwargs: dict,
               dumps: Callable[..., Any] = pickle.dumps) -> bytes:
    """``dumps((fn, args, kwargs))``. What a ``__reduce__`` raises propagates
    (an ``Exception`` as itself, so the usual "cannot pickle" errors read as
    usual), except that a ``SystemExit`` or the like becomes a
    ``pickle.PicklingError`` naming it; Ctrl+C on the main thread passes."""
    try:
        return dumps((fn, args, kwargs), _PROTOCOL)
    except Exception:
        raise
    except BaseException as exc:  # noqa: BLE001 - user __reduce__ code
        if is_main_interrupt(exc):
            raise
        raise pickle.PicklingError(f"the job {job_name(fn)} cannot be pickled: pickling its "
                                   f"arguments raised {error_text(exc)}") from exc


def decode_result(body: bytes, fn: Any) -> tuple[bool, Any]:
    """``(ok, value)`` from a result ``body``; never raises."""
    try:
        ok, value = _loads(body)
        return bool(ok), value
    except BaseException as exc:  # noqa: BLE001 - user __setstate__/__reduce__ code
        return False, RemoteTaskError(
            f"the result of {job_name(fn)} could not be unpickled ({error_text(exc)})",
            format_exc())


Callback = Callable[[bool, Any], Any]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_dumps = pickle.dumps
_loads = pickle.loads
# Connection framing: "!i" length, or -1 then a "!Q" length for > 2 GiB.
LENGTH = struct.Struct("!i")
BIG_LENGTH = struct.Struct("!Q")
JOB_ID = struct.Struct("!Q")
JOB_HEADER = struct.Struct("!iQ")      # length, job id
BIG_JOB_HEADER = struct.Struct("!iQQ")  # -1, length, job id
MAX_SMALL = 0x7FFFFFFF
EXIT_MESSAGE = LENGTH.pack(0)  # an empty message: the worker exits
STATUS_ID = 0  # the job id of a worker's messages about itself
# As the child sends them (Connection frames them); the parent reads the body.
BOOTED_MESSAGE = JOB_ID.pack(STATUS_ID) + b"b"  # the engine's code runs: initializer next
READY_MESSAGE = JOB_ID.pack(STATUS_ID) + b"r"   # ready for jobs
BOOTED, READY = b"b", b"r"
READ_SIZE = 1 << 18
DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)

# A worker's shared-memory slot: [stage, id of the job it is running].
SLOT_STAGE, SLOT_RUNNING = 0, 1
STAGE_NEW = 0     # the engine's worker code has not run yet (multiprocessing prepares it)
STAGE_INIT = 1    # running the pool's initializer
STAGE_READY = 2   # serving jobs


def bootstrapping() -> bool:
    """True in a child process that ``multiprocessing`` is still preparing
    (re-running the parent's main module in it)."""
    return bool(getattr(multiprocessing.process.current_process(), "_inheriting", False))


def exit_if_bootstrapping(what: str) -> None:
    """Called before creating a process pool: in a worker still being
    prepared, the main module was not guarded; say so and exit at once with
    ``EXIT_UNGUARDED_MAIN`` (``multiprocessing`` would refuse to start the
    pool's processes anyway), so the parent can tell."""
    if not bootstrapping():
        return
    try:
        sys.stderr.write(
            f"engine: {what} was created while this worker process ({os.getpid()}) was "
            f"re-running its parent's main module at import: {GUARD_ADVICE}\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_UNGUARDED_MAIN)


def reimported_main() -> str | None:
    """The parent's main module as ``multiprocessing`` re-runs it in every
    spawn/forkserver worker (a script path or a ``-m`` module name), or
    ``None`` if workers do not re-run it (``-c``, interactive, ``-m pkg``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if name:
        return None if name == "__main__" or name.endswith(".__main__") else name
    path = getattr(main, "__file__", None)
    if not path or os.path.splitext(os.path.basename(path))[0] == "ipython":
        return None
    return os.path.normpath(path)


def start_failure(pid: int, stage: int, code: int | None, initializer: Any,
                  main: str | None) -> str:
    """Why worker process ``pid``, which never became ready, ended: how far
    it got (``stage``), its exit ``code``, and the advice for an unguarded
    main module (``main``: what ``reimported_main`` found, or ``None``)."""
    died = f"worker process {pid} exited with code {code} while starting"
    if stage == STAGE_INIT:
        return f"{died}, in the pool's initializer {safe_repr(initializer)}"
    if code == EXIT_UNGUARDED_MAIN and main is not None:
        return (f"{died}: the parent's main module {main!r}, re-run in the worker "
                f"by multiprocessing, tried to create a process pool at import; "
                f"{GUARD_ADVICE}")
    if main is not None and (code is None or code > 0):
        return (f"{died}, before the engine's worker code ran: multiprocessing re-runs "
                f"the parent's main module {main!r} in each worker and it failed "
                f"(or exited) there; {GUARD_ADVICE}")
    return (f"{died}, before the engine's worker code ran (while multiprocessing "
            f"prepared it)")


# -- the child ---------------------------------------------------------------------

#: Seconds a worker keeps looking for its next job after sending a result,
#: before it blocks (``ProcessPool(spin=...)``). A worker that blocks is
#: woken by the kernel when the job comes, which on a virtual machine costs
#: tens of microseconds on both sides -- more than a tiny task's own work, and
#: paid on every task when the admission window keeps one job per worker in
#: flight. Looking again (one ``poll`` call, then ``sched_yield`` so that any
#: other runnable thread on that core goes first) for this short while
#: catches the next job of a busy pool without a wake-up; an idle worker
#: blocks after it.
SPIN = 100e-6
#: The longest ``spin`` a pool accepts.
MAX_SPIN = 0.01

def worker_main(conn: multiprocessing.connection.Connection,
                 initializer: Callable[..., Any] | None, initargs: tuple,
                 slot: Any = None, spin: float = SPIN) -> None:
    """A worker process: run jobs from ``conn`` until an empty message or EOF.

    ``slot`` (shared memory, read by the parent after this process dies):
    how far it got in starting, and the id of the job it is running.
    ``spin``: seconds it looks for the next job after a result (``SPIN``).
    """
    # Ctrl+C in a terminal reaches the whole process group: the parent
    # decides what to stop, so a job is never interrupted by it here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    failure = None
    if slot is not None:
        slot[SLOT_STAGE] = STAGE_INIT
    recv, send = conn.recv_bytes, conn.send_bytes
    if initializer is not None:
        try:
            send(BOOTED_MESSAGE)
        except OSError:
            return  # the parent is gone
        try:
            initializer(*initargs)
        except BaseException as exc:  # noqa: BLE001 - every job reports it instead
            failure = RemoteTaskError(f"the process pool's initializer {safe_repr(initializer)} "
                                      f"failed: {error_text(exc)}", format_exc())
    if slot is not None:
        slot[SLOT_STAGE] = STAGE_READY
    try:
        send(READY_MESSAGE)
    except OSError:
        return  # the parent is gone
    poll = select.poll()
    poll.register(conn.fileno(), select.POLLIN)
    clock = time.perf_counter
    yield_cpu = os.sched_yield
    served = False
    while True:
        if served and spin:
            end = clock() + spin
            while not poll.poll(0) and clock() < end:
                yield_cpu()
        try:
            data = recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if not data:
            return
        served = True
        if slot is not None:
            (slot[SLOT_RUNNING],) = JOB_ID.unpack_from(data)
        if failure is not None:
            reply = data[:8] + _dumps((False, failure), _PROTOCOL)
        else:
            reply = data[:8] + _run_job(memoryview(data)[8:], None)
        try:
            send(reply)
        except OSError:
            return  # the parent is gone
        except KeyboardInterrupt:  # a partial frame would desync the pipe: end this worker
            return


def _run_job(body: Any, failure: BaseException | None) -> bytes:
    """The pickled ``(ok, value)`` for one job's pickled ``(fn, args, kwargs)``;
    never raises (whatever the job, its result or its exception do)."""
    fn: Any = None
    try:
        if failure is not None:
            outcome: tuple[bool, Any] = (False, failure)
        else:
            try:
                fn, args, kwargs = _loads(body)
            except BaseException as exc:  # noqa: BLE001
                outcome = (False, RemoteTaskError(
                    f"the job could not be unpickled in the worker process ({error_text(exc)})",
                    format_exc()))
            else:
                outcome = child_call(fn, args, kwargs)
        try:
            return _dumps(outcome, _PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - e.g. an unpicklable result
            ok = outcome[0]
            what = "result" if ok else "exception"
            return _dumps((False, RemoteTaskError(
                f"the {what} of {job_name(fn)} cannot be pickled ({error_text(exc)})",
                format_exc())), _PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - last resort: a plain message always pickles
        return _dumps((False, RemoteTaskError(
            f"job {job_name(fn)} failed in the worker process: {type(exc).__qualname__}")),
            _PROTOCOL)


def job_name(fn: Any) -> str:
    try:
        name = getattr(fn, "__qualname__", None)
    except BaseException:  # noqa: BLE001 - a user __getattr__
        name = None
    return safe_repr(name if isinstance(name, str) else fn)


def frame(job_id: int, body: bytes) -> list[bytes]:
    """The buffers of one message: the header, then ``body``."""
    size = len(body) + 8
    if size <= MAX_SMALL:
        return [JOB_HEADER.pack(size, job_id), body]
    return [BIG_JOB_HEADER.pack(-1, size, job_id), body]


def split_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Take the complete messages off the front of ``buf``: (job id, body)."""
    frames = []
    pos, end = 0, len(buf)
    while end - pos >= 4:
        (size,) = LENGTH.unpack_from(buf, pos)
        start = pos + 4
        if size < 0:
            if end - start < 8:
                break
            (size,) = BIG_LENGTH.unpack_from(buf, start)
            start += 8
        if end - start < size:
            break
        (job_id,) = JOB_ID.unpack_from(buf, start)
        frames.append((job_id, bytes(buf[start + 8:start + size])))
        pos = start + size
    if pos:
        del buf[:pos]
    return frames


__all__ = ["GUARD_ADVICE", "MAX_START_FAILURES", "START_METHOD", "SUPPORTED", "PoolBrokenError",
           "RemoteTaskError", "WorkerDiedError", "WorkerStartError", "child_call", "child_job",
           "decode_result", "error_text", "exit_if_bootstrapping", "frame", "mp_context",
           "pickle_job", "preload_engine", "reimported_main", "split_frames", "start_failure",
           "worker_main"]
