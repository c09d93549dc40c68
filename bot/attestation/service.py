"""Ownership attestation rounds: planned here, sent by the check-ins' exactly-once sending.

Each occurrence of the attestation schedule (weekdays 10:00 by default) in an owner's own
time zone, the entities due for them are claimed as one nudge (one message per person),
together with what it asks, in one transaction. Their answers are check-in answers of that
round; a "no" may name the owner now, which goes to the knowledge maintainers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog

from bot.answers.picker import choices
from bot.attestation.freshness import (
    ATTEST,
    NO,
    OPTIONS,
    TITLE,
    YES,
    Confirmation,
    Freshness,
    by_entity,
    confirmation,
    due,
    freshness,
    ownable,
    question,
)
from bot.checkins.schedule import AnswerError, check_answer, occurrences, wall_time, zone
from bot.checkins.sending import deliver
from bot.checkins.zones import Zones
from bot.errors import DeliveryFailed, StorageError
from bot.events import OwnerPrompt
from bot.kb.knowledge import Knowledge
from bot.kb.patch import Change
from bot.model import CheckInQuestion, Entity, OwnableSpec, Ref
from bot.ports import (
    AttestAsk,
    AttestRecord,
    AttestStore,
    CheckinStore,
    Clock,
    Delivered,
    Messenger,
    NewNudge,
    Nudge,
    NudgeMessage,
)
from bot.styled import Styled, code

log = structlog.get_logger(__name__)

#: How long an attestation round takes answers.
OPEN_FOR = timedelta(days=7)
#: The one reminder goes at the schedule's first occurrence this long after the nudge.
REMIND_AFTER = timedelta(days=2)
#: How far back a tick plans occurrences missed while every replica was down.
LOOKBACK = timedelta(days=1)
MANUAL = "manual"
#: People and teams a form lists to pick from (beyond them: the words box).
MAX_CHOICES = 100
_ASKS_KEPT = 10_000


@dataclass(frozen=True, kw_only=True)
class Asked:
    """A round started by hand: how many people were asked about how many entities."""

    people: int
    entities: int
    #: People asked whom no chat platform here can reach yet (asked once they can be).
    waiting: tuple[str, ...] = ()


class AttestLetters:
    """What an attestation nudge says: one question per entity it asks about."""

    def __init__(
        self, *, knowledge: Callable[[], Knowledge], store: AttestStore, messenger: Messenger
    ) -> None:
        self._knowledge = knowledge
        self._store = store
        self._messenger = messenger
        self._asks: dict[tuple[int, str], list[AttestAsk]] = {}  # never change once claimed

    async def asks(self, nudge: Nudge) -> list[AttestAsk]:
        key = (nudge.round_id, nudge.person)
        if key not in self._asks:
            if len(self._asks) >= _ASKS_KEPT:
                self._asks.clear()
            self._asks[key] = await self._store.asks(nudge.round_id, nudge.person)
        return self._asks[key]

    async def questions(self, nudge: Nudge) -> list[CheckInQuestion]:
        knowledge = self._knowledge()
        person = knowledge.get(Ref.parse(nudge.person, default_kind="person"))
        found = []
        for ask in await self.asks(nudge):
            entity = knowledge.get(_entity_ref(ask.entity))
            if entity is not None and person is not None:
                text = question(knowledge, entity, person)
                found.append(
                    CheckInQuestion(id=ask.question, text=text, type="choice", options=OPTIONS)
                )
        return found

    async def current(self, nudge: Nudge) -> bool:
        return bool(await self.questions(nudge))

    async def message(self, nudge: Nudge, *, reminder: bool = False) -> NudgeMessage | None:
        questions = await self.questions(nudge)
        if not questions or nudge.user is None:
            return None
        return NudgeMessage(
            key=nudge.key,
            round_id=nudge.round_id,
            user=nudge.user,
            title=title(await self._titles(nudge)),
            questions=tuple(questions),
            reminder=reminder,
        )

    async def _titles(self, nudge: Nudge) -> list[str]:
        knowledge = self._knowledge()
        refs = (_entity_ref(a.entity) for a in await self.asks(nudge))
        return [e.title for e in map(knowledge.get, refs) if e is not None]

    def address(self, nudge: Nudge) -> str | None:
        person = self._knowledge().get(Ref.parse(nudge.person, default_kind="person"))
        return None if person is None else self._messenger.address(person)

    async def deliver(self, nudge: Nudge, *, reminder: bool = False) -> Delivered:
        return await deliver(self, self._messenger, nudge, reminder=reminder)


def title(entities: Sequence[str]) -> str:
    """ "Ownership check: Ingestion, Model monitoring": what the App Home and the heading
    of the message show."""
    shown = ", ".join(entities[:3]) + (
        f" and {len(entities) - 3} more" if len(entities) > 3 else ""
    )
    return f"{TITLE}: {shown}" if shown else TITLE


class AttestationService:
    def __init__(
        self,
        *,
        knowledge: Callable[[], Knowledge],
        store: AttestStore,
        checkins: CheckinStore,
        messenger: Messenger,
        clock: Clock,
        after: timedelta,
        schedule: str,
        send: Callable[[datetime], Awaitable[tuple[int, int]]],
        maintainers: Callable[[], Sequence[str]],
    ) -> None:
        """`send`: the check-ins' sending pass (it sends attestation nudges too);
        `maintainers`: where a proposed change of owner is told (channel or admins)."""
        self._knowledge = knowledge
        self._store = store
        self._checkins = checkins
        self._messenger = messenger
        self._clock = clock
        self._after = after
        self._schedule = schedule
        self._send = send
        self._maintainers = maintainers
        self.letters = AttestLetters(knowledge=knowledge, store=store, messenger=messenger)
        self._zones = Zones(messenger=messenger, clock=clock)
        self._confirmed: dict[str, Confirmation] = {}

    # -- planning ----------------------------------------------------------------------

    async def tick(self) -> int:
        """Plan what fell due (the check-ins' tick sends it) and refresh confirmations."""
        now = self._clock.now()
        records = await self._store.records(ATTEST)
        self._remember(records)
        return await self.plan(now, records)

    async def plan(self, now: datetime, records: Sequence[AttestRecord]) -> int:
        starts = await self._checkins.plan_from([ATTEST], now)
        start = max(starts.get(ATTEST, now), now - LOOKBACK)
        end = now + timedelta(microseconds=1)
        knowledge = self._knowledge()
        nudges: list[NewNudge] = []
        asks: list[AttestAsk] = []
        for person_ref, entities in due(knowledge, records, now, self._after).items():
            person = knowledge.get(person_ref)
            if person is None:
                continue
            tz = zone(await self._zones.of(person))
            fired = occurrences(self._schedule, tz, start, end)
            if fired:
                occurrence = fired[-1]
                reminder = occurrences(
                    self._schedule, tz, occurrence + REMIND_AFTER, occurrence + OPEN_FOR
                )
                self._add(
                    nudges,
                    asks,
                    person,
                    entities,
                    wall_time(occurrence, tz),
                    occurrence,
                    reminder[0] if reminder else None,
                )
        claimed = await self._store.claim(ATTEST, nudges, asks, now) if nudges else 0
        await self._checkins.planned([ATTEST], end)
        return claimed

    def _add(
        self,
        nudges: list[NewNudge],
        asks: list[AttestAsk],
        person: Entity,
        entities: Sequence[Entity],
        round_key: str,
        occurrence: datetime,
        remind_at: datetime | None,
    ) -> None:
        nudges.append(
            NewNudge(
                key=f"{ATTEST}|{person.ref}|{round_key}",
                checkin=ATTEST,
                round_key=round_key,
                person=str(person.ref),
                user=self._messenger.address(person),
                occurrence=occurrence,
                remind_at=remind_at,
                closes_at=occurrence + OPEN_FOR,
            )
        )
        asks.extend(
            AttestAsk(
                round_key=round_key,
                person=str(person.ref),
                question=f"q{i}",
                entity=str(entity.ref),
            )
            for i, entity in enumerate(entities, start=1)
        )

    async def run_now(self) -> Asked:
        """Ask every owner about what is due now, at once (`/ops attest run`)."""
        now = self._clock.now()
        records = await self._store.records(ATTEST)
        knowledge = self._knowledge()
        key = f"{MANUAL} {now.strftime('%Y-%m-%dT%H:%M:%S')}"
        nudges: list[NewNudge] = []
        asks: list[AttestAsk] = []
        for person_ref, entities in due(knowledge, records, now, self._after).items():
            person = knowledge.get(person_ref)
            if person is not None:
                self._add(nudges, asks, person, entities, key, now, now + REMIND_AFTER)
        if nudges:
            await self._store.claim(ATTEST, nudges, asks, now)
            await self._send(now)
        waiting = tuple(sorted(n.person.partition(":")[2] for n in nudges if n.user is None))
        return Asked(people=len(nudges), entities=len({a.entity for a in asks}), waiting=waiting)

    # -- what is known -----------------------------------------------------------------

    def _remember(self, records: Sequence[AttestRecord]) -> None:
        of = by_entity(records)
        confirmed = {}
        for entity in ownable(self._knowledge()):
            found = confirmation(entity, of.get(str(entity.ref), []))
            if found is not None and found.by is not None:
                confirmed[str(entity.ref)] = found
        self._confirmed = confirmed

    def confirmed(self, ref: Ref) -> Confirmation | None:
        """The last "yes" of an owner about `ref`, if later than the file's `reviewed`."""
        return self._confirmed.get(str(ref))

    async def status(self) -> list[Freshness]:
        """Every ownable entity by freshness: disputed, overdue, pending, then confirmed."""
        now = self._clock.now()
        records = await self._store.records(ATTEST)
        of = by_entity(records)
        order = {"disputed": 0, "overdue": 1, "pending": 2, "confirmed": 3}
        found = [
            freshness(e, of.get(str(e.ref), []), now, self._after)
            for e in ownable(self._knowledge())
        ]
        return sorted(found, key=lambda f: (order[f.state], f.entity.title.lower()))

    # -- answers -----------------------------------------------------------------------

    async def records(self) -> list[AttestRecord]:
        return await self._store.records(ATTEST)

    async def asked_about(self, user: str, round_id: int, question_id: str) -> Entity | None:
        """The entity `question_id` of `user`'s attestation nudge in `round_id` asks about."""
        asked = await self._asked(user, round_id, question_id)
        return None if asked is None else asked[1]

    async def _asked(
        self, user: str, round_id: int, question_id: str
    ) -> tuple[Nudge, Entity] | None:
        nudge, ask = await self._ask(user, round_id, question_id)
        entity = None if ask is None else self._knowledge().get(_entity_ref(ask.entity))
        return None if nudge is None or entity is None else (nudge, entity)

    async def _ask(
        self, user: str, round_id: int, question_id: str
    ) -> tuple[Nudge | None, AttestAsk | None]:
        """`user`'s attestation nudge in `round_id` (None: they got none) and its question
        `question_id` (None: it has no such question)."""
        nudge = await self._checkins.nudge_for(round_id, user)
        if nudge is None or nudge.checkin != ATTEST:
            return None, None
        ask = next((a for a in await self.letters.asks(nudge) if a.question == question_id), None)
        return nudge, ask

    async def ask_owner(
        self, user: str, round_id: int, question_id: str, value: str
    ) -> tuple[str, OwnerPrompt] | None:
        """After `user` answered `question_id` of an attestation round: a "yes" is known at
        once to this replica's answers (the others learn it on their next tick); a "no"
        gets how to name the owner now (in words, and as a form). None for any other
        answer or round."""
        option = _option(value)
        asked = None if option not in (YES, NO) else await self._asked(user, round_id, question_id)
        if asked is None:
            return None
        nudge, entity = asked
        if option == YES:
            said = Confirmation(on=self._clock.now().date(), by=nudge.person)
            reviewed = entity.spec.reviewed if isinstance(entity.spec, OwnableSpec) else None
            if reviewed is None or said.on >= reviewed:
                self._confirmed[str(entity.ref)] = said
            return None
        text = (
            f"Who owns {entity.title} now? Name a person or team (or describe it):"
            f" /ops attest owner {round_id} {question_id} NAME"
        )
        choices = tuple(self.owner_choices("", limit=MAX_CHOICES))
        return text, OwnerPrompt(
            round_id=round_id, question=question_id, title=entity.title, choices=choices
        )

    def owner_choices(self, query: str, limit: int = 50) -> list[tuple[str, str]]:
        """(reference, title) of the people and teams an owner picker offers for `query`."""
        found = choices(self._knowledge(), query, ("person", "team"), limit)
        return [(str(e.ref), f"{e.title} ({e.kind})") for e in found]

    async def propose(self, user: str, round_id: int, question_id: str, owner: str) -> str:
        """Record who `user` says owns the entity of their `question_id` now, and tell the
        knowledge maintainers."""
        owner = " ".join(owner.split())[:200]
        if not owner:
            return "Please say who owns it now: a person or team, or a few words."
        nudge, ask = await self._ask(user, round_id, question_id)
        if nudge is None:
            return "That ownership check was sent to someone else; only they can answer it."
        if ask is None:
            return f"That ownership check has no question {question_id}."
        knowledge = self._knowledge()
        named = self.resolve(owner)
        shown = owner if named is None else f"{knowledge.title(named)} ({named})"
        stored = owner if named is None else str(named)
        try:
            await self._store.propose(
                round_id, nudge.person, question_id, stored, user, self._clock.now()
            )
        except StorageError as exc:
            log.warning("proposal_not_saved", error=str(exc))
            return "Sorry, I could not save that just now. Please try again in a minute."
        entity = _entity_ref(ask.entity)
        notice = Styled.of(
            (
                f"Ownership of {knowledge.title(entity)} ({entity}) is disputed:"
                f" {knowledge.title(Ref.parse(nudge.person, default_kind='person'))}"
                f" says it is now {shown}. ",
                code("opsbot attest patch"),
                " proposes the change.",
            )
        )
        for channel in self._maintainers():
            try:
                await self._messenger.report(channel, notice, None, "Ownership")
            except DeliveryFailed as exc:
                log.warning("proposal_not_told", error=str(exc))
        return f"Thanks! Noted that {knowledge.title(entity)} is now owned by {shown}."

    def resolve(self, name: str) -> Ref | None:
        """The person or team `name` means: a reference, a name or a title."""
        knowledge = self._knowledge()
        wanted = name.strip().lower().lstrip("@")
        for entity in (*knowledge.of_kind("person"), *knowledge.of_kind("team")):
            names = {str(entity.ref), entity.ref.name, entity.title.lower(), *entity.aliases}
            if wanted in {n.lower() for n in names}:
                return entity.ref
        return None


def changes(
    knowledge: Knowledge, records: Sequence[AttestRecord], today: date
) -> tuple[list[Change], list[str]]:
    """What the answers change in the knowledge: `reviewed` for a "yes" newer than the
    file's date; `owner` for a latest "no" that named a known person or team, reviewed
    `today` (applying it is the maintainers' review, and settles the dispute); and notes
    about what a human must decide (a "no" naming someone unknown, or nobody)."""
    of = by_entity(records)
    found: list[Change] = []
    notes: list[str] = []
    for entity in ownable(knowledge):
        mine = [r for r in of.get(str(entity.ref), []) if r.answered_at is not None]
        if not mine:
            continue
        latest = max(mine, key=lambda r: r.answered_at or datetime.min)
        if latest.answer == NO:
            owner = _known_owner(knowledge, latest.proposed_owner)
            if owner is None:
                said = latest.proposed_owner or "nobody named yet"
                notes.append(f"{entity.ref}: {latest.person} says the owner changed ({said})")
            elif owner != entity.owner:
                found.append(Change(entity=entity, owner=owner, reviewed=today))
            continue
        confirmed = confirmation(entity, mine)
        if confirmed is not None and confirmed.by is not None:
            found.append(Change(entity=entity, reviewed=confirmed.on))
    return found, notes


def _known_owner(knowledge: Knowledge, text: str | None) -> Ref | None:
    if not text:
        return None
    try:
        ref = Ref.parse(text, default_kind="team")
    except ValueError:
        return None
    entity = knowledge.get(ref)
    return ref if entity is not None and entity.kind in ("person", "team") else None


_CHOICE = CheckInQuestion(id="attest", text="Still right?", type="choice", options=OPTIONS)


def is_no(value: str) -> bool:
    """Whether a clicked or typed answer is "No, it's someone else"."""
    return _option(value) == NO


def _entity_ref(text: str) -> Ref:
    return Ref.parse(text, default_kind="component")


def _option(value: str) -> str | None:
    """The option a typed or clicked answer stands for ("no" is NO), else None."""
    try:
        return check_answer(
            CheckInQuestion(id="-", text="-", type="choice", options=OPTIONS), value
        )
    except AnswerError:
        return None
