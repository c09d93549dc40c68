"""Checks across entities: references, duplicates, shared aliases, staleness."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from bot.kb.knowledge import Knowledge
from bot.kb.problems import LeftOut, Problem, Severity
from bot.model import Entity, OwnableSpec, Ref, Source

REVIEW_MAX_AGE = timedelta(days=180)


@dataclass(frozen=True, kw_only=True)
class RefUse:
    """A reference written in a file, with the kinds the field accepts; `source` is the
    entity that refers."""

    ref: Ref
    kinds: tuple[str, ...]
    file: str
    line: int
    where: str
    source: Source


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


Checked = tuple[list[Entity], list[Problem], list[LeftOut]]


def duplicates(entities: list[Entity], root: Path) -> Checked:
    """Keep the first entity of each reference; report the others, which are left out."""
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
    left_out = [LeftOut(file=p.file, line=p.line, problem=p.message) for p in problems]
    return list(first.values()), problems, left_out


def references(
    entities: list[Entity],
    uses: list[RefUse],
    failed: Mapping[Ref, str],
    *,
    unresolved: Severity = "error",
) -> Checked:
    """Every reference must name a loaded entity of a kind its field accepts.

    An entity with a reference that does not is left out, and then so is every entity
    that refers to it, until none is left referring to something not loaded: what is
    kept never points at nothing. `failed` holds the entities that did not load, by
    where they were written. With `unresolved="warning"` (a file checked on its own) a
    reference to something absent is only a warning, and leaves nothing out.
    """
    kept = {e.ref: e for e in entities}
    by_source = {e.source: e for e in entities}
    gone = dict(failed)
    problems: list[Problem] = []
    left_out: list[LeftOut] = []
    pending: list[Ref] = []

    def drop(use: RefUse, message: str, severity: Severity = "error") -> None:
        problems.append(Problem(file=use.file, line=use.line, severity=severity, message=message))
        entity = by_source.get(use.source)
        if severity != "error" or entity is None or kept.get(entity.ref) is not entity:
            return  # a warning, or its entity did not load or is already left out
        del kept[entity.ref]
        gone[entity.ref] = f"{use.file}:{use.line}"
        left_out.append(LeftOut(file=use.file, line=use.line, problem=message))
        pending.append(entity.ref)

    for use in uses:
        if use.ref.kind not in use.kinds:
            accepted = " or ".join(use.kinds) if len(use.kinds) < 4 else "another kind"
            drop(use, f"{use.where}: {use.ref} is a {use.ref.kind}, expected {accepted}")
        elif use.ref in kept:
            continue
        elif use.ref in gone:
            drop(use, _refers_to_left_out(use, use.ref, gone[use.ref]))
        elif unresolved == "error":
            drop(use, f"{use.where}: {use.ref} does not exist{_meant(use, kept)}")
        else:
            alone = f"{use.ref} is not in this file, checked on its own{_meant(use, kept)}"
            drop(use, f"{use.where}: {alone}", "warning")
    referrers: defaultdict[Ref, list[RefUse]] = defaultdict(list)
    for use in uses if pending else ():
        referrers[use.ref].append(use)
    while pending:
        ref = pending.pop()
        for use in referrers.pop(ref, []):
            referrer = by_source.get(use.source)
            if referrer is not None and kept.get(referrer.ref) is referrer:
                drop(use, _refers_to_left_out(use, ref, gone[ref]))
    return list(kept.values()), problems, left_out


def _meant(use: RefUse, kept: Mapping[Ref, Entity]) -> str:
    """`owner: bob` reads as `team:bob`; when `person:bob` exists, say so."""
    for kind in use.kinds:
        other = Ref(kind=kind, name=use.ref.name, namespace=use.ref.namespace)
        if other != use.ref and other in kept:
            return f" (did you mean {other}?)"
    return ""


def _refers_to_left_out(use: RefUse, ref: Ref, where: str) -> str:
    return f"{use.where}: refers to {ref}, which was left out (see {where})"


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
