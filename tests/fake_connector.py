"""The Bot Connector as tests meet it: an aiohttp app at the activity's `serviceUrl`.

It listens on 127.0.0.1 (a random port) under a path like Teams' own service URLs
(`http://127.0.0.1:PORT/amer/`), checks the bearer token, records every call with its
path both as sent (percent-encoded) and decoded, creates 1:1 conversations, keeps the
activities posted to each conversation, answers rosters, and fails when told to: a status
N times (or for good) for calls matching a kind, a path pattern or a conversation, a
hang-up, a slow answer, and a rate limit answering 429 with Retry-After. Use it as::

    async with FakeConnector(token="bot-token") as bf:
        bf.fail(429, times=2, kind=SEND, retry_after=1)
        await connector.send(bf.service_url, "a:1xyz", {"type": "message", "text": "hi"})
        assert [c.status for c in bf.calls_to(SEND)] == [429, 429, 201]
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import unquote

from aiohttp import web

Json = dict[str, Any]
#: Kinds of call, from the method and path.
CREATE, SEND, REPLY, UPDATE, MEMBERS, UNKNOWN = (
    "create_personal",
    "send",
    "reply",
    "update",
    "members",
    "unknown",
)
#: A scripted "status" that closes the connection without an answer.
HANG_UP = 0
#: The bearer token the fake expects unless told otherwise.
BOT_TOKEN = "bot-token"
DENIED = {"message": "Authorization has been denied for this request."}


@dataclass(frozen=True)
class ConnectorCall:
    """One request the fake received, and how it answered."""

    kind: str
    method: str
    raw_path: str  # as sent, percent-encoded, service path prefix included
    segments: tuple[
        str, ...
    ]  # decoded path segments after the prefix: ("v3", "conversations", id, ...)
    headers: Mapping[str, str]
    json: Any
    status: int
    at: float
    conversation_id: str | None = None
    activity_id: str | None = None  # the reply's replyToId, the updated activity's id
    new_id: str | None = None  # the id answered for a new activity or conversation

    @property
    def path(self) -> str:
        """The decoded path after the prefix (ambiguous when an id holds "/": use segments)."""
        return "/" + "/".join(self.segments)

    @property
    def token(self) -> str | None:
        """The bearer token the call carried."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token if scheme == "Bearer" else None


@dataclass
class Rule:
    """A scripted answer for the next `times` matching calls (None: every one)."""

    status: int
    times: int | None = 1
    kind: str | None = None
    path: re.Pattern[str] | None = None  # searched in the decoded path
    conversation: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunked: bool = False
    delay: float = 0.0
    used: int = 0

    def matches(self, kind: str, path: str, conversation: str | None) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.kind is not None and self.kind != kind:
            return False
        if self.conversation is not None and self.conversation != conversation:
            return False
        return self.path is None or self.path.search(path) is not None


@dataclass
class _Bucket:
    """Token buckets (one, or one per conversation): `burst` at once, refilled at `rate`/s."""

    rate: float
    burst: int
    per_conversation: bool
    precise: bool
    buckets: dict[str, list[float]] = field(default_factory=dict)  # key -> [tokens, stamp]

    def bucket(self, conversation: str | None, now: float) -> list[float]:
        """The conversation's (or the one) bucket, refilled up to `now`."""
        key = (conversation or "") if self.per_conversation else ""
        tokens, stamp = self.buckets.setdefault(key, [float(self.burst), now])
        self.buckets[key] = [min(float(self.burst), tokens + (now - stamp) * self.rate), now]
        return self.buckets[key]

    def wait(self, bucket: list[float]) -> float:
        """Seconds until `bucket` holds a whole token; 0 when it holds one now."""
        return 0.0 if bucket[0] >= 1 else (1 - bucket[0]) / self.rate


class FakeConnector:
    """The Bot Connector REST API (v3 conversations) for one service URL."""

    def __init__(
        self,
        *,
        token: str | Callable[[str], bool] | None = BOT_TOKEN,
        prefix: str = "/amer",
        tenant: str | None = None,
        strict_updates: bool = True,
        max_activity_bytes: int | None = None,
    ) -> None:
        """`token`: the bearer token expected (or a check, or None for any); `tenant`: the
        tenant a new 1:1 chat must name; `strict_updates`: a PUT to an activity this fake
        did not create answers 404; `max_activity_bytes`: a larger activity answers 413."""
        self.token = token
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.tenant = tenant
        self.strict_updates = strict_updates
        self.max_activity_bytes = max_activity_bytes
        self.latency = 0.0  # seconds every answer waits (a network far away)
        self.calls: list[ConnectorCall] = []
        self.statuses: Counter[int] = Counter()
        self.activities: dict[str, list[Json]] = {}  # conversation -> activities, current form
        self.updates: list[tuple[str, str, Json]] = []  # (conversation, activity id, new form)
        self.personal: dict[str, str] = {}  # user id -> their 1:1 conversation id
        self.created: list[Json] = []  # bodies of successful create_personal calls
        self.rosters: dict[str, list[Json]] = {}  # conversation -> members (GET .../members)
        self.rules: list[Rule] = []
        self.blocked: dict[str, int] = {}  # user id -> status for their proactive messages
        self._limits: list[_Bucket] = []
        self._ids = itertools.count(1_700_000_000_001)
        self._changed = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def service_url(self) -> str:
        """The serviceUrl to put in activities: with a trailing slash, as Teams sends it."""
        return f"http://127.0.0.1:{self.port}{self.prefix}/"

    # --- scripting -------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        times: int | None = 1,
        kind: str | None = None,
        path: str | None = None,
        conversation: str | None = None,
        retry_after: float | str | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | Json | None = None,
        chunked: bool = False,
        delay: float = 0.0,
    ) -> Rule:
        """Answer the next `times` calls (None: all) matching `kind`, `path` (a regex searched
        in the decoded path) and `conversation` with `status` instead of handling them
        (HANG_UP: close the connection). `retry_after` sets that header (a number or an
        HTTP-date); `body` replaces the default error body; `chunked` streams it without a
        Content-Length; `delay` waits first. Rules are tried in the order given."""
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["Retry-After"] = str(retry_after)
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        rule = Rule(
            status,
            times,
            kind,
            re.compile(path) if path is not None else None,
            conversation,
            all_headers,
            body,
            chunked,
            delay,
        )
        self.rules.append(rule)
        return rule

    def block(self, user_id: str, status: int = 403) -> None:
        """`user_id` blocked the bot (403) or is gone (404): creating their 1:1 chat and
        posting to it answer `status` from now on."""
        self.blocked[user_id] = status

    def rate_limit(
        self,
        per_second: float,
        burst: int = 1,
        *,
        per_conversation: bool = False,
        precise: bool = False,
    ) -> None:
        """Answer 429 with Retry-After when calls exceed a token bucket (all calls, or each
        conversation's); Retry-After in whole seconds, or (`precise`) in milliseconds."""
        self._limits.append(_Bucket(per_second, burst, per_conversation, precise))

    def add_members(self, conversation_id: str, *members: Json) -> None:
        """Accounts GET .../members answers for the conversation."""
        self.rosters.setdefault(conversation_id, []).extend(members)

    # --- inspection ------------------------------------------------------------------------

    def calls_to(self, kind: str) -> list[ConnectorCall]:
        return [c for c in self.calls if c.kind == kind]

    def delivered(self, conversation_id: str) -> list[Json]:
        """Activities posted to the conversation (updates applied), oldest first."""
        return self.activities.get(conversation_id, [])

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 5) -> list[ConnectorCall]:  # noqa: ASYNC109
        """Wait until `count` calls of `kind` were recorded (failed ones count too)."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.calls_to(kind)) < count:
                    await self._changed.wait()
        except TimeoutError:
            seen = [c.kind for c in self.calls]
            raise AssertionError(
                f"expected {count} {kind} call(s) within {timeout}s, calls seen: {seen}"
            ) from None
        return self.calls_to(kind)[:count]

    # --- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        segments = self._segments(raw_path)
        kind, conversation, activity = _route(request.method, segments)
        raw = await request.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        call = ConnectorCall(
            kind=kind,
            method=request.method,
            raw_path=raw_path,
            segments=segments or (),
            headers=request.headers.copy(),
            json=payload,
            status=0,
            at=time.time(),
            conversation_id=conversation,
            activity_id=activity if kind in {REPLY, UPDATE} else None,
        )
        if self.latency:
            await asyncio.sleep(self.latency)
        status, body, headers, rule = self._answer(call, raw, request.content_type)
        new_id = body.get("id") if 200 <= status < 300 and isinstance(body, dict) else None
        self._record(call, status, new_id if kind in {CREATE, SEND, REPLY} else None)
        if rule is not None:
            return await self._scripted(request, rule)
        return web.json_response(body, status=status, headers=headers)

    def _segments(self, raw_path: str) -> tuple[str, ...] | None:
        """Decoded segments after the prefix; None when the path is not under it."""
        if not raw_path.startswith(self.prefix + "/"):
            return None
        return tuple(unquote(s) for s in raw_path[len(self.prefix) + 1 :].split("/"))

    def _answer(
        self, call: ConnectorCall, raw: bytes, content_type: str
    ) -> tuple[int, Any, dict[str, str], Rule | None]:
        """(status, JSON body, headers, the scripted rule answering instead, if any)."""
        if not self._authorized(call.token):
            return 401, DENIED, {}, None
        for rule in self.rules:
            if rule.matches(call.kind, call.path, call.conversation_id):
                rule.used += 1
                return rule.status, None, {}, rule
        now = time.monotonic()
        buckets = [(b, b.bucket(call.conversation_id, now)) for b in self._limits]
        wait = max((b.wait(bucket) for b, bucket in buckets), default=0.0)
        if wait == 0:
            for _, bucket in buckets:
                bucket[0] -= 1
        else:
            precise = all(b.precise for b in self._limits)
            after = f"{math.ceil(wait * 1000) / 1000:.3f}" if precise else str(math.ceil(wait))
            return 429, _error("TooManyRequests", "rate limited"), {"Retry-After": after}, None
        if call.kind == UNKNOWN:
            return 404, _error("NotFound", "no such resource"), {}, None
        if call.json is not None and call.kind != MEMBERS and "json" not in content_type:
            return 415, _error("BadArgument", "expected application/json"), {}, None
        if self.max_activity_bytes is not None and len(raw) > self.max_activity_bytes:
            return 413, _error("MessageSizeTooBig", "activity too large"), {}, None
        handler = {
            CREATE: self._create,
            SEND: self._post,
            REPLY: self._post,
            UPDATE: self._update,
            MEMBERS: self._members,
        }[call.kind]
        status, body = handler(call)
        return status, body, {}, None

    def _authorized(self, token: str | None) -> bool:
        if token is None:
            return False
        if self.token is None:
            return True
        if callable(self.token):
            return self.token(token)
        return token == self.token

    async def _scripted(self, request: web.Request, rule: Rule) -> web.StreamResponse:
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.status == HANG_UP:
            if request.transport is not None:
                request.transport.close()  # the client sees a dropped connection, no answer
            return web.Response(status=500)
        body = rule.body
        if body is None:
            body = json.dumps(_error(_CODES.get(rule.status, "ServiceError"), "scripted")).encode()
        headers = {"Content-Type": "application/json", **rule.headers}
        if not rule.chunked:
            return web.Response(status=rule.status, body=body, headers=headers)
        response = web.StreamResponse(status=rule.status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 16 << 10):
            await response.write(body[start : start + (16 << 10)])
        await response.write_eof()
        return response

    def _record(self, call: ConnectorCall, status: int, new_id: str | None) -> None:
        self.calls.append(
            ConnectorCall(**{**call.__dict__, "status": status, "new_id": new_id})  # frozen copy
        )
        self.statuses[status] += 1
        self._changed.set()
        self._changed = asyncio.Event()

    # --- handlers: a call -> (status, body) ----------------------------------------------

    def _owner_status(self, conversation: str | None) -> int | None:
        for user, status in self.blocked.items():
            if self.personal.get(user) == conversation or _personal_id(user) == conversation:
                return status
        return None

    def _create(self, call: ConnectorCall) -> tuple[int, Any]:
        body = call.json
        members = body.get("members") if isinstance(body, dict) else None
        bot = body.get("bot") if isinstance(body, dict) else None
        channel_data = body.get("channelData") if isinstance(body, dict) else None
        tenant = channel_data.get("tenant", {}) if isinstance(channel_data, dict) else None
        ok = (
            isinstance(body, dict)
            and isinstance(bot, dict)
            and isinstance(bot.get("id"), str)
            and isinstance(members, list)
            and len(members) == 1
            and isinstance(members[0], dict)
            and isinstance(members[0].get("id"), str)
            and isinstance(tenant, dict)
            and isinstance(tenant.get("id"), str)
            and body.get("isGroup") in (False, None)
        )
        if not ok:
            return 400, _error("BadArgument", "a 1:1 chat needs bot, one member and a tenant")
        assert isinstance(body, dict) and isinstance(members, list) and isinstance(tenant, dict)
        if self.tenant is not None and tenant["id"] != self.tenant:
            return 403, _error("Forbidden", "tenant mismatch")
        user = str(members[0]["id"])
        if user in self.blocked:
            return self.blocked[user], _error("ConversationBlockedByUser", "User blocked")
        conversation = self.personal.setdefault(user, _personal_id(user))
        self.created.append(body)
        return 201, {"id": conversation}

    def _post(self, call: ConnectorCall) -> tuple[int, Any]:
        activity = call.json
        if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
            return 400, _error("BadArgument", "an activity needs a type")
        blocked = self._owner_status(call.conversation_id)
        if blocked is not None:
            return blocked, _error("ConversationBlockedByUser", "User blocked")
        assert call.conversation_id is not None
        new_id = str(next(self._ids))
        stored = {**activity, "id": new_id}
        if call.kind == REPLY:
            stored["replyToId"] = call.activity_id
        self.activities.setdefault(call.conversation_id, []).append(stored)
        return 201, {"id": new_id}

    def _update(self, call: ConnectorCall) -> tuple[int, Any]:
        activity = call.json
        if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
            return 400, _error("BadArgument", "an activity needs a type")
        assert call.conversation_id is not None and call.activity_id is not None
        posted = self.activities.setdefault(call.conversation_id, [])
        index = next((i for i, a in enumerate(posted) if a.get("id") == call.activity_id), None)
        if index is None and self.strict_updates:
            return 404, _error("ActivityNotFoundInConversation", "Unknown activity")
        stored = {**activity, "id": call.activity_id}
        if index is None:
            posted.append(stored)
        else:
            posted[index] = stored
        self.updates.append((call.conversation_id, call.activity_id, stored))
        return 200, {"id": call.activity_id}

    def _members(self, call: ConnectorCall) -> tuple[int, Any]:
        assert call.conversation_id is not None
        return 200, self.rosters.get(call.conversation_id, [])


_CODES = {
    400: "BadArgument",
    401: "Unauthorized",
    403: "ConversationBlockedByUser",
    404: "ConversationNotFound",
    412: "PreconditionFailed",
    429: "TooManyRequests",
}


def _error(code: str, message: str) -> Json:
    return {"error": {"code": code, "message": message}}


def _personal_id(user_id: str) -> str:
    """A 1:1 conversation id for `user_id`, opaque like Teams' ("a:1" + base64, so it may
    hold "/", "+" and "=" and must be URL-encoded)."""
    return "a:1" + base64.b64encode(f"opsbot-fake|{user_id}".encode()).decode()


def _route(method: str, segments: tuple[str, ...] | None) -> tuple[str, str | None, str | None]:
    """(kind, conversation id, activity id) of a call; UNKNOWN for anything else."""
    if not segments or segments[:2] != ("v3", "conversations") or "" in segments:
        return UNKNOWN, None, None
    rest = segments[2:]
    if method == "POST" and not rest:
        return CREATE, None, None
    if len(rest) == 2 and rest[1] == "activities" and method == "POST":
        return SEND, rest[0], None
    if len(rest) == 3 and rest[1] == "activities" and method in {"POST", "PUT"}:
        return (REPLY if method == "POST" else UPDATE), rest[0], rest[2]
    if len(rest) == 2 and rest[1] == "members" and method == "GET":
        return MEMBERS, rest[0], None
    return UNKNOWN, None, None
