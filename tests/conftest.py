"""Shared fixtures.

Storage: `database_url` is a fresh, empty database on each backend (SQLite in
tmp_path; PostgreSQL on the server of `postgres_server`), `engine` an engine on it,
`store` a `SqlStore` on the migrated database. `postgres_url` is PostgreSQL only.

`postgres_server` is OPSBOT_TEST_POSTGRES_URL when set (e.g.
`postgresql+asyncpg://postgres@127.0.0.1:5432/postgres`; unreachable fails the tests),
else a throwaway server started for the session on first use (tests/throwaway_postgres.py).
PostgreSQL tests are never skipped.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import structlog
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.storage.store import SqlStore
from tests.fakes import MemoryQuestionLog
from tests.slack_fake import FakeSlack

if TYPE_CHECKING:
    from tests.slack_env import Opsbot
from tests.throwaway_postgres import start_server, stop_server

POSTGRES_ENV = "OPSBOT_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


@asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    """Create a uniquely named database on the server of `server_url`; drop it on exit.

    Fails the test (never skips) when the server cannot be reached.
    """
    server = make_url(server_url)
    name = f"opsbot_test_{secrets.token_hex(6)}"
    admin = create_async_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            where = server.render_as_string(hide_password=True)
            source = POSTGRES_ENV if os.environ.get(POSTGRES_ENV) else "the throwaway server"
            reason = f"PostgreSQL at {where} ({source}) is unusable: {exc!r}"
            pytest.fail(reason, pytrace=False)  # no traceback: its locals hold the password
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The PostgreSQL server's URL: OPSBOT_TEST_POSTGRES_URL, or a throwaway server."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        yield url
        return
    server = start_server(Path(tempfile.mkdtemp(prefix="opsbot-pg-")))
    try:
        yield server.url
    finally:
        stop_server(server)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on each backend, as a URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'db' / 'opsbot.sqlite'}"
        return
    async with fresh_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
async def postgres_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database, as a URL."""
    async with fresh_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the fresh database, disposed of afterwards."""
    async with open_engine(database_url) as engine:
        yield engine


@pytest.fixture(params=("memory", *BACKENDS))
async def log(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqlStore | MemoryQuestionLog]:
    """Every implementation of the storage ports: the in-memory fake, and SQL on each backend."""
    if request.param == "memory":
        yield MemoryQuestionLog()
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'log.sqlite'}"
        async with _migrated(url) as store:
            yield store
        return
    server_url = request.getfixturevalue("postgres_server")
    async with fresh_postgres_database(server_url) as url, _migrated(url) as store:
        yield store


@asynccontextmanager
async def _migrated(url: str) -> AsyncIterator[SqlStore]:
    async with open_engine(url) as engine:
        await upgrade(engine)
        yield SqlStore(engine)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Commands configure logging for the process: undo it after each test."""
    yield
    structlog.reset_defaults()
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)


@pytest.fixture
async def store(engine: AsyncEngine) -> SqlStore:
    """A `SqlStore` on the fresh database, migrated to head."""
    await upgrade(engine)
    return SqlStore(engine)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API on a loopback port (a module may override it, e.g. with users)."""
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def bot(tmp_path: Path, slack: FakeSlack) -> AsyncIterator[Opsbot]:
    """opsbot serving the mini knowledge on SQLite, talking to `slack`."""
    from tests.slack_env import running, slack_settings  # the whole app: only where used

    async with running(slack_settings(tmp_path, slack), slack) as opsbot:
        yield opsbot
