"""`SqlAddressBook`: the `AddressBook` port (conversation references) on a SQL database."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ports import ChatAddress
from bot.storage.engine import transaction
from bot.storage.models import ChatAddressRow
from bot.storage.store import insert_for

_TABLE = ChatAddressRow.__table__
#: Columns a newer reference fills in but never empties.
_KEPT_WHEN_MISSING = (
    "tenant_id",
    "user_id",
    "name",
    "email",
    "conversation_id",
    "bot_id",
    "timezone",
)


class SqlAddressBook:
    """Conversation references per platform; the newest reference of a key wins."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def remember(self, address: ChatAddress) -> None:
        values = {
            "platform": address.platform,
            "key": address.key,
            "kind": address.kind,
            "service_url": address.service_url,
            "tenant_id": address.tenant_id,
            "user_id": address.user_id,
            "name": address.name,
            "email": address.email,
            "conversation_id": address.conversation_id,
            "bot_id": address.bot_id,
            "timezone": address.timezone,
            "updated_at": address.updated_at,
        }
        async with transaction(self._engine, "remembering a conversation") as conn:
            upsert = insert_for(conn)(ChatAddressRow).values(values)
            newer = upsert.excluded.updated_at >= _TABLE.c.updated_at
            changes = {
                "kind": case((newer, upsert.excluded.kind), else_=_TABLE.c.kind),
                "service_url": case(
                    (newer, upsert.excluded.service_url), else_=_TABLE.c.service_url
                ),
                "updated_at": func.max(upsert.excluded.updated_at, _TABLE.c.updated_at)
                if conn.dialect.name == "sqlite"
                else func.greatest(upsert.excluded.updated_at, _TABLE.c.updated_at),
            }
            for column in _KEPT_WHEN_MISSING:
                new, old = upsert.excluded[column], _TABLE.c[column]
                changes[column] = case(
                    (new.is_(None), old), (newer, new), (old.is_(None), new), else_=old
                )
            await conn.execute(
                upsert.on_conflict_do_update(index_elements=["platform", "key"], set_=changes)
            )

    async def addresses(self, platform: str) -> list[ChatAddress]:
        query = select(_TABLE).where(_TABLE.c.platform == platform).order_by(_TABLE.c.key)
        async with transaction(self._engine, "reading conversations") as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [ChatAddress(**dict(row)) for row in rows]
