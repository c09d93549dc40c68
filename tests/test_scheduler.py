"""The tick driver: periodic, never overlapping, and never cut off at shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.scheduler import ticking


async def test_ticks_come_round_again() -> None:
    ticks = 0
    thrice = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 3:
            thrice.set()

    async with ticking(tick, seconds=0.05):
        await asyncio.wait_for(thrice.wait(), timeout=10)  # not a fixed sleep: CI is slow
    assert ticks >= 3


async def test_a_long_tick_is_never_doubled_and_warns_nobody(
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = most = finished = 0
    twice = asyncio.Event()

    async def tick() -> None:
        nonlocal running, most, finished
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.25)
        running -= 1
        finished += 1
        if finished == 2:
            twice.set()

    with caplog.at_level(logging.WARNING):
        async with ticking(tick, seconds=0.05):
            await asyncio.wait_for(twice.wait(), timeout=10)
    assert most == 1
    assert finished >= 2
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler")] == []


async def test_a_tick_under_way_at_shutdown_finishes() -> None:
    started = asyncio.Event()
    done: list[str] = []

    async def tick() -> None:
        started.set()
        try:
            await asyncio.sleep(0.3)
            done.append("finished")
        except asyncio.CancelledError:
            done.append("cancelled")
            raise

    async with ticking(tick, seconds=60):
        await started.wait()
    assert done == ["finished"]


async def test_a_failing_tick_is_logged_and_the_next_one_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls = 0
    again = asyncio.Event()

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")
        again.set()

    async with ticking(tick, seconds=0.05):
        # The next tick runs after the failure (waited for: a loaded CI machine is slow).
        await asyncio.wait_for(again.wait(), timeout=10)
    assert calls >= 2
    assert "tick_failed" in capsys.readouterr().out
