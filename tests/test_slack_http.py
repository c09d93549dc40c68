"""Slack over HTTP: real signed requests to the real /slack/events route, a fake Slack API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.events import feedback_payload, pick_payload
from bot.model import Ref
from bot.slack.blocks import ACTION_PICK, ACTION_SHARE, ACTION_VOTE
from tests.slack_env import SECRET, Opsbot, eventually
from tests.slack_fake import (
    FakeSlack,
    action_body,
    event_body,
    sign,
    slash_command_body,
    url_verification_body,
)

JSON = "application/json"


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every text in a list of blocks, joined, to search in."""
    return json.dumps(blocks)


def mention(text: str, *, ts: str = "1700000001.000100", channel: str = "C1") -> dict[str, Any]:
    return {"type": "app_mention", "user": "U1", "text": text, "channel": channel, "ts": ts}


# -- /ops ------------------------------------------------------------------------------


async def test_slash_command_is_answered_in_the_ack(bot: Opsbot) -> None:
    """`/ops who-owns X` is answered ephemerally in the ack, with owner, links, source, votes."""
    response = await bot.post(slash_command_body("who-owns model monitoring"))
    assert response.status == 200
    payload = await response.json()
    assert payload["response_type"] == "ephemeral"
    assert "Model monitoring is owned by ML Platform" in payload["text"]
    blocks = payload["blocks"]
    shown = texts(blocks)
    assert "*Model monitoring* is owned by *ML Platform* (lead <@U01ALICE01>)" in shown
    assert "*Backup*" in shown
    assert "https://wiki.example.com/runbooks/monitoring" in shown  # a link button
    assert "From `org.yaml` \\u00b7 ownership last reviewed 2026-10-01" in shown
    actions = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    ids = [e["action_id"] for e in actions]
    assert f"{ACTION_VOTE}_up" in ids and f"{ACTION_VOTE}_down" in ids
    assert ACTION_SHARE in ids
    await bot.settle()
    rows = await bot.rows("select platform, user_id, channel, text, intent, entity from questions")
    assert rows == [
        ("slack", "U1", "C1", "model monitoring", "owner", "area:model-monitoring"),
    ]


async def test_help_and_usage(bot: Opsbot) -> None:
    """`/ops help` explains the commands; a sub-command without its argument shows usage."""
    help_text = (await (await bot.post(slash_command_body("help"))).json())["text"]
    assert "/ops who-owns X" in help_text
    usage = (await (await bot.post(slash_command_body("team"))).json())["text"]
    assert usage == "Usage: /ops team &lt;team&gt;"  # escaped: Slack shows "<team>"


async def test_unknown_answer_offers_suggestion_buttons(bot: Opsbot) -> None:
    """An unknown answer says so and offers the closest entities as buttons."""
    payload = await (await bot.post(slash_command_body("who owns the monitoring thing"))).json()
    shown = texts(payload["blocks"])
    if "I don't know" not in payload["text"]:
        pytest.fail(f"expected an unknown answer, got {payload['text']}")
    assert ACTION_PICK in shown
    assert pick_payload("owner", Ref(kind="area", name="model-monitoring")) in shown


# -- events ----------------------------------------------------------------------------


async def test_mention_is_answered_in_a_thread(bot: Opsbot, slack: FakeSlack) -> None:
    """An @mention in a channel is answered in the thread of that message."""
    body = event_body(mention("<@UBOT> who is on mlp?"))
    response = await bot.post(body, content_type=JSON)
    assert response.status == 200
    (call,) = await slack.wait_for("chat.postMessage")
    assert call.params["channel"] == "C1"
    assert call.params["thread_ts"] == "1700000001.000100"
    assert "ML Platform has 2 members" in call.params["text"]
    assert "<@U01ALICE01>" in texts(call.json("blocks"))


async def test_direct_message_is_answered_in_the_dm(bot: Opsbot, slack: FakeSlack) -> None:
    """A DM gets its answer in the DM, not in a thread."""
    event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
             "text": "what is data drift", "ts": "1700000002.000100"}  # fmt: skip
    await bot.post(event_body(event), content_type=JSON)
    (call,) = await slack.wait_for("chat.postMessage")
    assert call.params["channel"] == "D1"
    assert "thread_ts" not in call.params
    assert call.params["text"].startswith("Data drift (term)")


async def test_retries_and_the_mention_message_pair_answer_once(
    bot: Opsbot, slack: FakeSlack
) -> None:
    """Retries of an event, and the message event of the same mention, give one answer."""
    first = event_body(mention("<@UBOT> who owns model monitoring"), event_id="Ev1")
    await bot.post(first, content_type=JSON)
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    await bot.post(first, content_type=JSON, headers=retry)
    twin = {"type": "message", "channel_type": "im", "channel": "C1", "user": "U1",
            "text": "<@UBOT> who owns model monitoring", "ts": "1700000001.000100"}  # fmt: skip
    await bot.post(event_body(twin, event_id="Ev2"), content_type=JSON)
    await bot.settle()
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert await bot.rows("select count(*) from questions") == [(1,)]


async def test_a_retry_whose_original_never_arrived_is_answered(
    bot: Opsbot, slack: FakeSlack
) -> None:
    """The first delivery to reach us is answered, even if it is a retry."""
    body = event_body(mention("<@UBOT> what is data drift", ts="1700000009.000100"))
    await bot.post(body, content_type=JSON, headers={"X-Slack-Retry-Num": "2"})
    await slack.wait_for("chat.postMessage")
    await bot.settle()
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_bots_and_edits_are_ignored(bot: Opsbot, slack: FakeSlack) -> None:
    """Messages from bots (our own replies included) and message edits get no answer."""
    from_bot = {"type": "message", "channel_type": "im", "channel": "D1", "bot_id": "BBOT",
                "text": "who owns model monitoring", "ts": "1700000003.000100"}  # fmt: skip
    edit = {"type": "message", "subtype": "message_changed", "channel_type": "im",
            "channel": "D1", "ts": "1700000004.000100"}  # fmt: skip
    for event in (from_bot, edit):
        assert (await bot.post(event_body(event), content_type=JSON)).status == 200
    await bot.settle()
    assert slack.calls_to("chat.postMessage") == []


async def test_unhandled_signed_events_get_200(bot: Opsbot) -> None:
    """A signed event the bot has no use for is acknowledged with 200, not 404."""
    event = {"type": "reaction_added", "user": "U1", "reaction": "tada"}
    response = await bot.post(event_body(event), content_type=JSON)
    assert response.status == 200


async def test_url_verification(bot: Opsbot) -> None:
    """Slack's URL handshake gets its challenge back."""
    response = await bot.post(url_verification_body("abc123"), content_type=JSON)
    assert response.status == 200
    assert (await response.json()) == {"challenge": "abc123"}


async def test_app_home_shows_the_users_teams(bot: Opsbot, slack: FakeSlack) -> None:
    """Opening the Home tab publishes what the bot answers and what the user's teams own."""
    event = {"type": "app_home_opened", "user": "U01ALICE01", "channel": "D1", "tab": "home"}
    await bot.post(event_body(event), content_type=JSON)
    (call,) = await slack.wait_for("views.publish")
    assert call.params["user_id"] == "U01ALICE01"
    view = call.json("view")
    assert view["type"] == "home"
    assert "*ML Platform* owns Model monitoring" in texts(view["blocks"])


# -- clicks ----------------------------------------------------------------------------


async def test_feedback_is_recorded_and_changing_it_replaces_it(
    bot: Opsbot, slack: FakeSlack
) -> None:
    """Helpful / Not helpful clicks are stored, one vote per user per answer."""
    payload = await (await bot.post(slash_command_body("who-owns model monitoring"))).json()
    down = next(
        e["value"]
        for b in payload["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == f"{ACTION_VOTE}_down"
    )
    uid = down.split("|")[1]
    assert down == feedback_payload(uid, False)
    url = slack.response_url("vote")
    assert (
        await bot.post(action_body(f"{ACTION_VOTE}_down", down, response_url=url))
    ).status == 200
    await slack.wait_for("response_url:vote")
    await bot.settle()
    assert await bot.rows("select question_uid, user_id, helpful from votes") == [(uid, "U1", 0)]
    up = feedback_payload(uid, True)
    await bot.post(action_body(f"{ACTION_VOTE}_up", up, response_url=url))
    await slack.wait_for("response_url:vote", count=2)
    await bot.settle()
    assert await bot.rows("select question_uid, user_id, helpful from votes") == [(uid, "U1", 1)]
    assert slack.calls_to("response_url:vote")[0].params["text"].startswith("Thanks")


async def test_a_suggestion_click_answers(bot: Opsbot, slack: FakeSlack) -> None:
    """Clicking a suggestion answers about that entity."""
    value = pick_payload("owner", Ref(kind="area", name="model-monitoring"))
    url = slack.response_url("pick")
    await bot.post(action_body(f"{ACTION_PICK}_0", value, response_url=url))
    (call,) = await slack.wait_for("response_url:pick")
    assert call.params["text"].startswith("Model monitoring is owned by ML Platform")
    assert call.params["response_type"] == "ephemeral"


async def test_share_posts_the_answer_in_the_channel(bot: Opsbot, slack: FakeSlack) -> None:
    """ "Share in channel" posts the answer for everyone and removes the private copy."""
    value = pick_payload("owner", Ref(kind="area", name="model-monitoring"))
    url = slack.response_url("share")
    await bot.post(action_body(ACTION_SHARE, value, response_url=url))
    calls = await slack.wait_for("response_url:share", count=2)
    assert calls[0].params["response_type"] == "in_channel"
    assert calls[0].params["text"].startswith("Model monitoring is owned by ML Platform")
    assert calls[1].params["delete_original"] is True


# -- the rules of the platform ---------------------------------------------------------


async def no_questions(bot: Opsbot) -> bool:
    return await bot.rows("select count(*) from questions") == [(0,)]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=bad"},
        sign(b"other body", SECRET),
        sign(slash_command_body("who-owns model monitoring"), SECRET, int(time.time()) - 301),
        sign(slash_command_body("who-owns model monitoring"), SECRET, int(time.time()) + 301),
        sign(slash_command_body("who-owns model monitoring"), "wrong-secret"),
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=abc"},
        {"X-Slack-Request-Timestamp": "-5", "X-Slack-Signature": "v0=abc"},
    ],
    ids=["none", "bad", "other-body", "old", "future", "wrong-secret", "non-numeric", "negative"],
)
async def test_bad_signatures_get_401_and_nothing_is_written(
    bot: Opsbot, slack: FakeSlack, headers: dict[str, str]
) -> None:
    """Missing, wrong, replayed (> 5 min) or malformed signatures: 401, nothing stored."""
    body = slash_command_body("who-owns model monitoring")
    response = await bot.post(body, signed=False, headers=headers)
    assert response.status == 401
    assert "Traceback" not in await response.text()
    await bot.settle()
    assert await no_questions(bot)
    assert slack.calls == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", JSON),
        (b"[1, 2]", JSON),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
    ],
    ids=["json", "json-array", "payload", "payload-array", "not-utf8"],
)
async def test_malformed_bodies_get_400(bot: Opsbot, body: bytes, content_type: str) -> None:
    """A correctly signed but malformed body gets 400 with a short reason, no traceback."""
    response = await bot.post(body, content_type=content_type)
    assert response.status == 400
    text = await response.text()
    assert text.startswith("malformed request body")
    assert "Traceback" not in text


async def test_rate_limits_and_server_errors_are_retried(bot: Opsbot, slack: FakeSlack) -> None:
    """A 429 with Retry-After and a 503 from Slack are retried; the answer arrives once."""
    slack.fail("chat.postMessage", status=429, retry_after=0, times=1)
    slack.fail("chat.postMessage", status=503, times=1)
    await bot.post(event_body(mention("<@UBOT> what is data drift")), content_type=JSON)

    async def delivered() -> bool:
        return any(c.status == 200 for c in slack.calls_to("chat.postMessage"))

    await eventually(delivered, seconds=10)
    statuses = [c.status for c in slack.calls_to("chat.postMessage")]
    assert statuses == [429, 503, 200]


async def test_platform_errors_are_counted(bot: Opsbot, slack: FakeSlack) -> None:
    """A Slack API error is logged and counted in /metrics, never shown as a traceback."""
    slack.fail("chat.postMessage", error="channel_not_found", times=1)
    await bot.post(event_body(mention("<@UBOT> what is data drift")), content_type=JSON)
    await bot.settle()
    metrics = await (await bot.client.get("/metrics")).text()
    assert (
        'opsbot_platform_api_errors_total{error="channel_not_found",'
        'method="chat.postMessage",platform="slack"} 1.0'
    ) in metrics
    assert 'opsbot_answers_total{intent="definition"} 1.0' in metrics


async def test_user_text_never_pings(bot: Opsbot, slack: FakeSlack) -> None:
    """`<!channel>`, mentions and disguised links typed by a user are not echoed as markup."""
    text = "<@UBOT> <!channel> who owns <https://evil.example.com|model monitoring> <@U999>?"
    await bot.post(event_body(mention(text)), content_type=JSON)
    (call,) = await slack.wait_for("chat.postMessage")
    shown = texts(call.json("blocks")) + call.params["text"]
    assert "<!channel>" not in shown
    assert "evil.example.com" not in shown
    assert "<@U999>" not in shown


async def test_readiness_and_metrics(bot: Opsbot) -> None:
    """/readyz is ready with Slack configured, and /metrics counts routes and answers."""
    assert (await bot.client.get("/readyz")).status == 200
    await bot.post(slash_command_body("who-owns model monitoring"))
    metrics = await (await bot.client.get("/metrics")).text()
    assert 'route="/slack/events",status="200"' in metrics
    assert "opsbot_http_request_duration_seconds_bucket" in metrics
    assert 'opsbot_answers_total{intent="owner"} 1.0' in metrics


async def test_mentions_are_answered_while_the_database_is_away(slack: FakeSlack) -> None:
    """With the database down the user still gets the answer (a duplicate beats silence)."""
    from datetime import date

    from bot.answers import AnswerEngine
    from bot.handlers import Handlers
    from bot.kb import require_knowledge
    from bot.metrics import Metrics
    from bot.slack.adapter import SlackAdapter
    from bot.slack.client import web_client
    from tests.fakes import FakeClock, MemoryQuestionLog
    from tests.slack_env import BOT_TOKEN, MINI

    engine = AnswerEngine(require_knowledge(MINI, today=date(2026, 11, 29)))
    down = MemoryQuestionLog()
    down.broken = True
    adapter = SlackAdapter(
        handlers=Handlers(answers=lambda: engine, questions=down, clock=FakeClock()),
        answers=lambda: engine,
        events=down,
        clock=FakeClock(),
        telemetry=Metrics(),
        signing_secret=SECRET,
        client=web_client(BOT_TOKEN, slack.api_url),
    )
    body = event_body(mention("<@UBOT> who owns model monitoring"))
    headers = {"Content-Type": JSON, **sign(body, SECRET)}
    assert (await adapter.http(body, headers)).status == 200
    await adapter.drain(5)
    (call,) = slack.calls_to("chat.postMessage")
    assert "Model monitoring is owned by ML Platform" in call.params["text"]
