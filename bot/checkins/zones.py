"""Where a person is, in time: their `timezone` in the knowledge, else their chat
platform's profile (asked at most every ZONE_KEPT), else UTC."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.errors import DeliveryFailed
from bot.model import Entity, PersonSpec
from bot.ports import Clock, Messenger

#: How long a zone from the chat platform's profile is trusted before asking again.
ZONE_KEPT = timedelta(hours=12)


class Zones:
    def __init__(self, *, messenger: Messenger, clock: Clock) -> None:
        self._messenger = messenger
        self._clock = clock
        self._known: dict[str, tuple[str | None, datetime]] = {}  # user -> (zone, asked at)

    @staticmethod
    def own(person: Entity) -> str | None:
        """The zone the knowledge gives `person`, if any."""
        return person.spec.timezone if isinstance(person.spec, PersonSpec) else None

    async def of(self, person: Entity) -> str | None:
        """`person`'s zone: their own, else their platform profile's; None: unknown (UTC)."""
        return self.own(person) or await self.platform(person)

    async def platform(self, person: Entity) -> str | None:
        """The zone of `person`'s chat profile (the last one known when the platform
        cannot be asked just now); None when they have no chat account or no zone."""
        user = self._messenger.address(person)
        if user is None:
            return None
        now = self._clock.now()
        known = self._known.get(user)
        if known is None or now - known[1] >= ZONE_KEPT:
            try:
                known = (await self._messenger.timezone(user), now)
            except DeliveryFailed:  # the last one known, else UTC; asked again next tick
                return None if known is None else known[0]
            self._known[user] = known
        return known[0]
