"""Module-level targets for the mp tests: they run in child processes.

The engine's start method is ``forkserver`` (or ``spawn``): a child imports
this module by name, so it must stay importable from ``tests/engine`` (pytest
puts that folder on ``sys.path`` and children inherit the parent's path).

Gates across processes are files: a gated target waits for its gate file to
exist (``open_gate`` creates it), and can leave a marker file saying it
started. Targets give up after ``GATE_TIMEOUT`` so a broken test never leaves
a worker process busy for long.
"""

from __future__ import annotations

import os
import time
from typing import Any

GATE_TIMEOUT = 30.0
_POLL = 0.005


def square(x: int, _task_id: Any = None) -> int:
    return x * x


def add(a: int, b: int = 0, _task_id: Any = None) -> int:
    return a + b


def task_id_and_pid(_task_id: Any = None) -> tuple[Any, int]:
    """What the child was given as ``_task_id``, and the child's pid."""
    return _task_id, os.getpid()


def fail(message: str, _task_id: Any = None) -> None:
    raise ValueError(message)


class NeedsTwoArgs(Exception):
    """An exception whose class cannot be rebuilt by unpickling (CPython #103061)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"code {code}: {detail}")
        self.code = code


def fail_unpicklable(code: int, _task_id: Any = None) -> None:
    raise NeedsTwoArgs(code, "odd exception")


def open_gate(path: str) -> None:
    """Create ``path`` atomically (the gate is open once it exists)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("open")
    os.replace(tmp, path)


def wait_for_path(path: str, timeout: float = GATE_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def gated(gate: str, result: Any = None, marker: str | None = None,
          _task_id: Any = None) -> Any:
    """Leave ``marker`` (with this pid), wait until ``gate`` exists, return ``result``."""
    if marker is not None:
        write_text(marker, str(os.getpid()))
    if not wait_for_path(gate):
        raise TimeoutError(f"gate {gate} never opened")
    return result


def write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def pid_then_sleep(pid_file: str, seconds: float = GATE_TIMEOUT, _task_id: Any = None) -> str:
    """Write this process's pid to ``pid_file``, then sleep (the test kills us)."""
    write_text(pid_file, str(os.getpid()))
    time.sleep(seconds)
    return "survived"


def static_run_double(x: int, _name: str | None = None, _task_id: Any = None) -> tuple:
    return _name, x * 2, os.getpid()


from engine import TT_MP, background_task  # noqa: E402


@background_task(tt=TT_MP)
def decorated_cube(x, _task_id=None):
    """Decorated in place: the module attribute is the wrapper."""
    return x ** 3


# -- for test_procpool --------------------------------------------------------------

def unpicklable_result(_task_id: Any = None) -> Any:
    """Return something that cannot be pickled (a lock)."""
    import threading

    return threading.Lock()


def nbytes(data: bytes, _task_id: Any = None) -> int:
    return len(data)


def make_bytes(n: int, _task_id: Any = None) -> bytes:
    return b"r" * n


def exit_now(code: int, _task_id: Any = None) -> None:
    """End this worker process at once, as a crash would."""
    os._exit(code)


_INIT_VALUE: Any = None


def init_value(value: Any) -> None:
    """A pool initializer: remember ``value`` in this worker process."""
    global _INIT_VALUE
    _INIT_VALUE = value


def get_init_value(_task_id: Any = None) -> Any:
    return _INIT_VALUE


def init_fail(message: str) -> None:
    raise RuntimeError(message)


# -- for test_mp_containment: user values that break things ------------------------

def raise_base(kind: str, _task_id: Any = None) -> None:
    """Raise ``SystemExit`` or ``KeyboardInterrupt`` inside the worker process."""
    raise {"SystemExit": SystemExit(7), "KeyboardInterrupt": KeyboardInterrupt()}[kind]


class ExitOnPickle:
    """Pickling it raises ``SystemExit`` (its ``__reduce__`` is user code)."""

    def __reduce__(self):
        raise SystemExit("no pickling for me")


def exit_on_pickle_result(_task_id: Any = None) -> ExitOnPickle:
    return ExitOnPickle()


class ExitOnPickleError(Exception):
    def __reduce__(self):
        raise SystemExit("no pickling for this exception")


def fail_exit_on_pickle(_task_id: Any = None) -> None:
    raise ExitOnPickleError("unsendable")


def _explode() -> None:
    raise SystemExit("unpickled in the parent")


class ExitOnUnpickle:
    """Pickles fine; rebuilding it (in the parent) raises ``SystemExit``."""

    def __reduce__(self):
        return _explode, ()


def exit_on_unpickle_result(_task_id: Any = None) -> ExitOnUnpickle:
    return ExitOnUnpickle()


def pid(_task_id: Any = None) -> int:
    return os.getpid()


def exit_in_init(path: str, code: int) -> None:
    """A pool initializer: note this process's start in ``path``, then die."""
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    os._exit(code)


def count_start(path: str) -> None:
    """A pool initializer: note this process's start in ``path``."""
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")


def system_exit_in_init(path: str) -> None:
    count_start(path)
    raise SystemExit(4)


def note_and_sleep(path: str, seconds: float, _task_id: Any = None) -> int:
    """Note ``task id pid`` in ``path`` (one line, appended atomically), sleep."""
    with open(path, "a") as f:
        f.write(f"{_task_id} {os.getpid()}\n")
    time.sleep(seconds)
    return os.getpid()
