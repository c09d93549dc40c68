"""Check-ins in Teams: the messenger's proactive nudges and reports through a fake Bot
Connector, people found by Entra object id or e-mail."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from bot.errors import DeliveryFailed, Unreachable
from bot.kb import Knowledge, load_knowledge
from bot.model import CheckInSpec, Ref
from bot.ports import ChatAddress, NudgeMessage
from bot.styled import Styled
from bot.teams.cards import TeamsRenderer
from bot.teams.connector import Connector
from bot.teams.messenger import TeamsMessenger
from tests.fake_connector import CREATE, SEND, FakeConnector
from tests.fakes import T0, FakeClock, MemoryAddressBook

KNOWLEDGE = Path(__file__).parent / "data" / "teams"
ALICE_AAD = "0a0a0a0a-0000-4000-8000-00000000a11c"
BOB_AAD = "0b0b0b0b-0000-4000-8000-0000000000b0"


class Tokens:
    async def token(self, *, force_refresh: bool = False) -> str:
        return "bot-token"


class Counted:
    def __init__(self) -> None:
        self.ambiguous: list[str] = []

    def ambiguous_send(self, platform: str) -> None:
        self.ambiguous.append(platform)


@dataclass
class Setup:
    messenger: TeamsMessenger
    connector: Connector
    renderer: TeamsRenderer
    bf: FakeConnector
    book: MemoryAddressBook
    knowledge: Knowledge
    counted: Counted

    def person(self, name: str) -> object:
        found = self.knowledge.get(Ref(kind="person", name=name))
        assert found is not None
        return found


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    knowledge = load_knowledge(KNOWLEDGE, today=date(2026, 11, 30)).knowledge
    book = MemoryAddressBook()
    counted = Counted()
    async with FakeConnector() as bf, aiohttp.ClientSession() as session:

        async def no_wait(_: float) -> None:
            return None

        connector = Connector(session, Tokens(), deadline=5, sleep=no_wait)
        renderer = TeamsRenderer(knowledge, lambda ref: None)
        messenger = TeamsMessenger(
            connector=connector,
            addresses=book,
            cards=lambda: renderer,
            bot_id="28:bot",
            clock=FakeClock(T0),
            counter=counted,
        )
        yield Setup(messenger, connector, renderer, bf, book, knowledge, counted)


def reference(bf: FakeConnector, key: str, user_id: str | None, **more: object) -> ChatAddress:
    values: dict[str, object] = {
        "platform": "teams",
        "key": key,
        "kind": "person",
        "service_url": bf.service_url,
        "tenant_id": "tenant-1",
        "user_id": user_id,
        "bot_id": "28:bot",
        "updated_at": T0,
        **more,
    }
    return ChatAddress(**values)  # type: ignore[arg-type]


def nudge_for(setup: Setup, user: str) -> NudgeMessage:
    checkin = setup.knowledge.get(Ref(kind="checkin", name="weekly"))
    assert checkin is not None and isinstance(checkin.spec, CheckInSpec)
    return NudgeMessage(
        key=f"weekly|{user}|1", round_id=7, user=user, title=checkin.title,
        questions=checkin.spec.questions,
    )  # fmt: skip


async def test_people_are_found_by_entra_id_or_by_email(setup: Setup) -> None:
    """Alice by `spec.teams`, Bob by `spec.email` (any case); nobody else."""
    await setup.book.remember(reference(setup.bf, ALICE_AAD, "29:alice"))
    await setup.book.remember(
        reference(setup.bf, BOB_AAD, "29:bob", email="bob.okafor@EXAMPLE.com")
    )
    await setup.messenger.refresh()
    assert setup.messenger.address(setup.person("alice")) == f"teams:{ALICE_AAD}"  # type: ignore[arg-type]
    assert setup.messenger.address(setup.person("bob")) == f"teams:{BOB_AAD}"  # type: ignore[arg-type]
    assert setup.messenger.address(setup.person("carol")) is None  # type: ignore[arg-type]


async def test_a_nudge_opens_a_chat_once_and_keeps_it(setup: Setup) -> None:
    """The first nudge to someone met in a team roster opens a 1:1 chat (kept in the
    address book); the next one posts straight to it."""
    await setup.book.remember(reference(setup.bf, ALICE_AAD, "29:alice"))
    await setup.messenger.refresh()
    first = await setup.messenger.nudge(nudge_for(setup, f"teams:{ALICE_AAD}"))
    second = await setup.messenger.nudge(nudge_for(setup, f"teams:{ALICE_AAD}"))
    assert len(setup.bf.calls_to(CREATE)) == 1
    assert first.channel == second.channel != ""
    (kept,) = await setup.book.addresses("teams")
    assert kept.conversation_id == first.channel
    assert len(setup.bf.delivered(first.channel)) == 2


async def test_a_blocked_person_is_unreachable_after_at_most_three_attempts(setup: Setup) -> None:
    """403 (the app blocked or removed): Unreachable, with no endless retries."""
    await setup.book.remember(reference(setup.bf, ALICE_AAD, "29:alice"))
    await setup.messenger.refresh()
    setup.bf.block("29:alice", 403)
    with pytest.raises(Unreachable):
        await setup.messenger.nudge(nudge_for(setup, f"teams:{ALICE_AAD}"))
    assert 1 <= len(setup.bf.calls) <= 3


async def test_rate_limits_are_waited_out(setup: Setup) -> None:
    """429 twice with Retry-After, then delivered: one nudge, no error."""
    await setup.book.remember(
        reference(setup.bf, ALICE_AAD, "29:alice", conversation_id="a:1alice")
    )
    await setup.messenger.refresh()
    setup.bf.fail(429, times=2, kind=SEND, retry_after=1)
    delivered = await setup.messenger.nudge(nudge_for(setup, f"teams:{ALICE_AAD}"))
    assert delivered.channel == "a:1alice"
    assert [c.status for c in setup.bf.calls_to(SEND)] == [429, 429, 201]


async def test_a_cut_short_send_is_taken_as_sent_and_counted(setup: Setup) -> None:
    """A Teams bot cannot read a 1:1 chat: a nudge of unknown outcome counts as sent."""
    await setup.book.remember(
        reference(setup.bf, ALICE_AAD, "29:alice", conversation_id="a:1alice")
    )
    await setup.messenger.refresh()
    found = await setup.messenger.find_nudge(f"teams:{ALICE_AAD}", "weekly|x|1")
    assert found is not None and found.channel == "a:1alice"
    assert setup.counted.ambiguous == ["teams"]
    assert setup.bf.calls == []


async def test_a_report_goes_to_the_channel_with_its_chart(setup: Setup) -> None:
    """A round's report: a card in the Teams channel, the chart as an image in it."""
    channel = "19:reports@thread.tacv2"
    await setup.book.remember(
        reference(setup.bf, channel, None, kind="channel", conversation_id=channel)
    )
    await setup.messenger.refresh()
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    await setup.messenger.report(channel, Styled.of("3 of 4 answered"), png, "Weekly")
    (posted,) = setup.bf.delivered(channel)
    content = str(posted)
    assert "3 of 4 answered" in content
    assert "data:image/png;base64," in content


async def test_a_report_to_a_channel_never_met_fails_clearly(setup: Setup) -> None:
    """No reference for the channel: DeliveryFailed saying to add the app to its team."""
    with pytest.raises(DeliveryFailed, match="add the app"):
        await setup.messenger.report("19:unknown@thread.tacv2", Styled.of("x"), None, "Weekly")


async def test_the_zone_a_client_reported_is_the_persons(setup: Setup) -> None:
    """A person's zone is the one their Teams client last reported; unknown: None."""
    await setup.book.remember(reference(setup.bf, ALICE_AAD, "29:alice", timezone="Asia/Tokyo"))
    await setup.messenger.refresh()
    assert await setup.messenger.timezone(f"teams:{ALICE_AAD}") == "Asia/Tokyo"
    assert await setup.messenger.timezone(f"teams:{BOB_AAD}") is None


async def test_a_round_keeps_its_pace(setup: Setup) -> None:
    """At 100 calls a second, 10 nudges opening 10 chats (20 calls) take 0.19 s at least."""
    messenger = TeamsMessenger(
        connector=setup.connector,
        addresses=setup.book,
        cards=lambda: setup.renderer,
        bot_id="28:bot",
        clock=FakeClock(T0),
        posts_per_second=100,
    )
    for i in range(10):
        await setup.book.remember(reference(setup.bf, f"aad-{i}", f"29:user-{i}"))
    await messenger.refresh()
    start = time.monotonic()
    for i in range(10):
        await messenger.nudge(nudge_for(setup, f"teams:aad-{i}"))
    assert time.monotonic() - start >= 0.19
    assert len(setup.bf.calls_to(CREATE)) == 10 and len(setup.bf.calls_to(SEND)) == 10
