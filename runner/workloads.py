"""Importable task functions shared by scenarios and task scripts.

Process-pool (``TT_MP``) targets must be importable by the child processes,
which a scenario file loaded from a path is not; these are. Every function
accepts and ignores extra keyword arguments (``_task_id`` and the like).

Threads: plain functions with no shared state; any thread or process.
"""

from __future__ import annotations

import time


class WorkloadFailure(Exception):
    """The deliberate failure of ``fail`` and ``work(fail=True)``."""


def work(seconds: float, fail: bool = False, **_: object) -> float:
    """Sleep ``seconds`` (an I/O-bound task), then return it or fail."""
    time.sleep(seconds)
    if fail:
        raise WorkloadFailure(f"failed on purpose after {seconds:.3f} s")
    return seconds


def burn(n: int, **_: object) -> int:
    """CPU-bound: a sum of squares over ``range(n)``."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def burn_for(seconds: float, **_: object) -> int:
    """CPU-bound for about ``seconds``; returns the iterations done."""
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        burn(2000)
        count += 1
    return count


def fail(message: str = "failed on purpose", **_: object) -> None:
    raise WorkloadFailure(message)
