"""Running the Alembic migrations from the application, on its own engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import bot
from bot.errors import StorageError
from bot.storage.engine import storage_error

# The PostgreSQL advisory lock held while migrating, so that replicas starting
# together migrate one after the other. Fixed forever: b"opsbotmg" as a bigint.
ADVISORY_LOCK_KEY = 0x6F70_7362_6F74_6D67


def migrations_dir() -> Path:
    """Where the migration scripts are: in the installed package, else in the repository."""
    package = Path(bot.__file__).resolve().parent
    candidates = (package / "_migrations", package.parent / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise StorageError(f"the database migrations are missing: looked in {looked}")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the migrations, sharing `connection` if given.

    No ini file is read, so `env.py` leaves the application's logging alone.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database up to `revision`; safe to call from replicas at once.

    On PostgreSQL an advisory lock serialises concurrent upgrades, across processes
    and within one (Alembic's `context` is process-global, so two interleaved runs
    in one event loop would otherwise deadlock). SQLite has no such lock: upgrade it
    from one task at a time.
    """
    await _run(engine, f"migrating the database to {revision}", command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to `revision` ("base" empties it)."""
    await _run(engine, f"downgrading the database to {revision}", command.downgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except (SQLAlchemyError, OSError) as exc:
        raise storage_error("reading the schema revision", engine.url, exc) from exc


@asynccontextmanager
async def migration_lock(conn: AsyncConnection) -> AsyncIterator[None]:
    """Hold the migration lock on `conn` (PostgreSQL only; elsewhere a no-op).

    The lock is session-level, so it outlives the transactions run inside. The
    connection is left outside any transaction on entry, for Alembic to begin its own.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    await conn.commit()
    try:
        yield
    except BaseException:
        await _release_lock(conn, quietly=True)
        raise
    await _release_lock(conn, quietly=False)


async def _release_lock(conn: AsyncConnection, *, quietly: bool) -> None:
    try:
        if conn.in_transaction():
            await conn.rollback()
        await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        await conn.commit()
    except Exception:
        # Never hand a connection that may still hold the lock back to the pool.
        await conn.invalidate()
        if not quietly:
            raise


async def _run(
    engine: AsyncEngine,
    action: str,
    operation: Callable[[Config, str], None],
    revision: str,
) -> None:
    def run(sync: Connection) -> None:
        operation(alembic_config(sync), revision)

    try:
        async with engine.connect() as conn, migration_lock(conn):
            await conn.run_sync(run)
            await conn.commit()
    except (SQLAlchemyError, OSError, CommandError) as exc:
        raise storage_error(action, engine.url, exc) from exc
