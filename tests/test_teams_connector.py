"""The Bot Connector client: request shapes, encoded ids, retries, deadlines, unreachable people."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bot.errors import DeliveryFailed, Unreachable
from bot.teams.connector import FIRST_BACKOFF, MAX_RETRY_AFTER, Connector, retry_after
from tests.fake_connector import (
    BOT_TOKEN,
    CREATE,
    HANG_UP,
    MEMBERS,
    REPLY,
    SEND,
    UPDATE,
    FakeConnector,
)

PERSONAL = "a:1Xz/9;messageid=1"
PERSONAL_RAW = "a%3A1Xz%2F9%3Bmessageid%3D1"
CHANNEL = "19:abc@thread.tacv2;messageid=1700000000000"
CHANNEL_RAW = "19%3Aabc%40thread.tacv2%3Bmessageid%3D1700000000000"
MESSAGE = {"type": "message", "text": "hello"}


class Tokens:
    """A token source handing out `tokens` in turn, the next one on each forced refresh."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.asked: list[bool] = []  # force_refresh of each call

    async def token(self, *, force_refresh: bool = False) -> str:
        self.asked.append(force_refresh)
        if force_refresh and len(self.tokens) > 1:
            self.tokens.pop(0)
        return self.tokens[0]


@dataclass
class Clock:
    """Time that only moves when the connector sleeps; the sleeps are recorded."""

    now: float = 1000.0
    delays: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Env:
    bf: FakeConnector
    session: aiohttp.ClientSession
    clock: Clock
    tokens: Tokens
    retries: list[tuple[str, int]]

    def connector(self, *, rand: Callable[[], float] = lambda: 0.0, **kwargs: Any) -> Connector:
        return Connector(
            self.session,
            self.tokens,
            sleep=kwargs.pop("sleep", self.clock.sleep),
            clock=self.clock,
            rand=rand,
            on_retry=lambda op, status: self.retries.append((op, status)),
            **kwargs,
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with FakeConnector(token=BOT_TOKEN) as bf, aiohttp.ClientSession() as session:
        yield Env(bf, session, Clock(), Tokens(BOT_TOKEN), [])


# --- request shapes ---------------------------------------------------------------------


async def test_reply_posts_to_the_encoded_conversation_and_activity(env: Env) -> None:
    """A reply goes to .../conversations/{id}/activities/{replyToId}, both ids encoded."""
    reply_to = "f:1/2?x#y"
    new_id = await env.connector().reply(env.bf.service_url, PERSONAL, reply_to, MESSAGE)
    [call] = env.bf.calls_to(REPLY)
    assert call.method == "POST"
    assert call.raw_path == f"/amer/v3/conversations/{PERSONAL_RAW}/activities/f%3A1%2F2%3Fx%23y"
    assert call.segments == ("v3", "conversations", PERSONAL, "activities", reply_to)
    assert call.json == MESSAGE
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert new_id and new_id == call.new_id
    assert env.bf.delivered(PERSONAL) == [{**MESSAGE, "id": new_id, "replyToId": reply_to}]


async def test_send_posts_a_new_message_to_a_channel_thread(env: Env) -> None:
    """A new message goes to .../conversations/{id}/activities with a thread id encoded."""
    new_id = await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE)
    [call] = env.bf.calls_to(SEND)
    assert call.raw_path == f"/amer/v3/conversations/{CHANNEL_RAW}/activities"
    assert call.conversation_id == CHANNEL
    assert new_id == call.new_id
    assert [a["id"] for a in env.bf.delivered(CHANNEL)] == [new_id]


@pytest.mark.parametrize("tail", ["/", "", "//"])
async def test_the_service_url_is_joined_without_doubling_the_slash(env: Env, tail: str) -> None:
    """Service URLs with one, no or two trailing slashes all reach the same path."""
    service_url = env.bf.service_url.rstrip("/") + tail
    await env.connector().send(service_url, CHANNEL, MESSAGE)
    [call] = env.bf.calls
    assert call.raw_path == f"/amer/v3/conversations/{CHANNEL_RAW}/activities"
    assert "//" not in call.raw_path


async def test_update_puts_the_new_card_in_place(env: Env) -> None:
    """An update PUTs to .../activities/{activityId} and replaces the posted activity."""
    connector = env.connector()
    posted = await connector.send(env.bf.service_url, PERSONAL, MESSAGE)
    card = {"type": "message", "attachments": [{"contentType": "card", "content": {}}]}
    await connector.update(env.bf.service_url, PERSONAL, posted, card)
    [call] = env.bf.calls_to(UPDATE)
    assert call.method == "PUT"
    assert call.raw_path == f"/amer/v3/conversations/{PERSONAL_RAW}/activities/{posted}"
    assert call.json == card
    assert env.bf.delivered(PERSONAL) == [{**card, "id": posted}]


async def test_create_personal_sends_the_contract_body_and_returns_the_id(env: Env) -> None:
    """A 1:1 chat is created with the user as only member and the tenant in channelData."""
    connector = env.connector()
    conversation = await connector.create_personal(
        env.bf.service_url, tenant_id="tenant-1", user_id="29:1user", bot_id="28:bot"
    )
    [call] = env.bf.calls_to(CREATE)
    assert call.raw_path == "/amer/v3/conversations"
    assert call.json == {
        "bot": {"id": "28:bot"},
        "members": [{"id": "29:1user"}],
        "channelData": {"tenant": {"id": "tenant-1"}},
        "isGroup": False,
        "tenantId": "tenant-1",
    }
    assert conversation == env.bf.personal["29:1user"]
    await connector.send(env.bf.service_url, conversation, MESSAGE, proactive=True)
    assert len(env.bf.delivered(conversation)) == 1


async def test_members_gets_the_roster(env: Env) -> None:
    """The roster comes from GET .../conversations/{id}/members."""
    member = {"id": "29:1a", "aadObjectId": "oid-a", "userPrincipalName": "a@example.com"}
    env.bf.add_members(CHANNEL, member)
    assert await env.connector().members(env.bf.service_url, CHANNEL) == [member]
    [call] = env.bf.calls_to(MEMBERS)
    assert (call.method, call.raw_path) == ("GET", f"/amer/v3/conversations/{CHANNEL_RAW}/members")


async def test_a_service_url_that_is_not_http_fails_before_any_call(env: Env) -> None:
    """A serviceUrl that is not an http(s) base URL is refused without a request."""
    with pytest.raises(DeliveryFailed, match="serviceUrl"):
        await env.connector().send("file:///etc/", CHANNEL, MESSAGE)
    assert env.bf.calls == []


# --- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [412, 429, 500, 502, 503, 504, HANG_UP])
async def test_transient_answers_are_retried_until_delivered(env: Env, status: int) -> None:
    """412, 429, 5xx and a dropped connection are retried; the message arrives once."""
    env.bf.fail(status, times=2, kind=SEND)
    new_id = await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE)
    assert [c.status for c in env.bf.calls_to(SEND)] == [status, status, 201]
    assert [a["id"] for a in env.bf.delivered(CHANNEL)] == [new_id]
    assert env.retries == [("send", status)] * 2
    assert len(env.clock.delays) == 2


async def test_backoff_doubles_with_the_injected_jitter(env: Env) -> None:
    """Backoff doubles from FIRST_BACKOFF, plus jitter from the injected random."""
    env.bf.fail(502, times=3)
    await env.connector(rand=lambda: 0.5).reply(env.bf.service_url, CHANNEL, "1", MESSAGE)
    assert env.clock.delays == [FIRST_BACKOFF * f * 1.25 for f in (1, 2, 4)]


async def test_a_timed_out_attempt_is_retried(env: Env) -> None:
    """An attempt that outlives its own timeout counts as no answer and is retried."""
    env.bf.fail(201, kind=SEND, delay=1.0, body={"id": "late"})
    await env.connector(attempt_timeout=0.1).send(env.bf.service_url, CHANNEL, MESSAGE)
    assert env.retries == [("send", 0)]
    assert len(env.bf.delivered(CHANNEL)) == 1


@pytest.mark.parametrize(("header", "wait"), [("7", 7.0), ("1.5", 1.5), ("0", 0.0)])
async def test_retry_after_seconds_are_honoured(env: Env, header: str, wait: float) -> None:
    """A 429's Retry-After in seconds is the wait before the next attempt."""
    env.bf.fail(429, retry_after=header)
    await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE)
    assert env.clock.delays == [wait]


async def test_retry_after_as_an_http_date_counts_from_the_answers_date(env: Env) -> None:
    """A Retry-After HTTP-date is measured from the answer's own Date header."""
    env.bf.fail(
        429,
        retry_after="Wed, 21 Oct 2015 07:28:05 GMT",
        headers={"Date": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE)
    assert env.clock.delays == [5.0]


async def test_a_429_without_retry_after_backs_off(env: Env) -> None:
    """A 429 without Retry-After waits a backoff."""
    env.bf.fail(429)
    await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE)
    assert env.clock.delays == [FIRST_BACKOFF]


async def test_a_huge_retry_after_is_capped(env: Env) -> None:
    """Retry-After is honoured up to MAX_RETRY_AFTER seconds."""
    env.bf.fail(429, retry_after=100_000)
    await env.connector(deadline=1000).send(env.bf.service_url, CHANNEL, MESSAGE)
    assert env.clock.delays == [MAX_RETRY_AFTER]


async def test_a_retry_after_past_the_deadline_gives_up_at_once(env: Env) -> None:
    """A wait that would end after the deadline is not waited: the call fails now."""
    env.bf.fail(429, retry_after=30)
    with pytest.raises(DeliveryFailed, match=r"^send: HTTP 429 \(TooManyRequests\), given up"):
        await env.connector(deadline=20).send(env.bf.service_url, CHANNEL, MESSAGE)
    assert env.clock.delays == []
    assert len(env.bf.calls) == 1


def test_retry_after_reads_seconds_and_dates() -> None:
    """retry_after reads numbers and HTTP-dates, clamps them and ignores nonsense."""
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after({}) is None
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({"Retry-After": "nan"}) is None
    assert retry_after({"Retry-After": "-3"}) == 0.0
    assert retry_after({"Retry-After": " 2 "}) == 2.0
    assert retry_after({"Retry-After": "1e9"}) == MAX_RETRY_AFTER
    assert retry_after({"Retry-After": date}, now=1445412470.0) == 10.0
    assert retry_after({"Retry-After": date, "Date": "Wed, 21 Oct 2015 07:28:30 GMT"}) == 0.0


@pytest.mark.parametrize("deadline", [5.0, 60.0])
async def test_retries_stop_at_the_deadline(env: Env, deadline: float) -> None:
    """A call failing for good is retried within its deadline, then DeliveryFailed."""
    env.bf.fail(502, times=None)
    start = env.clock.now
    with pytest.raises(DeliveryFailed, match=r"^send: HTTP 502 \(ServiceError\), given up after"):
        await env.connector(deadline=deadline).send(env.bf.service_url, CHANNEL, MESSAGE)
    assert env.clock.now - start < deadline
    assert env.clock.now + FIRST_BACKOFF * 32 > start + deadline  # it kept trying until near
    assert len(env.bf.calls) == len(env.clock.delays) + 1


async def test_a_429_pauses_other_calls_to_the_same_service(env: Env) -> None:
    """While one call waits out a 429, a new call to the same service waits as well."""
    waiting, gate = asyncio.Event(), asyncio.Event()
    clock = env.clock

    async def held_sleep(seconds: float) -> None:  # the first wait holds until released
        clock.delays.append(seconds)
        if len(clock.delays) == 1:
            waiting.set()
            await gate.wait()
        clock.now += seconds

    env.bf.fail(429, conversation=PERSONAL, retry_after=5)
    connector = env.connector(sleep=held_sleep)
    first = asyncio.create_task(connector.send(env.bf.service_url, PERSONAL, MESSAGE))
    async with asyncio.timeout(5):
        await waiting.wait()
    await connector.send(env.bf.service_url, CHANNEL, MESSAGE)
    assert clock.delays == [5.0, 5.0]
    gate.set()
    await first
    assert [c.status for c in env.bf.calls] == [429, 201, 201]


# --- people who cannot be reached ---------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404])
async def test_a_proactive_send_refused_is_unreachable_after_three_attempts(
    env: Env, status: int
) -> None:
    """403/404 on a proactive send: Unreachable after `unreachable_after` attempts in all."""
    env.bf.fail(status, times=None, kind=SEND)
    with pytest.raises(Unreachable, match=f"^send: HTTP {status}"):
        await env.connector().send(env.bf.service_url, PERSONAL, MESSAGE, proactive=True)
    assert len(env.bf.calls) == 3
    assert env.retries == [("send", status)] * 2


async def test_a_blocked_user_is_unreachable_when_creating_their_chat(env: Env) -> None:
    """A 403 on creating the 1:1 chat is Unreachable, naming the connector's error code."""
    env.bf.block("29:1gone")
    with pytest.raises(Unreachable, match=r"create_personal: HTTP 403 \(ConversationBlocked"):
        await env.connector(unreachable_after=1).create_personal(
            env.bf.service_url, tenant_id="t", user_id="29:1gone", bot_id="28:bot"
        )
    assert len(env.bf.calls) == 1


async def test_unreachable_comes_by_the_third_attempt_whatever_came_before(env: Env) -> None:
    """Two 429s then a 403: Unreachable on the third attempt, not later."""
    env.bf.fail(429, times=2, retry_after=1)
    env.bf.fail(404, times=None)
    with pytest.raises(Unreachable):
        await env.connector().send(env.bf.service_url, PERSONAL, MESSAGE, proactive=True)
    assert [c.status for c in env.bf.calls] == [429, 429, 404]


async def test_a_403_that_passes_is_delivered(env: Env) -> None:
    """A 403 for a moment (a chat just created) is retried and the message delivered."""
    env.bf.fail(403, times=2)
    await env.connector().send(env.bf.service_url, PERSONAL, MESSAGE, proactive=True)
    assert len(env.bf.delivered(PERSONAL)) == 1


@pytest.mark.parametrize("status", [403, 404])
async def test_refusals_outside_proactive_sends_fail_at_once(env: Env, status: int) -> None:
    """403/404 on a reply or an update is DeliveryFailed, not Unreachable, and not retried."""
    env.bf.fail(status, times=None)
    connector = env.connector()
    with pytest.raises(DeliveryFailed) as failed:
        await connector.reply(env.bf.service_url, CHANNEL, "1", MESSAGE)
    assert not isinstance(failed.value, Unreachable)
    with pytest.raises(DeliveryFailed, match=f"^update: HTTP {status}"):
        await connector.update(env.bf.service_url, CHANNEL, "1", MESSAGE)
    assert len(env.bf.calls) == 2


# --- tokens and other refusals -----------------------------------------------------------


async def test_a_401_refreshes_the_token_once(env: Env) -> None:
    """A 401 asks the token source for a new token and tries again with it."""
    env.tokens = Tokens("stale-token", BOT_TOKEN)
    await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE)
    assert [c.token for c in env.bf.calls] == ["stale-token", BOT_TOKEN]
    assert env.tokens.asked == [False, True]
    assert env.retries == [("send", 401)]
    assert env.clock.delays == []


async def test_a_second_401_fails_without_naming_the_token(env: Env) -> None:
    """A new token refused again: DeliveryFailed after two attempts, the token unsaid."""
    env.tokens = Tokens("stale-token", "also-wrong")
    with pytest.raises(DeliveryFailed, match=r"^send: HTTP 401$") as failed:
        await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE)
    assert "wrong" not in str(failed.value) and "stale" not in str(failed.value)
    assert len(env.bf.calls) == 2


@pytest.mark.parametrize("status", [400, 409, 413, 418])
async def test_other_client_errors_fail_at_once(env: Env, status: int) -> None:
    """Any other 4xx is DeliveryFailed naming the operation and status, never the token."""
    env.bf.fail(status, times=None)
    with pytest.raises(DeliveryFailed, match=f"^send: HTTP {status}") as failed:
        await env.connector().send(env.bf.service_url, CHANNEL, MESSAGE, proactive=True)
    assert not isinstance(failed.value, Unreachable)
    assert BOT_TOKEN not in str(failed.value)
    assert len(env.bf.calls) == 1


# --- bounded bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_oversized_answer_is_not_read_whole(env: Env, chunked: bool) -> None:
    """An answer over max_body is dropped: a send is delivered without an id, a 1:1 fails."""
    huge = b'{"id": "x", "pad": "' + b"a" * 50_000 + b'"}'
    env.bf.fail(201, kind=SEND, body=huge, chunked=chunked)
    env.bf.fail(201, kind=CREATE, body=huge, chunked=chunked)
    connector = env.connector(max_body=1024)
    assert await connector.send(env.bf.service_url, CHANNEL, MESSAGE) == ""
    with pytest.raises(DeliveryFailed, match="no conversation id"):
        await connector.create_personal(env.bf.service_url, tenant_id="t", user_id="u", bot_id="b")


async def test_a_roster_over_its_bound_fails(env: Env) -> None:
    """A roster larger than max_roster_body is DeliveryFailed, not a partial list."""
    env.bf.add_members(CHANNEL, *({"id": f"29:{i}", "name": "x" * 100} for i in range(100)))
    connector = env.connector(max_roster_body=4096)
    with pytest.raises(DeliveryFailed, match=r"^members:"):
        await connector.members(env.bf.service_url, CHANNEL)


# --- the fake itself ---------------------------------------------------------------------


async def test_the_fake_refuses_a_wrong_token_and_unknown_paths(env: Env) -> None:
    """The fake answers 401 to a wrong token and 404 to a path with a doubled slash."""
    url = env.bf.service_url
    async with env.session.post(
        url + "v3/conversations", json={}, headers={"Authorization": "Bearer nope"}
    ) as resp:
        assert resp.status == 401
    auth = {"Authorization": f"Bearer {BOT_TOKEN}"}
    async with env.session.post(url + "/v3/conversations", json={}, headers=auth) as resp:
        assert resp.status == 404


async def test_a_rate_limited_fake_delivers_everything_once() -> None:
    """Through a fake limited to 40/s, 60 concurrent sends all arrive exactly once."""
    async with FakeConnector() as bf, aiohttp.ClientSession() as session:
        bf.rate_limit(per_second=40, burst=10, precise=True)
        connector = Connector(session, Tokens(BOT_TOKEN), deadline=30)
        conversations = [f"a:1user{i}/x" for i in range(60)]
        started = time.monotonic()
        await asyncio.gather(
            *(connector.send(bf.service_url, c, MESSAGE, proactive=True) for c in conversations)
        )
        assert all(len(bf.delivered(c)) == 1 for c in conversations)
        assert bf.statuses[429] > 0
        assert time.monotonic() - started < 10
