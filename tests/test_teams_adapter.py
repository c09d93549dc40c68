"""Teams through the real `/api/messages` route: real RS256 tokens from a local identity
provider, replies and cards through a fake Bot Connector."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_connector import CREATE, MEMBERS, REPLY, SEND, UPDATE
from tests.teams_env import ALICE, BOB, CAROL, TeamsBot, running_teams
from tests.teams_idp import REJECTED


@pytest.fixture
async def teams(tmp_path: Path, database_url: str) -> AsyncIterator[TeamsBot]:
    """opsbot serving Teams, on SQLite and on PostgreSQL."""
    async with running_teams(tmp_path, database_url) as bot:
        yield bot


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    return content


def texts(card: object) -> str:
    """Every text of a card, joined: what a person reads."""
    if isinstance(card, dict):
        found = [card[k] for k in ("text", "title", "value") if isinstance(card.get(k), str)]
        found += [texts(v) for k, v in card.items() if k not in ("text", "title", "value")]
        return " ".join(found)
    if isinstance(card, list):
        return " ".join(texts(v) for v in card)
    return ""


async def test_a_personal_message_gets_an_adaptive_card_answer(teams: TeamsBot) -> None:
    """ "who owns model monitoring?" in a 1:1 chat: a reply card naming the owner and the
    backup, its links as OpenUrl actions, Helpful / Not helpful buttons."""
    activity = teams.activity("who owns model monitoring?")
    response = await teams.post(activity)
    assert response.status in (200, 202)
    await teams.settle()
    (call,) = teams.bf.calls_to(REPLY)
    assert call.conversation_id == "a:1personal-alice"
    assert call.activity_id == activity["id"]
    card = card_of(call.json)
    assert card["type"] == "AdaptiveCard" and float(card["version"]) <= 1.5
    shown = texts(card)
    assert "Model monitoring" in shown and "Bob Okafor" in shown
    titles = {a.get("title") for a in json.loads(json.dumps(card)).get("actions", [])}
    assert {"Helpful", "Not helpful"} <= titles | {
        a.get("title") for b in card["body"] for a in b.get("actions", [])
    }
    urls = json.dumps(card)
    assert "https://wiki.example.com/runbooks/monitoring" in urls


async def test_an_activity_delivered_twice_is_answered_once(teams: TeamsBot) -> None:
    """The same conversation and activity id again: 200, no second reply, one question."""
    activity = teams.activity("who owns model monitoring?")
    assert (await teams.post(activity)).status in (200, 202)
    assert (await teams.post(activity)).status in (200, 202)
    await teams.settle()
    assert len(teams.bf.calls_to(REPLY)) == 1
    assert await teams.rows("SELECT count(*) FROM questions") == [(1,)]


@pytest.mark.parametrize("case", REJECTED)
async def test_every_refused_token_gets_401_and_changes_nothing(teams: TeamsBot, case: str) -> None:
    """No header, not Bearer, malformed, alg none, HS256, unknown key, wrong issuer or
    audience, expired, not yet valid, no or another serviceurl: 401, no reply, no row."""
    response = await teams.post(teams.activity(), authorization=teams.idp.bad_authorization(case))
    assert response.status == 401
    await teams.settle()
    assert teams.bf.calls == []
    assert await teams.rows("SELECT count(*) FROM questions") == [(0,)]
    assert await teams.rows("SELECT count(*) FROM chat_addresses") == [(0,)]


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'"a string"', b"{}", b'{"type": "message"}']
)
async def test_a_malformed_body_gets_400(teams: TeamsBot, raw: bytes) -> None:
    """A body that is not an activity, with a good token: 400, nothing done."""
    response = await teams.post(None, raw=raw)
    assert response.status == 400
    assert teams.bf.calls == []


async def test_the_token_is_checked_before_the_body(teams: TeamsBot) -> None:
    """A bad body without a token is a 401, not a 400."""
    response = await teams.post(None, raw=b"not json", authorization=None)
    assert response.status == 401


async def test_a_channel_message_mentioning_the_bot_is_answered_without_the_mention(
    teams: TeamsBot,
) -> None:
    """ "<at>opsbot</at> who owns the feature store?" in a channel thread: answered there."""
    activity = teams.activity(
        "<at>opsbot</at> who owns the feature store?",
        conversation="19:general@thread.tacv2;messageid=1700000000000",
        conversation_type="channel",
        channelData={
            "tenant": {"id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
            "channel": {"id": "19:general@thread.tacv2", "name": "General"},
            "team": {"id": "19:team@thread.tacv2"},
        },
    )
    assert (await teams.post(activity)).status in (200, 202)
    await teams.settle()
    (call,) = teams.bf.calls_to(REPLY)
    assert "Feature store" in texts(card_of(call.json))
    keys = await teams.rows("SELECT kind, key FROM chat_addresses ORDER BY kind")
    assert ("channel", "19:general@thread.tacv2") in keys


async def test_helpful_is_recorded_as_a_vote(teams: TeamsBot) -> None:
    """Clicking Helpful on an answer (Action.Submit) records the asker's vote on it."""
    await teams.post(teams.activity("who owns model monitoring?"))
    await teams.settle()
    card = card_of(teams.bf.calls_to(REPLY)[0].json)
    helpful = next(a for a in _actions(card) if a.get("title") == "Helpful")
    click = teams.activity(None, value=helpful["data"], replyToId="reply-1")
    assert (await teams.post(click)).status in (200, 202)
    await teams.settle()
    assert await teams.rows("SELECT user_id, helpful FROM votes") == [
        (f"teams:{ALICE['aadObjectId']}", 1)
    ]


async def test_installing_and_messaging_keep_conversation_references(teams: TeamsBot) -> None:
    """A personal install (conversationUpdate) and a message keep who and where."""
    update = teams.activity(
        None,
        kind="conversationUpdate",
        sender=BOB,
        conversation="a:1personal-bob",
        membersAdded=[{"id": "28:bot"}, {**BOB}],
    )
    assert (await teams.post(update)).status in (200, 202)
    await teams.settle()
    rows = await teams.rows("SELECT key, user_id, conversation_id, service_url FROM chat_addresses")
    assert rows == [(BOB["aadObjectId"], BOB["id"], "a:1personal-bob", teams.bf.service_url)]
    assert [c.kind for c in teams.bf.calls] == [MEMBERS]  # the roster, for e-mail addresses


async def test_an_unhandled_activity_type_is_accepted_and_ignored(teams: TeamsBot) -> None:
    """A typing indicator or a reaction: 2xx, nothing sent."""
    response = await teams.post(teams.activity(None, kind="typing"))
    assert 200 <= response.status < 300
    await teams.settle()
    assert [c for c in teams.bf.calls if c.kind in (REPLY, SEND, UPDATE)] == []


def _actions(card: object) -> list[dict[str, Any]]:
    """Every action of a card, however deep."""
    found: list[dict[str, Any]] = []
    if isinstance(card, dict):
        if isinstance(card.get("type"), str) and card["type"].startswith("Action."):
            found.append(card)
        for value in card.values():
            found += _actions(value)
    elif isinstance(card, list):
        for value in card:
            found += _actions(value)
    return found


# -- check-ins ----------------------------------------------------------------------------

CHANNEL = "19:general@thread.tacv2"


async def installed(teams: TeamsBot) -> None:
    """Alice installs the app for herself; then the team installs it in General, whose
    roster holds Bob (by e-mail only) and Carol."""
    teams.bf.add_members("a:1personal-alice", {**ALICE, "email": "alice@example.com"})
    await teams.post(
        teams.activity(None, kind="conversationUpdate", membersAdded=[{"id": "28:bot"}, ALICE])
    )
    teams.bf.add_members(
        CHANNEL,
        {**ALICE, "email": "alice@example.com"},
        {**BOB, "email": "bob.okafor@example.com", "userPrincipalName": "bob.okafor@example.com"},
        {**CAROL, "email": "carol@example.com"},
    )
    team_install = teams.activity(
        None,
        kind="conversationUpdate",
        conversation=CHANNEL,
        conversation_type="channel",
        membersAdded=[{"id": "28:bot"}],
        channelData={
            "tenant": {"id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
            "channel": {"id": CHANNEL, "name": "General"},
            "team": {"id": CHANNEL, "name": "ML Platform"},
        },
    )
    assert (await teams.post(team_install)).status in (200, 202)
    await teams.settle()


async def test_a_round_reaches_everyone_in_teams_and_records_their_clicks(
    teams: TeamsBot,
) -> None:
    """ "checkin run weekly" from an admin: each member gets one proactive nudge card (a
    1:1 chat opened for those the bot never wrote to); a click records the answer once and
    updates the card to show it."""
    await installed(teams)
    await teams.post(teams.activity("checkin run weekly"))
    await teams.settle()
    people = {"a:1personal-alice"} | {c.new_id for c in teams.bf.calls_to(CREATE) if c.new_id}
    assert len(people) == 3  # Alice's chat, and one opened for Bob and for Carol
    nudges = {conv: teams.bf.delivered(conv) for conv in people}
    for conversation, posted in nudges.items():
        cards = [card_of(a) for a in posted if a.get("attachments")]
        assert any("Did your team review the drift dashboards?" in texts(c) for c in cards), (
            conversation
        )
    # Alice clicks "Yes" on her nudge (Action.Submit): a message activity with its data.
    nudge = next(a for a in teams.bf.delivered("a:1personal-alice") if "drift" in json.dumps(a))
    yes = next(a for a in _actions(card_of(nudge)) if a.get("title") == "Yes")
    click = teams.activity(None, value=yes["data"], replyToId=nudge["id"])
    await teams.post(click)
    await teams.post(click)  # delivered twice: recorded once
    await teams.settle()
    assert await teams.rows("SELECT person, question, value FROM checkin_answers") == [
        ("person:alice", "drift", "Yes")
    ]
    (update,) = teams.bf.calls_to(UPDATE)
    assert update.activity_id == nudge["id"]
    assert "Yes" in texts(card_of(update.json))


async def test_an_execute_action_is_answered_with_the_updated_card(teams: TeamsBot) -> None:
    """Action.Execute (an adaptiveCard/action invoke): the HTTP answer is the nudge card
    showing what was recorded."""
    await installed(teams)
    await teams.post(teams.activity("checkin run weekly"))
    await teams.settle()
    nudge = next(a for a in teams.bf.delivered("a:1personal-alice") if "drift" in json.dumps(a))
    partly = next(a for a in _actions(card_of(nudge)) if a.get("title") == "Partly")
    invoke = teams.activity(
        None,
        kind="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "opsbot", "data": partly["data"]}},
        replyToId=nudge["id"],
    )
    response = await teams.post(invoke)
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Partly" in texts(body["value"])
    await teams.settle()
    assert await teams.rows("SELECT value FROM checkin_answers") == [("Partly",)]


async def test_a_click_from_someone_not_nudged_is_refused(teams: TeamsBot) -> None:
    """A button of Alice's nudge sent by someone who got no nudge in that round (a forged
    or forwarded card) records nothing, and says so."""
    await installed(teams)
    await teams.post(teams.activity("checkin run weekly"))
    await teams.settle()
    nudge = next(a for a in teams.bf.delivered("a:1personal-alice") if "drift" in json.dumps(a))
    yes = next(a for a in _actions(card_of(nudge)) if a.get("title") == "Yes")
    stranger = {"id": "29:mallory", "aadObjectId": "0d0d0d0d-0000-4000-8000-00000000d0d0"}
    forged = teams.activity(
        None, sender=stranger, conversation="a:1personal-mallory", value=yes["data"]
    )
    await teams.post(forged)
    await teams.settle()
    assert await teams.rows("SELECT count(*) FROM checkin_answers") == [(0,)]
    (reply,) = [c for c in teams.bf.calls_to(REPLY) if c.conversation_id == "a:1personal-mallory"]
    assert "Yes" not in texts(card_of(reply.json))


async def test_a_typed_answer_is_recorded_and_an_empty_one_asked_for(teams: TeamsBot) -> None:
    """The text box and its Send button: the typed text is the answer; Send with an empty
    box records nothing and says what to do."""
    await installed(teams)
    await teams.post(teams.activity("checkin run weekly"))
    await teams.settle()
    nudge = next(a for a in teams.bf.delivered("a:1personal-alice") if "drift" in json.dumps(a))
    send = next(a for a in _actions(card_of(nudge)) if a.get("title") == "Send")
    empty = teams.activity(None, value={**send["data"], "text:blockers": "  "})
    await teams.post(empty)
    await teams.settle()
    assert await teams.rows("SELECT count(*) FROM checkin_answers") == [(0,)]
    typed = teams.activity(None, value={**send["data"], "text:blockers": "GPU quota *again*"})
    await teams.post(typed)
    await teams.settle()
    assert await teams.rows("SELECT question, value FROM checkin_answers") == [
        ("blockers", "GPU quota *again*")
    ]


async def test_without_teams_settings_the_route_is_404(bot: Any) -> None:
    """Slack only: /api/messages answers 404 and nothing else changes."""
    response = await bot.client.post("/api/messages", json={"type": "message"})
    assert response.status == 404


async def test_anonymous_mode_takes_activities_without_a_token_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TEAMS_ALLOW_ANONYMOUS=true (local development): no token needed, a warning at start."""
    async with running_teams(tmp_path, TEAMS_ALLOW_ANONYMOUS="true") as teams:
        response = await teams.post(
            teams.activity("who owns model monitoring?"), authorization=None
        )
        assert response.status in (200, 202)
        await teams.settle()
        assert len(teams.bf.calls_to(REPLY)) == 1
    assert "teams_anonymous" in capsys.readouterr().out


async def test_owners_who_met_the_bot_are_real_mentions(teams: TeamsBot) -> None:
    """Once Alice (the owner) and Bob (the backup) have met the bot, an answer names them
    with real mentions."""
    await installed(teams)
    await teams.post(teams.activity("who owns model monitoring?", sender=BOB))
    await teams.settle()
    reply = teams.bf.calls_to(REPLY)[-1].json
    mentioned = [
        e["mentioned"]["id"] for e in reply.get("entities", []) if e.get("type") == "mention"
    ]
    assert sorted(mentioned) == [ALICE["id"], BOB["id"]]
    assert "<at>Alice Chen</at>" in json.dumps(card_of(reply))


async def test_people_the_bot_never_met_are_plain_names(teams: TeamsBot) -> None:
    """Before anyone installed the app, the owner is a name, not a mention."""
    await teams.post(teams.activity("who owns model monitoring?", sender=BOB))
    await teams.settle()
    reply = teams.bf.calls_to(REPLY)[-1].json
    assert "entities" not in reply or all(e.get("type") != "mention" for e in reply["entities"])
    assert "Alice Chen" in texts(card_of(reply))


async def test_a_click_after_the_round_closed_is_refused_politely(teams: TeamsBot) -> None:
    """The round has closed: nothing recorded, the reply says so, the card shows it closed
    with no buttons left."""
    await installed(teams)
    await teams.post(teams.activity("checkin run weekly"))
    await teams.settle()
    nudge = next(a for a in teams.bf.delivered("a:1personal-alice") if "drift" in json.dumps(a))
    yes = next(a for a in _actions(card_of(nudge)) if a.get("title") == "Yes")
    await teams.execute("UPDATE checkin_rounds SET closes_at = opened_at")
    await teams.post(teams.activity(None, value=yes["data"], replyToId=nudge["id"]))
    await teams.settle()
    assert await teams.rows("SELECT count(*) FROM checkin_answers") == [(0,)]
    reply = teams.bf.calls_to(REPLY)[-1]
    assert "closed" in texts(card_of(reply.json))
    (update,) = teams.bf.calls_to(UPDATE)
    assert _actions(card_of(update.json)) == []


async def test_opsbot_admins_may_name_teams_users(tmp_path: Path) -> None:
    """OPSBOT_ADMINS holding Bob's Entra object id lets him start a round from Teams;
    without it he is refused."""
    for admins, allowed in (("", False), (BOB["aadObjectId"], True)):
        async with running_teams(tmp_path / str(allowed), OPSBOT_ADMINS=admins) as teams:
            await installed(teams)
            await teams.post(teams.activity("checkin run weekly", sender=BOB))
            await teams.settle()
            nudged = await teams.rows("SELECT count(*) FROM checkin_nudges")
            assert (nudged[0][0] > 0) is allowed


async def test_a_button_that_is_not_ours_gets_a_polite_answer(teams: TeamsBot) -> None:
    """A submit from a card we never made: a short reply, nothing recorded."""
    await teams.post(teams.activity(None, value={"action": "approve", "id": 7}))
    await teams.settle()
    (reply,) = teams.bf.calls_to(REPLY)
    assert "don't know that button" in texts(card_of(reply.json))
    assert await teams.rows("SELECT count(*) FROM votes") == [(0,)]


async def test_the_senders_time_zone_is_kept_for_their_check_ins(teams: TeamsBot) -> None:
    """Teams clients say their zone on each message (`localTimezone`): it is kept, for
    check-ins sent in each recipient's own time; a made-up zone is not."""
    await teams.post(teams.activity("hi", localTimezone="Europe/Warsaw"))
    await teams.post(teams.activity("hi", sender=BOB, localTimezone="not a zone; drop table"))
    zones = dict(await teams.rows("SELECT key, timezone FROM chat_addresses"))
    assert zones == {ALICE["aadObjectId"]: "Europe/Warsaw", BOB["aadObjectId"]: None}


async def test_asked_back_the_suggestions_are_buttons_that_answer(teams: TeamsBot) -> None:
    """ "who owns feature": asked back with one button per candidate; the click answers
    the question about the one chosen."""
    await teams.post(teams.activity("who owns feature"))
    await teams.settle()
    card = card_of(teams.bf.calls_to(REPLY)[0].json)
    store = next(a for a in _actions(card) if a.get("title") == "Feature store")
    await teams.post(teams.activity(None, value=store["data"]))
    await teams.settle()
    answer = card_of(teams.bf.calls_to(REPLY)[1].json)
    assert "Feature store" in texts(answer) and "ML Platform" in texts(answer)


async def test_a_card_that_cannot_be_updated_still_records_the_answer(teams: TeamsBot) -> None:
    """The connector refuses the card update (a 404: the message was deleted): the answer
    is recorded and acknowledged all the same, and nothing fails."""
    await installed(teams)
    await teams.post(teams.activity("checkin run weekly"))
    await teams.settle()
    nudge = next(a for a in teams.bf.delivered("a:1personal-alice") if "drift" in json.dumps(a))
    yes = next(a for a in _actions(card_of(nudge)) if a.get("title") == "Yes")
    teams.bf.fail(404, times=None, kind=UPDATE)
    await teams.post(teams.activity(None, value=yes["data"], replyToId=nudge["id"]))
    await teams.settle()
    assert await teams.rows("SELECT value FROM checkin_answers") == [("Yes",)]
    assert "Recorded Yes" in texts(card_of(teams.bf.calls_to(REPLY)[-1].json))


async def test_an_ownership_check_is_answered_in_teams(teams: TeamsBot) -> None:
    """`/ops attest run`: Alice, lead of the team owning two areas, gets one card asking
    about both; "No, it's someone else" asks who owns it now, and her answer is kept."""
    await installed(teams)
    await teams.post(teams.activity("/ops attest run"))
    await teams.settle()
    check = next(
        a for a in teams.bf.delivered("a:1personal-alice") if "Ownership check" in json.dumps(a)
    )
    shown = texts(card_of(check))
    assert "Ownership check: Feature pipelines, Feature store" in shown
    assert "Your team ML Platform is listed as owner of Feature pipelines. Still right?" in shown
    no = next(a for a in _actions(card_of(check)) if a.get("title") == "No, it's someone else")
    await teams.post(teams.activity(None, value=no["data"], replyToId=check["id"]))
    await teams.settle()
    (asked,) = [
        card_of(c.json)
        for c in teams.bf.calls
        if c.kind in (REPLY, SEND) and "Who owns Feature pipelines now?" in texts(card_of(c.json))
    ]
    (picker,) = [e for e in asked["body"] if e.get("type") == "Input.ChoiceSet"]
    assert {c["value"] for c in picker["choices"]} == {
        "person:alice",
        "person:bob",
        "person:carol",
        "team:ml-platform",
    }
    (send,) = _actions(asked)
    blank = teams.activity(None, value={**send["data"], "owner": "", "owner-words": " "})
    await teams.post(blank)
    await teams.settle()
    said = [texts(card_of(c.json)) for c in teams.bf.calls if c.kind in (REPLY, SEND)]
    assert any("Please pick a person or team" in t for t in said)
    await teams.post(teams.activity(None, value={**send["data"], "owner": "person:bob"}))
    await teams.settle()
    assert await teams.rows(
        "SELECT entity, proposed_owner FROM attest_items WHERE proposed_owner IS NOT NULL"
    ) == [("area:feature-pipelines", "person:bob")]
