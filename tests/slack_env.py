"""A running opsbot (`create_app` + `serving`) wired to the fake Slack, for Slack tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.answers import AnswerEngine
from bot.app import serving
from bot.checkins.service import CheckinService
from bot.config import Settings, load_settings
from bot.handlers import Handlers
from bot.kb.knowledge import Knowledge
from bot.metrics import Metrics
from bot.ports import Clock
from bot.slack.adapter import SlackAdapter
from bot.slack.messenger import SlackMessenger
from bot.storage.checkins import SqlCheckinStore
from bot.storage.engine import create_engine
from bot.web import SERVED, Served, create_app
from tests.fakes import MemoryQuestionLog
from tests.slack_fake import FakeSlack, sign

MINI = Path(__file__).parent / "data" / "mini"
SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@dataclass
class Opsbot:
    """The bot under test: its HTTP client, its database, and the fake Slack it talks to."""

    client: TestClient[Any, Any]
    slack: FakeSlack
    database_url: str

    @property
    def served(self) -> Served:
        return self.client.app[SERVED]  # type: ignore[index]

    async def post(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> ClientResponse:
        """POST /slack/events, signed with Slack's v0 scheme unless told otherwise."""
        all_headers = {"Content-Type": content_type, **(sign(body, SECRET) if signed else {})}
        all_headers.update(headers or {})
        return await self.client.post("/slack/events", data=body, headers=all_headers)

    async def settle(self) -> None:
        """Wait for the work the bot started after its acks."""
        slack = self.served.slack
        assert slack is not None
        await slack.drain(5)
        if self.served.flush is not None:
            await self.served.flush()

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]
        finally:
            await engine.dispose()


def slack_settings(tmp_path: Path, slack: FakeSlack, **extra: str) -> Settings:
    return load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(MINI),
            "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'slack.db'}",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            **extra,
        }
    )


@asynccontextmanager
async def running(settings: Settings, slack: FakeSlack) -> AsyncIterator[Opsbot]:
    """opsbot serving on a loopback port, as `opsbot serve` would run it."""
    async with TestClient(TestServer(create_app(lambda: serving(settings)))) as client:
        yield Opsbot(client=client, slack=slack, database_url=settings.database_url)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    """Wait until `check` holds; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def checkin_adapter(
    engine: AsyncEngine,
    knowledge: Knowledge,
    client: AsyncWebClient,
    clock: Clock,
) -> tuple[CheckinService, SlackAdapter]:
    """Check-ins on `engine` sent through the Slack `client`, and the Slack adapter that
    takes their clicks (no serving, no scheduler: the test ticks)."""
    service = CheckinService(
        knowledge=lambda: knowledge,
        store=SqlCheckinStore(engine),
        messenger=SlackMessenger(client, Metrics()),
        clock=clock,
        owner="test",
        save_pause=0.0,
    )
    answers = AnswerEngine(knowledge)
    log = MemoryQuestionLog()
    handlers = Handlers(answers=lambda: answers, questions=log, clock=clock, checkins=service)
    adapter = SlackAdapter(
        handlers=handlers,
        answers=lambda: answers,
        events=log,
        clock=clock,
        telemetry=Metrics(),
        signing_secret=SECRET,
        client=client,
    )
    return service, adapter
