"""Module-level static executors for the worker edge tests: they run in mp
children, which import this module by name (``tests/engine`` is on their path)."""

from __future__ import annotations

from typing import Any


def exit_on_odd(x: int, _name: str | None = None, _task_id: Any = None) -> int:
    """``SystemExit`` for an odd ``x`` (in the child), else ``x``."""
    if x % 2:
        raise SystemExit(f"child exit {x}")
    return x
