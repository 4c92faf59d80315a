"""Helpers for GUI tests (importable as ``guikit``: tests/ has no packages)."""

from __future__ import annotations

import asyncio


def run(loop: asyncio.AbstractEventLoop, awaitable, timeout: float = 10.0):
    """Drive ``awaitable`` on the qasync loop until done (or fail after ``timeout``)."""
    return loop.run_until_complete(asyncio.wait_for(awaitable, timeout))


async def until(predicate, timeout: float = 5.0, interval: float = 0.01) -> None:
    """Inside a coroutine: wait until ``predicate()`` is true (``qtbot`` waits
    would re-enter the loop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
