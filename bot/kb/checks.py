"""Checks across entities: references, duplicates, shared aliases, staleness."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from bot.kb.knowledge import Knowledge
from bot.kb.problems import Problem
from bot.model import Entity, OwnableSpec, Ref

REVIEW_MAX_AGE = timedelta(days=180)


@dataclass(frozen=True, kw_only=True)
class RefUse:
    """A reference written in a file, with the kinds the field accepts."""

    ref: Ref
    kinds: tuple[str, ...]
    file: str
    line: int
    where: str


def check_cron(expression: str) -> str | None:
    """Why `expression` is not a valid 5-field cron expression, or None."""
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"bad cron {expression!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    if not croniter.is_valid(expression):
        return f"bad cron {expression!r}"
    return None


def check_timezone(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (use an IANA name such as Europe/London)"
    return None


def _at(root: Path, entity: Entity) -> str:
    return str(root / entity.source.file)


def duplicates(entities: list[Entity], root: Path) -> tuple[list[Entity], list[Problem]]:
    """Keep the first entity of each reference; report the others."""
    first: dict[Ref, Entity] = {}
    problems: list[Problem] = []
    for entity in entities:
        earlier = first.get(entity.ref)
        if earlier is None:
            first[entity.ref] = entity
            continue
        problems.append(
            Problem(
                file=_at(root, entity),
                line=entity.source.line,
                severity="error",
                message=f"duplicate {entity.ref} (first defined at "
                f"{_at(root, earlier)}:{earlier.source.line})",
            )
        )
    return list(first.values()), problems


def references(knowledge: Knowledge, uses: list[RefUse]) -> list[Problem]:
    """Every reference must name an existing entity of a kind its field accepts."""
    problems: list[Problem] = []
    for use in uses:
        if use.ref.kind not in use.kinds:
            accepted = " or ".join(use.kinds) if len(use.kinds) < 4 else "another kind"
            message = f"{use.where}: {use.ref} is a {use.ref.kind}, expected {accepted}"
        elif use.ref not in knowledge.entities:
            message = f"{use.where}: {use.ref} does not exist"
        else:
            continue
        problems.append(Problem(file=use.file, line=use.line, severity="error", message=message))
    return problems


def warnings(knowledge: Knowledge, root: Path, today: date) -> list[Problem]:
    """Shared aliases, stale ownership reviews, and teams with neither members nor sub-teams."""
    problems: list[Problem] = []

    def warn(entity: Entity, message: str) -> None:
        problems.append(
            Problem(
                file=_at(root, entity),
                line=entity.source.line,
                severity="warning",
                message=message,
            )
        )

    owners_of_alias: defaultdict[str, list[Entity]] = defaultdict(list)
    for entity in knowledge:
        for alias in {a.casefold() for a in entity.aliases}:
            owners_of_alias[alias].append(entity)
    for alias, holders in owners_of_alias.items():
        for entity in holders[1:]:
            warn(entity, f"alias {alias!r} is shared with {holders[0].ref} (ambiguous)")
    for entity in knowledge.of_kind("area"):
        reviewed = entity.spec.reviewed if isinstance(entity.spec, OwnableSpec) else None
        if reviewed is not None and today - reviewed > REVIEW_MAX_AGE:
            warn(entity, f"{entity.ref}: ownership last reviewed {reviewed}, over 180 days ago")
    for entity in knowledge.of_kind("team"):
        if not knowledge.members.get(entity.ref) and not knowledge.children.get(entity.ref):
            warn(entity, f"{entity.ref} has no members")
    return problems
