"""Targets of the "why is it stuck" tests, engine and console alike: a thread
task blocked in a known function, a coroutine awaiting a known chain. Their
frames are what the tests look for in a live stack."""

from __future__ import annotations

import asyncio
import threading

#: Bound of a blocked target's wait (the tests set the gate at teardown).
BOUND = 15.0


def blocked_in_a_known_function(gate: threading.Event) -> str:
    gate.wait(BOUND)
    return "done"


async def awaited_inner(gate: asyncio.Event) -> None:
    await gate.wait()


async def awaiting_outer(gate: asyncio.Event) -> str:
    await awaited_inner(gate)
    return "done"
