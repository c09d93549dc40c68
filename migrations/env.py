"""Alembic environment for opsbot: one migration set for SQLite and PostgreSQL.

Run from the application (`bot.storage.migrate.upgrade`), the connection comes
in `config.attributes["connection"]` and logging is left alone. Run from the
`alembic` command line, the database is `OPSBOT_DATABASE_URL` (default
`sqlite+aiosqlite:///opsbot.db`) and alembic.ini configures logging.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from bot.storage.engine import create_engine, parse_url
from bot.storage.migrate import migration_lock
from bot.storage.models import Base, UTCDateTime

DEFAULT_URL = "sqlite+aiosqlite:///opsbot.db"

config = context.config
target_metadata = Base.metadata
shared_connection: Connection | None = config.attributes.get("connection")

if config.config_file_name is not None and shared_connection is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    return os.environ.get("OPSBOT_DATABASE_URL") or DEFAULT_URL


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our own column types as plain SQLAlchemy ones: scripts never import the app."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        **options,
    )


def run_migrations_offline() -> None:
    """Emit the SQL for the migrations (`alembic upgrade head --sql`)."""
    url = parse_url(database_url())
    configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(database_url())
    try:
        async with engine.connect() as connection, migration_lock(connection):
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif shared_connection is not None:
    do_run_migrations(shared_connection)
else:
    asyncio.run(run_async_migrations())
