"""Planning check-ins: claiming each nudge that falls due, once, for every recipient.

Every replica plans on its own; the store's claims make each nudge exist once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.checkins.schedule import audience, due, recipient_zone, spec_of
from bot.checkins.zones import Zones
from bot.kb.knowledge import Knowledge
from bot.model import CheckInSpec, Entity
from bot.ports import CheckinStore, Clock, Messenger, NewNudge

#: How far back a tick looks for occurrences missed while every replica was down.
LOOKBACK = timedelta(days=7)


class Planner:
    def __init__(
        self,
        *,
        knowledge: Callable[[], Knowledge],
        store: CheckinStore,
        messenger: Messenger,
        clock: Clock,
        zones: Zones | None = None,
    ) -> None:
        self._knowledge = knowledge
        self._store = store
        self._messenger = messenger
        self._clock = clock
        self._zones = zones or Zones(messenger=messenger, clock=clock)

    async def plan(self, now: datetime) -> int:
        """Claim every nudge that fell due since the last planned window ended.

        Each window is planned once: a replica that dies between claiming and recording
        the window only makes the next tick claim it again, which changes nothing. The
        window of a paused check-in passes unclaimed, so resuming sends nothing old.
        """
        checkins = self._knowledge().of_kind("checkin")
        if not checkins:
            return 0
        paused = await self._store.paused()
        starts = await self._store.plan_from([c.ref.name for c in checkins], now)
        end = now + timedelta(microseconds=1)
        claimed = 0
        for checkin in checkins:
            name = checkin.ref.name
            if name not in paused:
                earliest = now - spec_of(checkin).close_after - LOOKBACK
                claimed += await self._claim(
                    checkin, max(earliest, starts.get(name, now)), end, now
                )
        await self._store.planned(list(starts), end)
        return claimed

    async def _claim(self, checkin: Entity, start: datetime, end: datetime, now: datetime) -> int:
        spec = spec_of(checkin)
        people = audience(self._knowledge(), spec)
        zones = {p.ref: recipient_zone(spec, p, await self._platform_zone(p, spec)) for p in people}
        by_ref = {p.ref: p for p in people}
        nudges = [
            self.new_nudge(checkin, by_ref[d.person], d.key, d.round_key, d.occurrence, now)
            for d in due(checkin, people, zones, start, end)
        ]
        return await self._store.claim(nudges, now)

    def new_nudge(
        self,
        checkin: Entity,
        person: Entity,
        key: str,
        round_key: str,
        occurrence: datetime,
        now: datetime,
    ) -> NewNudge:
        """The nudge of one occurrence for one person; missed if its round closed already."""
        spec = spec_of(checkin)
        closes_at = occurrence + spec.close_after
        return NewNudge(
            key=key,
            checkin=checkin.ref.name,
            round_key=round_key,
            person=str(person.ref),
            user=self._messenger.address(person, spec.platforms),
            occurrence=occurrence,
            remind_at=None if spec.remind_after is None else occurrence + spec.remind_after,
            closes_at=closes_at,
            missed=now >= closes_at,
        )

    async def _platform_zone(self, person: Entity, spec: CheckInSpec) -> str | None:
        """The platform's idea of a recipient's zone, asked only when the knowledge has none."""
        if spec.timezone != "recipient" or self._zones.own(person):
            return None
        return await self._zones.platform(person)
