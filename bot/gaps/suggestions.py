"""What people suggest for a question of the gaps digest, checked against the knowledge.

Pure: the knowledge and the text typed in, a `Proposal` or a `Refusal` out. A suggestion
is either an entity the question is about (its words then become an alias of it) or the
answer of a new FAQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.answers.intents import clean, detect
from bot.answers.text import fold, normalize
from bot.events import Suggest
from bot.kb.knowledge import Knowledge
from bot.model import Entity, Ref, RefSyntaxError
from bot.ports import SuggestionKind

#: The longest suggested FAQ answer (as Slack's modal and the Teams card allow).
MAX_ANSWER = 3000
#: The longest alias; what names an entity is a few words.
MAX_ALIAS = 100
#: The longest entity name or reference taken.
MAX_ENTITY = 300
#: Entities a question can be about: anything but a check-in.
KINDS = frozenset(
    {"team", "person", "area", "practice", "role", "term", "faq"}
    | {"component", "system", "resource", "api", "domain"}
)
#: What "what is X" asks about is X; what "how do I X" asks is no name of anything.
_NAMING = ("what is ", "what are ", "what does ", "tell me about ", "define ", "who is ")

Field = Literal["kind", "entity", "alias", "answer"]


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """A suggestion that fits: `alias` None means "the question's own words"."""

    kind: SuggestionKind
    entity: Ref | None = None
    alias: str | None = None
    answer: str | None = None


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Why a suggestion does not fit, and which of its fields is wrong."""

    field: Field
    message: str


def one_line(text: str) -> str:
    """`text` on one line, its runs of spaces, tabs and line breaks as single spaces."""
    return " ".join(text.split())


def alias_for(question: str) -> str:
    """The words of `question` that name what it asks about ("who owns drift watch?" ->
    "drift watch"), else the whole question as the index reads it (lower-case letters,
    digits and spaces only; "" when none are left)."""
    text = clean(normalize(question))
    found = detect(text)
    naming = found is not None and (found.intent != "definition" or text.startswith(_NAMING))
    words = found.mention if naming and found is not None and found.mention else text
    return _cut(words, MAX_ALIAS)


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word when it can be."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut or text[:limit]


def find_entity(knowledge: Knowledge, text: str) -> Entity | list[Entity] | None:
    """The entity `text` names: a reference (`area:feature-store`), a name, a title or an
    alias, any case; a list when it names several, None when it names none."""
    wanted = one_line(text)
    if not wanted:
        return None
    if ":" in wanted:
        try:
            ref = Ref.parse(wanted, default_kind="area")
        except RefSyntaxError:
            return None
        found = knowledge.get(ref)
        return found if found is not None and found.kind in KINDS else None
    folded = fold(wanted)
    for names in (_names, _titles, _aliases):
        hits = [e for e in knowledge if e.kind in KINDS and folded in names(e)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return sorted(hits, key=lambda e: e.ref)
    return None


def _names(entity: Entity) -> set[str]:
    return {fold(entity.ref.name)}


def _titles(entity: Entity) -> set[str]:
    return {fold(entity.title)}


def _aliases(entity: Entity) -> set[str]:
    return {fold(alias) for alias in entity.aliases}


def check(knowledge: Knowledge, event: Suggest) -> Proposal | Refusal:
    """`event`'s suggestion as it will be stored, or why it cannot be."""
    if event.kind == "alias":
        return _alias(knowledge, event)
    if event.kind == "faq":
        answer = event.answer.strip()
        if not answer:
            return Refusal(field="answer", message="Write the answer the FAQ should give.")
        if len(answer) > MAX_ANSWER:
            return Refusal(
                field="answer",
                message=f"The answer is {len(answer)} characters long; keep it to {MAX_ANSWER}.",
            )
        return Proposal(kind="faq", answer=answer)
    return Refusal(
        field="kind", message="Choose whether it is about an entity or needs a new FAQ answer."
    )


def _alias(knowledge: Knowledge, event: Suggest) -> Proposal | Refusal:
    text = one_line(event.entity)
    if not text:
        return Refusal(field="entity", message="Name the entity it is about.")
    if len(text) > MAX_ENTITY:
        return Refusal(field="entity", message="That is too long for the name of an entity.")
    found = find_entity(knowledge, text)
    if found is None:
        return Refusal(
            field="entity",
            message=f"No entity {_quoted(text)} in the knowledge. Give its reference "
            "(e.g. area:model-monitoring), name or title.",
        )
    if isinstance(found, list):
        refs = ", ".join(str(e.ref) for e in found[:5])
        return Refusal(
            field="entity", message=f"{_quoted(text)} names several entities ({refs}): pick one."
        )
    alias = one_line(event.alias)
    if len(alias) > MAX_ALIAS:
        return Refusal(field="alias", message=f"Keep the alias to {MAX_ALIAS} characters.")
    return Proposal(kind="alias", entity=found.ref, alias=alias or None)


def _quoted(text: str) -> str:
    return f"“{_cut(text, 80)}”"
