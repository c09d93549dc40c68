"""The gaps digest in Teams, through the real `/api/messages` route (real tokens, a fake Bot
Connector): the digest card in the knowledge channel or an admin's chat, and the form of
"Suggest an answer" sent back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_connector import REPLY, SEND
from tests.teams_env import BOB, TeamsBot, running_teams
from tests.test_teams_adapter import CHANNEL, _actions, card_of, installed, texts

HOSTILE = "who owns <at>Mallory</at> ${secret} **now**?"


@pytest.fixture
async def teams(tmp_path: Path, database_url: str) -> AsyncIterator[TeamsBot]:
    """Teams with a knowledge channel, on SQLite and on PostgreSQL."""
    async with running_teams(
        tmp_path,
        database_url,
        OPSBOT_KNOWLEDGE_CHANNEL=f"teams:{CHANNEL}",
        OPSBOT_DIGEST_CRON="off",
    ) as bot:
        yield bot


async def asked_and_posted(teams: TeamsBot) -> dict[str, Any]:
    """Bob asks what the knowledge cannot answer; Alice (an opsbot admin) has the digest
    posted; the card that reached the knowledge channel."""
    await installed(teams)
    for text in ("who owns the unicorn farm?", "who owns the unicorn farm", HOSTILE):
        await teams.post(teams.activity(text, sender=BOB, conversation="a:1personal-bob"))
    await teams.settle()
    await teams.post(teams.activity("ops digest"))
    await teams.settle()
    (posted,) = [c for c in teams.bf.calls_to(SEND) if c.conversation_id == CHANNEL]
    return card_of(posted.json)


def form_of(card: dict[str, Any], question: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The "Suggest an answer" form under `question`, and its "Send suggestion" button."""
    body = card["body"]
    at = next(i for i, block in enumerate(body) if question in block.get("text", ""))
    (show,) = next(b for b in body[at:] if b.get("type") == "ActionSet")["actions"]
    assert show["type"] == "Action.ShowCard" and show["title"] == "Suggest an answer"
    (send,) = _actions(show["card"])
    assert send["type"] == "Action.Submit" and send["title"] == "Send suggestion"
    return show["card"], send


async def test_the_digest_card_and_a_suggestion_through_teams(teams: TeamsBot) -> None:
    """The digest card reaches the knowledge channel, with people's text shown literally;
    each question has its own form. A suggestion sent from one is kept with who sent it
    and answered in the channel; a bad one is refused, and nothing kept."""
    card = await asked_and_posted(teams)
    reply = teams.bf.calls_to(REPLY)[-1]
    assert "Posted the knowledge gaps digest to the knowledge channel" in texts(card_of(reply.json))
    shown = json.dumps(card)
    assert "<at>" not in shown and "${" not in shown and "**now**" not in shown
    assert "unicorn farm" in texts(card) and "asked twice" in texts(card)
    form, send = form_of(card, "unicorn farm")
    item = send["data"]["opsbot"].split("|")[1]
    ids = {element["id"] for element in form["body"]}
    assert ids == {f"gap-{field}:{item}" for field in ("kind", "entity", "alias", "answer")}
    alias = next(e for e in form["body"] if e["id"] == f"gap-alias:{item}")
    assert alias["value"] == "unicorn farm"

    def sent(**typed: str) -> dict[str, Any]:
        value = {**send["data"], **{f"gap-{k}:{item}": v for k, v in typed.items()}}
        return teams.activity(
            None, sender=BOB, conversation=CHANNEL, conversation_type="channel", value=value
        )

    await teams.post(sent(kind="alias", entity="the unicorn farm", alias="unicorn farm"))
    await teams.post(sent(kind="faq", answer=""))
    await teams.settle()
    assert await teams.rows("SELECT count(*) FROM gap_suggestions") == [(0,)]
    refusals = " ".join(texts(card_of(c.json)) for c in teams.bf.calls_to(REPLY)[-2:])
    assert "No entity “the unicorn farm” in the knowledge" in refusals
    assert "Write the answer the FAQ should give." in refusals

    await teams.post(sent(kind="alias", entity="Model monitoring", alias="unicorn farm"))
    await teams.settle()
    assert await teams.rows(
        "SELECT platform, user_id, person, kind, entity, alias FROM gap_suggestions"
    ) == [
        (
            "teams",
            f"teams:{BOB['aadObjectId']}",
            "person:bob",  # found by the e-mail of the team's roster
            "alias",
            "area:model-monitoring",
            "unicorn farm",
        )
    ]
    thanks = texts(card_of(teams.bf.calls_to(REPLY)[-1].json))
    assert "Noted **“unicorn farm”** as another name for **Model monitoring**" in thanks


async def test_without_a_knowledge_channel_admins_get_the_digest_in_their_chat(
    tmp_path: Path,
) -> None:
    """No OPSBOT_KNOWLEDGE_CHANNEL: the digest goes to each admin (Alice, by her role) in
    her 1:1 chat with the bot."""
    async with running_teams(tmp_path, OPSBOT_DIGEST_CRON="off") as teams:
        await installed(teams)
        await teams.post(teams.activity("who owns the unicorn farm?", sender=BOB))
        await teams.settle()
        await teams.post(teams.activity("ops digest"))
        await teams.settle()
        digests = [c for c in teams.bf.calls_to(SEND) if "Knowledge gaps" in texts(card_of(c.json))]
        assert [c.conversation_id for c in digests] == ["a:1personal-alice"]
