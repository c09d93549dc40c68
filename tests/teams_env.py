"""opsbot serving Teams for tests: a local identity provider signing real tokens, a fake
Bot Connector at the activities' serviceUrl, and the real `/api/messages` route."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import serving
from bot.config import Settings, load_settings
from bot.web import SERVED, Served, create_app
from tests.fake_connector import FakeConnector
from tests.teams_idp import APP_ID, APP_PASSWORD, TENANT_ID, FakeIdentityProvider

KNOWLEDGE = Path(__file__).parent / "data" / "teams"
BOT = f"28:{APP_ID}"
ALICE = {"id": "29:alice", "aadObjectId": "0a0a0a0a-0000-4000-8000-00000000a11c", "name": "Alice"}
BOB = {"id": "29:bob", "aadObjectId": "0b0b0b0b-0000-4000-8000-0000000000b0", "name": "Bob"}
CAROL = {"id": "29:carol", "aadObjectId": "0c0c0c0c-0000-4000-8000-0000000ca201", "name": "Carol"}
_ids = itertools.count(1)


def teams_settings(
    tmp_path: Path, idp: FakeIdentityProvider, database_url: str | None = None, **extra: str
) -> Settings:
    return load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(KNOWLEDGE),
            "OPSBOT_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp_path / 'teams.db'}",
            "OPSBOT_SPOOL_DIR": str(tmp_path / "spool"),
            "TEAMS_APP_ID": APP_ID,
            "TEAMS_APP_PASSWORD": APP_PASSWORD,
            "TEAMS_TENANT_ID": TENANT_ID,
            "TEAMS_OPENID_METADATA_URL": idp.openid_url,
            "TEAMS_LOGIN_URL": idp.login_url,
            "OPSBOT_TEAMS_REPLY_DEADLINE_SECONDS": "5",
            **extra,
        }
    )


def activity_body(
    service_url: str,
    *,
    activity_id: str,
    sender: dict[str, str],
    conversation: str,
    kind: str = "message",
    text: str | None = None,
    conversation_type: str = "personal",
    **more: Any,
) -> dict[str, Any]:
    """An activity as Teams sends it to the bot (`more` adds or replaces fields)."""
    activity: dict[str, Any] = {
        "type": kind,
        "id": activity_id,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": sender,
        "recipient": {"id": BOT, "name": "opsbot"},
        "conversation": {
            "id": conversation,
            "conversationType": conversation_type,
            "tenantId": TENANT_ID,
        },
        "channelData": {"tenant": {"id": TENANT_ID}},
        "locale": "en-GB",
    }
    if text is not None:
        activity["text"] = text
    activity.update(more)
    return activity


@dataclass
class TeamsBot:
    """The bot under test, Teams' side of it, and the activities it was sent."""

    client: TestClient[Any, Any]
    idp: FakeIdentityProvider
    bf: FakeConnector
    database_url: str
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def served(self) -> Served:
        return self.client.app[SERVED]  # type: ignore[index]

    def activity(
        self,
        text: str | None = "who owns model monitoring?",
        *,
        kind: str = "message",
        sender: dict[str, str] | None = None,
        conversation: str = "a:1personal-alice",
        conversation_type: str = "personal",
        value: object = None,
        **more: Any,
    ) -> dict[str, Any]:
        """An activity as Teams sends it, from `sender` (Alice) in a 1:1 chat by default."""
        if value is not None:
            more["value"] = value
        return activity_body(
            self.bf.service_url,
            activity_id=f"activity-{next(_ids)}",
            sender=sender or ALICE,
            conversation=conversation,
            kind=kind,
            text=text,
            conversation_type=conversation_type,
            **more,
        )

    async def post(
        self, activity: object, *, authorization: str | None = "good", raw: bytes | None = None
    ) -> ClientResponse:
        """POST /api/messages with a token Teams would send (or the one given)."""
        headers = {"Content-Type": "application/json"}
        if authorization == "good":
            authorization = f"Bearer {self.idp.mint()}"
        if authorization is not None:
            headers["Authorization"] = authorization
        if isinstance(activity, dict):
            self.sent.append(activity)
        data = raw if raw is not None else json.dumps(activity).encode()
        return await self.client.post("/api/messages", data=data, headers=headers)

    async def settle(self) -> None:
        """Wait for the replies the bot sends after answering the request."""
        teams = self.served.teams
        assert teams is not None
        await teams.drain(5)
        if self.served.flush is not None:
            await self.served.flush()

    async def execute(self, sql: str) -> None:
        engine = create_async_engine(self.database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]
        finally:
            await engine.dispose()


@asynccontextmanager
async def running_teams(
    tmp_path: Path, database_url: str | None = None, **extra: str
) -> AsyncIterator[TeamsBot]:
    """opsbot serving Teams (on `database_url`, else SQLite in `tmp_path`)."""
    async with FakeIdentityProvider() as idp, FakeConnector() as bf:
        idp.service_url = bf.service_url
        bf.token = idp.valid_token  # only tokens the identity provider issued
        settings = teams_settings(tmp_path, idp, database_url, **extra)
        async with TestClient(TestServer(create_app(lambda: serving(settings)))) as client:
            yield TeamsBot(client=client, idp=idp, bf=bf, database_url=settings.database_url)
