"""The Slack Web API client: kept under Slack's rate limits before Slack has to say so.

Slack limits each Web API method per app per workspace; `chat.postMessage` has its own
"special" limit (about one message per second per channel, and a workspace-wide cap that
Slack does not publish). A check-in round is a burst of DMs, so the client paces the
methods it is told about with a leaky bucket (aiolimiter), and when Slack still answers
429 it pauses *every* call to that method for Retry-After, instead of each waiting call
retrying on its own and bouncing off the limit again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

from aiolimiter import AsyncLimiter
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

POST_MESSAGE = "chat.postMessage"
#: Spread, in seconds, added to Retry-After so replicas do not all come back at once.
RETRY_SPREAD = 0.25
#: Seconds over which callers of an unpaced method come back after a pause (as slack_sdk).
UNPACED_SPREAD = 1.0
RATE_LIMIT_RETRIES = 3


class Pacing:
    """Per-method pacing of Web API calls, paused for everyone while Slack says 429.

    Only bulk calls (a round of nudges) wait for their method's pace; a reply to a
    person goes at once, so it never queues behind a round, and only waits out a pause.
    """

    def __init__(self, per_second: Mapping[str, float]) -> None:
        self._rates = dict(per_second)
        self._limiters: dict[str, AsyncLimiter] = {}
        self._paused_until: dict[str, float] = {}

    async def turn(self, method: str, *, bulk: bool) -> None:
        """Wait until `method` may be called: past any pause, then (bulk) its pace."""
        waited = False
        # A loop, not an Event: another 429 while we wait makes the pause longer.
        while (left := self.paused_for(method)) > 0:
            await asyncio.sleep(left)
            waited = True
        limiter = self._limiter(method) if bulk else None
        if limiter is not None:
            await limiter.acquire()
        elif waited:  # nothing paces this call: spread the callers a pause held back
            await asyncio.sleep(random.uniform(0, UNPACED_SPREAD))  # noqa: S311

    def paused_for(self, method: str) -> float:
        """Seconds left of `method`'s pause after a 429; 0 when it may be called."""
        return max(0.0, self._paused_until.get(method, 0.0) - time.monotonic())

    def pause(self, method: str, seconds: float) -> None:
        """Slack said 429: no call to `method` for `seconds` (a longer pause wins)."""
        until = time.monotonic() + seconds
        self._paused_until[method] = max(self._paused_until.get(method, 0.0), until)

    def _limiter(self, method: str) -> AsyncLimiter | None:
        rate = self._rates.get(method)
        if not rate:
            return None
        if method not in self._limiters:  # made on first use, inside the running loop
            # Evenly spaced, no bursts of our own: Slack's bucket keeps its burst room,
            # which absorbs calls that the network bunches up on the way.
            self._limiters[method] = AsyncLimiter(1, 1 / rate)
        return self._limiters[method]


class PacedWebClient(AsyncWebClient):
    """slack_sdk's client, each call waiting for its turn under `pacing`."""

    def __init__(self, *, pacing: Pacing, bulk: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pacing, self.bulk = pacing, bulk

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        await self.pacing.turn(api_method, bulk=self.bulk)
        return await super().api_call(api_method, **kwargs)


class PausingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """On 429: pause the method for Retry-After for every caller, then retry in turn."""

    def __init__(
        self, pacing: Pacing, *, bulk: bool, max_retry_count: int = RATE_LIMIT_RETRIES
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.pacing, self.bulk = pacing, bulk

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("a rate-limit retry without a response")
        state.next_attempt_requested = True
        method = request.url.rstrip("/").rsplit("/", 1)[-1]
        self.pacing.pause(method, retry_after(response.headers) + random.uniform(0, RETRY_SPREAD))  # noqa: S311
        await self.pacing.turn(method, bulk=self.bulk)
        state.increment_current_attempt()


def retry_after(headers: Mapping[str, Any]) -> float:
    """Seconds from a Retry-After header (slack_sdk gives header values as lists); 1 if none."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def post_pacing(posts_per_second: float) -> Pacing:
    """chat.postMessage paced at `posts_per_second` (0: not paced, 429s only)."""
    return Pacing({POST_MESSAGE: posts_per_second})


def web_client(
    token: str | None,
    base_url: str | None,
    *,
    pacing: Pacing | None = None,
    bulk: bool = False,
) -> PacedWebClient:
    """A Web API client that pauses on 429 (with every client sharing `pacing`) and
    retries 5xx; a `bulk` client also keeps to the pace of each method."""
    pacing = pacing or Pacing({})
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        PausingRateLimitHandler(pacing, bulk=bulk),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    return PacedWebClient(
        pacing=pacing,
        bulk=bulk,
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        retry_handlers=handlers,
    )
