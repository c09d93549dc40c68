"""Slack as tests meet it: a fake Web API, a fake Socket Mode server, signed request bodies.

Everything listens on 127.0.0.1 and behaves like Slack where our code can tell:
bearer tokens are checked, errors are HTTP 200 with ``ok: false``, rate limits are
HTTP 429 with ``Retry-After``, and Socket Mode says hello, takes acks and asks
clients to reconnect. Use it as::

    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

TEAM_ID, TEAM_NAME, BOT_USER, BOT_ID, APP_ID = "T0001", "Acme", "UBOT", "BBOT", "A1"
Json = dict[str, Any]
#: Where builders point response_url unless told: a closed loopback port, never Slack.
NO_RESPONSE_URL = "http://127.0.0.1:9/respond/unset"
Refusal = tuple[int, str, float | None]  # HTTP status (0: hang up), Slack error, Retry-After
HANG_UP = 0


@dataclass(frozen=True)
class Call:
    """One request the fake received, and the HTTP status it answered with."""

    method: str
    params: dict[str, Any]
    headers: Mapping[str, str]
    at: float
    status: int = 200
    error: str | None = None

    def json(self, name: str) -> Any:
        """The parameter `name` decoded when it was sent as a JSON string (blocks, view...)."""
        return _decoded(self.params, name)


def _decoded(params: Mapping[str, Any], name: str) -> Any:
    value = params[name]
    return json.loads(value) if isinstance(value, str) else value


class _Signal:
    """Wakes waiters whenever something was recorded; they re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def until(
        self, condition: Callable[[], bool], seconds: float, complaint: Callable[[], str]
    ) -> None:
        """Return once `condition()` holds; after `seconds` raise AssertionError(complaint())."""
        try:
            async with asyncio.timeout(seconds):
                while not condition():
                    await self._event.wait()
        except TimeoutError:
            raise AssertionError(f"{complaint()} within {seconds}s") from None


@dataclass
class _Limit:
    """Token buckets, one per value of `key`: `burst` calls at once, refilled at `rate`/s."""

    rate: float
    burst: int
    key: str | None
    precise: bool = False  # Retry-After in fractions of a second (Slack sends whole ones)
    buckets: dict[str, list[float]] = field(default_factory=dict)  # value -> [tokens, stamp]

    def bucket(self, params: Mapping[str, Any], now: float) -> list[float]:
        value = str(params.get(self.key, "")) if self.key else ""
        tokens, stamp = self.buckets.setdefault(value, [float(self.burst), now])
        self.buckets[value] = [min(self.burst, tokens + (now - stamp) * self.rate), now]
        return self.buckets[value]

    def wait(self, bucket: list[float]) -> float:
        """Seconds until `bucket` holds a whole token again; 0 when it holds one now."""
        return 0.0 if bucket[0] >= 1 else (1 - bucket[0]) / self.rate


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


class _Server:
    """An aiohttp app on a random loopback port, run as an async context manager."""

    def __init__(self) -> None:
        self.app = web.Application()
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


class FakeSlack(_Server):
    """The Slack Web API: records every call, answers like Slack, fails when told to."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.users: dict[str, Json] = {}
        self.history: dict[str, list[Json]] = {}  # channel -> messages, oldest first
        self.uploads: dict[str, bytes] = {}  # file_id -> bytes sent to its upload URL
        self.files: dict[str, Json] = {}  # file_id -> what files.getUploadURLExternal was told
        self.socket_mode: FakeSocketMode | None = None
        self._failures: dict[str, list[Refusal]] = {}
        self._limits: dict[str, _Limit] = {}
        self._workspace: _Limit | None = None
        self._dms: dict[str, str] = {}
        self._seq = itertools.count(1)
        self._signal = _Signal()
        self.app.router.add_route("*", "/api/{method}", self._api)
        self.app.router.add_post("/respond/{name}", self._respond)
        self.app.router.add_post("/upload/{file_id}", self._upload)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        """Base URL for `AsyncWebClient(base_url=...)` and SLACK_API_URL; ends with "/"."""
        return f"{self.url}api/"

    def response_url(self, name: str) -> str:
        """A response_url whose POSTs are recorded as calls to "response_url:<name>"."""
        return f"{self.url}respond/{name}"

    # --- scripting -------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` fail: 429 ratelimited, 5xx, 200 + error,
        or (status HANG_UP) a connection closed without an answer."""
        if error is None:
            error = {429: "ratelimited", HANG_UP: "hung_up"}.get(
                status, "internal_error" if status >= 500 else ""
            )
        if not error:
            raise ValueError("a failure with HTTP 200 needs an error, e.g. 'channel_not_found'")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.setdefault(method, []).extend([(status, error, retry_after)] * times)

    def rate_limit(
        self,
        method: str,
        per_second: float,
        burst: int = 1,
        key: str | None = "channel",
        *,
        precise: bool = False,
    ) -> None:
        """Answer 429 + Retry-After when `method` exceeds a token bucket per `key` value
        (`precise`: Retry-After in fractions of a second, for fast tests)."""
        self._limits[method] = _Limit(per_second, burst, key, precise)

    def workspace_cap(self, per_second: float, burst: int = 1) -> None:
        """One token bucket shared by every Web API call of the workspace."""
        self._workspace = _Limit(per_second, burst, None)

    def add_user(self, user_id: str, *, tz: str = "Europe/London", **fields: Any) -> Json:
        """Set what users.info answers for `user_id`; `fields` override top-level keys."""
        self.users[user_id] = {**self._default_user(user_id, tz), **fields}
        return self.users[user_id]

    # --- inspection ------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str) -> list[Json]:
        """Messages posted to `channel` (or a user's DM), oldest first."""
        return self.history.get(self._dms.get(channel, channel), [])

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5) -> list[Call]:  # noqa: ASYNC109
        """Wait until `count` calls to `method` were recorded (failed ones count too)."""
        await self._signal.until(
            lambda: len(self.calls_to(method)) >= count,
            timeout,
            lambda: (
                f"expected {count} call(s) to {method}, calls seen: "
                f"{[c.method for c in self.calls]}"
            ),
        )
        return self.calls_to(method)[:count]

    # --- HTTP ------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            params.update(body if isinstance(body, dict) else {})
        elif request.method == "POST":
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        refusal = self._refuse_auth(method, request.headers.get("Authorization", ""), params)
        return self._answer(method, params, request, refusal)

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        return self._answer(f"response_url:{request.match_info['name']}", body, request)

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        response = self._answer(f"upload_url:{file_id}", {"size": len(data)}, request)
        if response.status != 200:
            return response
        if file_id not in self.files:
            return web.Response(status=404, text="file not found")
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}")  # text/plain, as files.slack.com answers

    def _refuse_auth(
        self, method: str, authorization: str, params: Mapping[str, Any]
    ) -> Refusal | None:
        scheme, _, token = authorization.partition(" ")
        if method.startswith("oauth."):  # client credentials, as HTTP Basic or form fields
            ok = scheme == "Basic" or "client_secret" in params
            return None if ok else (200, "invalid_client_id", None)
        if scheme != "Bearer" or not token:
            return (200, "not_authed", None)
        wants = ("xapp-",) if method.startswith("apps.connections.") else ("xoxb-", "xoxp-")
        if token.startswith(wants):
            return None
        known = token.startswith(("xapp-", "xoxb-", "xoxp-"))
        return (200, "not_allowed_token_type" if known else "invalid_auth", None)

    def _answer(
        self, method: str, params: Json, request: web.Request, refusal: Refusal | None = None
    ) -> web.Response:
        status, headers = 200, {}
        refusal = refusal or self._scripted_failure(method) or self._rate_limited(method, params)
        if refusal is not None:
            status, error, retry_after = refusal
            body: Json = {"ok": False, "error": error}
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
        else:
            handler = self._handlers.get(method)
            body = {"ok": True, **(handler(self, params) if handler else {})}
        failed: str | None = None if body["ok"] else body["error"]
        self._record(Call(method, params, request.headers.copy(), time.time(), status, failed))
        if status == HANG_UP and request.transport is not None:
            request.transport.close()  # the client sees a dropped connection, no answer
        return web.json_response(body, status=status or 200, headers=headers)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._signal.notify()

    def _scripted_failure(self, method: str) -> Refusal | None:
        queue = self._failures.get(method)
        return queue.pop(0) if queue else None

    def _rate_limited(self, method: str, params: Mapping[str, Any]) -> Refusal | None:
        limits = [lim for lim in (self._workspace, self._limits.get(method)) if lim is not None]
        if method.startswith(("response_url:", "upload_url:")) or not limits:
            return None
        now = time.monotonic()
        buckets = [(lim, lim.bucket(params, now)) for lim in limits]
        wait = max(lim.wait(bucket) for lim, bucket in buckets)
        if wait > 0:
            precise = all(lim.precise for lim in limits)
            return (429, "ratelimited", round(wait, 3) if precise else max(1, math.ceil(wait)))
        for _, bucket in buckets:
            bucket[0] -= 1
        return None

    # --- method handlers: params -> the response body without "ok" ------------------------

    def _next_ts(self) -> str:
        micros = next(self._seq) * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, params: Mapping[str, Any]) -> str:
        channel = str(params.get("channel", ""))
        return self._dm(channel) if channel[:1] in {"U", "W"} else channel

    def _dm(self, users: str) -> str:
        return self._dms.setdefault(users, f"D{len(self._dms) + 1:08d}")

    def _default_user(self, user_id: str, tz: str) -> Json:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        name = f"User {user_id}"
        return {
            "id": user_id, "team_id": TEAM_ID, "name": user_id.lower(), "real_name": name,
            "deleted": False, "is_bot": False, "tz": tz, "tz_label": tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": {"real_name": name, "display_name": name,
                        "email": f"{user_id.lower()}@example.com"},
        }  # fmt: skip

    def _auth_test(self, params: Json) -> Json:
        return {"url": "https://acme.slack.com/", "team": TEAM_NAME, "user": "opsbot",
                "team_id": TEAM_ID, "user_id": BOT_USER, "bot_id": BOT_ID,
                "is_enterprise_install": False}  # fmt: skip

    def _post_message(self, params: Json) -> Json:
        channel, ts = self._channel(params), self._next_ts()
        message: Json = {"type": "message", "ts": ts, "user": BOT_USER, "bot_id": BOT_ID,
                         "app_id": APP_ID, "text": params.get("text", "")}  # fmt: skip
        for key in ("blocks", "attachments", "metadata"):
            if key in params:
                message[key] = _decoded(params, key)
        if "thread_ts" in params:
            message["thread_ts"] = params["thread_ts"]
        self.history.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": ts, "message": message}

    def _post_ephemeral(self, params: Json) -> Json:
        return {"message_ts": self._next_ts()}

    def _update(self, params: Json) -> Json:
        channel, ts = self._channel(params), str(params.get("ts"))
        found = [m for m in self.history.get(channel, []) if m["ts"] == ts]
        if not found:
            return {"ok": False, "error": "message_not_found"}
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                found[0][key] = _decoded(params, key) if key != "text" else params[key]
        return {"channel": channel, "ts": ts, "text": found[0]["text"], "message": found[0]}

    def _history(self, params: Json) -> Json:
        limit = int(params.get("limit") or 100)
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or math.inf)
        found = [dict(m) for m in reversed(self.messages(self._channel(params)))
                 if oldest < float(m["ts"]) < latest]  # fmt: skip
        if not _truthy(params.get("include_all_metadata")):
            for message in found:
                message.pop("metadata", None)
        return {"messages": found[:limit], "has_more": len(found) > limit, "pin_count": 0}

    def _view(self, params: Json) -> Json:
        view = _decoded(params, "view") if "view" in params else {}
        view_id = str(params.get("view_id") or f"V{next(self._seq):08d}")
        return {"view": {**view, "id": view_id, "team_id": TEAM_ID, "app_id": APP_ID,
                         "hash": f"{time.time():.6f}", "state": {"values": {}}}}  # fmt: skip

    def _users_info(self, params: Json) -> Json:
        user_id = str(params.get("user", ""))
        return {"user": self.users.get(user_id) or self._default_user(user_id, "Europe/London")}

    def _conversations_open(self, params: Json) -> Json:
        return {"channel": {"id": self._dm(str(params.get("users", "")))}}

    def _upload_url(self, params: Json) -> Json:
        file_id = f"F{next(self._seq):08d}"
        self.files[file_id] = dict(params)
        return {"upload_url": f"{self.url}upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: Json) -> Json:
        files = []
        for item in _decoded(params, "files"):
            meta = self.files.get(item["id"], {})
            files.append({"id": item["id"], "name": meta.get("filename"),
                          "title": item.get("title") or meta.get("filename"),
                          "size": len(self.uploads.get(item["id"], b""))})  # fmt: skip
        return {"files": files}

    def _oauth(self, params: Json) -> Json:
        return {"access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
                "token_type": "bot", "scope": "chat:write,commands,im:history,users:read",
                "bot_user_id": BOT_USER, "app_id": APP_ID,
                "team": {"id": TEAM_ID, "name": TEAM_NAME}, "enterprise": None,
                "is_enterprise_install": False, "authed_user": {"id": "U1"}}  # fmt: skip

    def _connections_open(self, params: Json) -> Json:
        if self.socket_mode is None:
            return {"ok": False, "error": "no_fake_socket_mode_attached"}
        return {"url": self.socket_mode.issue_url()}

    _handlers: ClassVar[dict[str, Callable[[FakeSlack, Json], Json]]] = {
        "auth.test": _auth_test,
        "chat.postMessage": _post_message,
        "chat.postEphemeral": _post_ephemeral,
        "chat.update": _update,
        "conversations.history": _history,
        "views.publish": _view,
        "views.open": _view,
        "views.update": _view,
        "views.push": _view,
        "users.info": _users_info,
        "conversations.open": _conversations_open,
        "files.getUploadURLExternal": _upload_url,
        "files.completeUploadExternal": _complete_upload,
        "oauth.v2.access": _oauth,
        "apps.connections.open": _connections_open,
    }


class FakeSocketMode(_Server):
    """Slack's Socket Mode websocket: says hello, sends envelopes, collects acks."""

    def __init__(self, slack: FakeSlack | None = None, *, app_id: str = APP_ID) -> None:
        super().__init__()
        self.slack, self.app_id = slack, app_id
        self.tickets: list[str] = []  # issued by apps.connections.open, in order
        self.connected_tickets: list[str] = []  # the ticket of each connection, in order
        self.received: list[Json] = []  # every JSON message clients sent
        self._sockets: list[tuple[web.WebSocketResponse, asyncio.Transport | None]] = []
        self._signal = _Signal()
        self.app.router.add_get("/link/", self._link)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        if self.slack is not None:
            self.slack.socket_mode = self
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.slack is not None:
            self.slack.socket_mode = None
        for ws, _ in list(self._sockets):
            await ws.close()
        await super().__aexit__(*exc_info)

    @property
    def connections(self) -> int:
        """How many websocket connections were established so far."""
        return len(self.connected_tickets)

    @property
    def open_connections(self) -> int:
        return sum(1 for ws, _ in self._sockets if not ws.closed)

    def issue_url(self) -> str:
        self.tickets.append(str(len(self.tickets) + 1))
        return f"ws://127.0.0.1:{self.port}/link/?ticket={self.tickets[-1]}&app_id={self.app_id}"

    async def wait_connected(self, n: int = 1, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until the `n`-th connection has been established (and greeted)."""
        await self._signal.until(
            lambda: self.connections >= n,
            timeout,
            lambda: f"expected connection #{n}, saw {self.connections}",
        )

    async def wait_open(self, n: int = 1, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until exactly `n` connections are open (e.g. the client closed the old one)."""
        await self._signal.until(
            lambda: self.open_connections == n,
            timeout,
            lambda: f"expected {n} open connection(s), saw {self.open_connections}",
        )

    async def send(
        self,
        envelope_type: str,
        payload: Json,
        accepts_response_payload: bool = False,
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send an envelope on the newest open connection; returns its envelope_id.

        Pass the same `envelope_id` with `retry_attempt=1, retry_reason="timeout"` to
        redeliver it as Slack does when an ack is late.
        """
        envelope_id = envelope_id or str(uuid.uuid4())
        await self._current()[0].send_json({
            "envelope_id": envelope_id, "type": envelope_type, "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt, "retry_reason": retry_reason,
        })  # fmt: skip
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 5) -> Json:  # noqa: ASYNC109
        """The ack the client sent for `envelope_id`: {"envelope_id": ..., "payload"?: ...}."""

        def acked() -> bool:
            return any(m.get("envelope_id") == envelope_id for m in self.received)

        await self._signal.until(
            acked, timeout, lambda: f"expected an ack for {envelope_id}, got {self.received}"
        )
        return next(m for m in self.received if m.get("envelope_id") == envelope_id)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does before it retires a connection."""
        await self._current()[0].send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        )

    async def drop(self) -> None:
        """Cut the newest connection without a close frame, like a lost network."""
        transport = self._current()[1]
        if transport is None:
            raise AssertionError("the newest Socket Mode connection has no transport to cut")
        transport.abort()

    def _current(self) -> tuple[web.WebSocketResponse, asyncio.Transport | None]:
        for socket in reversed(self._sockets):
            if not socket[0].closed:
                return socket
        raise AssertionError("no open Socket Mode connection")

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)  # answers the client's pings with pongs
        await ws.prepare(request)
        socket = (ws, request.transport)
        self._sockets.append(socket)
        await ws.send_json({
            "type": "hello", "num_connections": self.open_connections,
            "debug_info": {"host": "applink-fake", "build_number": 1,
                           "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        })  # fmt: skip
        self.connected_tickets.append(request.query.get("ticket", ""))
        self._signal.notify()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.received.append(json.loads(msg.data))
                    self._signal.notify()
        finally:
            self._sockets.remove(socket)
            self._signal.notify()
        return ws


# --- inbound requests, signed like Slack signs them ------------------------------------------


def sign(body: bytes, secret: str, timestamp: int | str | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature (v0) for `body`; a text timestamp is
    signed exactly as given (malformed ones too)."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def slash_command_body(
    text: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    team_id: str = TEAM_ID,
    command: str = "/ops",
    response_url: str = NO_RESPONSE_URL,
) -> bytes:
    """A slash command, form-encoded as Slack POSTs it."""
    return urlencode({
        "token": "verification-token", "team_id": team_id, "team_domain": "acme",
        "channel_id": channel_id, "channel_name": "ops", "user_id": user_id,
        "user_name": user_id.lower(), "command": command, "text": text,
        "api_app_id": APP_ID, "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": f"1.{uuid.uuid4().hex}",
    }).encode()  # fmt: skip


def event_body(event: Json, event_id: str = "Ev1", team_id: str = TEAM_ID) -> bytes:
    """An Events API event_callback envelope around `event`, as JSON."""
    now = int(time.time())
    return json.dumps({
        "token": "verification-token", "team_id": team_id, "api_app_id": APP_ID,
        "event": {"event_ts": f"{now}.000100", **event}, "type": "event_callback",
        "event_id": event_id, "event_time": now, "event_context": f"4-{event_id}",
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }).encode()  # fmt: skip


def url_verification_body(challenge: str = "challenge-token") -> bytes:
    """The url_verification handshake Slack sends when the Request URL is saved."""
    return json.dumps(
        {"token": "verification-token", "challenge": challenge, "type": "url_verification"}
    ).encode()


def _interaction(payload: Json, user_id: str, team_id: str = TEAM_ID) -> bytes:
    payload = {
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(),
                 "team_id": team_id},
        "api_app_id": APP_ID, "token": "verification-token",
        "trigger_id": f"1.{uuid.uuid4().hex}", "team": {"id": team_id, "domain": "acme"},
        "enterprise": None, "is_enterprise_install": False, **payload,
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def action_body(
    action_id: str,
    value: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    response_url: str = NO_RESPONSE_URL,
    container: Json | None = None,
    message_ts: str = "1700000000.000100",
) -> bytes:
    """A block_actions button click, form-encoded as `payload=<json>` like Slack sends it."""
    now = f"{time.time():.6f}"
    return _interaction({
        "type": "block_actions",
        "container": container or {"type": "message", "message_ts": message_ts,
                                   "channel_id": channel_id, "is_ephemeral": False},
        "channel": {"id": channel_id, "name": "ops"},
        "message": {"type": "message", "ts": message_ts, "user": BOT_USER, "bot_id": BOT_ID,
                    "text": "", "blocks": []},
        "state": {"values": {}}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1",
                     "text": {"type": "plain_text", "text": value}, "value": value,
                     "action_ts": now}],
    }, user_id)  # fmt: skip


def view_submission_body(
    callback_id: str,
    values: Json,
    user_id: str = "U1",
    private_metadata: str = "",
    view_id: str = "V1",
) -> bytes:
    """A modal's view_submission; `values` is view.state.values (block -> action -> value)."""
    return _interaction({
        "type": "view_submission",
        "view": {"id": view_id, "team_id": TEAM_ID, "type": "modal", "callback_id": callback_id,
                 "private_metadata": private_metadata, "state": {"values": values},
                 "hash": f"{time.time():.6f}", "app_id": APP_ID, "bot_id": BOT_ID},
        "response_urls": [],
    }, user_id)  # fmt: skip
