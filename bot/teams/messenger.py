"""Check-ins in Teams: nudges as proactive Adaptive Cards to the people the bot has a
conversation reference for, and round reports to a channel."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import structlog
from aiolimiter import AsyncLimiter

from bot.errors import DeliveryFailed, Unreachable
from bot.model import Entity, PersonSpec
from bot.ports import (
    AddressBook,
    ChatAddress,
    Clock,
    Delivered,
    DigestMessage,
    NudgeMessage,
    Pace,
)
from bot.styled import Styled
from bot.teams.activities import PLATFORM, USER_PREFIX
from bot.teams.cards import TeamsUser
from bot.teams.digest import digest_card

log = structlog.get_logger(__name__)

CARD = "application/vnd.microsoft.card.adaptive"


class Outbound(Protocol):
    """The Bot Connector calls a messenger makes (`bot.teams.connector.Connector`)."""

    async def send(
        self,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        *,
        proactive: bool = False,
    ) -> str: ...

    async def create_personal(
        self, service_url: str, *, tenant_id: str, user_id: str, bot_id: str
    ) -> str: ...


class Cards(Protocol):
    def nudge_card(self, message: NudgeMessage) -> dict[str, Any]: ...

    def report_card(self, text: Styled, title: str, chart_url: str | None) -> dict[str, Any]: ...


class Counter(Protocol):
    def ambiguous_send(self, platform: str) -> None:
        """A nudge whose sending was cut short (a crash) is taken as sent, unchecked."""
        ...


def card_activity(card: dict[str, Any], *, summary: str = "") -> dict[str, Any]:
    """A message activity carrying one Adaptive Card."""
    activity: dict[str, Any] = {
        "type": "message",
        "attachments": [{"contentType": CARD, "content": card}],
    }
    if summary:
        activity["summary"] = summary[:200]
    mentions = card.get("msteams", {}).get("entities")
    if mentions:
        activity["entities"] = mentions
    return activity


class TeamsMessenger:
    """The `Messenger` port on Teams.

    A person is reachable once Teams handed the bot a reference for them (the app was
    installed for them or their team, or they wrote to it); they are matched to the
    knowledge by `spec.teams` (Entra object id) or `spec.email`. The references are read
    from the address book by `refresh` (each tick), so `address` needs no I/O.
    """

    platform = PLATFORM

    def __init__(
        self,
        *,
        connector: Outbound,
        addresses: AddressBook,
        cards: Callable[[], Cards],
        bot_id: str,
        clock: Clock,
        counter: Counter | None = None,
        posts_per_second: float = 0.0,
        pace: Pace | None = None,
    ) -> None:
        self._connector = connector
        self._addresses = addresses
        self._cards = cards
        self._bot_id = bot_id
        self._clock = clock
        self._counter = counter
        # A round keeps a pace instead of running into 429s (replies to people do not):
        # the bot's turns of `pace` (shared by the replicas), else this process's own.
        self._rate = posts_per_second
        self._pace = pace
        self._own_pace = AsyncLimiter(1, 1 / posts_per_second) if posts_per_second > 0 else None
        self._people: dict[str, ChatAddress] = {}  # by Entra object id
        self._by_email: dict[str, ChatAddress] = {}
        self._channels: dict[str, ChatAddress] = {}

    async def refresh(self) -> None:
        """Read the conversation references again."""
        people: dict[str, ChatAddress] = {}
        channels: dict[str, ChatAddress] = {}
        for address in await self._addresses.addresses(PLATFORM):
            (people if address.kind == "person" else channels)[address.key] = address
        self._people, self._channels = people, channels
        self._by_email = {a.email.lower(): a for a in people.values() if a.email}

    def learn(self, address: ChatAddress) -> None:
        """A reference this replica just received (others read it at their next refresh)."""
        if address.platform != PLATFORM:
            return
        if address.kind == "channel":
            self._channels[address.key] = address
            return
        old = self._people.get(address.key)
        if old is not None:  # as the address book merges: nothing known is erased
            address = replace(
                address,
                email=address.email or old.email,
                conversation_id=address.conversation_id or old.conversation_id,
                tenant_id=address.tenant_id or old.tenant_id,
                timezone=address.timezone or old.timezone,
            )
        self._people[address.key] = address
        if address.email:
            self._by_email[address.email.lower()] = address

    def reference(self, person: Entity) -> ChatAddress | None:
        """The person's conversation reference, by Entra object id, else by e-mail."""
        if not isinstance(person.spec, PersonSpec):
            return None
        spec = person.spec
        found = self._people.get(spec.teams) if spec.teams else None
        if found is None and spec.email:
            found = self._by_email.get(spec.email.lower())
        return found

    def teams_user(self, person: Entity | None) -> TeamsUser | None:
        """Who `person` is in Teams, for a real mention: known once they met the bot."""
        found = None if person is None else self.reference(person)
        if found is None or found.user_id is None:
            return None
        return TeamsUser(
            id=found.user_id, aad_object_id=found.key, name=person.title if person else ""
        )

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        found = self.reference(person)
        return None if found is None else USER_PREFIX + found.key

    async def timezone(self, user: str) -> str | None:
        """The zone the person's Teams client last reported (Teams has no profile zone)."""
        found = self._people.get(user.removeprefix(USER_PREFIX))
        return None if found is None else found.timezone

    async def nudge(self, message: NudgeMessage) -> Delivered:
        address, conversation = await self._personal(message.user)
        card = self._cards().nudge_card(message)
        activity = card_activity(card, summary=message.title)
        await self._paced()
        sent = await self._connector.send(
            address.service_url, conversation, activity, proactive=True
        )
        return Delivered(channel=conversation, ts=sent)

    async def _personal(self, user: str) -> tuple[ChatAddress, str]:
        """The person's address and 1:1 chat, opened (and kept) on first need."""
        address = self._people.get(user.removeprefix(USER_PREFIX))
        if address is None or address.user_id is None:
            raise Unreachable(f"no Teams conversation with {user}")
        conversation = address.conversation_id
        if conversation is None:
            if address.tenant_id is None:
                raise Unreachable(f"no Teams tenant known for {user}")
            await self._paced()
            conversation = await self._connector.create_personal(
                address.service_url,
                tenant_id=address.tenant_id,
                user_id=address.user_id,
                bot_id=address.bot_id or self._bot_id,
            )
            address = replace(address, conversation_id=conversation, updated_at=self._clock.now())
            self._people[address.key] = address
            await self._remember(address)
        return address, conversation

    async def digest(self, target: str, message: DigestMessage) -> Delivered:
        """The gaps digest to a channel the app was added to, or to a person by 1:1 chat."""
        activity = card_activity(digest_card(message), summary=message.title)
        service_url, conversation, proactive = await self._conversation(target)
        sent = await self._connector.send(service_url, conversation, activity, proactive=proactive)
        return Delivered(channel=conversation, ts=sent)

    async def _conversation(self, target: str) -> tuple[str, str, bool]:
        """(service URL, conversation, proactive) of a channel the app was added to, or of
        a person's 1:1 chat (opened on first need)."""
        channel = self._channels.get(target.removeprefix(USER_PREFIX))
        if channel is not None and channel.conversation_id is not None:
            return channel.service_url, channel.conversation_id, False
        if target.startswith(USER_PREFIX + "19:") or target.startswith("19:"):
            raise DeliveryFailed(f"no Teams conversation with {target}: add the app to its team")
        address, conversation = await self._personal(target)
        return address.service_url, conversation, True

    async def find_digest(self, target: str, key: str) -> Delivered | None:
        """As for nudges, a bot cannot read a conversation's history here: a digest whose
        send was cut short is taken as sent, at most once, and counted."""
        if self._counter is not None:
            self._counter.ambiguous_send(PLATFORM)
        log.warning("teams_digest_assumed_sent", key=key)
        return Delivered(channel=target, ts="")

    async def _paced(self) -> None:
        if self._pace is not None:
            await self._pace.take(f"teams:{self._bot_id}", self._rate)
        elif self._own_pace is not None:
            await self._own_pace.acquire()

    async def _remember(self, address: ChatAddress) -> None:
        try:
            await self._addresses.remember(address)
        except Exception as exc:
            log.warning("teams_conversation_not_kept", error=repr(exc))

    async def find_nudge(self, user: str, key: str) -> Delivered | None:
        """A Teams bot cannot read a 1:1 chat's history (that needs Microsoft Graph): a
        nudge whose send was cut short is taken as sent, at most once, and counted."""
        if self._counter is not None:
            self._counter.ambiguous_send(PLATFORM)
        log.warning("teams_nudge_assumed_sent", key=key)
        address = self._people.get(user.removeprefix(USER_PREFIX))
        conversation = address.conversation_id if address is not None else None
        return Delivered(channel=conversation or "", ts="")

    async def report(self, channel: str, text: Styled, chart: bytes | None, title: str) -> None:
        """A report (or a notice) to a channel the app was added to, or to a person."""
        service_url, conversation, proactive = await self._conversation(channel)
        # The chart goes beside the card: inside it, it would pass a card's 28 KB.
        activity = card_activity(self._cards().report_card(text, title, None), summary=title)
        if chart is not None:
            activity["attachments"].append(
                {
                    "contentType": "image/png",
                    "contentUrl": "data:image/png;base64," + base64.b64encode(chart).decode(),
                    "name": "chart.png",
                }
            )
        await self._connector.send(service_url, conversation, activity, proactive=proactive)
