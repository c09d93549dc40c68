"""The weekly knowledge gaps digest, the pure part: when it falls due, what it holds and
how it reads.

A digest lists the week's most-asked questions the bot could not answer, and those whose
answer was voted "not helpful", each with the closest entity of the knowledge and its
owner: who can best say what the answer is. No I/O and no clock reads here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.answers import AnswerEngine
from bot.checkins.schedule import occurrences, zone
from bot.gaps.suggestions import alias_for, one_line
from bot.kb.knowledge import Knowledge
from bot.model import PersonSpec, Ref, RefSyntaxError, RoleSpec, TeamSpec
from bot.ports import DigestItem, DigestLine, DigestMessage, GapSection, NewDigestItem, WeekGap
from bot.styled import Span, Styled, bold

#: Questions per list (unanswered, not helpful).
PER_SECTION = 5
#: The span of questions a digest covers, back from when it falls due.
WEEK = timedelta(days=7)
#: A digest that fell due while every replica was down is still posted this long after.
GRACE = timedelta(days=1)
#: Wordings of one question kept with it (they become an FAQ's `questions`).
MAX_WORDINGS = 10
#: How much of a question a digest shows.
SHOWN = 300
HEADINGS: dict[GapSection, str] = {
    "unanswered": "Asked, but not answered",
    "unhelpful": "Answered, but voted not helpful",
}


@dataclass(frozen=True, kw_only=True)
class DigestSchedule:
    """When digests fall due: a 5-field cron in an IANA zone; `cron` None: never."""

    cron: str | None = "0 9 * * 1"
    zone: str = "UTC"


def due(schedule: DigestSchedule, now: datetime) -> datetime | None:
    """The latest time a digest fell due, if it was at most GRACE ago (UTC)."""
    if schedule.cron is None:
        return None
    found = occurrences(
        schedule.cron, zone(schedule.zone), now - GRACE, now + timedelta(microseconds=1)
    )
    return found[-1] if found else None


def scheduled_key(occurrence: datetime) -> str:
    """The claim key of the digest that fell due at `occurrence`, the same on every replica."""
    return f"weekly {occurrence:%Y-%m-%dT%H:%M}Z"


def manual_key(now: datetime) -> str:
    """The claim key of a digest posted by hand (`/ops digest`) at `now`."""
    return f"manual {now:%Y-%m-%dT%H:%M:%S}Z"


def closest(engine: AnswerEngine, gap: WeekGap) -> Ref | None:
    """The entity a question is nearest to: the one it was answered with (when that
    answer was not helpful), else what the bot answers or suggests for it now."""
    knowledge = engine.knowledge
    if gap.entity is not None:
        try:
            answered = Ref.parse(gap.entity, default_kind="area")
        except RefSyntaxError:
            answered = None
        if knowledge.get(answered) is not None:
            return answered
    answer = engine.answer(gap.example)
    if answer.entity is not None:
        return answer.entity
    return answer.suggestions[0] if answer.suggestions else None


def owner_of(knowledge: Knowledge, ref: Ref | None) -> Ref | None:
    """Who answers for an entity: its owner (or champion), a role's contact, a team's lead,
    a person's first team."""
    entity = knowledge.get(ref)
    if entity is None:
        return None
    if entity.owner is not None:
        return entity.owner
    spec = entity.spec
    if isinstance(spec, RoleSpec):
        return spec.contact
    if isinstance(spec, TeamSpec):
        return spec.lead
    if isinstance(spec, PersonSpec):
        teams = knowledge.teams_of.get(entity.ref, ())
        return teams[0] if teams else None
    return None


def items_of(
    engine: AnswerEngine, unanswered: Sequence[WeekGap], unhelpful: Sequence[WeekGap]
) -> list[NewDigestItem]:
    """The digest's questions, each with its closest entity and that entity's owner; a
    question in both lists is shown once, among the unanswered."""
    items: list[NewDigestItem] = []
    lists: tuple[tuple[GapSection, Sequence[WeekGap]], ...] = (
        ("unanswered", unanswered),
        ("unhelpful", unhelpful),
    )
    for section, gaps in lists:
        for gap in gaps[:PER_SECTION]:
            if any(item.key == gap.key for item in items):
                continue
            near = closest(engine, gap)
            owner = owner_of(engine.knowledge, near)
            items.append(
                NewDigestItem(
                    section=section,
                    key=gap.key,
                    example=gap.example,
                    wordings=gap.wordings[:MAX_WORDINGS],
                    count=gap.count,
                    entity=None if near is None else str(near),
                    owner=None if owner is None else str(owner),
                )
            )
    return items


def message(
    key: str,
    items: Sequence[DigestItem],
    knowledge: Knowledge,
    *,
    since: datetime,
    until: datetime,
    zone_name: str,
) -> DigestMessage:
    """The digest as platforms show it: titles of the knowledge as it is now."""
    tz = zone(zone_name)
    return DigestMessage(
        key=key,
        title=f"Knowledge gaps: the week to {_day(until, tz)}",
        period=f"Questions asked from {_moment(since, tz)} to {_moment(until, tz)} ({tz.key}).",
        lines=tuple(line_of(item, knowledge) for item in items),
    )


def line_of(item: DigestItem, knowledge: Knowledge) -> DigestLine:
    """One question as people read it, with the titles the knowledge gives now."""
    closest = _title(knowledge, item.entity)
    return DigestLine(
        item_id=item.id,
        section=item.section,
        question=_shown(item.example),
        count=item.count,
        closest=closest,
        closest_ref=item.entity if closest is not None else None,
        owner=_title(knowledge, item.owner),
        alias=alias_for(item.example),
    )


def _shown(text: str) -> str:
    line = one_line(text)
    return line if len(line) <= SHOWN else line[: SHOWN - 1].rstrip() + "…"


def _title(knowledge: Knowledge, ref_text: str | None) -> str | None:
    if ref_text is None:
        return None
    try:
        ref = Ref.parse(ref_text, default_kind="area")
    except RefSyntaxError:
        return None
    entity = knowledge.get(ref)
    return None if entity is None else entity.title


def _day(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y")


def _moment(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def times(count: int) -> str:
    return "once" if count == 1 else "twice" if count == 2 else f"{count} times"


def closest_text(line: DigestLine) -> str:
    """ "Closest: Model monitoring, owner ML Platform", or that nothing is close."""
    if line.closest is None:
        return "No close match in the knowledge"
    owner = f", owner {line.owner}" if line.owner else ", no owner named"
    return f"Closest: {line.closest}{owner}"


EMPTY = "No unanswered or unhelpful questions this week."
CONSOLE_HOW = "Suggest: suggest <number> about <entity>  |  suggest <number> answer <text>"


def as_text(digest: DigestMessage, *, how: str = "") -> Styled:
    """The digest as styled lines (the local chat, fallbacks): each question numbered by
    its item, the way to suggest last."""
    lines: list[str | Span | tuple[str | Span, ...]] = [bold(digest.title), digest.period]
    if not digest.lines:
        lines.append(EMPTY)
    for section, heading in HEADINGS.items():
        chosen = [line for line in digest.lines if line.section == section]
        if chosen:
            lines.append(bold(heading))
        for line in chosen:
            lines.append(f"  [{line.item_id}] “{line.question}” (asked {times(line.count)})")
            lines.append(f"      {closest_text(line)}")
    if how and digest.lines:
        lines.append(how)
    return Styled.of(*lines)
