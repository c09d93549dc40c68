"""Building the async engine, and turning its failures into `StorageError`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from bot.errors import StorageError, StorageRefused

SQLITE_BUSY_TIMEOUT_MS = 5_000

# Plain driver names map to the async drivers this package is built on.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url` (SQLite via aiosqlite, PostgreSQL via asyncpg).

    SQLite gets WAL, a busy timeout and foreign keys on every connection, and the
    directory of its file is created if missing. PostgreSQL gets a pre-pinged pool.
    """
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        if parsed.get_backend_name() == "postgresql":
            return create_async_engine(
                parsed,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                pool_timeout=30,
                pool_recycle=1800,
                connect_args={"timeout": 10, "server_settings": {"application_name": "opsbot"}},
            )
        return create_async_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StorageError(f"cannot use database {safe_url(parsed)}: {exc}") from exc


@asynccontextmanager
async def open_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """`create_engine(url)`, disposed of on exit (for `cleanup_ctx`)."""
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL for `url`, with an async driver if none was named."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        # The parser's messages may quote the URL, password and all: do not repeat them.
        raise StorageError("the database URL cannot be parsed") from exc
    drivername = _ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=drivername)


def safe_url(url: URL) -> str:
    """`url` as text with its password masked."""
    return url.render_as_string(hide_password=True)


@asynccontextmanager
async def transaction(engine: AsyncEngine, action: str) -> AsyncIterator[AsyncConnection]:
    """A transaction on `engine`; any database failure becomes a `StorageError`."""
    try:
        async with engine.begin() as conn:
            yield conn
    except (SQLAlchemyError, OSError) as exc:
        raise storage_error(action, engine.url, exc) from exc


def storage_error(action: str, url: URL, exc: BaseException) -> StorageError:
    """A short `StorageError` for a failed `action`, naming the database but no secret."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    detail = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    if url.password:
        detail = detail.replace(str(url.password), "***")
    if len(detail) > 200:
        detail = detail[:197] + "..."
    # Async adapters chain the driver's own exception, whose name says more.
    kind = type(cause.__cause__ or cause).__name__
    reason = f"{kind}: {detail}" if detail else kind
    error = StorageRefused if refused(exc) else StorageError
    return error(f"{action} failed on {safe_url(url)}: {reason}")


#: SQLSTATE classes of a statement refused for what it holds: data exception (22) and
#: integrity constraint violation (23).
_REFUSED_SQLSTATES = ("22", "23")


def refused(exc: BaseException) -> bool:
    """Whether the database refused the statement itself (a constraint, a value it cannot
    take), rather than being out of reach: trying again would fail the same way."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    if not isinstance(exc, StatementError):
        return False
    # Drivers chain their own exception: asyncpg's carries the SQLSTATE, and a value
    # it cannot even encode (or a bind parameter refuses) is a ValueError / TypeError.
    cause: BaseException | None = exc.orig
    while cause is not None:
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_REFUSED_SQLSTATES):
            return True
        if isinstance(cause, ValueError | TypeError):
            return True
        cause = cause.__cause__
    return False


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if not in_memory:
        directory = Path(database).expanduser().parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {directory} for {safe_url(url)}: {exc}") from exc
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()
