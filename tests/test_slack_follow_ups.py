"""Slack over HTTP: a follow-up in a mention's thread, by the same person, is about its answer."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import ACTION_PICK
from tests.slack_env import Opsbot
from tests.slack_fake import FakeSlack, action_body, event_body

JSON = "application/json"
TS = "1700000001.000100"


def mention(text: str, *, ts: str, user: str = "U1", thread: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": text, "channel": "C1", "ts": ts}
    return event | ({"thread_ts": thread} if thread else {})


async def test_a_follow_up_in_the_thread_is_about_the_first_answer(
    bot: Opsbot, slack: FakeSlack
) -> None:
    """ "and the runbook?" in the answer's thread gets the runbook of the area asked about;
    another person in the same thread is asked which one they mean."""
    await bot.post(
        event_body(mention("<@UBOT> who owns drift detection?", ts=TS)), content_type=JSON
    )
    await slack.wait_for("chat.postMessage")
    follow_up = mention("<@UBOT> and the runbook?", ts="1700000002.000100", thread=TS)
    await bot.post(event_body(follow_up, event_id="Ev2"), content_type=JSON)
    _, answer = await slack.wait_for("chat.postMessage", count=2)
    assert answer.params["thread_ts"] == TS
    assert answer.params["text"].startswith(
        "Model monitoring's runbook: Runbook: https://wiki.example.com/runbooks/monitoring"
    )
    other = mention("<@UBOT> and the runbook?", ts="1700000003.000100", thread=TS, user="U2")
    await bot.post(event_body(other, event_id="Ev3"), content_type=JSON)
    *_, asked_back = await slack.wait_for("chat.postMessage", count=3)
    assert asked_back.params["text"].startswith("Which one do you mean?")


async def test_a_pick_in_a_dm_becomes_the_subject(bot: Opsbot, slack: FakeSlack) -> None:
    """A suggestion clicked in a DM is what the DM's next follow-up is about."""
    value = "pick|owner|area:model-monitoring"
    url = slack.response_url("pick")
    await bot.post(action_body(ACTION_PICK + "_0", value, channel_id="D1", response_url=url))
    await slack.wait_for("response_url:pick")
    event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
             "text": "who's the backup?", "ts": "1700000004.000100"}  # fmt: skip
    await bot.post(event_body(event, event_id="Ev4"), content_type=JSON)
    (answer,) = await slack.wait_for("chat.postMessage")
    assert answer.params["text"].startswith("The backup for Model monitoring is Bob Okafor.")
    assert answer.json("blocks")[0]["text"]["text"].startswith("The backup for *Model monitoring*")
