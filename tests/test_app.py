"""The composition root: a running bot picks up edited knowledge and survives bad edits."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import open_bot
from bot.config import load_settings
from bot.model import Ref
from tests.fakes import FakeClock, RecordingMessenger

MINI = Path(__file__).parent / "data" / "mini"

AREA = """
---
apiVersion: opsbot/v1
kind: Area
metadata: {name: vector-db, title: Vector database}
spec: {owner: team:ml-platform}
"""


def touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


async def test_knowledge_edits_are_picked_up_and_bad_ones_refused(tmp_path: Path) -> None:
    """An edit to the knowledge is answered from; in strict mode a broken edit keeps the
    last good one."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(MINI, knowledge)
    settings = load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(knowledge),
            "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            "OPSBOT_KNOWLEDGE_STRICT": "true",
        }
    )
    async with open_bot(settings) as bot:
        assert bot.reload_if_changed() is False  # nothing changed
        assert bot.answers.answer("who owns the vector database").intent == "unknown"
        org = knowledge / "org.yaml"
        org.write_text(org.read_text() + AREA)
        touch_later(org)
        assert bot.reload_if_changed() is True
        assert str(bot.answers.answer("who owns the vector database").entity) == "area:vector-db"
        (knowledge / "broken.yaml").write_text("kind: [\n")
        assert bot.reload_if_changed() is False
        assert str(bot.answers.answer("who owns the vector database").entity) == "area:vector-db"
        assert bot.left_out == ()


async def test_a_reload_with_errors_serves_the_new_valid_part(tmp_path: Path) -> None:
    """Without strict mode a reload with a broken entity serves the rest of the new
    knowledge and names what it left out; a fixed file brings the entity back."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(MINI, knowledge)
    settings = load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(knowledge),
            "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        }
    )
    async with open_bot(settings) as bot:
        extra = knowledge / "extra.yaml"
        extra.write_text(AREA + AREA.replace("vector-db", "ghost-db").replace("ml-", "no-"))
        assert bot.reload_if_changed() is True
        assert str(bot.answers.answer("who owns the vector database").entity) == "area:vector-db"
        assert bot.answers.knowledge.get(Ref(kind="area", name="ghost-db")) is None
        assert [(i.where, i.problem) for i in bot.left_out] == [
            ("extra.yaml:12", "Area 'ghost-db': spec.owner: team:no-platform does not exist")
        ]
        assert bot.knowledge_status()["entities"] == 8
        extra.write_text(AREA)
        touch_later(extra)
        assert bot.reload_if_changed() is True
        assert bot.left_out == ()


async def test_the_tick_forgets_old_event_claims_once_an_hour(tmp_path: Path) -> None:
    """Claims older than a day are dropped by the tick; newer ones still stop a redelivery."""
    settings = load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(MINI),
            "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        }
    )
    clock = FakeClock(datetime(2026, 11, 29, 12, tzinfo=UTC))
    async with open_bot(settings, clock=clock) as bot:
        tick = bot.tick_with(bot.enable_checkins(RecordingMessenger()))
        assert await bot.store.claim("Ev-old", clock.now() - timedelta(days=2))
        assert await bot.store.claim("Ev-new", clock.now() - timedelta(hours=1))
        await tick()
        assert await bot.store.claim("Ev-old", clock.now()) is True  # forgotten
        assert await bot.store.claim("Ev-new", clock.now()) is False  # kept
        clock.current += timedelta(minutes=30)
        assert await bot.store.claim("Ev-stale", clock.now() - timedelta(days=2))
        await tick()
        assert await bot.store.claim("Ev-stale", clock.now()) is False  # not pruned again yet
        clock.current += timedelta(hours=1)
        await tick()
        assert await bot.store.claim("Ev-stale", clock.now()) is True
