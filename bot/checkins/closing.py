"""Closing check-in rounds whose time is up, and reporting them where the check-in says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

from bot.checkins.reports import report_chart, report_text
from bot.checkins.schedule import Answered, RoundSummary, spec_of, summarise
from bot.errors import DeliveryFailed
from bot.kb.knowledge import Knowledge
from bot.model import Entity, Ref
from bot.ports import CheckinStore, Messenger, Round
from bot.styled import Styled

log = structlog.get_logger(__name__)

#: Earlier rounds shown in a report's trend.
HISTORY = 11


class Closer:
    def __init__(
        self, *, knowledge: Callable[[], Knowledge], store: CheckinStore, messenger: Messenger
    ) -> None:
        self._knowledge = knowledge
        self._store = store
        self._messenger = messenger

    async def close(self, now: datetime) -> int:
        """Close each round whose time is up (each once) and send its report."""
        rounds = await self._store.take_closing(now)
        for round_ in rounds:
            checkin = self._knowledge().get(Ref(kind="checkin", name=round_.checkin))
            if checkin is None or not spec_of(checkin).report_to:
                continue
            if not await self._store.recipients(round_.id):
                log.info("report_skipped", checkin=round_.checkin, reason="nobody was asked")
                continue
            text, chart = await self.report(checkin, round_)
            for channel in spec_of(checkin).report_to:
                try:
                    await self._messenger.report(channel, text, chart, checkin.title)
                except DeliveryFailed as exc:
                    log.warning("report_failed", checkin=round_.checkin, error=str(exc))
        return len(rounds)

    async def summary(self, checkin: Entity, round_: Round) -> RoundSummary:
        rows = await self._store.answers(round_.id)
        answered = [Answered(person=r.person, question=r.question, value=r.value) for r in rows]
        nudged = await self._store.recipients(round_.id)
        return summarise(spec_of(checkin), round_.round_key, nudged, answered)

    async def report(self, checkin: Entity, round_: Round) -> tuple[Styled, bytes]:
        """The summary of a round with the trend of the rounds before it."""
        current = await self.summary(checkin, round_)
        earlier = [
            await self.summary(checkin, r)
            for r in await self._store.rounds(checkin.ref.name, HISTORY + 1)
            if r.id != round_.id and r.opened_at <= round_.opened_at
        ][:HISTORY]
        anonymous = spec_of(checkin).anonymous
        text = report_text(checkin.title, current, earlier, anonymous=anonymous)
        # Drawing takes a few tenths of a second: not on the event loop.
        chart = await asyncio.to_thread(report_chart, checkin.title, current, earlier)
        return text, chart
