"""The tick: APScheduler 3 (in-memory, UTC) calling the check-in service periodically.

Schedules and rounds are our own database rows; APScheduler only drives the tick, and
each replica runs its own (its job store is never shared).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = structlog.get_logger(__name__)

STOP_SECONDS = 10.0


@asynccontextmanager
async def ticking(
    tick: Callable[[], Awaitable[object]], *, seconds: float
) -> AsyncIterator[AsyncIOScheduler]:
    """Run `tick` now and every `seconds` until the context ends; failures are logged.

    The job only starts the tick as a task of ours and returns, so APScheduler never
    holds (or, at shutdown, cancels) a tick under way; a tick still running when the
    next one is due is left to finish and that beat is skipped.
    """
    running: set[asyncio.Task[None]] = set()

    async def guarded() -> None:
        try:
            await tick()
        except Exception as exc:  # the one catch-all of the scheduled path
            log.exception("tick_failed", error=repr(exc))

    async def beat() -> None:
        if running:
            log.debug("tick_skipped", reason="the last tick is still running")
            return
        task = asyncio.get_running_loop().create_task(guarded())
        running.add(task)
        task.add_done_callback(running.discard)

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        beat,
        "interval",
        seconds=seconds,
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(seconds * 2) + 1,
    )
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
        # A tick under way finishes before what it uses (the database) is closed.
        if running:
            _, late = await asyncio.wait(set(running), timeout=STOP_SECONDS)
            for task in late:
                task.cancel()
