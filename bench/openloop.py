"""An open-loop load generator: requests started on a fixed schedule, whatever the server's
answers take, so a slow server shows as latency, not as a slower offered rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def open_loop(
    count: int, rate: float, one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Start `one(i)` at i / `rate` seconds for i < `count`, and wait for them all.

    Returns the seconds it took to start them all, and how late each started (ms)."""
    lags: list[float] = []
    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append((time.perf_counter() - due) * 1000)
        tasks.append(asyncio.create_task(one(i)))
    starting = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return starting, lags
