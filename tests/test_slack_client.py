"""The Web API client under Slack's rate limits: paced before a 429, paused together after."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiohttp import ServerDisconnectedError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.state import RetryState

from bot.config import load_settings
from bot.slack.client import (
    FIRST_BACKOFF,
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    REPLY_DEADLINE,
    Budget,
    CappedBackoff,
    post_pacing,
    retry_after,
    web_client,
    webhook_client,
)
from tests.slack_env import BOT_TOKEN
from tests.slack_fake import HANG_UP, FakeSlack


async def post_many(client_url: str, users: list[str], rate: float) -> None:
    client = web_client(BOT_TOKEN, client_url, pacing=post_pacing(rate), bulk=True)
    await asyncio.gather(*(client.chat_postMessage(channel=u, text="hi") for u in users))


async def test_a_paced_client_stays_under_the_workspace_cap() -> None:
    users = [f"U{i:04d}" for i in range(30)]
    async with FakeSlack() as slack:
        # The fake allows a little more than the client's own 20/s (bursts of 5).
        slack.workspace_cap(per_second=22, burst=6)
        await post_many(slack.api_url, users, rate=20)
        posts = slack.calls_to("chat.postMessage")
        assert [c.status for c in posts] == [200] * len(users)
        assert all(len(slack.messages(u)) == 1 for u in users)


async def test_an_unpaced_client_runs_into_the_cap_and_still_delivers_everything() -> None:
    users = [f"U{i:04d}" for i in range(20)]
    async with FakeSlack() as slack:
        slack.workspace_cap(per_second=22, burst=6)
        await post_many(slack.api_url, users, rate=0)
        refused = [c for c in slack.calls_to("chat.postMessage") if c.status == 429]
        assert refused, "the cap should have refused some of an unpaced burst"
        assert all(len(slack.messages(u)) == 1 for u in users)


async def test_after_a_429_every_caller_waits_out_retry_after() -> None:
    async with FakeSlack() as slack:
        slack.fail("chat.postMessage", status=429, retry_after=1)
        client = web_client(BOT_TOKEN, slack.api_url)
        first = asyncio.create_task(client.chat_postMessage(channel="U1", text="one"))
        (refusal,) = await slack.wait_for("chat.postMessage")
        assert refusal.status == 429
        while not client.pacing.paused_for("chat.postMessage"):  # noqa: ASYNC110 (the client read it)
            await asyncio.sleep(0.005)
        # Others call while the method is paused: none of them reaches Slack early.
        others = [client.chat_postMessage(channel=f"U{i}", text="two") for i in (2, 3, 4)]
        await asyncio.gather(first, *others)
        after = [c for c in slack.calls_to("chat.postMessage") if c is not refusal]
        assert [c.status for c in after] == [200] * 4
        assert min(c.at for c in after) >= refusal.at + 1.0
        assert all(len(slack.messages(u)) == 1 for u in ("U1", "U2", "U3", "U4"))


async def test_other_methods_are_not_held_by_a_pause_of_chat_post_message() -> None:
    async with FakeSlack() as slack:
        slack.add_user("U1")
        slack.fail("chat.postMessage", status=429, retry_after=2)
        client = web_client(BOT_TOKEN, slack.api_url)
        post = asyncio.create_task(client.chat_postMessage(channel="U1", text="one"))
        await slack.wait_for("chat.postMessage")
        started = time.monotonic()
        info = await client.users_info(user="U1")
        assert info["ok"] is True
        assert time.monotonic() - started < 1.5
        await post


async def test_a_reply_to_a_person_does_not_queue_behind_a_round() -> None:
    """Nudges keep the pace; a reply on the same pacing goes at once."""
    async with FakeSlack() as slack:
        pacing = post_pacing(4)
        bulk = web_client(BOT_TOKEN, slack.api_url, pacing=pacing, bulk=True)
        replies = web_client(BOT_TOKEN, slack.api_url, pacing=pacing)
        round_ = asyncio.gather(
            *(bulk.chat_postMessage(channel=f"U{i}", text="nudge") for i in range(8))
        )
        await slack.wait_for("chat.postMessage")
        started = time.monotonic()
        await replies.chat_postMessage(channel="C1", text="the answer")
        assert time.monotonic() - started < 0.5
        await round_
        order = [c.params["channel"] for c in slack.calls_to("chat.postMessage")]
        assert order.index("C1") < 3
        gaps = [b.at - a.at for a, b in itertools.pairwise(slack.calls_to("chat.postMessage"))]
        assert sum(gaps) >= 7 / 4 - 0.1  # the round itself kept to 4 a second


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": ["7"]}, 7.0),
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": ["soon"]}, 1.0),
        ({}, 1.0),
    ],
)
def test_retry_after_is_read_from_the_header(headers: dict[str, object], seconds: float) -> None:
    assert retry_after(headers) == seconds


async def test_posts_to_one_channel_are_spaced_to_its_pace() -> None:
    """Four posts at once to one channel go at its pace, none refused; other channels wait not."""
    async with FakeSlack() as slack:
        # Slack allows about one post a second per channel; here ten, and the client keeps 5.
        slack.rate_limit("chat.postMessage", per_second=10, burst=1, precise=True)
        client = web_client(BOT_TOKEN, slack.api_url, pacing=post_pacing(0, per_channel=5))
        posts = [client.chat_postMessage(channel="C1", text=f"answer {i}") for i in range(4)]
        await asyncio.gather(*posts, client.chat_postMessage(channel="C2", text="elsewhere"))
        calls = slack.calls_to("chat.postMessage")
        assert [c.status for c in calls] == [200] * 5
        in_c1 = [c.at for c in calls if c.params["channel"] == "C1"]
        assert min(b - a for a, b in itertools.pairwise(in_c1)) >= 0.15
        (other,) = [c.at for c in calls if c.params["channel"] == "C2"]
        assert other - in_c1[0] < 0.1
        assert [m["text"] for m in slack.messages("C1")] == [f"answer {i}" for i in range(4)]


async def test_a_reply_is_retried_until_delivered_however_often_it_fails() -> None:
    """429s, 5xx and dropped connections are retried past any fixed budget, until delivered."""
    async with FakeSlack() as slack:
        slack.fail("chat.postMessage", status=429, retry_after=0.01, times=4)
        slack.fail("chat.postMessage", status=502, times=1)
        slack.fail("chat.postMessage", status=HANG_UP, times=1)
        fast = post_pacing(0, per_channel=100)  # Slack's 1 a second would slow the test
        client = web_client(BOT_TOKEN, slack.api_url, pacing=fast, deadline=10)
        await client.chat_postMessage(channel="C1", text="the answer")
        statuses = [c.status for c in slack.calls_to("chat.postMessage")]
        assert statuses == [429] * 4 + [502, HANG_UP, 200]
        assert [m["text"] for m in slack.messages("C1")] == ["the answer"]


@pytest.mark.parametrize(
    ("status", "raised"),
    [(429, SlackApiError), (500, SlackApiError), (HANG_UP, ServerDisconnectedError)],
    ids=["429", "500", "hang-up"],
)
async def test_a_reply_is_given_up_once_its_deadline_passes(
    status: int, raised: type[Exception]
) -> None:
    """A post that keeps failing is retried up to its deadline, then its error is raised."""
    async with FakeSlack() as slack:
        slack.fail("chat.postMessage", status=status, retry_after=0.05, times=1000)
        fast = post_pacing(0, per_channel=100)
        client = web_client(BOT_TOKEN, slack.api_url, pacing=fast, deadline=0.6)
        started = time.monotonic()
        with pytest.raises(raised):
            await client.chat_postMessage(channel="C1", text="the answer")
        # Given up when the next attempt could not start before the deadline: not later.
        assert time.monotonic() - started < 0.6 + 0.5
        assert len(slack.calls_to("chat.postMessage")) >= 2
        assert slack.messages("C1") == []


async def test_errors_that_will_not_pass_are_not_retried() -> None:
    """channel_not_found, not_in_channel, invalid_auth: one attempt, the error at once."""
    async with FakeSlack() as slack:
        for error in ("channel_not_found", "not_in_channel", "invalid_auth"):
            slack.fail("chat.postMessage", error=error)
        fast = post_pacing(0, per_channel=100)
        client = web_client(BOT_TOKEN, slack.api_url, pacing=fast, deadline=10)
        for error in ("channel_not_found", "not_in_channel", "invalid_auth"):
            with pytest.raises(SlackApiError) as info:
                await client.chat_postMessage(channel="C1", text="the answer")
            assert info.value.response["error"] == error
        assert len(slack.calls_to("chat.postMessage")) == 3


async def test_a_response_url_post_is_retried_like_a_reply() -> None:
    """A response_url answering 503, 429, then hanging up still gets the message, once."""
    async with FakeSlack() as slack:
        for status in (503, 429, HANG_UP):
            slack.fail("response_url:r", status=status, retry_after=0.01)
        hook = webhook_client(slack.response_url("r"), deadline=10)
        response = await hook.send(text="the answer", response_type="ephemeral")
        assert response.status_code == 200
        calls = slack.calls_to("response_url:r")
        assert [c.status for c in calls] == [503, 429, HANG_UP, 200]
        assert calls[-1].params["text"] == "the answer"


def test_a_deadline_refuses_an_attempt_that_would_start_after_it() -> None:
    """The budget counts from the first failure; a wait ending past the deadline is refused."""
    budget = Budget(retries=MAX_ATTEMPTS, deadline=60)
    state = RetryState()
    assert budget.allows(state, 1.0)
    assert budget.allows(state, 59.0)
    assert not budget.allows(state, 61.0)
    state.current_attempt = MAX_ATTEMPTS
    assert not budget.allows(state, 0.0)


def test_backoff_doubles_and_is_capped() -> None:
    """Backoff after a 5xx grows from a quarter second and never passes its cap (+ jitter)."""
    backoff = CappedBackoff()
    waits = [backoff.calculate_sleep_duration(n) for n in range(40)]
    assert FIRST_BACKOFF <= waits[0] <= FIRST_BACKOFF * 1.5
    assert all(MAX_BACKOFF <= w <= MAX_BACKOFF * 1.5 for w in waits[6:])


def test_replies_wait_a_minute_by_default() -> None:
    """Unless told otherwise, a reply is retried for at least 60 seconds."""
    assert REPLY_DEADLINE >= 60
    assert load_settings({}).slack_reply_deadline_seconds >= 60
