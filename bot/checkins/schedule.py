"""Practice check-ins, the pure part: when nudges fall due, to whom, and what the answers say.

No I/O and no clock reads: every function takes `now` or a time window. Cron runs in
wall-clock time of a zone, so a nudge at "10:00 Monday" is at 10:00 for each recipient;
on DST days a wall time that does not exist is sent at the same instant one hour later
by the clock, and a wall time that happens twice is sent once, at its first instant.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from bot.kb.knowledge import Knowledge
from bot.model import CheckInQuestion, CheckInSpec, Entity, PersonSpec, Ref, whole_number

RECIPIENT = "recipient"
#: The stored value of "Skip this round".
SKIP = "__skip__"
#: The question id under which "Skip this round" is stored.
SKIP_QUESTION = "__round__"


def spec_of(checkin: Entity) -> CheckInSpec:
    """The check-in spec of a `checkin` entity."""
    assert isinstance(checkin.spec, CheckInSpec)
    return checkin.spec


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, UTC when unknown or missing."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def occurrences(schedule: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in [start, end) at which the 5-field cron `schedule` fires in `tz`."""
    local = start.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    found: list[datetime] = []
    walker = croniter(schedule, local)
    while True:
        try:
            wall: datetime = walker.get_next(datetime)
        except CroniterBadDateError:  # a valid expression that never fires (30 February)
            return found
        instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if instant >= end:
            return found
        if instant >= start and (not found or instant > found[-1]):
            found.append(instant)


def wall_time(instant: datetime, tz: ZoneInfo) -> str:
    """The round an occurrence belongs to: its wall-clock time where it fired."""
    return instant.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def audience(knowledge: Knowledge, spec: CheckInSpec) -> list[Entity]:
    """Every person the check-in is for: named people and members of named teams."""
    people: dict[Ref, Entity] = {}
    for ref in spec.audience:
        refs = knowledge.members.get(ref, ()) if ref.kind == "team" else (ref,)
        for person_ref in refs:
            person = knowledge.get(person_ref)
            if person is not None:
                people[person.ref] = person
    return [people[r] for r in sorted(people)]


def recipient_zone(spec: CheckInSpec, person: Entity, platform_tz: str | None) -> ZoneInfo:
    """Where a recipient's cron runs: the check-in's zone, else theirs, else the platform's."""
    if spec.timezone != RECIPIENT:
        return zone(spec.timezone)
    own = person.spec.timezone if isinstance(person.spec, PersonSpec) else None
    return zone(own or platform_tz)


@dataclass(frozen=True, kw_only=True)
class Due:
    """One nudge that falls due: who, when, and in which round."""

    checkin: str
    person: Ref
    occurrence: datetime  # UTC
    round_key: str  # the wall-clock time, the same for everyone in the round

    @property
    def key(self) -> str:
        """The nudge's unique claim key: (check-in, recipient, occurrence)."""
        return f"{self.checkin}|{self.person}|{self.occurrence.isoformat()}"


def due(
    checkin: Entity,
    people: Sequence[Entity],
    zones: Mapping[Ref, ZoneInfo],
    start: datetime,
    end: datetime,
) -> list[Due]:
    """Every nudge of `checkin` falling due in [start, end), in time order."""
    assert isinstance(checkin.spec, CheckInSpec)
    schedule = checkin.spec.schedule
    # The cron is walked once per zone, not once per person: a round for thousands
    # of people spans a handful of zones.
    by_zone: dict[ZoneInfo, list[tuple[datetime, str]]] = {}
    for tz in {zones[p.ref] for p in people}:
        by_zone[tz] = [(i, wall_time(i, tz)) for i in occurrences(schedule, tz, start, end)]
    # One instant is one occurrence, whatever the wall time in each zone (a cron firing
    # every 30 minutes fires in every zone at once): its round is the earliest wall time.
    shared: dict[datetime, str] = {}
    for fired in by_zone.values():
        for instant, key in fired:
            shared[instant] = min(shared.get(instant, key), key)
    nudges = [
        Due(
            checkin=checkin.ref.name,
            person=person.ref,
            occurrence=instant,
            round_key=shared[instant],
        )
        for person in people
        for instant, _ in by_zone[zones[person.ref]]
    ]
    return sorted(nudges, key=lambda d: (d.occurrence, d.person))


# -- answers ----------------------------------------------------------------------------


class AnswerError(ValueError):
    """An answer that does not fit its question."""


def check_answer(question: CheckInQuestion, value: str) -> str:
    """The answer as stored, or AnswerError saying what fits."""
    text = value.strip()
    if question.type == "choice":
        for option in question.options:
            if option.casefold() == text.casefold():
                return option
        # Typed in a chat: "no" for "No, it's someone else", when only one starts so.
        first = [o for o in question.options if _first_word(o) == text.casefold()]
        if len(first) == 1:
            return first[0]
        raise AnswerError(f"choose one of: {', '.join(question.options)}")
    if question.type == "scale":
        number = whole_number(text)
        if number is None or not question.min <= number <= question.max:
            raise AnswerError(f"give a whole number from {question.min} to {question.max}")
        return str(number)
    if not text and question.required:
        raise AnswerError("an answer is required")
    return text[:3000]


def _first_word(option: str) -> str:
    return re.split(r"[\s,.;:!?]+", option.strip().casefold(), maxsplit=1)[0]


# -- reports ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Answered:
    """One stored answer, as reports see it."""

    person: str
    question: str
    value: str


@dataclass(frozen=True, kw_only=True)
class QuestionSummary:
    question: CheckInQuestion
    counts: dict[str, int]  # option or scale value -> answers; text: empty
    texts: tuple[str, ...] = ()
    mean: float | None = None  # scale only

    @property
    def answered(self) -> int:
        return sum(self.counts.values()) if self.counts else len(self.texts)


@dataclass(frozen=True, kw_only=True)
class RoundSummary:
    round_key: str
    nudged: int
    responded: int
    questions: tuple[QuestionSummary, ...]
    who: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # empty if anonymous
    #: The round as people read it: its time, stated with its zone.
    label: str = ""
    #: When the round was, as a date and time on a wall clock; None for an unknown key.
    time: RoundTime | None = None

    @property
    def participation(self) -> float:
        return self.responded / self.nudged if self.nudged else 0.0


def summarise(
    spec: CheckInSpec,
    round_key: str,
    nudged: Iterable[str],
    answers: Iterable[Answered],
) -> RoundSummary:
    """Participation and the distribution of each answer; names only if not anonymous."""
    recipients = set(nudged)
    rows = [a for a in answers if a.value != SKIP]
    by_question: dict[str, list[Answered]] = {}
    for row in rows:
        by_question.setdefault(row.question, []).append(row)
    summaries = []
    for question in spec.questions:
        values = [a.value for a in by_question.get(question.id, [])]
        if question.type == "text":
            texts = tuple(sorted(v for v in values if v))
            summaries.append(QuestionSummary(question=question, counts={}, texts=texts))
            continue
        order = question.options if question.type == "choice" else _scale(question)
        counted = Counter(values)
        counts = {option: counted.get(option, 0) for option in order}
        mean = None
        if question.type == "scale" and values:
            mean = sum(int(v) for v in values) / len(values)
        summaries.append(QuestionSummary(question=question, counts=counts, mean=mean))
    who: dict[str, dict[str, str]] = {}
    if not spec.anonymous:
        for row in rows:
            who.setdefault(row.person, {})[row.question] = row.value
    responded = {a.person for a in rows} & recipients if recipients else {a.person for a in rows}
    return RoundSummary(
        round_key=round_key,
        nudged=len(recipients),
        responded=len(responded),
        questions=tuple(summaries),
        who=who,
        label=round_label(round_key, spec.timezone),
        time=round_time(round_key, spec.timezone),
    )


@dataclass(frozen=True, kw_only=True)
class RoundTime:
    """A round's time on a wall clock: a scheduled round's wall-clock time in the check-in's
    zone (with `timezone: recipient`, the same local time for everyone); a round started by
    hand, the time it started, in the check-in's zone (UTC with `timezone: recipient`)."""

    at: datetime  # naive: wall-clock time in `where`
    where: str  # an IANA zone, or RECIPIENT: each recipient's own time zone
    manual: bool = False

    @property
    def zone_text(self) -> str:
        return "in each recipient's own time zone" if self.where == RECIPIENT else self.where


def round_time(round_key: str, zone_name: str) -> RoundTime | None:
    """When the round `round_key` of a check-in in `zone_name` was; None if not a round key."""
    manual = round_key.startswith("manual ")
    text = round_key.removeprefix("manual ")
    try:
        at = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        return None
    if not manual:
        return RoundTime(at=at, where=zone_name)
    if zone_name == RECIPIENT:
        return RoundTime(at=at, where="UTC", manual=True)
    tz = zone(zone_name)
    local = at.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
    return RoundTime(at=local, where=str(tz), manual=True)


def round_label(round_key: str, zone_name: str) -> str:
    """A round's time with its zone, e.g. "2026-11-30 10:00 Europe/London"; a round
    started by hand says so after its time."""
    found = round_time(round_key, zone_name)
    if found is None:
        return round_key
    label = f"{found.at:%Y-%m-%d %H:%M} {found.zone_text}"
    return f"{label}, started by hand" if found.manual else label


def _scale(question: CheckInQuestion) -> tuple[str, ...]:
    return tuple(str(v) for v in range(question.min, question.max + 1))


def share(summary: QuestionSummary, option: str) -> float:
    """The share of answers that chose `option` (0 when nobody answered)."""
    total = summary.answered
    return summary.counts.get(option, 0) / total if total else 0.0
