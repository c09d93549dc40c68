"""Ownership attestation at scale: what a tick costs with 10,000 entities.

    python bench/bench_attest.py [--entities 10000] [--answered 0.5] [--after-days 30]

A synthetic knowledge base (bench/generate_kb.py) is loaded; every replica's tick reads
all attestation records and works out who is due for what (`due()`), and the first tick
of a weekday morning claims one nudge per owner with its asks in one transaction. Printed:
the first planning tick (claims), a quiet tick after every owner answered part of their
check (records read back), `opsbot attest status` over everything, and `attest patch`.
SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from generate_kb import write as write_kb

from bot.app import open_bot
from bot.attestation.freshness import ATTEST, OPTIONS, due
from bot.attestation.service import changes
from bot.config import load_settings
from bot.kb.patch import make_patch
from bot.storage.models import CheckinAnswer, CheckinRound
from bot.storage.store import insert_for
from tests.fakes import FakeClock, RecordingMessenger

MONDAY = datetime(2026, 11, 30, 10, tzinfo=UTC)  # 10:00 in UTC, where generated people live


async def run(args: argparse.Namespace, tmp: Path) -> None:
    count = write_kb(tmp / "knowledge", args.entities)
    url = f"sqlite+aiosqlite:///{tmp / 'a.db'}"
    settings = load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(tmp / "knowledge"),
            "OPSBOT_DATABASE_URL": url,
            "OPSBOT_SPOOL_DIR": str(tmp / "spool"),
            "OPSBOT_CACHE_DIR": str(tmp / "cache"),
            # The generated entities were reviewed on 2026-10-01: due after 30 days.
            "OPSBOT_ATTEST_AFTER_DAYS": str(args.after_days),
        }
    )
    clock = FakeClock(MONDAY - timedelta(days=1))
    messenger = RecordingMessenger()
    async with open_bot(settings, clock=clock) as bot:
        bot.enable_checkins(messenger)
        attestation = bot.attestation
        assert attestation is not None
        knowledge = bot.answers.knowledge
        print(f"{count} entities written; {len(knowledge)} loaded; database {url.split(':')[0]}")
        await attestation.tick()  # first seen on Sunday

        started = time.perf_counter()
        owners = due(knowledge, [], MONDAY, timedelta(days=args.after_days))
        asked = sum(len(v) for v in owners.values())
        print(
            f"due(): {len(owners)} owners, {asked} asks in "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
        clock.current = MONDAY
        started = time.perf_counter()
        claimed = await attestation.tick()
        print(f"first tick of Monday 10:00: {claimed} nudges claimed in {_since(started)}")

        rows = await _answer(bot.engine, args.answered)
        print(f"{rows} answers stored (a share {args.answered:g} of the asks)")
        for _ in range(3):
            clock.current += timedelta(seconds=30)
            started = time.perf_counter()
            await attestation.tick()
            print(f"a quiet tick: {_since(started)}")
        started = time.perf_counter()
        status = await attestation.status()
        print(f"status of {len(status)} entities: {_since(started)}")
        started = time.perf_counter()
        found, notes = changes(knowledge, await attestation.records(), MONDAY.date())
        root = settings.knowledge_dir
        files = {
            n: (root / n).read_text(encoding="utf-8") for n in {c.entity.source.file for c in found}
        }
        patch = make_patch(found, files, {n: n for n in files})
        print(
            f"patch: {len(found)} changes, {patch.diff.count(chr(10))} diff lines,"
            f" {len(notes) + len(patch.notes)} notes, in {_since(started)}"
        )


async def _answer(engine: object, share: float) -> int:
    """A share of the asks answered "Yes" (the rest unanswered), written straight in."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.storage.models import AttestItem

    assert isinstance(engine, AsyncEngine)
    rng = random.Random(3)
    async with engine.begin() as conn:
        items = (
            await conn.execute(
                select(AttestItem.round_id, AttestItem.person, AttestItem.question)
                .join(CheckinRound, CheckinRound.id == AttestItem.round_id)
                .where(CheckinRound.checkin == ATTEST)
            )
        ).all()
        rows = [
            {
                "round_id": i.round_id,
                "person": i.person,
                "question": i.question,
                "value": OPTIONS[0],
                "answered_at": MONDAY + timedelta(minutes=5),
            }
            for i in items
            if rng.random() < share
        ]
        for start in range(0, len(rows), 500):
            await conn.execute(insert_for(conn)(CheckinAnswer).values(rows[start : start + 500]))
    return len(rows)


def _since(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--answered", type=float, default=0.5)
    parser.add_argument("--after-days", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
