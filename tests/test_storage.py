"""The SQL store, against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import StorageError
from bot.ports import AskedQuestion, QuestionLog
from bot.storage.engine import create_engine
from bot.storage.models import Question
from bot.storage.store import SqlStore
from bot.storage.writer import QuestionWriter
from tests.fakes import asked

SECRET = "s3cret-pw"


async def finish_aiosqlite_workers() -> None:
    # aiosqlite stops the worker thread of a connection that failed to open without
    # waiting for it; let it finish while this test's event loop is still open.
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 5)


@pytest.mark.parametrize("implementation", [SqlStore, QuestionWriter])
def test_implementations_have_the_question_log_parameters(implementation: type) -> None:
    """The SQL store and the batching writer take exactly the QuestionLog port's parameters."""
    for name in ("record_question", "record_vote", "gaps"):
        port = inspect.signature(getattr(QuestionLog, name)).parameters
        assert inspect.signature(getattr(implementation, name)).parameters == port
        assert inspect.iscoroutinefunction(getattr(implementation, name))


async def test_the_writer_batches_and_flushes(store: SqlStore) -> None:
    """Queued questions are written in batches and all of them are there after a flush."""
    async with QuestionWriter(store).running() as writer:
        for i in range(1200):
            await writer.record_question(asked(f"k{i % 7}"))
        gaps = await writer.gaps(limit=10)
    assert sum(g.count for g in gaps) == 1200


async def test_the_writer_rides_out_a_database_outage(store: SqlStore) -> None:
    """A batch that fails is retried, so a brief outage loses no question."""
    writer = QuestionWriter(store)
    real = store.record_questions
    failures = {"left": 2}

    async def flaky(questions: list[AskedQuestion]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise StorageError("database is locked")
        await real(questions)

    store.record_questions = flaky  # type: ignore[method-assign]
    async with writer.running():
        await writer.record_question(asked("during-outage"))
        await writer.flush()
    store.record_questions = real  # type: ignore[method-assign]
    assert [(g.key, g.count) for g in await store.gaps()] == [("during-outage", 1)]


async def test_a_question_uid_is_stored_once(store: SqlStore) -> None:
    """A question recorded again under its uid (a replayed request) keeps one row."""
    first = asked("replayed", uid="a" * 32)
    await store.record_questions([first, first])
    await store.record_questions([first, asked("other")])
    assert sorted((g.key, g.count) for g in await store.gaps()) == [
        ("other", 1),
        ("replayed", 1),
    ]


async def test_record_stores_every_field(store: SqlStore, engine: AsyncEngine) -> None:
    """A recorded question reads back field for field, its time aware and in UTC."""
    question = AskedQuestion(
        uid="q-every-field",
        asked_at=datetime(2025, 10, 26, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
        platform="teams",
        workspace="tenant-1",
        user="29:abc",
        channel="19:xyz@thread.tacv2",
        text="Who owns Billing API?",
        key="who owns billing api",
        intent="owner",
        entity="billing-api",
        confidence=0.875,
        answered=True,
    )
    qid = await store.record_question(question)
    async with engine.connect() as conn:
        row = (await conn.execute(select(Question).where(Question.id == qid))).one()
    assert row.asked_at == datetime(2025, 10, 25, 23, 30, 15, 123456, tzinfo=UTC)
    assert row.asked_at.tzinfo is UTC
    assert (row.platform, row.workspace, row.user_id, row.channel) == (
        "teams",
        "tenant-1",
        "29:abc",
        "19:xyz@thread.tacv2",
    )
    assert (row.text, row.key, row.intent, row.entity) == (
        "Who owns Billing API?",
        "who owns billing api",
        "owner",
        "billing-api",
    )
    assert row.confidence == pytest.approx(0.875)
    assert row.answered is True


async def test_optional_fields_may_be_missing(store: SqlStore) -> None:
    """A question without workspace, user, channel or entity is recorded all the same."""
    question = replace(asked("k"), workspace=None, user=None, channel=None, entity=None)
    assert await store.record_question(question) > 0
    assert [g.key for g in await store.gaps()] == ["k"]


async def test_ping_succeeds_on_a_reachable_database(store: SqlStore) -> None:
    """Ping returns quietly when the database answers."""
    await store.ping()


async def test_unreachable_database_raises_storage_error_without_password() -> None:
    """An unreachable database gives StorageError naming it, its password masked."""
    engine = create_engine(f"postgresql+asyncpg://opsbot:{SECRET}@127.0.0.1:1/opsbot")
    store = SqlStore(engine)
    try:
        attempts: list[Callable[[], Awaitable[object]]] = [
            store.ping,
            lambda: store.record_question(asked("a")),
            store.gaps,
        ]
        for attempt in attempts:
            with pytest.raises(StorageError) as caught:
                await attempt()
            message = str(caught.value)
            assert SECRET not in message
            assert "127.0.0.1:1/opsbot" in message
            assert "***" in message
    finally:
        await engine.dispose()


async def test_unopenable_sqlite_database_raises_storage_error(tmp_path: Path) -> None:
    """A SQLite path that cannot be opened gives StorageError on ping."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}")  # a directory, not a file
    try:
        with pytest.raises(StorageError, match="unable to open database file"):
            await SqlStore(engine).ping()
    finally:
        await engine.dispose()
        await finish_aiosqlite_workers()


def test_bad_url_is_refused_without_echoing_it() -> None:
    """A URL that cannot be parsed gives StorageError that does not repeat it."""
    with pytest.raises(StorageError) as caught:
        create_engine(f"postgresql+asyncpg://opsbot:{SECRET}@db:port/opsbot")
    assert SECRET not in str(caught.value)


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    """SQLite connections run in WAL mode with a busy timeout and foreign keys on."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'dir' / 'x.sqlite'}")
    try:
        async with engine.connect() as conn:
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
            foreign_keys = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
    finally:
        await engine.dispose()
    assert (journal, busy, foreign_keys) == ("wal", 5000, 1)
    assert (tmp_path / "new" / "dir" / "x.sqlite").is_file()


def test_plain_driver_names_get_async_drivers() -> None:
    """URLs naming no driver get aiosqlite or asyncpg."""
    assert create_engine("sqlite:///:memory:").url.drivername == "sqlite+aiosqlite"
    assert create_engine("postgres://u@h/db").url.drivername == "postgresql+asyncpg"
