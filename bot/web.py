"""The HTTP side of `opsbot serve`: health, readiness, metrics and the platforms' routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import structlog
from aiohttp import web

from bot.metrics import CONTENT_TYPE, Metrics
from bot.slack.adapter import MAX_BODY, HttpResult, SlackAdapter
from bot.teams.adapter import TeamsAdapter

log = structlog.get_logger(__name__)

Probe = Callable[[], Awaitable[str | None]]
#: The status counted for a request whose client went away before the answer (as nginx).
CLIENT_CLOSED = 499


@dataclass(frozen=True, kw_only=True)
class Served:
    """What the routes serve: readiness, metrics, and the chat platforms configured."""

    ready: Probe
    metrics: Metrics
    slack: SlackAdapter | None = None
    teams: TeamsAdapter | None = None
    flush: Callable[[], Awaitable[None]] | None = None  # writes what is queued (questions)
    knowledge: Callable[[], Mapping[str, object]] | None = None  # /readyz detail


SERVED: web.AppKey[Served] = web.AppKey("served")


def create_app(lifecycle: Callable[[], AbstractAsyncContextManager[Served]]) -> web.Application:
    """An application whose resources live as long as it runs (`cleanup_ctx`)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_measured])

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with lifecycle() as served:
            app[SERVED] = served
            yield

    app.cleanup_ctx.append(resources)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_post("/slack/events", _slack_events)
    app.router.add_get("/slack/install", _slack_oauth)
    app.router.add_get("/slack/oauth_redirect", _slack_oauth)
    app.router.add_post("/api/messages", _teams_messages)
    return app


@web.middleware
async def _measured(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Count and time every request by route; the one catch-all of the HTTP path."""
    started = time.perf_counter()
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except (asyncio.CancelledError, ConnectionError):
        # The client hung up (aiohttp cancels the handler): nothing failed on our side.
        status = CLIENT_CLOSED
        raise
    except Exception as exc:
        log.exception("request_failed", route=name, error=repr(exc))
        return web.Response(status=500, text="internal error")
    finally:
        served = request.app.get(SERVED)
        if served is not None:
            served.metrics.request(name, request.method, status, time.perf_counter() - started)


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    served = request.app[SERVED]
    problem = await served.ready()
    body: dict[str, object] = {"status": "ready"}
    if problem is not None:
        body = {"status": "not ready", "reason": problem}
    if served.knowledge is not None:
        body["knowledge"] = served.knowledge()  # ready with part of it is still ready
    return web.json_response(body, status=200 if problem is None else 503)


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[SERVED].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _slack_events(request: web.Request) -> web.Response:
    slack = request.app[SERVED].slack
    if slack is None:
        return web.Response(status=404, text="Slack is not configured")
    body = await request.read()
    result = await slack.http(body, dict(request.headers), request.query_string)
    return _response(result)


async def _slack_oauth(request: web.Request) -> web.Response:
    slack = request.app[SERVED].slack
    if slack is None:
        return web.Response(status=404, text="Slack is not configured")
    result = await slack.oauth(request.path, request.query_string, dict(request.headers))
    return _response(result)


async def _teams_messages(request: web.Request) -> web.StreamResponse:
    teams = request.app[SERVED].teams
    if teams is None:
        return web.Response(status=404, text="Teams is not configured")
    return await teams.http(request)


def _response(result: HttpResult) -> web.Response:
    response = web.Response(
        status=result.status, text=result.body, content_type=result.content_type
    )
    for name, value in result.headers:
        response.headers.add(name, value)
    return response
