"""Who is asked to confirm what, and how fresh each entity's ownership is. No I/O.

An entity's ownership was last confirmed on the later of its `reviewed` date and the last
"yes" of an owner. It is due when that is more than `after` ago and nobody was asked
about it within `after` either (so each entity is asked at most once per period).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from bot.kb.knowledge import Knowledge
from bot.model import Entity, OwnableSpec, PersonSpec, Ref, TeamSpec
from bot.ports import AttestRecord

#: The check-in name of attestation rounds: no knowledge entity can be called this.
ATTEST = "@attest"
YES = "Yes"
NO = "No, it's someone else"
UNSURE = "Not sure"
OPTIONS = (YES, NO, UNSURE)
#: Entities in one message at most (each is two Slack blocks of the 50 a message may have);
#: the rest are asked at the next occurrence.
MAX_ASKED = 15
TITLE = "Ownership check"

State = Literal["confirmed", "pending", "overdue", "disputed"]


@dataclass(frozen=True, kw_only=True)
class Confirmation:
    on: date
    by: str | None  # the person's ref; None: the `reviewed` date of the file


@dataclass(frozen=True, kw_only=True)
class Freshness:
    entity: Entity
    state: State
    confirmed: Confirmation | None
    proposed_owner: str | None = None
    proposed_by: str | None = None


def by_entity(records: Iterable[AttestRecord]) -> dict[str, list[AttestRecord]]:
    """The asks about each entity (by its reference), in their order."""
    found: dict[str, list[AttestRecord]] = {}
    for record in records:
        found.setdefault(record.entity, []).append(record)
    return found


def ownable(knowledge: Knowledge) -> list[Entity]:
    """Entities with an owner to confirm (areas and the Backstage ownable kinds)."""
    return [e for e in knowledge.entities.values() if isinstance(e.spec, OwnableSpec)]


def owners(knowledge: Knowledge, entity: Entity) -> list[Entity]:
    """Who answers for `entity`: its owning person; for a team its lead, else every member."""
    if entity.owner is None:
        return []
    owner = knowledge.get(entity.owner)
    if owner is None:
        return []
    if isinstance(owner.spec, PersonSpec):
        return [owner]
    if isinstance(owner.spec, TeamSpec):
        refs: Iterable[Ref] = (owner.spec.lead,) if owner.spec.lead else owner.spec.members
        found = (knowledge.get(r) for r in refs)
        return [p for p in found if p is not None and isinstance(p.spec, PersonSpec)]
    return []


def question(knowledge: Knowledge, entity: Entity, person: Entity) -> str:
    """ "You're listed as owner of Model monitoring (backup: X, channel: Y). Still right?\""""
    spec = entity.spec
    assert isinstance(spec, OwnableSpec)
    facts = []
    if spec.backup is not None:
        facts.append(f"backup: {knowledge.title(spec.backup)}")
    if spec.channel:
        facts.append(f"channel: {spec.channel}")
    about = f"{entity.title} ({', '.join(facts)})" if facts else entity.title
    if entity.owner is not None and entity.owner != person.ref:
        return (
            f"Your team {knowledge.title(entity.owner)} is listed as owner of {about}. Still right?"
        )
    return f"You're listed as owner of {about}. Still right?"


def confirmation(entity: Entity, records: Sequence[AttestRecord]) -> Confirmation | None:
    """When `entity`'s ownership was last confirmed, and by whom (None: never)."""
    spec = entity.spec
    best = None
    if isinstance(spec, OwnableSpec) and spec.reviewed is not None:
        best = Confirmation(on=spec.reviewed, by=None)
    for record in records:
        if record.answer == YES and record.answered_at is not None:
            on = record.answered_at.date()
            if best is None or on >= best.on:
                best = Confirmation(on=on, by=record.person)
    return best


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def freshness(
    entity: Entity, records: Sequence[AttestRecord], now: datetime, after: timedelta
) -> Freshness:
    """How fresh `entity`'s ownership is, from the asks about it (oldest first)."""
    confirmed = confirmation(entity, records)
    answered = [r for r in records if r.answer is not None and r.answered_at is not None]
    last = max(answered, key=lambda r: r.answered_at or now, default=None)
    # A "no" stands until the file is reviewed (or an owner says yes) on its day or later.
    if (
        last is not None
        and last.answer == NO
        and last.answered_at is not None
        and (confirmed is None or confirmed.on < last.answered_at.date())
    ):
        return Freshness(
            entity=entity,
            state="disputed",
            confirmed=confirmed,
            proposed_owner=last.proposed_owner,
            proposed_by=last.person,
        )
    if confirmed is not None and _start_of(confirmed.on) > now - after:
        return Freshness(entity=entity, state="confirmed", confirmed=confirmed)
    if any(_open(r, now) and r.answer is None for r in records):
        return Freshness(entity=entity, state="pending", confirmed=confirmed)
    return Freshness(entity=entity, state="overdue", confirmed=confirmed)


def _open(record: AttestRecord, now: datetime) -> bool:
    return now < record.closes_at


def asked_lately(records: Sequence[AttestRecord], now: datetime, after: timedelta) -> bool:
    """Whether someone was asked within the period (an ask still going counts; one that
    never reached anyone and has closed does not)."""
    return any(
        r.asked_at > now - after and (r.sent or _open(r, now) or r.answer is not None)
        for r in records
    )


def due(
    knowledge: Knowledge,
    records: Sequence[AttestRecord],
    now: datetime,
    after: timedelta,
) -> dict[Ref, list[Entity]]:
    """For each person, the entities to ask them about now (sorted by title, at most
    MAX_ASKED): those confirmed more than `after` ago and not asked within `after`."""
    of = by_entity(records)
    asked: dict[Ref, list[Entity]] = {}
    for entity in ownable(knowledge):
        mine = of.get(str(entity.ref), [])
        state = freshness(entity, mine, now, after).state
        if state in ("confirmed", "pending") or asked_lately(mine, now, after):
            continue
        for person in owners(knowledge, entity):
            asked.setdefault(person.ref, []).append(entity)
    return {
        person: sorted(entities, key=lambda e: (e.title.lower(), str(e.ref)))[:MAX_ASKED]
        for person, entities in asked.items()
    }
