"""Check-ins put together: every replica ticks `CheckinService`, which plans what fell
due, sends it, reminds and closes rounds whose time is up.

Every replica runs `tick` on its own; the store's compare-and-set operations decide who
does what, so a nudge is sent once however many replicas tick and however often they
restart. Time comes from the clock port; nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import structlog

from bot.checkins.clicks import Clicks
from bot.checkins.closing import Closer
from bot.checkins.nudges import CheckinLetters
from bot.checkins.planning import Planner
from bot.checkins.reminding import Reminder
from bot.checkins.schedule import RoundSummary, audience, spec_of
from bot.checkins.sending import ByRound, Letters, Sender
from bot.errors import StorageError
from bot.kb.knowledge import Knowledge
from bot.model import Entity, PersonSpec, Ref
from bot.ports import (
    AnswerOutbox,
    CheckinStore,
    Clock,
    Messenger,
    NudgeMessage,
    PendingAnswer,
    Round,
)
from bot.styled import Styled

log = structlog.get_logger(__name__)

ADMIN_ROLE = Ref(kind="role", name="opsbot-admin")
#: The round key prefix of rounds started by hand (`/ops checkin run`).
MANUAL = "manual"
#: How many of a check-in's latest rounds are searched for an open manual one.
MANUAL_LOOKBACK = 20


@dataclass(frozen=True, kw_only=True)
class TickResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    reminded: int = 0
    closed: int = 0


class CheckinService:
    """Check-ins for one knowledge base, through one store and one messenger."""

    def __init__(
        self,
        *,
        knowledge: Callable[[], Knowledge],
        store: CheckinStore,
        messenger: Messenger,
        clock: Clock,
        owner: str,
        admins: frozenset[str] = frozenset(),
        save_pause: float = 0.2,
        outbox: AnswerOutbox | None = None,
        others: Mapping[str, Letters] = MappingProxyType({}),
    ) -> None:
        """`others`: the letters of other kinds of rounds sent the same way, by their
        check-in name (ownership attestation)."""
        self.knowledge = knowledge
        self.store = store
        self._messenger = messenger
        self._clock = clock
        self._admins = admins
        letters = ByRound(CheckinLetters(knowledge=knowledge, messenger=messenger), others)
        self._planner = Planner(knowledge=knowledge, store=store, messenger=messenger, clock=clock)
        self._sender = Sender(
            store=store, messenger=messenger, letters=letters, clock=clock, owner=owner
        )
        self._reminder = Reminder(store=store, letters=letters)
        self._closer = Closer(knowledge=knowledge, store=store, messenger=messenger)
        self.clicks = Clicks(
            store=store, letters=letters, clock=clock, save_pause=save_pause, outbox=outbox
        )

    async def tick(self) -> TickResult:
        """Plan what fell due, send it, remind, and close rounds whose time is up."""
        now = self._clock.now()
        claimed = await self._planner.plan(now)
        sent, failed = await self._sender.send(now)
        reminded = await self._reminder.remind(now)
        closed = await self._closer.close(now)
        return TickResult(
            claimed=claimed, sent=sent, failed=failed, reminded=reminded, closed=closed
        )

    def checkins(self) -> list[Entity]:
        return self.knowledge().of_kind("checkin")

    async def send(self, now: datetime) -> tuple[int, int]:
        return await self._sender.send(now)

    async def summary(self, checkin: Entity, round_: Round) -> RoundSummary:
        return await self._closer.summary(checkin, round_)

    async def report(self, checkin: Entity, round_: Round) -> tuple[Styled, bytes]:
        return await self._closer.report(checkin, round_)

    # -- people's clicks (see `Clicks`) ---------------------------------------------

    async def answer(self, user: str, round_id: int, question_id: str, value: str) -> str:
        return await self.clicks.answer(user, round_id, question_id, value)

    async def skip(self, user: str, round_id: int) -> str:
        return await self.clicks.skip(user, round_id)

    async def later(self, user: str, round_id: int) -> str:
        return await self.clicks.later(user, round_id)

    async def settle(self, kept: PendingAnswer) -> bool:
        return await self.clicks.settle(kept)

    async def open_checkins(self, user: str) -> list[tuple[str, str]]:
        return await self.clicks.open_checkins(user)

    async def nudge_view(
        self, user: str, round_id: int
    ) -> tuple[NudgeMessage, dict[str, str], bool] | None:
        return await self.clicks.nudge_view(user, round_id)

    # -- manual rounds and admin -----------------------------------------------------

    def is_admin(self, user: str | None) -> bool:
        if user is None:
            return False
        if user in self._admins or user.removeprefix("teams:") in self._admins:
            return True
        for person in self.knowledge().of_kind("person"):
            if self._messenger.address(person) == user and isinstance(person.spec, PersonSpec):
                return ADMIN_ROLE in person.spec.roles
        return False

    async def run_now(self, checkin: Entity) -> Started | Round:
        """Start a round of `checkin` now, for everyone in its audience; nudges sent.

        Returns who was nudged and who cannot be reached here yet, or the manual round of
        `checkin` still open, which a repeated request (a double submit, a replay) joins
        instead of starting another.
        """
        now = self._clock.now()
        for round_ in await self.store.rounds(checkin.ref.name, MANUAL_LOOKBACK):
            if round_.round_key.startswith(MANUAL) and round_.is_open(now):
                return round_
        spec = spec_of(checkin)
        key = f"{MANUAL} {now.strftime('%Y-%m-%dT%H:%M:%S')}"
        nudges = [
            self._planner.new_nudge(
                checkin, person, f"{checkin.ref.name}|{person.ref}|{key}", key, now, now
            )
            for person in audience(self.knowledge(), spec)
        ]
        claimed = await self.store.claim(nudges, now)
        await self.send(now)
        waiting = tuple(sorted(n.person.partition(":")[2] for n in nudges if n.user is None))
        return Started(claimed=claimed, waiting=waiting if claimed else ())

    async def pause(self, checkin: Entity, paused: bool) -> None:
        await self.store.set_paused(checkin.ref.name, paused, self._clock.now())

    async def audit(self, platform: str, user: str | None, action: str, allowed: bool) -> None:
        try:
            await self.store.audit(self._clock.now(), platform, user, action, allowed)
        except StorageError as exc:
            log.warning("audit_not_written", action=action, error=str(exc))


@dataclass(frozen=True, kw_only=True)
class Started:
    """A round started by hand: how many nudges it claimed, and the people among them no
    chat platform here can reach yet (their nudges wait for them while it is open)."""

    claimed: int
    waiting: tuple[str, ...] = ()
