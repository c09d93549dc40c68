"""Ownership attestation in Slack, through the real `/slack/events` route with signed
requests and the fake Web API: the check as a DM with buttons, "No, it's someone else"
opening the owner modal, its picker, and what a submission keeps or refuses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.slack_env import Opsbot, running, slack_settings
from tests.slack_fake import (
    FakeSlack,
    _interaction,
    action_body,
    event_body,
    slash_command_body,
)
from tests.slack_fake import view_submission_body as submission

ALICE = "U01ALICE01"  # person:alice of the mini knowledge: lead of ML Platform, an admin


@pytest.fixture
async def opsbot(tmp_path: Path, slack: FakeSlack) -> AsyncIterator[Opsbot]:
    # Model monitoring was reviewed on 2026-10-01: asked about when that is 30+ days old.
    settings = slack_settings(tmp_path, slack, OPSBOT_ADMINS=ALICE, OPSBOT_ATTEST_AFTER_DAYS="30")
    async with running(settings, slack) as bot:
        yield bot


def owner_values(picked: str = "", words: str = "") -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": picked}, "value": picked}
    return {
        "owner": {"attest_owner": {"type": "external_select",
                                   "selected_option": option if picked else None}},
        "words": {"value": {"type": "plain_text_input", "value": words or None}},
    }  # fmt: skip


async def test_a_no_opens_the_owner_modal_and_its_answer_is_kept(opsbot: Opsbot) -> None:
    slack = opsbot.slack
    started = slack.response_url("started")
    response = await opsbot.post(slash_command_body("attest run", ALICE, response_url=started))
    assert response.status == 200
    await opsbot.settle()
    (check,) = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ALICE]
    blocks = check.json("blocks")
    assert blocks[0]["text"]["text"] == "Ownership check: Model monitoring"
    assert "Your team ML Platform is listed as owner of Model monitoring" in json.dumps(blocks)
    home = {"type": "app_home_opened", "user": ALICE, "channel": "D1", "tab": "home"}
    await opsbot.post(event_body(home), content_type="application/json")
    await opsbot.settle()
    (published,) = slack.calls_to("views.publish")
    assert "Ownership check: Model monitoring" in json.dumps(published.json("view"))
    no = next(
        e
        for b in blocks
        for e in b.get("elements", [])
        if e.get("text", {}).get("text") == "No, it's someone else"
    )

    clicked = slack.response_url("clicked")
    await opsbot.post(
        action_body(no["action_id"], no["value"], ALICE, channel_id="D1", response_url=clicked)
    )
    await opsbot.settle()
    (opened,) = slack.calls_to("views.open")
    view = opened.json("view")
    assert view["callback_id"] == "attest_owner"
    assert view["blocks"][0]["label"]["text"] == "Who owns Model monitoring now?"
    (said,) = slack.calls_to("response_url:clicked")
    assert "Who owns Model monitoring now?" in said.params["text"]
    assert await opsbot.rows("SELECT question, value FROM checkin_answers") == [
        ("q1", "No, it's someone else")
    ]

    picker = _interaction(
        {"type": "block_suggestion", "action_id": "attest_owner", "block_id": "owner",
         "value": "ali", "view": {"id": "V1", "callback_id": "attest_owner"}},
        ALICE,
    )  # fmt: skip
    options = (await (await opsbot.post(picker)).json())["options"]
    assert [o["value"] for o in options] == ["person:alice"]  # people and teams only

    meta = view["private_metadata"]
    empty = await opsbot.post(submission("attest_owner", owner_values(), ALICE, meta))
    assert json.loads(await empty.text())["response_action"] == "errors"
    picked = submission("attest_owner", owner_values(picked="team:ml-platform"), ALICE, meta)
    assert (await opsbot.post(picked)).status == 200
    await opsbot.settle()
    assert await opsbot.rows("SELECT entity, proposed_owner, proposed_by FROM attest_items") == [
        ("area:model-monitoring", "team:ml-platform", ALICE)
    ]
    dms = [c.params["text"] for c in slack.calls_to("chat.postMessage")]
    assert any(t.startswith("Thanks! Noted that Model monitoring is now owned by") for t in dms)
