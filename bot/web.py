"""The HTTP side of `opsbot serve`: health and readiness routes (platform routes join later)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from aiohttp import web

Probe = Callable[[], Awaitable[str | None]]
PROBE: web.AppKey[Probe] = web.AppKey("probe")


def create_app(
    lifecycle: Callable[[], AbstractAsyncContextManager[Probe]],
) -> web.Application:
    """An application whose resources live as long as it runs.

    `lifecycle` opens everything the bot needs and yields the readiness probe, which
    returns None when ready or a short reason when not.
    """
    app = web.Application()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with lifecycle() as probe:
            app[PROBE] = probe
            yield

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        problem = await request.app[PROBE]()
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": problem}, status=503)

    app.cleanup_ctx.append(resources)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
