"""The storage adapter: SQLAlchemy (async) and Alembic behind the storage ports."""

from __future__ import annotations

from bot.storage.engine import create_engine, open_engine
from bot.storage.migrate import upgrade
from bot.storage.store import SqlStore

__all__ = ["SqlStore", "create_engine", "open_engine", "upgrade"]
