"""The Slack Web API client: kept under Slack's rate limits before Slack has to say so.

Slack limits each Web API method per app per workspace; `chat.postMessage` has its own
"special" limit (about one message per second per channel, and a workspace-wide cap that
Slack does not publish). A check-in round is a burst of DMs, so the client paces the
methods it is told about, per workspace, with the turns of a `Pace` (shared by every
replica on PostgreSQL; this process's own leaky bucket, aiolimiter, when none is given),
spaces the posts to any one channel, and when Slack still answers 429 it pauses *every*
call to that method for Retry-After, instead of each waiting call retrying on its own
and bouncing off the limit again.

How long a call keeps retrying is its `Budget`: nudges have a few retries (a failed nudge
is sent again by a later tick), replies to people are retried until they are delivered
or their deadline passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog
from aiolimiter import AsyncLimiter
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.ports import Pace

log = structlog.get_logger(__name__)

POST_MESSAGE = "chat.postMessage"
#: Methods whose calls are spaced per channel (Slack: about one message a second each).
PER_CHANNEL = frozenset({POST_MESSAGE})
CHANNEL_POSTS_PER_SECOND = 1.0
#: Seconds added to the spacing in a channel: requests bunch up a little on the way.
CHANNEL_MARGIN = 0.05
#: Spread, in seconds, added to Retry-After so replicas do not all come back at once.
RETRY_SPREAD = 0.25
#: Seconds over which callers of an unpaced method come back after a pause (as slack_sdk).
UNPACED_SPREAD = 1.0
RATE_LIMIT_RETRIES = 3
#: How long a reply to a person is retried before it is given up, in seconds.
REPLY_DEADLINE = 60.0
#: At most this many attempts of one call: slack_sdk's retry loop stops at 100.
MAX_ATTEMPTS = 90
#: Backoff after a 5xx or a lost connection: doubling from FIRST_BACKOFF up to MAX_BACKOFF.
FIRST_BACKOFF, MAX_BACKOFF = 0.25, 8.0
#: 5xx answers worth another attempt: a failing, overloaded or unreachable server.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
#: Channels remembered for spacing before the ones whose turn is past are forgotten.
CHANNELS_KEPT = 1000
_FIRST_FAILURE, _WAIT = "opsbot_first_failure", "opsbot_wait"
#: The channel of the Web API call under way (its retries take their turn there too).
_CHANNEL: ContextVar[str | None] = ContextVar("slack_channel", default=None)
#: The workspace of the Web API call under way (its retries keep that workspace's pace).
_WORKSPACE: ContextVar[str] = ContextVar("slack_workspace", default="")


class Pacing:
    """Per-method pacing of Web API calls, paused for everyone while Slack says 429.

    Only bulk calls (a round of nudges) wait for their method's pace, in their workspace's
    bucket of `pace` (e.g. shared by the replicas; without one, this process's own); a
    reply to a person goes at once, so it never queues behind a round, and only waits out
    a pause and the turn of its channel (posts to one channel are `1 / per_channel` s
    apart, and a little more).
    """

    def __init__(
        self,
        per_second: Mapping[str, float],
        *,
        per_channel: float = CHANNEL_POSTS_PER_SECOND,
        pace: Pace | None = None,
    ) -> None:
        self._rates = dict(per_second)
        self._gap = 1 / per_channel + CHANNEL_MARGIN if per_channel > 0 else 0.0
        self._pace = pace
        self._limiters: dict[str, AsyncLimiter] = {}  # by bucket, when no `pace` is given
        self._paused_until: dict[str, float] = {}
        self._pause_length: dict[str, float] = {}
        self._channel_turns: dict[str, float] = {}  # channel -> when its next post may go

    async def turn(
        self, method: str, *, bulk: bool, channel: str | None = None, workspace: str = ""
    ) -> None:
        """Wait until `method` may be called: past any pause, (bulk) its pace in
        `workspace`, then its channel's turn (and past a pause that began while it waited
        for that)."""
        rate = self._rates.get(method, 0.0) if bulk else 0.0
        while True:
            held = await self._past_pause(method)
            if rate > 0:
                await self._take(f"slack:{workspace or '-'}:{method}", rate)
            elif held:  # nothing paces this call: spread the callers a pause held back
                spread = min(UNPACED_SPREAD, self._pause_length.get(method, UNPACED_SPREAD))
                await asyncio.sleep(random.uniform(0, spread))  # noqa: S311
            wait = self._channel_turn(channel) if channel and method in PER_CHANNEL else 0.0
            if wait <= 0:
                return
            await asyncio.sleep(wait)
            if not self.paused_for(method):
                return

    async def _past_pause(self, method: str) -> bool:
        """Wait out `method`'s pause, if any; whether there was one."""
        held = False
        # A loop, not an Event: another 429 while we wait makes the pause longer.
        while (left := self.paused_for(method)) > 0:
            await asyncio.sleep(left)
            held = True
        return held

    def paused_for(self, method: str) -> float:
        """Seconds left of `method`'s pause after a 429; 0 when it may be called."""
        return max(0.0, self._paused_until.get(method, 0.0) - time.monotonic())

    def pause(self, method: str, seconds: float) -> None:
        """Slack said 429: no call to `method` for `seconds` (a longer pause wins)."""
        until = time.monotonic() + seconds
        if until > self._paused_until.get(method, 0.0):
            self._paused_until[method] = until
            self._pause_length[method] = seconds

    def _channel_turn(self, channel: str) -> float:
        """Take the next free turn in `channel`; seconds to wait for it."""
        if not self._gap:
            return 0.0
        now = time.monotonic()
        if len(self._channel_turns) > CHANNELS_KEPT:
            self._channel_turns = {c: t for c, t in self._channel_turns.items() if t > now}
        turn = max(now, self._channel_turns.get(channel, 0.0))
        self._channel_turns[channel] = turn + self._gap
        return turn - now

    async def _take(self, bucket: str, rate: float) -> None:
        """Wait for the next turn in `bucket`: of the pace given, else of this process."""
        if self._pace is not None:
            await self._pace.take(bucket, rate)
            return
        if bucket not in self._limiters:  # made on first use, inside the running loop
            # Evenly spaced, no bursts of our own: Slack's bucket keeps its burst room,
            # which absorbs calls that the network bunches up on the way.
            self._limiters[bucket] = AsyncLimiter(1, 1 / rate)
        await self._limiters[bucket].acquire()


class PacedWebClient(AsyncWebClient):
    """slack_sdk's client, each call waiting for its turn under `pacing`."""

    def __init__(self, *, pacing: Pacing, bulk: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pacing, self.bulk = pacing, bulk

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        channel = _argument(kwargs, "channel")
        workspace = workspace_of(_argument(kwargs, "token") or self.token)
        await self.pacing.turn(api_method, bulk=self.bulk, channel=channel, workspace=workspace)
        in_channel, in_workspace = _CHANNEL.set(channel), _WORKSPACE.set(workspace)
        try:
            return await super().api_call(api_method, **kwargs)
        finally:
            _CHANNEL.reset(in_channel)
            _WORKSPACE.reset(in_workspace)

    def like(self, other: AsyncWebClient) -> PacedWebClient:
        """This client's pacing and retries with `other`'s token and workspace.

        bolt hands each listener a plain `AsyncWebClient` of its own (the workspace's
        token); this is that client, paced like the others.
        """
        return PacedWebClient(
            pacing=self.pacing,
            bulk=self.bulk,
            token=other.token,
            base_url=other.base_url,
            timeout=other.timeout,
            ssl=other.ssl,
            proxy=other.proxy,
            session=other.session,
            trust_env_in_session=other.trust_env_in_session,
            headers=dict(other.headers),
            team_id=other.default_params.get("team_id"),
            logger=other.logger,
            retry_handlers=list(self.retry_handlers),
        )


def _argument(kwargs: Mapping[str, Any], name: str) -> str | None:
    """The argument `name` (`channel`, `token`) of a Web API call, wherever slack_sdk put it."""
    for part in ("json", "params", "data"):
        args = kwargs.get(part)
        if isinstance(args, Mapping) and args.get(name):
            return str(args[name])
    return None


def workspace_of(token: str | None) -> str:
    """Which workspace a call counts against, for pacing: a digest of its bot token (one
    token, one workspace), never the token itself; "-" without one."""
    if not token:
        return "-"
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Budget:
    """How long one call is retried: `retries` at most and, if set, until `deadline`.

    The deadline counts in seconds from the call's first failure; an attempt that
    could only start after it is not made.
    """

    retries: int
    deadline: float | None = None

    def allows(self, state: RetryState, wait: float) -> bool:
        """Whether another attempt, `wait` seconds from now, is within the budget."""
        if state.current_attempt >= self.retries:
            return False
        if self.deadline is None:
            return True
        now = time.monotonic()
        first = float(_values(state).setdefault(_FIRST_FAILURE, now))
        return now + wait < first + self.deadline


class CappedBackoff(RetryIntervalCalculator):
    """Exponential backoff with jitter, never longer than MAX_BACKOFF (plus its jitter)."""

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        interval = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** min(current_attempt, 16))
        return interval + random.uniform(0, interval / 2)  # noqa: S311


class BudgetedRetry(AsyncRetryHandler):
    """A slack_sdk retry handler that retries while its `Budget` allows.

    It decides the wait when it decides to retry, so the deadline is checked against
    the wait actually taken; backoff grows with this handler's own retries (a 5xx
    after a few 429s starts short).
    """

    def __init__(self, budget: Budget) -> None:
        super().__init__(max_retry_count=budget.retries, interval_calculator=CappedBackoff())
        self.budget = budget
        self._retries_key = f"opsbot_retries_{type(self).__name__}"

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not await super().can_retry_async(
            state=state, request=request, response=response, error=error
        ):
            return False
        values = _values(state)
        wait = self.next_wait(int(values.get(self._retries_key, 0)), request, response)
        if not self.budget.allows(state, wait):
            return False
        values[_WAIT] = wait
        values[self._retries_key] = int(values.get(self._retries_key, 0)) + 1
        log.debug(
            "slack_retry",
            method=_method(request.url),
            attempt=state.current_attempt + 1,
            status=response.status_code if response is not None else None,
            error=type(error).__name__ if error is not None else None,
            wait=round(wait, 2),
        )
        return True

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        await self.wait_out(request, float(_values(state).pop(_WAIT, 0.0)))
        state.increment_current_attempt()

    def next_wait(self, retries: int, request: HttpRequest, response: HttpResponse | None) -> float:
        """Seconds to wait before the next attempt, after `retries` of this handler's own."""
        return self.interval_calculator.calculate_sleep_duration(retries)

    async def wait_out(self, request: HttpRequest, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ConnectionRetry(BudgetedRetry, AsyncConnectionErrorRetryHandler):
    """A lost or refused connection (slack_sdk's list of errors): retried after a backoff."""


class ServerErrorRetry(BudgetedRetry):
    """A 5xx that may pass (500, 502, 503, 504): retried after a backoff."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in TRANSIENT_STATUSES


class RateLimitRetry(BudgetedRetry, AsyncRateLimitErrorRetryHandler):
    """A 429: retried once Retry-After (fractions of a second too) has passed."""

    def next_wait(self, retries: int, request: HttpRequest, response: HttpResponse | None) -> float:
        headers = response.headers if response is not None else {}
        return retry_after(headers) + random.uniform(0, RETRY_SPREAD)  # noqa: S311


class PausingRateLimitHandler(RateLimitRetry):
    """On 429: pause the method for Retry-After for every caller, then retry in turn."""

    def __init__(
        self, pacing: Pacing, *, bulk: bool, budget: Budget = Budget(retries=RATE_LIMIT_RETRIES)
    ) -> None:
        super().__init__(budget)
        self.pacing, self.bulk = pacing, bulk

    def next_wait(self, retries: int, request: HttpRequest, response: HttpResponse | None) -> float:
        own = super().next_wait(retries, request, response)
        return max(own, self.pacing.paused_for(_method(request.url)))

    async def wait_out(self, request: HttpRequest, seconds: float) -> None:
        method = _method(request.url)
        self.pacing.pause(method, seconds)
        await self.pacing.turn(
            method, bulk=self.bulk, channel=_CHANNEL.get(), workspace=_WORKSPACE.get()
        )


def _values(state: RetryState) -> dict[str, Any]:
    """The retry state's own notes (first failure, retries of each kind, next wait)."""
    if state.custom_values is None:
        state.custom_values = {}
    return state.custom_values


def _method(url: str) -> str:
    """The Web API method a request URL calls; "response_url" for anything else."""
    head, _, method = url.rstrip("/").rpartition("/")
    return method if head.endswith("/api") else "response_url"


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


def post_pacing(
    posts_per_second: float,
    *,
    per_channel: float = CHANNEL_POSTS_PER_SECOND,
    pace: Pace | None = None,
) -> Pacing:
    """chat.postMessage paced at `posts_per_second` per workspace (0: not paced, 429s
    only) with the turns of `pace` (default: this process's own), and `per_channel` posts
    a second in any one channel (0: not spaced)."""
    return Pacing({POST_MESSAGE: posts_per_second}, per_channel=per_channel, pace=pace)


def reply_retries(deadline: float) -> list[AsyncRetryHandler]:
    """Retry handlers for a reply: lost connections, 429s and 5xx, until `deadline` s."""
    budget = Budget(retries=MAX_ATTEMPTS, deadline=deadline)
    return [ConnectionRetry(budget), RateLimitRetry(budget), ServerErrorRetry(budget)]


def webhook_client(
    url: str, *, deadline: float = REPLY_DEADLINE, **kwargs: Any
) -> AsyncWebhookClient:
    """A client for one response_url, retrying like a reply (bolt's `respond` does not)."""
    return AsyncWebhookClient(url, retry_handlers=reply_retries(deadline), **kwargs)


def web_client(
    token: str | None,
    base_url: str | None,
    *,
    pacing: Pacing | None = None,
    bulk: bool = False,
    deadline: float | None = None,
) -> PacedWebClient:
    """A Web API client that pauses on 429 (with every client sharing `pacing`) and
    retries 5xx and lost connections; a `bulk` client also keeps to the pace of each
    method. With a `deadline` every call is retried until then, however often it fails;
    without one, a few times."""
    pacing = pacing or Pacing({})
    until = Budget(retries=MAX_ATTEMPTS, deadline=deadline) if deadline is not None else None
    handlers: list[AsyncRetryHandler] = [
        ConnectionRetry(until or Budget(retries=2)),
        PausingRateLimitHandler(
            pacing, bulk=bulk, budget=until or Budget(retries=RATE_LIMIT_RETRIES)
        ),
        ServerErrorRetry(until or Budget(retries=2)),
    ]
    return PacedWebClient(
        pacing=pacing,
        bulk=bulk,
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        retry_handlers=handlers,
    )
