"""A bare slack-bolt app with one constant `/ops` command, served like `opsbot serve`.

    python bench/bare_bolt_app.py --port 3100 --api-url http://127.0.0.1:PORT/api/ \
        [--process-before-response]

The baseline of bench/bench_slack.py: one aiohttp application, POST /slack/events
handed to a bolt AsyncApp (signature checked by bolt, auth.test once against
--api-url), `/ops` acked with a constant text. SLACK_SIGNING_SECRET and
SLACK_BOT_TOKEN come from the environment, as for opsbot.
"""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

ANSWER = "constant answer"
APP: web.AppKey[AsyncApp] = web.AppKey("bolt")


def bolt_app(*, token: str, secret: str, api_url: str, process_before_response: bool) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url),
        signing_secret=secret,
        process_before_response=process_before_response,
    )

    @app.command("/ops")
    async def ops(ack: AsyncAck) -> None:
        await ack(ANSWER)

    return app


async def slack_events(request: web.Request) -> web.Response:
    bolt = request.app[APP]
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def web_app(bolt: AsyncApp) -> web.Application:
    app = web.Application()
    app[APP] = bolt
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--api-url", required=True, help="the Slack Web API (a fake one)")
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # as opsbot with OPSBOT_LOG_LEVEL=warning
    # Popped: bolt would otherwise read it too and warn that `client` has a token already.
    token = os.environ.pop("SLACK_BOT_TOKEN")
    bolt = bolt_app(
        token=token,
        secret=os.environ["SLACK_SIGNING_SECRET"],
        api_url=args.api_url,
        process_before_response=args.process_before_response,
    )
    web.run_app(web_app(bolt), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
