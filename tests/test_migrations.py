"""The Alembic migrations, against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import StorageError
from bot.ports import AskedQuestion
from bot.storage.engine import create_engine
from bot.storage.migrate import (
    ADVISORY_LOCK_KEY,
    alembic_config,
    current_revision,
    downgrade,
    migrations_dir,
    upgrade,
)
from bot.storage.models import Base
from bot.storage.store import SqlStore

REPO = Path(__file__).resolve().parent.parent


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def table_names(sync: Connection) -> set[str]:
    return set(inspect(sync).get_table_names())


def schema_diff(sync: Connection) -> list[Any]:
    context = MigrationContext.configure(sync, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def version_rows(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


def question() -> AskedQuestion:
    return AskedQuestion(
        uid=uuid.uuid4().hex,
        asked_at=datetime(2025, 1, 1, tzinfo=UTC),
        platform="console",
        text="who owns x?",
        key="who owns x",
        intent="owner",
        entity=None,
        confidence=0.5,
        answered=False,
    )


def test_migrations_are_found_in_the_repository() -> None:
    """Without an installed `_migrations` copy, the repository's migrations are used."""
    assert migrations_dir() == REPO / "migrations"
    assert head() == "0008"


def test_migrations_form_one_line() -> None:
    """The migration history has a single head and a single base."""
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


async def test_upgrade_creates_the_schema_at_head(engine: AsyncEngine) -> None:
    """Upgrading an empty database creates the tables and records the head revision."""
    assert await current_revision(engine) is None
    await upgrade(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(table_names) == {
            "alembic_version",
            "questions",
            "votes",
            "event_claims",
            "slack_bots",
            "slack_installations",
            "slack_oauth_states",
            "checkin_schedules",
            "checkin_rounds",
            "checkin_nudges",
            "checkin_answers",
            "audit_log",
            "chat_addresses",
            "attest_items",
            "gap_digests",
            "gap_digest_items",
            "gap_digest_posts",
            "gap_suggestions",
            "pace_buckets",
        }
    assert await current_revision(engine) == head()


async def test_upgrade_twice_changes_nothing(engine: AsyncEngine) -> None:
    """A second upgrade to head is a no-op that keeps the data."""
    await upgrade(engine)
    qid = await SqlStore(engine).record_question(question())
    await upgrade(engine)
    assert await version_rows(engine) == [head()]
    gaps = await SqlStore(engine).gaps()
    assert [(g.key, g.count) for g in gaps] == [("who owns x", 1)]
    assert await SqlStore(engine).record_question(question()) > qid


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    """After upgrading, the database schema equals the models: autogenerate finds nothing."""
    await upgrade(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(schema_diff) == []


async def test_downgrade_to_base_and_upgrade_again(engine: AsyncEngine) -> None:
    """Downgrading to base removes the schema, and upgrading again restores it."""
    await upgrade(engine)
    await downgrade(engine, "base")
    async with engine.connect() as conn:
        assert await conn.run_sync(table_names) == {"alembic_version"}
    assert await current_revision(engine) is None
    await upgrade(engine)
    assert await current_revision(engine) == head()
    assert await SqlStore(engine).record_question(question()) > 0


async def test_upgrade_to_an_unknown_revision_raises_storage_error(engine: AsyncEngine) -> None:
    """Upgrading to a revision that does not exist gives StorageError naming it."""
    with pytest.raises(StorageError, match="nosuchrev"):
        await upgrade(engine, "nosuchrev")


async def test_upgrade_of_an_unreachable_database_raises_storage_error() -> None:
    """Upgrading an unreachable database gives StorageError without the password."""
    engine = create_engine("postgresql+asyncpg://opsbot:s3cret-pw@127.0.0.1:1/opsbot")
    try:
        with pytest.raises(StorageError) as caught:
            await upgrade(engine)
        assert "s3cret-pw" not in str(caught.value)
    finally:
        await engine.dispose()


async def test_upgrade_leaves_logging_alone(engine: AsyncEngine) -> None:
    """Upgrading from the application does not reconfigure logging."""
    root = logging.getLogger()
    before = (root.level, list(root.handlers), logging.getLogger("alembic").level)
    await upgrade(engine)
    assert (root.level, list(root.handlers), logging.getLogger("alembic").level) == before


async def test_concurrent_upgrades_migrate_once(postgres_url: str) -> None:
    """Replicas upgrading one PostgreSQL database at once all succeed, and it migrates once."""
    engines = [create_engine(postgres_url) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        assert await version_rows(engines[0]) == [head()]
        async with engines[0].connect() as conn:
            assert await conn.run_sync(schema_diff) == []
            held = await conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": ADVISORY_LOCK_KEY},
            )
            assert held.scalar_one() == 0
    finally:
        for engine in engines:
            await engine.dispose()


def test_alembic_command_line_upgrades_the_configured_database(tmp_path: Path) -> None:
    """`alembic upgrade head` from the repository migrates OPSBOT_DATABASE_URL."""
    database = tmp_path / "cli" / "opsbot.sqlite"
    env = {**os.environ, "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Running upgrade  -> 0001" in done.stderr
    assert database.is_file()
