"""Await asyncio.sleep: a coroutine task that waits without holding a thread.

Runs only as a coroutine task on an aloop.
"""

import asyncio

PARAMS = {"seconds": 0.5}


async def run(seconds):
    await asyncio.sleep(seconds)
    return seconds
