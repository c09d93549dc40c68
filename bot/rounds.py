"""Running practice check-ins: plan nudges, send them once, remind, close and report.

Every replica runs `tick` on its own; the store's compare-and-set operations decide who
does what, so a nudge is sent once however many replicas tick and however often they
restart. Time comes from the clock port; nothing here sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from bot.checkins import (
    SKIP,
    Answered,
    AnswerError,
    RoundSummary,
    audience,
    check_answer,
    due,
    recipient_zone,
    summarise,
)
from bot.errors import DeliveryFailed, StorageError, StorageRefused, Unreachable
from bot.kb.knowledge import Knowledge
from bot.model import CheckInSpec, Entity, PersonSpec, Ref
from bot.ports import (
    AnswerOutbox,
    CheckinStore,
    Clock,
    Messenger,
    NewNudge,
    Nudge,
    NudgeMessage,
    PendingAnswer,
    Round,
)
from bot.reports import report_chart, report_text
from bot.styled import Styled

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=2)
#: Reminders taken per query.
BATCH = 200
#: Nudges in flight at once per replica (the client's pacing sets the rate).
SENDERS = 20
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
#: How far back a tick looks for occurrences missed while every replica was down.
LOOKBACK = timedelta(days=7)
SNOOZE = timedelta(hours=1)
#: How long a zone from the chat platform's profile is trusted before asking again.
ZONE_KEPT = timedelta(hours=12)
SAVE_TRIES = 3
HISTORY = 11
ADMIN_ROLE = Ref(kind="role", name="opsbot-admin")
SKIP_QUESTION = "__round__"
NO_SUCH_QUESTION = "That question is no longer part of this check-in."
ANSWER_KEPT = (
    "I couldn't save your answer just now (the database is unavailable). I've kept it and"
    " will save it as soon as I can."
)
ANSWER_NOT_SAVED = (
    "Sorry, I couldn't save your answer just now (the database is unavailable)."
    " Please click again in a minute."
)
LATER_NOT_SAVED = (
    "Sorry, I couldn't set the reminder just now (the database is unavailable)."
    " Please click again in a minute."
)
#: The round key prefix of rounds started by hand (`/ops checkin run`).
MANUAL = "manual"
#: How many of a check-in's latest rounds are searched for an open manual one.
MANUAL_LOOKBACK = 20


@dataclass(frozen=True, kw_only=True)
class _Settled:
    """What became of a click: saved or not, and what to tell the person."""

    saved: bool
    text: str


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
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self._messenger = messenger
        self._clock = clock
        self._owner = owner
        self._admins = admins
        self._save_pause = save_pause
        # Where an answer clicked while the database is away waits (else: "click again").
        self._outbox = outbox
        self._zones: dict[str, tuple[str | None, datetime]] = {}  # user -> (zone, asked at)

    # -- the tick --------------------------------------------------------------------

    async def tick(self) -> TickResult:
        """Plan what fell due, send it, remind, and close rounds whose time is up."""
        now = self._clock.now()
        claimed = await self.plan(now)
        sent, failed = await self.send(now)
        reminded = await self.remind(now)
        closed = await self.close(now)
        return TickResult(
            claimed=claimed, sent=sent, failed=failed, reminded=reminded, closed=closed
        )

    def checkins(self) -> list[Entity]:
        return self.knowledge().of_kind("checkin")

    async def plan(self, now: datetime) -> int:
        """Claim every nudge that fell due since the last planned window ended.

        Each window is planned once: a replica that dies between claiming and recording
        the window only makes the next tick claim it again, which changes nothing. The
        window of a paused check-in passes unclaimed, so resuming sends nothing old.
        """
        checkins = self.checkins()
        if not checkins:
            return 0
        paused = await self.store.paused()
        starts = await self.store.plan_from([c.ref.name for c in checkins], now)
        end = now + timedelta(microseconds=1)
        claimed = 0
        for checkin in checkins:
            name = checkin.ref.name
            if name not in paused:
                earliest = now - _spec(checkin).close_after - LOOKBACK
                claimed += await self._claim(
                    checkin, max(earliest, starts.get(name, now)), end, now
                )
        await self.store.planned(list(starts), end)
        return claimed

    async def _claim(self, checkin: Entity, start: datetime, end: datetime, now: datetime) -> int:
        spec = _spec(checkin)
        people = audience(self.knowledge(), spec)
        zones = {p.ref: recipient_zone(spec, p, await self._platform_zone(p, spec)) for p in people}
        by_ref = {p.ref: p for p in people}
        nudges = [
            self._new_nudge(checkin, by_ref[d.person], d.key, d.round_key, d.occurrence, now)
            for d in due(checkin, people, zones, start, end)
        ]
        return await self.store.claim(nudges, now)

    def _new_nudge(
        self,
        checkin: Entity,
        person: Entity,
        key: str,
        round_key: str,
        occurrence: datetime,
        now: datetime,
    ) -> NewNudge:
        """The nudge of one occurrence for one person; missed if its round closed already."""
        spec = _spec(checkin)
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
        own = person.spec.timezone if isinstance(person.spec, PersonSpec) else None
        if spec.timezone != "recipient" or own:
            return None
        user = self._messenger.address(person)
        if user is None:
            return None
        now = self._clock.now()
        known = self._zones.get(user)
        if known is None or now - known[1] >= ZONE_KEPT:
            try:
                known = (await self._messenger.timezone(user), now)
            except DeliveryFailed:  # the last one known, else UTC; asked again next tick
                return None if known is None else known[0]
            self._zones[user] = known
        return known[0]

    async def send(self, now: datetime) -> tuple[int, int]:
        """Send what this replica can take, SENDERS at a time; (sent, failed).

        Nudges are taken a few at a time as senders free up, so one slow or rate-limited
        send holds up nothing but itself, and a nudge waits in memory only briefly
        under its lease.
        """
        queue: asyncio.Queue[Nudge] = asyncio.Queue(maxsize=SENDERS)
        rounds: dict[int, Round | None] = {}
        counts = {True: 0, False: 0}
        paused: set[str] = set()  # read again before each take: a pause stops a pass

        async def sender() -> None:
            while True:
                nudge = await queue.get()
                try:
                    if nudge.round_id not in rounds:
                        rounds[nudge.round_id] = await self.store.round(nudge.round_id)
                    round_ = rounds[nudge.round_id]
                    stopped = nudge.checkin in paused
                    counts[await self._send_one(nudge, round_, now, paused=stopped)] += 1
                except StorageError as exc:  # its lease runs out; a later pass looks first
                    counts[False] += 1
                    log.warning("nudge_not_recorded", checkin=nudge.checkin, error=str(exc))
                finally:
                    queue.task_done()

        async with asyncio.TaskGroup() as group:
            senders = [group.create_task(sender()) for _ in range(SENDERS)]
            try:
                while True:
                    paused = await self.store.paused()
                    batch = await self.store.take_due(now, self._owner, LEASE, SENDERS)
                    if not batch:
                        break
                    for nudge in batch:
                        await queue.put(nudge)
            except StorageError as exc:  # what was taken is still sent
                log.warning("nudges_not_taken", error=str(exc))
            await queue.join()
            for task in senders:
                task.cancel()
        return counts[True], counts[False]

    async def _send_one(
        self, nudge: Nudge, round_: Round | None, now: datetime, *, paused: bool
    ) -> bool:
        """Send one nudge; one whose check-in is gone or paused, or whose round closed, is
        recorded missed instead."""
        checkin = self.knowledge().get(Ref(kind="checkin", name=nudge.checkin))
        closed = round_ is None or round_.closed_at is not None
        if checkin is not None and not closed and not paused and nudge.user is None:
            assert round_ is not None
            addressed = await self._readdress(nudge, checkin, round_, now)
            if addressed is None:
                return False
            nudge = addressed
        if checkin is None or closed or paused or nudge.user is None:
            await self.store.missed(nudge.id)
            return False
        # A batch can outlive its lease while it waits for a free sender: take the lease
        # again now, so a replica that took this nudge over in the meantime sends it alone.
        if not await self.store.renew(nudge.id, self._owner, self._clock.now() + LEASE):
            return False
        if nudge.lease_expired:
            # Its sender vanished mid-send: the message may have gone out. Look first;
            # if we cannot look, the lease runs out again and a later pass looks.
            try:
                found = await self._messenger.find_nudge(nudge.user, nudge.key)
            except DeliveryFailed as exc:
                log.warning("nudge_not_checked", checkin=nudge.checkin, error=str(exc))
                return False
            if found is not None:
                await self.store.sent(nudge.id, found.channel, found.ts, now)
                return True
        try:
            delivered = await self._messenger.nudge(self._message(checkin, nudge))
        except Unreachable as exc:
            await self.store.failed(nudge.id, str(exc), None, owner=self._owner)
            log.info("nudge_unreachable", checkin=nudge.checkin, error=str(exc))
            return False
        except DeliveryFailed as exc:
            retry = None if nudge.attempts >= MAX_ATTEMPTS else now + _backoff(nudge.attempts)
            await self.store.failed(nudge.id, str(exc), retry, owner=self._owner)
            log.warning("nudge_failed", checkin=nudge.checkin, attempts=nudge.attempts)
            return False
        await self.store.sent(nudge.id, delivered.channel, delivered.ts, self._clock.now())
        return True

    async def _readdress(
        self, nudge: Nudge, checkin: Entity, round_: Round, now: datetime
    ) -> Nudge | None:
        """A nudge claimed for someone the bot could not reach then: their address now
        (they may have installed the app since), else tried again later while the round
        is open, else unreachable."""
        person = self.knowledge().get(Ref.parse(nudge.person, default_kind="person"))
        user = None if person is None else self._messenger.address(person, _spec(checkin).platforms)
        if user is not None and await self.store.readdress(nudge.id, user, owner=self._owner):
            return replace(nudge, user=user)
        later = now + _backoff(nudge.attempts + 1)
        hopeless = user is not None or later >= round_.closes_at or nudge.attempts >= MAX_ATTEMPTS
        retry = None if hopeless else later
        error = "not reachable on any chat platform yet"
        await self.store.failed(nudge.id, error, retry, owner=self._owner)
        return None

    def _message(self, checkin: Entity, nudge: Nudge, *, reminder: bool = False) -> NudgeMessage:
        assert nudge.user is not None
        return NudgeMessage(
            key=nudge.key,
            round_id=nudge.round_id,
            user=nudge.user,
            title=checkin.title,
            questions=_spec(checkin).questions,
            reminder=reminder,
        )

    async def remind(self, now: datetime) -> int:
        reminded = 0
        paused = await self.store.paused()
        for nudge in await self.store.take_reminders(now, BATCH):
            checkin = self.knowledge().get(Ref(kind="checkin", name=nudge.checkin))
            if checkin is None or nudge.user is None or nudge.checkin in paused:
                continue
            try:
                await self._messenger.nudge(self._message(checkin, nudge, reminder=True))
                reminded += 1
            except DeliveryFailed as exc:
                log.warning("reminder_failed", checkin=nudge.checkin, error=str(exc))
        return reminded

    async def close(self, now: datetime) -> int:
        rounds = await self.store.take_closing(now)
        for round_ in rounds:
            checkin = self.knowledge().get(Ref(kind="checkin", name=round_.checkin))
            if checkin is None or not _spec(checkin).report_to:
                continue
            if not await self.store.recipients(round_.id):
                log.info("report_skipped", checkin=round_.checkin, reason="nobody was asked")
                continue
            text, chart = await self.report(checkin, round_)
            for channel in _spec(checkin).report_to:
                try:
                    await self._messenger.report(channel, text, chart, checkin.title)
                except DeliveryFailed as exc:
                    log.warning("report_failed", checkin=round_.checkin, error=str(exc))
        return len(rounds)

    # -- reports ---------------------------------------------------------------------

    async def summary(self, checkin: Entity, round_: Round) -> RoundSummary:
        rows = await self.store.answers(round_.id)
        answered = [Answered(person=r.person, question=r.question, value=r.value) for r in rows]
        nudged = await self.store.recipients(round_.id)
        return summarise(_spec(checkin), round_.round_key, nudged, answered)

    async def report(self, checkin: Entity, round_: Round) -> tuple[Styled, bytes]:
        """The summary of a round with the trend of the rounds before it."""
        current = await self.summary(checkin, round_)
        earlier = [
            await self.summary(checkin, r)
            for r in await self.store.rounds(checkin.ref.name, HISTORY + 1)
            if r.id != round_.id and r.opened_at <= round_.opened_at
        ][:HISTORY]
        anonymous = _spec(checkin).anonymous
        text = report_text(checkin.title, current, earlier, anonymous=anonymous)
        return text, report_chart(checkin.title, current, earlier)

    # -- people's clicks -------------------------------------------------------------

    async def answer(self, user: str, round_id: int, question_id: str, value: str) -> str:
        """Record an answer from `user`; the reply says what happened, politely and truly."""
        if question_id == SKIP_QUESTION:
            return NO_SUCH_QUESTION
        return await self._click(user, round_id, question_id, value)

    async def skip(self, user: str, round_id: int) -> str:
        return await self._click(user, round_id, SKIP_QUESTION, SKIP)

    async def later(self, user: str, round_id: int) -> str:
        try:
            found = await self._own_round(user, round_id, self._clock.now())
            if isinstance(found, str):
                return found
            until = self._clock.now() + SNOOZE
            await self.store.snooze(round_id, found[1].person, until)
        except StorageError as exc:
            log.warning("snooze_not_saved", round_id=round_id, error=str(exc))
            return LATER_NOT_SAVED
        return "OK, I'll remind you in an hour."

    async def settle(self, kept: PendingAnswer) -> bool:
        """Apply an answer kept while the database was away, checked as a click made at
        `kept.clicked_at`; False (logged) when it no longer counts (the round has closed).
        `StorageError` while the database is still away."""
        settled = await self._apply(kept, tries=1)
        if settled.saved:
            log.info("kept_answer_saved", round_id=kept.round_id, question=kept.question)
        else:
            log.warning(
                "kept_answer_refused",
                round_id=kept.round_id,
                question=kept.question,
                reason=settled.text,
            )
        return settled.saved

    async def _click(self, user: str, round_id: int, question: str, value: str) -> str:
        click = PendingAnswer(
            user=user,
            round_id=round_id,
            question=question,
            value=value,
            clicked_at=self._clock.now(),
        )
        try:
            return (await self._apply(click, tries=SAVE_TRIES)).text
        except StorageRefused as exc:
            log.error("answer_refused", round_id=round_id, question=question, error=str(exc))
            return "Sorry, I could not save that answer."
        except StorageError as exc:
            log.warning("answer_not_saved", round_id=round_id, question=question, error=str(exc))
        if self._outbox is None:
            return ANSWER_NOT_SAVED
        try:
            await self._outbox.keep_answer(click)
        except StorageError as exc:
            log.error("answer_not_kept", round_id=round_id, question=question, error=str(exc))
            return ANSWER_NOT_SAVED
        return ANSWER_KEPT

    async def _apply(self, click: PendingAnswer, *, tries: int) -> _Settled:
        """Check `click` against its round and save it; `StorageError` if the database is
        away (after `tries` attempts at the write)."""
        found = await self._own_round(click.user, click.round_id, click.clicked_at)
        if isinstance(found, str):
            return _Settled(saved=False, text=found)
        checkin, nudge = found
        if click.question == SKIP_QUESTION:
            stored, done = SKIP, "Skipped this round. See you next time!"
        else:
            question = next((q for q in _spec(checkin).questions if q.id == click.question), None)
            if question is None:
                return _Settled(saved=False, text=NO_SUCH_QUESTION)
            try:
                stored = check_answer(question, click.value)
            except AnswerError as exc:
                return _Settled(saved=False, text=f"Sorry, that answer does not fit: {exc}.")
            done = f"Thanks! Recorded {stored or '(empty)'} for: {question.text}"
        await self._save(click, nudge.person, stored, tries)
        return _Settled(saved=True, text=done)

    async def _own_round(
        self, user: str, round_id: int, at: datetime
    ) -> tuple[Entity, Nudge] | str:
        round_ = await self.store.round(round_id)
        checkin = (
            None
            if round_ is None
            else self.knowledge().get(Ref(kind="checkin", name=round_.checkin))
        )
        if round_ is None or checkin is None:
            return "This check-in no longer exists."
        if round_.closed_at is not None or at >= round_.closes_at:
            return "This round is closed, so answers can no longer change. Thanks anyway!"
        nudge = await self.store.nudge_for(round_id, user)
        if nudge is None:
            return "This check-in was sent to someone else; only they can answer it."
        return checkin, nudge

    async def _save(self, click: PendingAnswer, person: str, value: str, tries: int) -> None:
        """Store an answer, riding out a blip of the database; `StorageError` after `tries`."""
        for attempt in range(1, tries + 1):
            try:
                await self.store.answer(
                    click.round_id, person, click.question, value, click.clicked_at
                )
                return
            except StorageRefused:
                raise
            except StorageError as exc:
                if attempt == tries:
                    raise
                log.warning("answer_not_saved", attempt=attempt, error=str(exc))
                await asyncio.sleep(self._save_pause * attempt)

    async def open_checkins(self, user: str) -> list[tuple[str, str]]:
        """(check-in title, round) for each open round `user` was nudged in."""
        found = []
        for nudge in await self.store.open_for(user):
            checkin = self.knowledge().get(Ref(kind="checkin", name=nudge.checkin))
            if checkin is not None:
                found.append((checkin.title, nudge.round_key))
        return found

    async def nudge_view(
        self, user: str, round_id: int
    ) -> tuple[NudgeMessage, dict[str, str], bool] | None:
        """The nudge `user` got in `round_id`, their answers so far and whether the round
        still takes answers: what a platform shows when it updates the nudge in place."""
        nudge = await self.store.nudge_for(round_id, user)
        round_ = await self.store.round(round_id)
        if nudge is None or round_ is None or nudge.user is None:
            return None
        checkin = self.knowledge().get(Ref(kind="checkin", name=nudge.checkin))
        if checkin is None:
            return None
        answers = {
            a.question: a.value
            for a in await self.store.answers(round_id)
            if a.person == nudge.person
        }
        return self._message(checkin, nudge), answers, round_.is_open(self._clock.now())

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
        spec = _spec(checkin)
        key = f"{MANUAL} {now.strftime('%Y-%m-%dT%H:%M:%S')}"
        nudges = [
            self._new_nudge(
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


def _spec(checkin: Entity) -> CheckInSpec:
    assert isinstance(checkin.spec, CheckInSpec)
    return checkin.spec


def _backoff(attempts: int) -> timedelta:
    factor: int = 2 ** max(attempts - 1, 0)
    return min(FIRST_RETRY * factor, LAST_RETRY)
