"""A whole check-in round through the fake Slack: nudge DMs, clicks, a modal, the report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.checkins.service import CheckinService
from bot.events import answer_payload, round_payload
from bot.slack.adapter import SlackAdapter
from bot.slack.client import post_pacing, web_client
from bot.slack.messenger import METADATA_TYPE
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from tests.fakes import FakeClock
from tests.slack_env import BOT_TOKEN, SECRET, checkin_adapter
from tests.slack_fake import FakeSlack, action_body, sign, view_submission_body
from tests.test_rounds import ALICE, BOB, CAROL, KNOWLEDGE, MONDAY_10_NEW_YORK, SUNDAY

FORM = "application/x-www-form-urlencoded"


@dataclass
class World:
    slack: FakeSlack
    clock: FakeClock
    service: CheckinService
    adapter: SlackAdapter

    async def click(self, body: bytes) -> int:
        headers = {"Content-Type": FORM, **sign(body, SECRET)}
        status = (await self.adapter.http(body, headers)).status
        await self.adapter.drain(5)
        return status


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with (
        FakeSlack() as slack,
        open_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}") as engine,
    ):
        await upgrade(engine)
        slack.add_user(CAROL, tz="Europe/Lisbon")
        clock = FakeClock(SUNDAY)
        # Unspaced: Slack's one post a second in a DM would only slow the test down.
        client = web_client(BOT_TOKEN, slack.api_url, pacing=post_pacing(0, per_channel=0))
        service, adapter = checkin_adapter(engine, KNOWLEDGE, client, clock)
        yield World(slack=slack, clock=clock, service=service, adapter=adapter)


def buttons(call_blocks: list[dict[str, object]]) -> dict[str, str]:
    """Button text -> value, over every actions block."""
    found: dict[str, str] = {}
    for block in call_blocks:
        for element in block.get("elements", []):  # type: ignore[attr-defined]
            if element.get("type") == "button" and "value" in element:
                found[element["text"]["text"]] = element["value"]
    return found


async def test_a_round_from_nudge_to_report(world: World) -> None:
    """Nudged by DM with buttons, answered by click and modal, reported with a chart."""
    slack = world.slack
    await world.service.tick()
    world.clock.current = MONDAY_10_NEW_YORK
    await world.service.tick()
    posts = {c.params["channel"]: c for c in slack.calls_to("chat.postMessage")}
    assert set(posts) == {ALICE, BOB, CAROL}
    assert {c.params["user"] for c in slack.calls_to("users.info")} == {CAROL}  # no zone in YAML
    alice = posts[ALICE]
    metadata = alice.json("metadata")
    assert metadata["event_type"] == METADATA_TYPE
    assert metadata["event_payload"]["key"].startswith("weekly|person:alice|")
    choices = buttons(alice.json("blocks"))
    assert {"Yes", "Partly", "No", "1", "5", "Answer", "Skip this round"} <= set(choices)
    round_id = int(choices["Yes"].split("|")[1])
    assert choices["Yes"] == answer_payload(round_id, "drift", "Yes")

    url = slack.response_url("alice")
    assert (
        await world.click(action_body("checkin_drift_0", choices["Yes"], ALICE, response_url=url))
        == 200
    )
    assert (
        await world.click(action_body("checkin_drift_0", choices["Yes"], ALICE, response_url=url))
        == 200
    )
    replies = [c.params["text"] for c in slack.calls_to("response_url:alice")]
    assert replies == ["Thanks! Recorded Yes for: Did your team review the drift dashboards?"] * 2

    mallory = slack.response_url("mallory")
    await world.click(
        action_body("checkin_drift_2", choices["No"], "U0MALLORY", response_url=mallory)
    )
    (refusal,) = slack.calls_to("response_url:mallory")
    assert (
        refusal.params["text"] == "This check-in was sent to someone else; only they can answer it."
    )

    await world.click(action_body("checkin_text_blockers", choices["Answer"], ALICE))
    (opened,) = slack.calls_to("views.open")
    view = opened.json("view")
    assert view["private_metadata"] == answer_payload(round_id, "blockers", "")
    values = {"answer": {"value": {"type": "plain_text_input", "value": "flaky <!channel> GPUs"}}}
    body = view_submission_body(
        "checkin_text", values, ALICE, private_metadata=view["private_metadata"]
    )
    assert await world.click(body) == 200
    dm = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ALICE][-1]
    assert dm.params["text"].startswith("Thanks! Recorded flaky &lt;!channel&gt; GPUs")

    skip = buttons(posts[CAROL].json("blocks"))["Skip this round"]
    assert skip == round_payload("skip", round_id)
    await world.click(
        action_body("checkin_skip", skip, CAROL, response_url=slack.response_url("c"))
    )
    assert (
        slack.calls_to("response_url:c")[0].params["text"]
        == "Skipped this round. See you next time!"
    )

    world.clock.current = MONDAY_10_NEW_YORK + timedelta(days=2)
    await world.service.tick()
    report = [
        c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "#mlops-practices"
    ]
    assert len(report) == 1
    text = report[0].params["text"]
    assert "answered" in text
    assert "&lt;!channel&gt;" in json.dumps(
        report[0].json("blocks")
    ) or "<!channel>" not in json.dumps(report[0].json("blocks"))
    assert slack.calls_to("files.getUploadURLExternal")
    (completed,) = slack.calls_to("files.completeUploadExternal")
    assert completed.params["channel_id"]

    closed = slack.response_url("late")
    await world.click(action_body("checkin_drift_1", choices["Partly"], ALICE, response_url=closed))
    assert slack.calls_to("response_url:late")[0].params["text"] == (
        "This round is closed, so answers can no longer change. Thanks anyway!"
    )


async def test_unreachable_people_are_not_retried(world: World) -> None:
    """A DM Slack refuses for good (user_not_found) is not tried again."""
    world.slack.fail("chat.postMessage", error="user_not_found", times=1)
    await world.service.tick()
    world.clock.current = datetime(2026, 11, 30, 10, tzinfo=UTC)
    await world.service.tick()
    first = len(world.slack.calls_to("chat.postMessage"))
    world.clock.current += timedelta(hours=1)
    await world.service.tick()
    assert len(world.slack.calls_to("chat.postMessage")) == first


async def test_app_home_lists_open_check_ins(world: World) -> None:
    """The Home tab shows the check-in rounds still waiting for the user's answers."""
    from tests.slack_fake import event_body

    await world.service.tick()
    world.clock.current = MONDAY_10_NEW_YORK
    await world.service.tick()
    event = {"type": "app_home_opened", "user": ALICE, "channel": "D1", "tab": "home"}
    body = event_body(event)
    headers = {"Content-Type": "application/json", **sign(body, SECRET)}
    assert (await world.adapter.http(body, headers)).status == 200
    await world.adapter.drain(5)
    (call,) = world.slack.calls_to("views.publish")
    shown = json.dumps(call.json("view"))
    assert "*Your open check-ins* (answer in your DMs)" in shown
    assert "Weekly MLOps practices (2026-11-30T10:00)" in shown
