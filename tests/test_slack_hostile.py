"""Hostile and malformed requests to /slack/events: a 4xx or a harmless 200, never a 5xx."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs, urlencode

import pytest

from bot.events import answer_payload, round_payload
from bot.slack.blocks import ACTION_PICK, ACTION_VOTE
from tests.slack_env import SECRET, Opsbot
from tests.slack_fake import (
    FakeSlack,
    action_body,
    event_body,
    sign,
    slash_command_body,
    view_submission_body,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


async def server_errors(bot: Opsbot) -> float:
    """How many 5xx answers /metrics has counted."""
    body = await (await bot.client.get("/metrics")).text()
    total = 0.0
    for line in body.splitlines():
        if line.startswith("opsbot_http_requests_total{") and 'status="5' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    "timestamp",
    [
        "9" * 5000,
        "²",
        "¹²³⁴⁵⁶⁷⁸⁹⁰",
        "\uff11\uff17\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10",
        "-1",
        "+1700000000",
        " 1700000000",
        "1e9",
        "",
    ],
)
async def test_a_malformed_timestamp_is_401(bot: Opsbot, timestamp: str) -> None:
    """A timestamp that is not a short run of ASCII digits gets 401, whatever it signs."""
    body = slash_command_body("help")
    response = await bot.client.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": FORM, **sign(body, SECRET, timestamp)},
    )
    assert response.status == 401
    assert await server_errors(bot) == 0


@pytest.mark.parametrize("levels", [100_000, 5_000])
async def test_deeply_nested_json_is_400(bot: Opsbot, levels: int) -> None:
    """JSON nested thousands deep is refused with 400 in the body, in payload= and in event."""
    nested = deep_json(levels)
    as_body = nested.encode()
    in_event = ('{"type": "event_callback", "event": ' + nested + "}").encode()
    in_payload = urlencode({"payload": '{"type": "block_actions", "x": ' + nested + "}"}).encode()
    for body, content_type in ((as_body, JSON), (in_event, JSON), (in_payload, FORM)):
        response = await bot.post(body, content_type=content_type)
        assert response.status == 400, (content_type, body[:40])
        assert "nested" in await response.text()
    assert await server_errors(bot) == 0


async def test_a_view_without_type_is_harmless(bot: Opsbot, slack: FakeSlack) -> None:
    """A view_submission whose view lacks `type` (or is not an object) changes nothing."""
    for view in ({"callback_id": "checkin_text"}, "not a view", None, []):
        payload = json.loads(
            parse_qs(view_submission_body("checkin_text", {}).decode())["payload"][0]
        )
        payload["view"] = view
        body = urlencode({"payload": json.dumps(payload)}).encode()
        response = await bot.post(body)
        assert response.status < 500
    await bot.settle()
    assert await server_errors(bot) == 0


async def test_a_slash_command_without_response_url_gets_its_reply_by_dm(
    bot: Opsbot, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """A check-in command lacking response_url is answered in the user's DM, no traceback."""
    fields = dict(
        pair.split("=", 1) for pair in slash_command_body("checkin list").decode().split("&")
    )
    del fields["response_url"]
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    with caplog.at_level(logging.ERROR):
        response = await bot.post(body)
        assert response.status == 200
        await bot.settle()
    posts = await slack.wait_for("chat.postMessage")
    assert posts[0].params["channel"] in ("U1", "D1")
    assert not [r for r in caplog.records if r.exc_info]
    assert await server_errors(bot) == 0


@pytest.mark.parametrize(
    "value",
    [
        answer_payload(2**63, "drift", "Yes"),
        answer_payload(10**30, "drift", "Yes"),
        round_payload("skip", 2**63),
        "checkin|²|drift|Yes",
        "checkin|" + "1" * 5000 + "|drift|Yes",
        answer_payload(1, "score", "²"),
        answer_payload(1, "score", "9" * 5000),
        "checkin|-1|drift|Yes",
        "checkin||drift|Yes",
        "vote||up",
        "pick|owner|" + "x" * 5000,
    ],
)
async def test_a_forged_button_gets_a_polite_reply(
    bot: Opsbot, slack: FakeSlack, value: str
) -> None:
    """A button value no message of ours carries is answered politely, never a 500."""
    action = "checkin_drift_0" if value.startswith("checkin") else f"{ACTION_VOTE}_up"
    if value.startswith("pick"):
        action = ACTION_PICK
    body = action_body(action, value, response_url=slack.response_url("forged"))
    response = await bot.post(body)
    assert response.status == 200
    (reply,) = await slack.wait_for("response_url:forged")
    text = reply.params["text"]
    assert text and "Traceback" not in text
    assert await server_errors(bot) == 0


async def test_a_client_that_hangs_up_mid_body_is_not_an_error(
    bot: Opsbot, caplog: pytest.LogCaptureFixture
) -> None:
    """A request cut off in the middle of its body counts no 500 and logs no traceback."""
    assert bot.client.server.port is not None
    body = slash_command_body("help")
    headers = sign(body, SECRET)
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: {len(body) + 1000}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    with caplog.at_level(logging.WARNING):
        _, writer = await asyncio.open_connection("127.0.0.1", bot.client.server.port)
        writer.write(head.encode() + body[:20])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.2)
    assert not [r for r in caplog.records if r.exc_info]
    assert await server_errors(bot) == 0
    # The server is still there for the next request.
    assert (await bot.client.get("/healthz")).status == 200


async def test_an_event_with_a_malformed_event_field_is_harmless(
    bot: Opsbot, slack: FakeSlack
) -> None:
    """An event_callback whose event is not an object, or lacks fields, is acked and ignored."""
    for event in ([1, 2], "text", {"type": "app_mention"}, {"type": "message", "text": None}):
        body = json.loads(event_body({"type": "app_mention"}))
        body["event"] = event
        response = await bot.post(json.dumps(body).encode(), content_type=JSON)
        assert response.status < 500
    await bot.settle()
    assert await server_errors(bot) == 0


async def test_slack_timestamp_window_still_applies(bot: Opsbot) -> None:
    """A correctly signed request older than five minutes is 401."""
    body = slash_command_body("help")
    old = int(time.time()) - 600
    response = await bot.client.post(
        "/slack/events", data=body, headers={"Content-Type": FORM, **sign(body, SECRET, old)}
    )
    assert response.status == 401
