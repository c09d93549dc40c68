"""The Web API client under Slack's rate limits: paced before a 429, paused together after."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot.slack.client import post_pacing, retry_after, web_client
from tests.slack_env import BOT_TOKEN
from tests.slack_fake import FakeSlack


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
