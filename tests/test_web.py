"""`opsbot serve`: health and readiness over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import serving
from bot.config import load_settings
from bot.metrics import Metrics
from bot.web import Served, create_app

MINI = Path(__file__).parent / "data" / "mini"


async def test_health_and_readiness_on_a_real_bot(tmp_path: Path) -> None:
    """With knowledge loaded and the database migrated, /healthz and /readyz answer 200."""
    settings = load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(MINI),
            "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        }
    )
    async with TestClient(TestServer(create_app(lambda: serving(settings)))) as client:
        health = await client.get("/healthz")
        assert (health.status, await health.json()) == (200, {"status": "ok"})
        ready = await client.get("/readyz")
        assert ready.status == 200
        knowledge = {"entities": 7, "left_out": [], "left_out_count": 0}
        assert await ready.json() == {"status": "ready", "knowledge": knowledge}
        missing = await client.get("/nope")
        assert missing.status == 404
        slack = await client.post("/slack/events", data=b"{}")
        assert slack.status == 404  # no Slack credentials: the route says so
        metrics = await client.get("/metrics")
        body = await metrics.text()
        assert 'opsbot_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
        assert 'route="/slack/events",status="404"' in body


async def test_not_ready_says_why() -> None:
    """When the probe reports a problem, /readyz is 503 with the reason and /healthz stays 200."""

    async def probe() -> str | None:
        return "database unreachable"

    @asynccontextmanager
    async def lifecycle() -> AsyncIterator[Served]:
        yield Served(ready=probe, metrics=Metrics())

    async with TestClient(TestServer(create_app(lifecycle))) as client:
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert await ready.json() == {"status": "not ready", "reason": "database unreachable"}
        assert (await client.get("/healthz")).status == 200
