"""Plain-text answers: name the owner, backup, channel and links wherever the knowledge has them."""

from __future__ import annotations

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
        teams = ", ".join(knowledge.title(t) for t in knowledge.teams_of.get(entity.ref, ()))
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
    if not entity.links:
        contact = entity.owner
        where = f" Ask {party(knowledge, contact)}." if contact is not None else ""
        return f"No links are recorded for {entity.title}.{where}"
    wanted = [link for link in entity.links if link_type and link.type == link_type]
    if link_type and not wanted:
        return (
            f"No {link_type} is recorded for {entity.title}. Its links: {links_text(entity.links)}."
        )
    chosen = wanted or list(entity.links)
    others = [link for link in entity.links if link not in chosen]
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
