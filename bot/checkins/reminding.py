"""Reminding the people who have not answered yet, once, when their reminder falls due."""

from __future__ import annotations

from datetime import datetime

import structlog

from bot.checkins.sending import Letters
from bot.errors import DeliveryFailed
from bot.ports import CheckinStore

log = structlog.get_logger(__name__)

#: Reminders taken per query.
BATCH = 200


class Reminder:
    def __init__(self, *, store: CheckinStore, letters: Letters) -> None:
        self._store = store
        self._letters = letters

    async def remind(self, now: datetime) -> int:
        """Send the reminders that fell due; each is taken (and so sent) once."""
        reminded = 0
        paused = await self._store.paused()
        for nudge in await self._store.take_reminders(now, BATCH):
            if (
                nudge.user is None
                or nudge.checkin in paused
                or not await self._letters.current(nudge)
            ):
                continue
            try:
                await self._letters.deliver(nudge, reminder=True)
                reminded += 1
            except DeliveryFailed as exc:
                log.warning("reminder_failed", checkin=nudge.checkin, error=str(exc))
        return reminded
