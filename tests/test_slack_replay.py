"""Replays and double submits: a signed request acts once, on every replica."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.slack_env import SECRET, Opsbot, eventually, running, slack_settings
from tests.slack_fake import FakeSlack, action_body, sign, slash_command_body
from tests.test_rounds import ALICE, BOB, CAROL, DATA

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        for user in (ALICE, BOB, CAROL):
            fake.add_user(user, tz="Europe/Lisbon")
        yield fake


@pytest.fixture
async def replicas(tmp_path: Path, slack: FakeSlack) -> AsyncIterator[tuple[Opsbot, Opsbot]]:
    """Two opsbot processes' worth of app on one database, as two replicas would run."""
    settings = slack_settings(
        tmp_path, slack, OPSBOT_KNOWLEDGE_DIR=str(DATA), OPSBOT_ADMINS="UADMIN"
    )
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(settings, slack))
        second = await stack.enter_async_context(running(settings, slack))
        yield first, second


async def send(bot: Opsbot, body: bytes, headers: dict[str, str]) -> int:
    response = await bot.client.post(
        "/slack/events", data=body, headers={"Content-Type": FORM, **headers}
    )
    return response.status


async def test_a_replayed_slash_question_is_recorded_once(
    replicas: tuple[Opsbot, Opsbot],
) -> None:
    """The same signed `/ops` body sent ten times, to either replica, is one question row."""
    body = slash_command_body("who owns the feature store?")
    headers = sign(body, SECRET)
    for i in range(10):
        assert await send(replicas[i % 2], body, headers) == 200
    for bot in replicas:
        await bot.settle()
    rows = await replicas[0].rows("select text from questions")
    assert rows == [("who owns the feature store?",)]


async def test_a_fresh_request_with_the_same_text_is_recorded_again(
    replicas: tuple[Opsbot, Opsbot],
) -> None:
    """Two people asking the same thing are two questions: only replays are folded."""
    first, _ = replicas
    for _ in range(2):
        body = slash_command_body("who owns the feature store?")
        assert await send(first, body, sign(body, SECRET)) == 200
    await first.settle()
    assert len(await first.rows("select id from questions")) == 2


async def test_a_replayed_checkin_run_starts_one_round(
    replicas: tuple[Opsbot, Opsbot], slack: FakeSlack
) -> None:
    """`/ops checkin run` replayed within the window starts one round and one set of DMs."""
    url = slack.response_url("admin")
    body = slash_command_body("checkin run weekly", user_id="UADMIN", response_url=url)
    headers = sign(body, SECRET)
    for i in range(4):
        assert await send(replicas[i % 2], body, headers) == 200
    for bot in replicas:
        await bot.settle()
    await eventually(lambda: _called(slack, "response_url:admin"))
    replies = [c.params["text"] for c in slack.calls_to("response_url:admin")]
    assert replies == ["Started a round of Weekly MLOps practices: 3 people nudged."]
    rounds = await replicas[0].rows("select round_key from checkin_rounds")
    assert len(rounds) == 1


async def test_a_second_run_while_the_round_is_open_says_so(
    replicas: tuple[Opsbot, Opsbot], slack: FakeSlack
) -> None:
    """A new `/ops checkin run` while the manual round is open joins it: no second DMs."""
    url = slack.response_url("admin")
    for bot in replicas:
        body = slash_command_body("checkin run weekly", user_id="UADMIN", response_url=url)
        assert await send(bot, body, sign(body, SECRET)) == 200
        await bot.settle()
    await eventually(lambda: _called(slack, "response_url:admin", 2))
    replies = [c.params["text"] for c in slack.calls_to("response_url:admin")]
    assert replies[0] == "Started a round of Weekly MLOps practices: 3 people nudged."
    assert replies[1].startswith("Weekly MLOps practices is already running since")
    dms = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] != "UADMIN"]
    assert len(dms) == 3


async def test_a_replayed_click_acts_once(
    replicas: tuple[Opsbot, Opsbot], slack: FakeSlack
) -> None:
    """A check-in button click replayed to both replicas is answered once."""
    url = slack.response_url("click")
    body = action_body("checkin_drift_0", "checkin|1|drift|Yes", ALICE, response_url=url)
    headers = sign(body, SECRET)
    for bot in (*replicas, *replicas):
        assert await send(bot, body, headers) == 200
        await bot.settle()
    await eventually(lambda: _called(slack, "response_url:click"))
    assert len(slack.calls_to("response_url:click")) == 1


async def _called(slack: FakeSlack, method: str, times: int = 1) -> bool:
    return len(slack.calls_to(method)) >= times
