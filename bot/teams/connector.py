"""Our Bot Connector REST client: replies, new messages, card updates, 1:1 chats, rosters.

Outbound calls go straight to the activity's `serviceUrl` over aiohttp (not through the
SDK's ConnectorClient, which neither URL-encodes conversation ids nor retries). Every
conversation and activity id is one percent-encoded path segment, and the `serviceUrl`
(Teams sends it with a trailing slash, often with a path such as `/amer/`) is joined
without doubling the slash.

How one call is retried, from its first attempt until `deadline` seconds have passed:

- 429: after `Retry-After` (seconds or an HTTP-date; capped at MAX_RETRY_AFTER), else a
  backoff, plus a little jitter. A 429 also pauses every other call to the same service
  for as long, so a round of nudges backs off together instead of bouncing off the limit.
- 412, 500, 502, 503, 504, a lost connection or a timed-out attempt: exponential backoff
  with jitter (deterministic when `rand` is injected). An attempt that could only start
  after the deadline is not made: the call raises DeliveryFailed naming the last outcome.
- 401: the token is asked for again once with `force_refresh=True`, then DeliveryFailed.
- 403 and 404 on a proactive call (`create_personal`, `send(..., proactive=True)`): the
  person is unreachable. They are retried, after a short backoff, until `unreachable_after`
  attempts of the call have been made (3 by default: the Bot Connector can answer 403 or
  404 for a moment after an install or a new 1:1 chat), then raise Unreachable; pass
  `unreachable_after=1` to give up on the first. So an Unreachable never comes later than
  attempt `unreachable_after`, whatever answers came before it.
- Any other answer that is not 2xx (403/404 outside a proactive call included): DeliveryFailed
  at once. Messages name the operation and the HTTP status (and the connector's error code
  when it sends one), never the token.

Response bodies are read up to a bound (`max_body`, `max_roster_body` for rosters).
A retried POST whose earlier attempt timed out may have been delivered: that is at-least-
once, as for any HTTP client; Teams offers no idempotency key.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import structlog
from yarl import URL

from bot.errors import DeliveryFailed, Unreachable

log = structlog.get_logger(__name__)

#: Answers worth another attempt after a backoff (429 waits for Retry-After first).
RETRIED = frozenset({412, 429, 500, 502, 503, 504})
#: Answers that, on a proactive call, say the person cannot be reached (blocked, removed, gone).
GONE = frozenset({403, 404})
#: Backoff: doubling from FIRST_BACKOFF up to MAX_BACKOFF, plus up to half of it as jitter.
FIRST_BACKOFF, MAX_BACKOFF = 0.25, 8.0
#: The longest Retry-After honoured, in seconds; a longer one is taken as this long.
MAX_RETRY_AFTER = 60.0
#: Up to this many seconds added to a Retry-After, so callers do not all come back at once.
RETRY_SPREAD = 0.25
#: One attempt's own time limit, in seconds (never beyond the call's deadline).
ATTEMPT_TIMEOUT = 30.0
#: At most this many attempts of one call, whatever the deadline.
MAX_ATTEMPTS = 100
#: Response bodies read at most: activity answers, and a conversation's roster.
MAX_BODY, MAX_ROSTER_BODY = 1 << 20, 16 << 20
#: What of an error answer is read for its error code.
ERROR_BODY = 64 << 10
#: An error code worth naming in a message (anything else is left out).
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: Status 0 stands for an attempt that got no answer (lost connection, timeout).
NO_ANSWER = 0

Activity = Mapping[str, Any]


class TokenSource(Protocol):
    """Bearer tokens for the Bot Connector (bot.teams.auth.BotTokens is one)."""

    async def token(self, *, force_refresh: bool = False) -> str:
        """A token, from a cache unless `force_refresh` (after the connector refused one)."""
        ...


class Connector:
    """The Bot Connector REST API, retried as the module says."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenSource,
        *,
        deadline: float = 60.0,
        unreachable_after: int = 3,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        on_retry: Callable[[str, int], None] | None = None,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        max_body: int = MAX_BODY,
        max_roster_body: int = MAX_ROSTER_BODY,
    ) -> None:
        if unreachable_after < 1:
            raise ValueError("unreachable_after must be at least 1")
        self._session = session
        self._tokens = tokens
        self.deadline = deadline
        self.unreachable_after = unreachable_after
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        #: Called with (operation, HTTP status or 0 for no answer) before each retry.
        self.on_retry = on_retry
        self._attempt_timeout = attempt_timeout
        self._max_body = max_body
        self._max_roster_body = max_roster_body
        self._paused_until: dict[str, float] = {}  # service origin -> end of a 429 pause

    # --- the API -------------------------------------------------------------------------

    async def reply(
        self, service_url: str, conversation_id: str, reply_to_id: str, activity: Activity
    ) -> str:
        """Post `activity` as a reply to `reply_to_id`; the new activity's id ("" if none)."""
        path = _path(conversation_id, "activities", reply_to_id)
        body = await self._call("reply", "POST", service_url, path, activity)
        return _id_of(body)

    async def send(
        self,
        service_url: str,
        conversation_id: str,
        activity: Activity,
        *,
        proactive: bool = False,
    ) -> str:
        """Post `activity` as a new message; its id ("" if none). `proactive` (a nudge in a
        1:1 chat): 403 and 404 raise Unreachable."""
        path = _path(conversation_id, "activities")
        body = await self._call("send", "POST", service_url, path, activity, proactive=proactive)
        return _id_of(body)

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: Activity
    ) -> None:
        """Replace the activity `activity_id` (a card showing what was recorded)."""
        path = _path(conversation_id, "activities", activity_id)
        await self._call("update", "PUT", service_url, path, activity)

    async def create_personal(
        self, service_url: str, *, tenant_id: str, user_id: str, bot_id: str
    ) -> str:
        """The id of the bot's 1:1 chat with `user_id` (created unless it exists);
        Unreachable on 403/404."""
        payload = {
            "bot": {"id": bot_id},
            "members": [{"id": user_id}],
            "channelData": {"tenant": {"id": tenant_id}},
            "isGroup": False,
            "tenantId": tenant_id,
        }
        body = await self._call(
            "create_personal", "POST", service_url, "/v3/conversations", payload, proactive=True
        )
        conversation = body.get("id") if isinstance(body, dict) else None
        if not isinstance(conversation, str) or not conversation:
            raise DeliveryFailed("create_personal: no conversation id in the answer")
        return conversation

    async def members(self, service_url: str, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's roster: accounts with `id`, `aadObjectId`, `email`,
        `userPrincipalName`, `name`... as the connector gives them."""
        path = _path(conversation_id, "members")
        body = await self._call(
            "members", "GET", service_url, path, None, limit=self._max_roster_body
        )
        if not isinstance(body, list) or not all(isinstance(m, dict) for m in body):
            raise DeliveryFailed("members: the answer is not a list of accounts")
        return body

    # --- one call, retried ---------------------------------------------------------------

    async def _call(
        self,
        op: str,
        method: str,
        service_url: str,
        path: str,
        payload: Activity | None,
        *,
        proactive: bool = False,
        limit: int | None = None,
    ) -> Any:
        """The parsed JSON of a 2xx answer (None when empty, not JSON or too large)."""
        base = _base(op, service_url)
        url = URL(base + path, encoded=True)
        origin = str(url.origin())
        ends = self._clock() + self.deadline
        refreshed = refresh = False
        attempt = 0
        while True:
            attempt += 1
            await self._past_pause(op, origin, ends)
            tokens = self._tokens
            token = await (tokens.token(force_refresh=True) if refresh else tokens.token())
            refresh = False
            # Never 0 (aiohttp's "no limit"): an attempt made just before the deadline gets 1 s.
            timeout = min(self._attempt_timeout, max(1.0, ends - self._clock()))
            status, headers, raw = await self._attempt(
                method, url, token, payload, limit or self._max_body, timeout
            )
            if 200 <= status < 300:
                return _json(raw)
            what = _outcome(status, raw, headers)
            if status == 401 and not refreshed:
                refreshed = refresh = True  # the next attempt, at once, with a new token
                self._retried(op, status, attempt, 0.0)
                continue
            gone = proactive and status in GONE
            if gone and attempt >= self.unreachable_after:
                raise Unreachable(f"{op}: {what}")
            if not gone and status != NO_ANSWER and status not in RETRIED:
                raise DeliveryFailed(f"{op}: {what}")
            wait = self._wait(status, headers, attempt, origin)
            if attempt >= MAX_ATTEMPTS or self._clock() + wait >= ends:
                if gone:
                    raise Unreachable(f"{op}: {what}")
                deadline = f"deadline {self.deadline:g} s"
                raise DeliveryFailed(
                    f"{op}: {what}, given up after {attempt} attempts ({deadline})"
                )
            self._retried(op, status, attempt, wait)
            await self._sleep(wait)

    async def _attempt(
        self,
        method: str,
        url: URL,
        token: str,
        payload: Activity | None,
        limit: int,
        seconds: float,
    ) -> tuple[int, Mapping[str, str], bytes | None]:
        """(status, headers, body or None when over `limit`); status 0 when no answer came."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with self._session.request(
                method,
                url,
                json=dict(payload) if payload is not None else None,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=seconds),
                allow_redirects=False,  # never carry the token to wherever a 3xx points
            ) as resp:
                bound = limit if 200 <= resp.status < 300 else ERROR_BODY
                return resp.status, resp.headers, await _read(resp, bound)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.debug("teams_connector_no_answer", error=type(exc).__name__)
            return NO_ANSWER, {"X-Opsbot-Error": type(exc).__name__}, None

    def _wait(self, status: int, headers: Mapping[str, str], attempt: int, origin: str) -> float:
        """Seconds before the next attempt: Retry-After (pausing the service) or a backoff."""
        if status != 429:
            return self._backoff(attempt)
        told = retry_after(headers)
        wait = told if told is not None else self._backoff(attempt)
        until = self._clock() + wait
        if until > self._paused_until.get(origin, 0.0):
            self._paused_until[origin] = until  # every other call waits as long
        return wait + self._rand() * RETRY_SPREAD

    async def _past_pause(self, op: str, origin: str, ends: float) -> None:
        """Wait out a 429 pause of the service (spread out a little), if there is one."""
        while (left := self._paused_until.get(origin, 0.0) - self._clock()) > 0:
            wait = left + self._rand() * min(RETRY_SPREAD, left)
            if self._clock() + wait >= ends:
                raise DeliveryFailed(
                    f"{op}: rate limited (HTTP 429), given up (deadline {self.deadline:g} s)"
                )
            await self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        interval = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** min(attempt - 1, 16))
        return interval + self._rand() * interval / 2

    def _retried(self, op: str, status: int, attempt: int, wait: float) -> None:
        log.debug("teams_connector_retry", op=op, status=status, attempt=attempt, wait=wait)
        if self.on_retry is not None:
            self.on_retry(op, status)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP-date, the latter against
    the answer's Date header, else `now` or the wall clock), at most MAX_RETRY_AFTER;
    None when there is none or it cannot be read."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        when = _http_date(raw)
        if when is None:
            return None
        sent = _http_date(headers.get("Date", ""))
        seconds = when - (sent if sent is not None else now if now is not None else time.time())
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _http_date(text: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(text).timestamp() if text else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _base(op: str, service_url: str) -> str:
    """The service URL, encoded, without its trailing slash(es)."""
    try:
        url = URL(service_url)
    except (TypeError, ValueError):
        raise DeliveryFailed(f"{op}: the serviceUrl is not a URL") from None
    if url.scheme not in {"http", "https"} or not url.host or url.query_string or url.fragment:
        raise DeliveryFailed(f"{op}: the serviceUrl is not an http(s) base URL")
    return str(url).rstrip("/")


def _path(conversation_id: str, *rest: str) -> str:
    """/v3/conversations/{id}/... with the conversation id (and an activity id after
    "activities") each one encoded path segment."""
    parts = [quote(conversation_id, safe="")]
    for i, part in enumerate(rest):
        parts.append(quote(part, safe="") if i else part)
    return "/v3/conversations/" + "/".join(parts)


async def _read(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` bytes (the rest is not read)."""
    if resp.content_length is not None and resp.content_length > limit:
        return None
    body = bytearray()
    async for chunk in resp.content.iter_any():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _id_of(body: Any) -> str:
    value = body.get("id") if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _outcome(status: int, raw: bytes | None, headers: Mapping[str, str]) -> str:
    """A short, safe account of an answer: "HTTP 403 (ConversationBlockedByUser)"."""
    if status == NO_ANSWER:
        return f"no answer ({headers.get('X-Opsbot-Error', 'error')})"
    body = _json(raw)
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, str) and _CODE.fullmatch(code):
        return f"HTTP {status} ({code})"
    return f"HTTP {status}"
