"""Socket Mode end to end: the `opsbot serve` wiring against the fake Socket Mode server.

Network loss: bolt's AsyncSocketModeHandler runs slack_sdk's SocketModeClient with a
10 s ping_interval, and a connection cut without a close frame (FakeSocketMode.drop)
is only replaced at the next monitor tick, 10 s later. These tests keep to the paths
that reconnect at once: a `disconnect` frame, and the server closing the socket with a
close frame (what Slack's edge does when it goes away).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import WSCloseCode

from tests.slack_env import BOT_TOKEN, Opsbot, eventually, running, slack_settings
from tests.slack_fake import FakeSlack, FakeSocketMode, event_body, slash_command_body

APP_TOKEN = "xapp-1-test"
QUESTION = "who-owns model monitoring"


def command_payload(text: str) -> dict[str, Any]:
    """A slash command as Socket Mode carries it: Slack's form fields as a JSON object."""
    form = parse_qs(slash_command_body(text).decode(), keep_blank_values=True)
    return {name: values[0] for name, values in form.items()}


def mention_payload(text: str, ts: str = "1700000100.000100") -> dict[str, Any]:
    """An events_api payload: an app_mention of the bot in channel C1 by U1."""
    event = {"type": "app_mention", "user": "U1", "channel": "C1", "ts": ts, "text": text}
    payload: dict[str, Any] = json.loads(event_body(event))
    return payload


async def ask(sm: FakeSocketMode, text: str) -> dict[str, Any]:
    """Send `/ops <text>` on the newest connection; the response payload of its ack."""
    envelope_id = await sm.send("slash_commands", command_payload(text), True)
    ack = await sm.wait_ack(envelope_id)
    payload: dict[str, Any] = ack["payload"]
    return payload


def assert_owner_answer(payload: dict[str, Any]) -> None:
    assert payload["response_type"] == "ephemeral"
    assert "Model monitoring is owned by ML Platform" in payload["text"]
    first = payload["blocks"][0]["text"]["text"]
    assert first.startswith("*Model monitoring* is owned by *ML Platform*")


async def close_from_server(sm: FakeSocketMode) -> None:
    """Close the newest connection from the server's side with a close frame (1001)."""
    ws, _ = sm._current()
    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server going away")


async def questions(bot: Opsbot) -> list[tuple[Any, ...]]:
    await bot.settle()
    return await bot.rows("select text, intent, entity from questions")


async def test_slash_command_is_answered_in_the_ack(tmp_path: Path) -> None:
    """A slash command over Socket Mode is acked with the ephemeral answer, then recorded."""
    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        settings = slack_settings(tmp_path, slack, SLACK_APP_TOKEN=APP_TOKEN)
        async with running(settings, slack) as bot:
            await sm.wait_connected(1)
            assert_owner_answer(await ask(sm, QUESTION))
            assert await questions(bot) == [("model monitoring", "owner", "area:model-monitoring")]
            [opened] = slack.calls_to("apps.connections.open")
            assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
            assert not slack.calls_to("chat.postMessage")  # the ack carried the answer


async def test_app_mention_is_answered_in_its_thread(tmp_path: Path) -> None:
    """An app_mention over Socket Mode is acked and answered in a thread with chat.postMessage."""
    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        settings = slack_settings(tmp_path, slack, SLACK_APP_TOKEN=APP_TOKEN)
        async with running(settings, slack) as bot:
            await sm.wait_connected(1)
            payload = mention_payload("<@UBOT> who owns model monitoring?")
            envelope_id = await sm.send("events_api", payload)
            assert await sm.wait_ack(envelope_id) == {"envelope_id": envelope_id}
            [post] = await slack.wait_for("chat.postMessage")
            assert post.params["channel"] == "C1"
            assert post.params["thread_ts"] == "1700000100.000100"
            assert "Model monitoring is owned by ML Platform" in post.params["text"]
            assert post.headers["authorization"] == f"Bearer {BOT_TOKEN}"
            [message] = slack.messages("C1")
            assert message["thread_ts"] == "1700000100.000100"
            assert await questions(bot) == [
                ("who owns model monitoring?", "owner", "area:model-monitoring")
            ]


async def test_reconnects_after_a_disconnect_frame(tmp_path: Path) -> None:
    """After a disconnect frame the bot opens a new connection and answers on it."""
    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        settings = slack_settings(tmp_path, slack, SLACK_APP_TOKEN=APP_TOKEN)
        async with running(settings, slack):
            await sm.wait_connected(1)
            await sm.disconnect()
            await sm.wait_connected(2)
            await sm.wait_open(1)  # the bot closed the old connection itself
            assert sm.connected_tickets == ["1", "2"]
            assert len(slack.calls_to("apps.connections.open")) == 2
            assert_owner_answer(await ask(sm, QUESTION))


async def test_reconnects_when_the_server_closes_the_socket(tmp_path: Path) -> None:
    """When Slack's end closes the socket (going away), the bot reconnects and answers."""
    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        settings = slack_settings(tmp_path, slack, SLACK_APP_TOKEN=APP_TOKEN)
        async with running(settings, slack):
            await sm.wait_connected(1)
            await close_from_server(sm)
            await sm.wait_connected(2)
            await sm.wait_open(1)
            assert len(slack.calls_to("apps.connections.open")) == 2
            assert_owner_answer(await ask(sm, QUESTION))
            await close_from_server(sm)  # and again: the new connection is watched too
            await sm.wait_connected(3)
            assert_owner_answer(await ask(sm, QUESTION))


async def test_redelivered_event_is_answered_once(tmp_path: Path) -> None:
    """An event redelivered with retry_attempt=1 is acked again but answered only once."""
    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        settings = slack_settings(tmp_path, slack, SLACK_APP_TOKEN=APP_TOKEN)
        async with running(settings, slack) as bot:
            await sm.wait_connected(1)
            payload = mention_payload("<@UBOT> who owns model monitoring?")
            envelope_id = await sm.send("events_api", payload)
            await sm.send(
                "events_api",
                payload,
                envelope_id=envelope_id,
                retry_attempt=1,
                retry_reason="timeout",
            )

            async def both_acked() -> bool:
                return [m.get("envelope_id") for m in sm.received] == [envelope_id] * 2

            await eventually(both_acked)
            await slack.wait_for("chat.postMessage")
            assert len(await questions(bot)) == 1
            assert len(slack.calls_to("chat.postMessage")) == 1


async def test_socket_mode_only_refuses_http_events(tmp_path: Path) -> None:
    """Without a signing secret POST /slack/events answers 404 while Socket Mode answers."""
    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        settings = slack_settings(
            tmp_path, slack, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=""
        )
        assert settings.slack_signing_secret is None
        async with running(settings, slack) as bot:
            await sm.wait_connected(1)
            response = await bot.post(slash_command_body(QUESTION))
            assert response.status == 404
            assert "Socket Mode only" in await response.text()
            assert_owner_answer(await ask(sm, QUESTION))
            assert await questions(bot) == [("model monitoring", "owner", "area:model-monitoring")]


async def test_event_without_a_listener_is_still_acked(tmp_path: Path) -> None:
    """An event the bot has no listener for is still acked, as over HTTP (200)."""
    async with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        settings = slack_settings(tmp_path, slack, SLACK_APP_TOKEN=APP_TOKEN)
        async with running(settings, slack):
            await sm.wait_connected(1)
            event = {"type": "reaction_added", "user": "U1", "reaction": "eyes"}
            envelope_id = await sm.send("events_api", json.loads(event_body(event)))
            await sm.wait_ack(envelope_id, timeout=0.5)
