"""Plain-text answers: name the owner, backup, channel and links wherever the knowledge has them."""

from __future__ import annotations

from bot.events import Detail
from bot.kb.knowledge import Knowledge
from bot.model import (
    Entity,
    FAQSpec,
    Link,
    OwnableSpec,
    PersonSpec,
    PracticeSpec,
    Ref,
    RoleSpec,
    TeamSpec,
    TermSpec,
)

KIND_LABELS = {
    "team": "team",
    "person": "person",
    "area": "area",
    "practice": "practice",
    "role": "role",
    "term": "term",
    "faq": "FAQ",
    "checkin": "check-in",
    "component": "component",
    "system": "system",
    "resource": "resource",
    "api": "API",
    "domain": "domain",
}


def first_paragraph(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(text.strip().split("\n\n")[0].split())


def channel_of(knowledge: Knowledge, ref: Ref | None) -> str | None:
    """The chat channel of a team, or of a person's first team."""
    entity = knowledge.get(ref)
    if entity is None:
        return None
    if isinstance(entity.spec, TeamSpec):
        return entity.spec.channel
    for team in knowledge.teams_of.get(entity.ref, ()):
        channel = channel_of(knowledge, team)
        if channel:
            return channel
    return None


def party(knowledge: Knowledge, ref: Ref) -> str:
    """`ML Platform (#ml-platform)` or `Alice Chen`."""
    channel = channel_of(knowledge, ref) if ref.kind == "team" else None
    title = knowledge.title(ref)
    return f"{title} ({channel})" if channel else title


def listing(items: tuple[str, ...], sep: str = "; ") -> str:
    """Items joined into one sentence, without their own full stops."""
    return sep.join(item.strip().rstrip(".") for item in items)


def links_text(links: tuple[Link, ...]) -> str:
    return "; ".join(f"{link.title}: {link.url}" for link in links)


def owner(knowledge: Knowledge, entity: Entity) -> str:
    spec = entity.spec
    if isinstance(spec, PracticeSpec):
        discipline = f" ({spec.discipline})" if spec.discipline else ""
        if spec.owner is None:
            return f"The {entity.title} practice{discipline} has no champion recorded yet."
        return (
            f"The {entity.title} practice{discipline} is championed by "
            f"{party(knowledge, spec.owner)}."
        )
    if not isinstance(spec, OwnableSpec):
        return definition(knowledge, entity)
    parts = [f"{entity.title} is owned by {party(knowledge, spec.owner)}."]
    lead = _lead(knowledge, spec.owner)
    if lead:
        parts.append(f"Team lead: {lead}.")
    if spec.backup is not None:
        parts.append(f"Backup: {party(knowledge, spec.backup)}.")
    channel = spec.channel or channel_of(knowledge, spec.owner)
    if channel:
        parts.append(f"Ask in {channel}.")
    if spec.oncall:
        parts.append(f"On-call: {spec.oncall}.")
    if entity.links:
        parts.append(f"Links: {links_text(entity.links)}.")
    return " ".join(parts)


def _lead(knowledge: Knowledge, ref: Ref) -> str | None:
    team = knowledge.get(ref)
    if team is not None and isinstance(team.spec, TeamSpec) and team.spec.lead is not None:
        return knowledge.title(team.spec.lead)
    return None


def definition(knowledge: Knowledge, entity: Entity) -> str:
    label = KIND_LABELS.get(entity.kind, entity.kind)
    head = f"{entity.title} ({label})"
    about = first_paragraph(entity.description)
    parts = [f"{head}: {about}" if about else f"{head}."]
    spec = entity.spec
    if isinstance(spec, RoleSpec):
        if spec.responsibilities:
            parts.append(f"Responsibilities: {listing(spec.responsibilities)}.")
        if spec.skills:
            parts.append(f"Skills: {listing(spec.skills, ', ')}.")
        if spec.contact is not None:
            parts.append(f"Contact: {party(knowledge, spec.contact)}.")
    elif isinstance(spec, OwnableSpec):
        parts.append(f"Owned by {party(knowledge, spec.owner)}.")
    elif isinstance(spec, PracticeSpec) and spec.owner is not None:
        parts.append(f"Champion: {party(knowledge, spec.owner)}.")
    elif isinstance(spec, TeamSpec):
        parts.append(_team_facts(knowledge, entity))
    elif isinstance(spec, PersonSpec):
        teams = ", ".join(knowledge.title(t) for t, _ in person_teams(knowledge, entity.ref))
        roles = ", ".join(knowledge.title(r) for r in spec.roles)
        parts.extend(f"{k}: {v}." for k, v in (("Teams", teams), ("Roles", roles)) if v)
    elif isinstance(spec, TermSpec) and spec.see_also:
        parts.append("See also: " + ", ".join(knowledge.title(r) for r in spec.see_also) + ".")
    elif isinstance(spec, FAQSpec):
        parts = [spec.answer.strip()]
    if entity.links and not isinstance(spec, FAQSpec):
        parts.append(f"Links: {links_text(entity.links)}.")
    return " ".join(p for p in parts if p)


def _team_facts(knowledge: Knowledge, team: Entity) -> str:
    assert isinstance(team.spec, TeamSpec)
    facts = []
    if team.spec.lead is not None:
        facts.append(f"Lead: {knowledge.title(team.spec.lead)}.")
    if team.spec.channel:
        facts.append(f"Channel: {team.spec.channel}.")
    owned = knowledge.owned_by.get(team.ref, ())
    if owned:
        facts.append("Owns: " + ", ".join(knowledge.title(r) for r in owned) + ".")
    return " ".join(facts)


def links(knowledge: Knowledge, entity: Entity, link_type: str | None) -> str:
    contact = entity.owner
    where = f" Ask {party(knowledge, contact)}." if contact is not None else ""
    if not entity.links:
        missing = f"no {link_type}" if link_type else "no links"
        return f"The knowledge has {missing} for {entity.title}.{where}"
    wanted = [link for link in entity.links if link_type and link.type == link_type]
    if link_type and not wanted:
        return (
            f"The knowledge has no {link_type} for {entity.title}.{where} "
            f"Its links: {links_text(entity.links)}."
        )
    chosen = wanted or list(entity.links)
    others = [link for link in entity.links if link not in chosen]
    if link_type:
        label = link_type if len(chosen) == 1 or link_type == "docs" else f"{link_type}s"
        text = f"{possessive(entity.title)} {label}: {links_text(tuple(chosen))}."
    else:
        text = f"{entity.title}: {links_text(tuple(chosen))}."
    if others:
        text += f" Also: {links_text(tuple(others))}."
    return text


def members(knowledge: Knowledge, entity: Entity) -> str:
    people = knowledge.members.get(entity.ref, ())
    lead = entity.spec.lead if isinstance(entity.spec, TeamSpec) else None
    names = [knowledge.title(p) + (" (lead)" if p == lead else "") for p in people]
    sub_teams = [knowledge.title(t) for t in knowledge.children.get(entity.ref, ())]
    if not names and not sub_teams:
        return f"{entity.title} has no members recorded."
    text = f"{entity.title} has {len(names)} member{'s' if len(names) != 1 else ''}"
    text += f": {', '.join(names)}." if names else "."
    if sub_teams:
        text += f" Sub-teams: {', '.join(sub_teams)}."
    channel = channel_of(knowledge, entity.ref)
    return text + (f" Channel: {channel}." if channel else "")


def owns(knowledge: Knowledge, entity: Entity) -> str:
    owned = [knowledge.title(r) for r in knowledge.owned_by.get(entity.ref, ())]
    backup = [knowledge.title(r) for r in knowledge.backup_for.get(entity.ref, ())]
    if isinstance(entity.spec, PersonSpec):
        return _person_owns(knowledge, entity, owned, backup)
    if not owned and not backup:
        return f"{entity.title} owns nothing in the knowledge base yet."
    text = (
        f"{entity.title} owns {', '.join(owned)}."
        if owned
        else f"{entity.title} owns nothing directly."
    )
    if backup:
        text += f" Backup for: {', '.join(backup)}."
    return text


def _person_owns(knowledge: Knowledge, person: Entity, owned: list[str], backup: list[str]) -> str:
    """What a person owns themselves, and apart from it what their teams own."""
    name = person.title
    parts = [
        f"{name} owns {', '.join(owned)} directly." if owned else f"{name} owns nothing directly."
    ]
    through = []
    for team, leads in person_teams(knowledge, person.ref):
        areas = [knowledge.title(r) for r in knowledge.owned_by.get(team, ())]
        if areas:
            which = f", which {name} leads," if leads else ""
            through.append(f"{knowledge.title(team)}{which} owns {', '.join(areas)}")
    if through:
        parts.append(f"Through their teams: {'; '.join(through)}.")
    if backup:
        parts.append(f"Backup for: {', '.join(backup)}.")
    return " ".join(parts)


def person_teams(knowledge: Knowledge, person: Ref) -> list[tuple[Ref, bool]]:
    """The teams a person is on or leads, in reference order; True for those they lead."""
    led = {
        team.ref
        for team in knowledge.of_kind("team")
        if isinstance(team.spec, TeamSpec) and team.spec.lead == person
    }
    teams = sorted(set(knowledge.teams_of.get(person, ())) | led)
    return [(team, team in led) for team in teams]


# -- specific facts ------------------------------------------------------------------


def fact(knowledge: Knowledge, entity: Entity, detail: Detail | None) -> str | None:
    """The sentence an answer about one fact leads with; honest when the knowledge lacks it.

    None when the detail has no sentence of its own (the links or members text leads).
    """
    if detail is None:
        return None
    spec = entity.spec
    if isinstance(spec, OwnableSpec | PracticeSpec):
        return _ownable_fact(knowledge, entity, detail)
    if isinstance(spec, TeamSpec):
        return _team_fact(knowledge, entity, spec, detail)
    if isinstance(spec, PersonSpec):
        return _person_fact(knowledge, entity, spec, detail)
    return None


_FACT_NAMES: dict[Detail, str] = {
    "backup": "backup",
    "channel": "channel",
    "email": "e-mail",
    "oncall": "on-call",
    "lead": "lead",
    "member_of": "team",
    "role": "role",
}


def _missing(knowledge: Knowledge, entity: Entity, detail: Detail) -> str:
    """ "The knowledge has no backup for X; its owner is Y." """
    text = f"The knowledge has no {_FACT_NAMES.get(detail, detail)} for {entity.title}"
    owner = entity.owner
    if owner is None:
        return text + "."
    role = "champion" if entity.kind == "practice" else "owner"
    return f"{text}; its {role} is {party(knowledge, owner)}."


def _ownable_fact(knowledge: Knowledge, entity: Entity, detail: Detail) -> str | None:
    spec = entity.spec
    own = spec if isinstance(spec, OwnableSpec) else None
    owner = entity.owner
    title = entity.title
    if detail == "backup" and own is not None and own.backup is not None:
        return f"The backup for {title} is {party(knowledge, own.backup)}."
    if detail == "oncall" and own is not None and own.oncall:
        return f"On call for {title}: {own.oncall}."
    if detail == "channel":
        if own is not None and own.channel:
            return f"{possessive(title)} channel is {own.channel}."
        channel = channel_of(knowledge, owner)
        if channel and owner is not None:
            return f"Ask about {title} in {channel}, the channel of {knowledge.title(owner)}."
    if detail == "email" and owner is not None:
        email = email_of(knowledge, owner)
        if email:
            return f"E-mail about {title}: {email} ({knowledge.title(owner)})."
    if detail == "lead" and owner is not None:
        return _owner_lead(knowledge, entity, owner)
    if detail in ("backup", "oncall", "channel", "email"):
        return _missing(knowledge, entity, detail)
    return None


def _owner_lead(knowledge: Knowledge, entity: Entity, owner: Ref) -> str:
    if owner.kind == "person":
        return f"{entity.title} is owned by {knowledge.title(owner)} in person."
    lead = _lead(knowledge, owner)
    if lead is None:
        return (
            f"The knowledge has no lead for {knowledge.title(owner)}, the owner of {entity.title}."
        )
    return f"The lead of {knowledge.title(owner)}, the owner of {entity.title}, is {lead}."


def _team_fact(knowledge: Knowledge, team: Entity, spec: TeamSpec, detail: Detail) -> str | None:
    title = team.title
    found: str | None = None
    match detail:
        case "channel":
            found = f"{possessive(title)} channel is {spec.channel}." if spec.channel else None
        case "email":
            found = f"{possessive(title)} e-mail is {spec.email}." if spec.email else None
        case "lead":
            lead = knowledge.title(spec.lead) if spec.lead is not None else None
            found = f"{possessive(title)} lead is {lead}." if lead else None
        case "oncall":
            schedules = team_oncall(knowledge, team)
            found = f"On call for {title}: {'; '.join(schedules)}." if schedules else None
        case "member_of":
            parent = knowledge.title(spec.parent) if spec.parent is not None else None
            found = f"{title} is part of {parent}." if parent else None
            return found or f"{title} is not part of another team in the knowledge."
        case "backup":
            return f"The knowledge has no backup for {title}: backups are recorded per area."
        case _:
            return None
    return found or _missing(knowledge, team, detail)


def team_oncall(knowledge: Knowledge, team: Entity) -> list[str]:
    """A team's on-call: the schedules of what it owns, and its own on-call links."""
    schedules: dict[str, None] = {}
    for ref in knowledge.owned_by.get(team.ref, ()):
        owned = knowledge.get(ref)
        if owned is not None and isinstance(owned.spec, OwnableSpec) and owned.spec.oncall:
            schedules[owned.spec.oncall] = None
    for link in team.links:
        words = link.title.lower().replace("-", " ")
        if "on call" in words or "oncall" in words or "pager" in words or link.type == "oncall":
            schedules[f"{link.title}: {link.url}"] = None
    return list(schedules)


def _person_fact(
    knowledge: Knowledge, person: Entity, spec: PersonSpec, detail: Detail
) -> str | None:
    name = person.title
    teams = person_teams(knowledge, person.ref)
    match detail:
        case "member_of":
            if not teams:
                return f"The knowledge has no team for {name}."
            names = [knowledge.title(t) + (" (lead)" if leads else "") for t, leads in teams]
            return f"{name} is on {_and(names)}."
        case "role":
            if not spec.roles:
                return f"The knowledge has no role for {name}."
            return f"{possessive(name)} role: {_and([knowledge.title(r) for r in spec.roles])}."
        case "email":
            return (
                f"{possessive(name)} e-mail is {spec.email}."
                if spec.email
                else _missing(knowledge, person, detail)
            )
        case "channel":
            for team, _ in teams:
                channel = channel_of(knowledge, team)
                if channel:
                    return (
                        f"{possessive(name)} team channel is {channel} ({knowledge.title(team)})."
                    )
            return _missing(knowledge, person, detail)
        case "lead":
            return _person_lead(knowledge, person, teams)
        case "backup" | "oncall":
            return _missing(knowledge, person, detail)
        case _:
            return None


def _person_lead(knowledge: Knowledge, person: Entity, teams: list[tuple[Ref, bool]]) -> str:
    name = person.title
    if not teams:
        return f"The knowledge has no team, and so no lead, for {name}."
    parts = []
    for team, leads in teams:
        lead = _lead(knowledge, team)
        if leads:
            parts.append(f"{name} leads {knowledge.title(team)}")
        elif lead:
            parts.append(f"{knowledge.title(team)} is led by {lead}")
        else:
            parts.append(f"{knowledge.title(team)} has no lead recorded")
    return "; ".join(parts) + "."


def email_of(knowledge: Knowledge, ref: Ref) -> str | None:
    """The e-mail of a team or person."""
    entity = knowledge.get(ref)
    if entity is not None and isinstance(entity.spec, TeamSpec | PersonSpec):
        return entity.spec.email
    return None


def possessive(title: str) -> str:
    """ "ML Platform's", "Payments'"."""
    return f"{title}'" if title.endswith("s") else f"{title}'s"


def _and(items: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def clarify(knowledge: Knowledge, candidates: tuple[Ref, ...], example: str | None) -> str:
    """A short question back: which of the candidates, or which one at all."""
    if not candidates:
        hint = f' Name it, e.g. "{example}".' if example else ""
        return f"Which one do you mean?{hint}"
    titles = [knowledge.title(r).rstrip("?") for r in candidates]
    if len(set(titles)) < len(titles):  # the same title for two kinds: say which kind
        titles = [
            f"{t} ({KIND_LABELS.get(r.kind, r.kind)})"
            for t, r in zip(titles, candidates, strict=True)
        ]
    if len(titles) == 1:
        return f"Do you mean {titles[0]}?"
    return f"Which one do you mean: {', '.join(titles[:-1])} or {titles[-1]}?"


def faq(entity: Entity) -> str:
    assert isinstance(entity.spec, FAQSpec)
    return entity.spec.answer.strip()


def unknown(knowledge: Knowledge, suggestions: tuple[Ref, ...]) -> str:
    text = "I don't know the answer to that yet."
    if suggestions:
        text += " Did you mean: " + ", ".join(knowledge.title(r) for r in suggestions) + "?"
    else:
        text += ' Try "who owns <area>", "what is <term>" or "help".'
    return text


def too_long(limit: int) -> str:
    return (
        "That's too long for me to look up: ask about one thing in a sentence or two "
        f"(up to {limit:,} characters)."
    )
