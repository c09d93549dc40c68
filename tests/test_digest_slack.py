"""The gaps digest in Slack, through the real `/slack/events` route with signed requests and
the fake Web API: the digest posted once, "Suggest an answer", its modal, the entity
picker, and what a submission keeps or refuses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import serving
from bot.config import Settings
from bot.ports import Vote
from bot.slack.digest import METADATA_DIGEST
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.storage.store import SqlStore
from bot.web import create_app
from tests.fakes import FakeClock, asked
from tests.slack_env import SECRET, Opsbot, running, slack_settings
from tests.slack_fake import (
    FakeSlack,
    _interaction,
    action_body,
    sign,
    slash_command_body,
    view_submission_body,
)

ALICE = "U01ALICE01"  # person:alice of the mini knowledge, an admin here
BOB = "U0BOB0001"
KNOW = "C0KNOWLEDGE"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def opsbot(tmp_path: Path, slack: FakeSlack) -> AsyncIterator[Opsbot]:
    settings = slack_settings(
        tmp_path,
        slack,
        OPSBOT_KNOWLEDGE_CHANNEL=KNOW,
        OPSBOT_ADMINS=ALICE,
        OPSBOT_DIGEST_CRON="off",
    )
    async with running(settings, slack) as bot:
        yield bot


async def command(opsbot: Opsbot, text: str, user: str, **more: str) -> dict[str, Any]:
    response = await opsbot.post(slash_command_body(text, user, **more))
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def submit(opsbot: Opsbot, body: bytes) -> tuple[int, str]:
    response = await opsbot.post(body)
    text = await response.text()
    await opsbot.settle()
    return response.status, text


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            found.append(accessory)
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
    return found


def values(kind: str, entity: str = "", alias: str = "", answer: str = "") -> dict[str, Any]:
    """A submitted modal's state, as Slack sends it."""
    picked = {"value": entity, "text": {"type": "plain_text", "text": entity}} if entity else None
    return {
        "kind": {"value": {"type": "radio_buttons", "selected_option": {"value": kind}}},
        "entity": {"gap_entity": {"type": "external_select", "selected_option": picked}},
        "alias": {"value": {"type": "plain_text_input", "value": alias or None}},
        "answer": {"value": {"type": "plain_text_input", "value": answer or None}},
    }


async def test_the_digest_and_a_suggestion_through_slack(opsbot: Opsbot) -> None:
    """Questions asked by slash command and an answer voted not helpful make the digest an
    admin posts with `/ops digest`: one message in the knowledge channel, each question with
    a "Suggest an answer" button, people's text escaped. The button opens the modal; the
    picker searches the knowledge; bad submissions are shown beside their field and keep
    nothing; a good one is kept once with who sent it, and they hear so by DM."""
    slack = opsbot.slack
    for _ in range(2):
        await command(opsbot, "who owns the unicorn farm?", BOB)
    await command(opsbot, "where is the <!channel> *coffee*?", BOB)
    answered = await command(opsbot, "who owns model monitoring?", BOB)
    vote = next(b for b in buttons(answered["blocks"]) if b.get("value", "").endswith("|down"))
    voted = slack.response_url("voted")
    await submit(opsbot, action_body(vote["action_id"], vote["value"], BOB, response_url=voted))

    refused = slack.response_url("refused")
    await command(opsbot, "digest", BOB, response_url=refused)
    await opsbot.settle()
    assert slack.calls_to("response_url:refused")[-1].params["text"] == (
        "Only opsbot admins can post the knowledge gaps digest."
    )
    told = slack.response_url("told")
    await command(opsbot, "digest", ALICE, response_url=told)
    await opsbot.settle()
    assert slack.calls_to("response_url:told")[-1].params["text"] == (
        f"Posted the knowledge gaps digest to the knowledge channel ({KNOW})."
    )
    (post,) = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == KNOW]
    assert post.json("metadata")["event_type"] == METADATA_DIGEST
    blocks = post.json("blocks")
    shown = json.dumps(blocks)
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "Closest: Model monitoring, owner ML Platform" in shown
    suggest = buttons(blocks)
    assert [b["text"]["text"] for b in suggest] == ["Suggest an answer"] * 3
    coffee = next(b["accessory"] for b in blocks if "coffee" in b.get("text", {}).get("text", ""))

    await submit(opsbot, action_body(coffee["action_id"], coffee["value"], BOB, channel_id=KNOW))
    (opened,) = slack.calls_to("views.open")
    view = opened.json("view")
    assert view["callback_id"] == "gap_suggest"
    assert view["private_metadata"] == coffee["value"]
    assert "&lt;!channel&gt;" in json.dumps(view["blocks"][0])

    picker = _interaction(
        {"type": "block_suggestion", "action_id": "gap_entity", "block_id": "entity",
         "value": "mon", "view": {"id": "V1", "callback_id": "gap_suggest"}},
        BOB,
    )  # fmt: skip
    response = await opsbot.post(picker)
    options = (await response.json())["options"]
    assert options[0] == {
        "text": {"type": "plain_text", "text": "Model monitoring (area)", "emoji": True},
        "value": "area:model-monitoring",
    }

    meta = view["private_metadata"]
    forged = view_submission_body("gap_suggest", values("alias", "area:nope"), BOB, meta)
    status, body = await submit(opsbot, forged)
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {"entity": "No entity “area:nope” in the knowledge. Give its reference "
                   "(e.g. area:model-monitoring), name or title."},
    }  # fmt: skip
    empty = view_submission_body("gap_suggest", values("faq", answer="   "), BOB, meta)
    status, body = await submit(opsbot, empty)
    assert json.loads(body)["errors"] == {"answer": "Write the answer the FAQ should give."}
    assert await opsbot.rows("SELECT count(*) FROM gap_suggestions") == [(0,)]

    good = view_submission_body(
        "gap_suggest",
        values("faq", "area:model-monitoring", answer="Kitchen, 2nd floor"),
        BOB,
        meta,
    )
    headers = {"Content-Type": FORM, **sign(good, SECRET)}
    for _ in range(2):  # the same signed delivery twice: a replay
        response = await opsbot.client.post("/slack/events", data=good, headers=headers)
        assert (response.status, await response.text()) == (200, "")
    await opsbot.settle()
    assert await opsbot.rows(
        "SELECT platform, user_id, kind, answer, entity FROM gap_suggestions"
    ) == [("slack", BOB, "faq", "Kitchen, 2nd floor", None)]
    (thanks,) = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == BOB]
    assert thanks.params["text"].startswith("Thanks! Noted your answer to *“where is the")


@asynccontextmanager
async def replica(settings: Settings, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(lambda: serving(settings, clock=clock)))) as c:
        yield c


async def test_the_weekly_digest_is_posted_once_by_two_replicas(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """Two replicas on one database, started at Monday 09:00 with last week's questions on
    record: their ticks post one digest to the knowledge channel, tagged with its key."""
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    settings = slack_settings(tmp_path, slack, OPSBOT_KNOWLEDGE_CHANNEL=KNOW)
    async with open_engine(settings.database_url) as engine:
        await upgrade(engine)
        log = SqlStore(engine)
        await log.record_question(asked("who owns the unicorn farm", at=monday - timedelta(days=2)))
        await log.record_question(
            asked(
                "who owns model monitoring", at=monday - timedelta(days=1), answered=True, uid="a"
            )
        )
        await log.record_vote(Vote(question_uid="a", user=BOB, helpful=False, voted_at=monday))
    clock = FakeClock(monday + timedelta(minutes=1))
    async with replica(settings, clock), replica(settings, clock):
        await slack.wait_for("chat.postMessage", 1)
        await asyncio.sleep(0.5)  # each replica ticks at start: both have by now
    # Leaving the servers waits for ticks under way: every tick of both has finished.
    posts = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == KNOW]
    assert len(posts) == 1
    metadata = posts[0].json("metadata")
    assert metadata["event_payload"]["key"] == "weekly 2026-11-30T09:00Z"
    assert "who owns the unicorn farm?" in json.dumps(posts[0].json("blocks"))
