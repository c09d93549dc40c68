"""Check-ins over several chat platforms at once: one nudge per person and round, on
the first platform (in order of preference) where the bot can reach them."""

from __future__ import annotations

from collections.abc import Sequence

from bot.model import Entity
from bot.ports import Delivered, DigestMessage, Messenger, NudgeMessage
from bot.styled import Styled


class Platforms:
    """A `Messenger` over several: each person's address is their address on the first
    platform that knows them (Slack before Teams unless told otherwise); a message goes
    to the platform its address belongs to.

    Addresses keep each platform's own form: Slack user ids as they are ("U012AB"),
    other platforms' prefixed with their name ("teams:<id>").
    """

    platform = "any"

    def __init__(self, messengers: Sequence[Messenger]) -> None:
        if not messengers:
            raise ValueError("at least one platform is needed")
        self._messengers = tuple(messengers)

    def _of(self, user: str) -> Messenger:
        platform, sep, _ = user.partition(":")
        for messenger in self._messengers:
            if sep and messenger.platform == platform:
                return messenger
        for messenger in self._messengers:
            if messenger.platform == "slack":
                return messenger  # an unprefixed id is Slack's, as stored before Teams
        return self._messengers[0]

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        """Their address on the first platform that knows them: those in `prefer` first
        (a check-in's `platforms`), then the others in the order given."""
        rank = {name: i for i, name in enumerate(prefer)}
        ordered = sorted(self._messengers, key=lambda m: rank.get(m.platform, len(rank)))
        for messenger in ordered:
            found = messenger.address(person)
            if found is not None:
                return found
        return None

    async def timezone(self, user: str) -> str | None:
        return await self._of(user).timezone(user)

    async def nudge(self, message: NudgeMessage) -> Delivered:
        return await self._of(message.user).nudge(message)

    async def find_nudge(self, user: str, key: str) -> Delivered | None:
        return await self._of(user).find_nudge(user, key)

    async def digest(self, target: str, message: DigestMessage) -> Delivered:
        """The gaps digest to `target` on the platform that names it (`teams:<id>`, else
        Slack)."""
        return await self._of(target).digest(target, message)

    async def find_digest(self, target: str, key: str) -> Delivered | None:
        return await self._of(target).find_digest(target, key)

    async def report(self, channel: str, text: Styled, chart: bytes | None, title: str) -> None:
        """Post to `channel` on the platform that names it (`teams:<id>`, else Slack)."""
        messenger = self._of(channel)
        target = channel.partition(":")[2] if messenger.platform != "slack" else channel
        await messenger.report(target, text, chart, title)
