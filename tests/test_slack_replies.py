"""No answer is dropped under rate limits: replies through the real route, a rate-limited Slack."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.events import pick_payload
from bot.model import Ref
from bot.slack.blocks import ACTION_PICK
from tests.slack_env import Opsbot, running, slack_settings
from tests.slack_fake import HANG_UP, Call, FakeSlack, action_body, event_body

JSON = "application/json"
#: Four questions asked at once in one channel, and what each answer starts with.
QUESTIONS = {
    "1700000001.000100": ("who owns model monitoring", "Model monitoring is owned by"),
    "1700000002.000100": ("what is data drift", "Data drift (term)"),
    "1700000003.000100": ("who is on mlp?", "ML Platform has 2 members"),
    "1700000004.000100": ("who owns model monitoring?", "Model monitoring is owned by"),
}


def quick(tmp_path: Path, slack: FakeSlack, deadline: str = "10") -> Any:
    """The bot with ten posts a second per channel (Slack: one) and a short reply deadline."""
    settings = slack_settings(
        tmp_path,
        slack,
        OPSBOT_SLACK_CHANNEL_POSTS_PER_SECOND="10",
        OPSBOT_SLACK_REPLY_DEADLINE_SECONDS=deadline,
    )
    return running(settings, slack)


def mention(text: str, ts: str) -> bytes:
    event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "channel": "C1",
             "ts": ts}  # fmt: skip
    return event_body(event, event_id=f"Ev{ts}")


async def metrics(bot: Opsbot) -> str:
    return await (await bot.client.get("/metrics")).text()


def delivered(slack: FakeSlack, method: str = "chat.postMessage") -> list[Call]:
    return [c for c in slack.calls_to(method) if c.status == 200]


async def test_four_questions_at_once_in_one_channel_each_get_one_answer_in_their_thread(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """Four mentions at once, some posts refused with 429: each is answered once, in its thread."""
    slack.rate_limit("chat.postMessage", per_second=20, burst=1, precise=True)  # the channel's
    slack.fail("chat.postMessage", status=429, retry_after=0.2, times=2)
    async with quick(tmp_path, slack) as bot:
        await asyncio.gather(*(bot.post(mention(q, ts), content_type=JSON)
                               for ts, (q, _) in QUESTIONS.items()))  # fmt: skip
        await slack.wait_for("chat.postMessage", count=6)
        await bot.settle()
        answers = delivered(slack)
        assert sorted(c.params["thread_ts"] for c in answers) == sorted(QUESTIONS)
        for call in answers:
            assert call.params["text"].startswith(QUESTIONS[call.params["thread_ts"]][1])
        # Only the two scripted refusals: paced to the channel, no post ran into its limit.
        assert [c.status for c in slack.calls_to("chat.postMessage")].count(429) == 2
        gaps = [b.at - a.at for a, b in itertools.pairwise(answers)]
        assert min(gaps) >= 0.07
        assert "opsbot_replies_dropped_total{" not in await metrics(bot)


@pytest.mark.parametrize(
    "status", [429, 500, HANG_UP], ids=["always-429", "always-500", "always-hangs-up"]
)
async def test_a_reply_failing_past_its_deadline_is_counted_and_logged_once(
    tmp_path: Path, slack: FakeSlack, status: int
) -> None:
    """A post that fails until its deadline is retried, then counted and logged exactly once."""
    slack.fail("chat.postMessage", status=status, retry_after=0.05, times=1000)
    async with quick(tmp_path, slack, deadline="0.5") as bot:
        with capture_logs() as logs:
            await bot.post(mention("what is data drift", "1700000001.000100"), content_type=JSON)
            await slack.wait_for("chat.postMessage", count=2)
            await bot.settle()
        assert delivered(slack) == []
        dropped = [e for e in logs if e["event"] == "slack_reply_dropped"]
        assert [(e["method"], e["log_level"]) for e in dropped] == [("chat.postMessage", "warning")]
        assert not [e for e in logs if e["event"] == "slack_background_failed"]
        assert (
            'opsbot_replies_dropped_total{method="chat.postMessage",platform="slack"} 1.0'
            in await metrics(bot)
        )


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth"])
async def test_a_reply_slack_refuses_for_good_is_not_retried(
    tmp_path: Path, slack: FakeSlack, error: str
) -> None:
    """An error no retry can fix is given up at once: one post, counted and logged once."""
    slack.fail("chat.postMessage", error=error)
    async with quick(tmp_path, slack) as bot:
        with capture_logs() as logs:
            await bot.post(mention("what is data drift", "1700000001.000100"), content_type=JSON)
            await slack.wait_for("chat.postMessage")
            await bot.settle()
        assert len(slack.calls_to("chat.postMessage")) == 1
        dropped = [e for e in logs if e["event"] == "slack_reply_dropped"]
        assert [e["error"] for e in dropped] == [error]
        shown = await metrics(bot)
        assert (
            'opsbot_replies_dropped_total{method="chat.postMessage",platform="slack"} 1.0' in shown
        )


async def test_an_answer_to_a_click_reaches_its_response_url_through_failures(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """A response_url answering 503, 429 and hanging up still gets the answer, once."""
    for status in (503, 429, HANG_UP):
        slack.fail("response_url:pick", status=status, retry_after=0.05)
    value = pick_payload("owner", Ref(kind="area", name="model-monitoring"))
    async with quick(tmp_path, slack) as bot:
        url = slack.response_url("pick")
        await bot.post(action_body(f"{ACTION_PICK}_0", value, response_url=url))
        calls = await slack.wait_for("response_url:pick", count=4)
        await bot.settle()
        assert [c.status for c in calls] == [503, 429, HANG_UP, 200]
        assert calls[-1].params["text"].startswith("Model monitoring is owned by ML Platform")
        assert len(slack.calls_to("response_url:pick")) == 4


async def test_a_response_url_failing_past_the_deadline_is_counted_once(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """A response_url that keeps failing is given up at the deadline, counted and logged once."""
    slack.fail("response_url:pick", status=500, times=1000)
    value = pick_payload("owner", Ref(kind="area", name="model-monitoring"))
    async with quick(tmp_path, slack, deadline="0.5") as bot:
        with capture_logs() as logs:
            url = slack.response_url("pick")
            await bot.post(action_body(f"{ACTION_PICK}_0", value, response_url=url))
            await slack.wait_for("response_url:pick", count=2)
            await bot.settle()
        dropped = [e for e in logs if e["event"] == "slack_reply_dropped"]
        assert [(e["method"], e["error"]) for e in dropped] == [("response_url", "http_500")]
        assert (
            'opsbot_replies_dropped_total{method="response_url",platform="slack"} 1.0'
            in await metrics(bot)
        )
