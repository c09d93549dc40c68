"""Suggestions as knowledge: ready-to-commit YAML (`opsbot gaps --format yaml`).

New FAQs are whole `FAQ` entities (their `questions` the real wordings people used); new
aliases of existing entities are listed after them as comments naming the entity, its file
and the `aliases:` line to put there (the knowledge format has no patch documents, and a
second document of the same entity would be a duplicate). Everything is written by
PyYAML's safe emitter, so no text anyone typed can add a key, a document or a tag, and
the whole stream passes `opsbot kb validate`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from bot.answers.text import fold, strip_markup
from bot.gaps.suggestions import one_line
from bot.kb.knowledge import Knowledge
from bot.kb.patch import Change
from bot.model import NAME_PATTERN, Entity, Ref, RefSyntaxError
from bot.ports import Suggestion

#: The longest question kept in an FAQ's `questions`, and the longest title.
MAX_QUESTION = 500
MAX_TITLE = 120
MAX_NAME = 63
ANNOTATION_BY = "opsbot/suggested-by"
ANNOTATION_AT = "opsbot/suggested-at"

HEADER = """\
# Knowledge suggested from opsbot's weekly gaps digest ({count}).
# New FAQs are whole entities: save this file under the knowledge folder (for example
# knowledge/suggested-faqs.yaml), review and edit them, then commit. New aliases of
# existing entities come last, as comments: put each `aliases:` line in the entity's
# metadata, in the file named.
"""
NOTHING = "# No suggestions yet.\n"
_SLUG_WORD = re.compile(r"[a-z0-9]+")


class _Dumper(yaml.SafeDumper):
    """The safe emitter; text of several lines as a literal block, as people write it."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, *, flow: bool = False) -> str:
    """One YAML document of plain data (no tags, no anchors), keys in the order given;
    with `flow`, lists of plain values on one line (`[a, b]`)."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        indent=2,
        default_flow_style=None if flow else False,
    )


def suggestions_yaml(
    suggestions: Sequence[Suggestion],
    knowledge: Knowledge,
    *,
    where: Callable[[Entity], str] = lambda e: str(e.source),
) -> str:
    """A YAML stream of the new FAQs suggested (one per question: the latest answer), then
    the new aliases as comments; `where` says where an entity is written."""
    count = f"{len(suggestions)} suggestion{'s' * (len(suggestions) != 1)}"
    parts = [HEADER.format(count=count)]
    faqs = _faqs(suggestions, knowledge)
    aliases = _aliases(suggestions, knowledge, where)
    if not faqs and not aliases:
        parts.append(NOTHING)
    parts += [f"---\n{dump(doc)}" for doc in faqs]
    if aliases:
        parts.append("\n# -- New aliases of existing entities " + "-" * 44 + "\n")
        parts += aliases
    return "".join(parts)


def _faqs(suggestions: Sequence[Suggestion], knowledge: Knowledge) -> list[dict[str, Any]]:
    latest: dict[str, Suggestion] = {}
    for suggestion in sorted(suggestions, key=lambda s: (s.suggested_at, s.id)):
        if suggestion.kind == "faq" and suggestion.answer and suggestion.answer.strip():
            latest[suggestion.key] = suggestion
    taken = {e.ref.name for e in knowledge.of_kind("faq")}
    docs = []
    for suggestion in sorted(latest.values(), key=lambda s: (s.suggested_at, s.id)):
        questions = _questions(suggestion)
        name = _unique(_slug(questions[0]), taken)
        taken.add(name)
        docs.append(
            {
                "apiVersion": "opsbot/v1",
                "kind": "FAQ",
                "metadata": {
                    "name": name,
                    "title": _cut(questions[0], MAX_TITLE),
                    "annotations": {
                        ANNOTATION_BY: _who(suggestion),
                        ANNOTATION_AT: suggestion.suggested_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                },
                "spec": {"questions": questions, "answer": _answer(suggestion.answer or "")},
            }
        )
    return docs


def _questions(suggestion: Suggestion) -> list[str]:
    """The real wordings, each on one line without chat markup, without repeats."""
    found: dict[str, str] = {}
    for wording in suggestion.wordings or (suggestion.key,):
        text = _cut(one_line(strip_markup(wording)) or one_line(wording), MAX_QUESTION)
        if text and text.casefold() not in found:
            found[text.casefold()] = text
    return list(found.values()) or ["(no wording kept)"]


def _answer(text: str) -> str:
    """The answer as typed, without trailing spaces on its lines (which would keep it from
    being a readable literal block) and with one final line break."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines) + ("\n" if len(lines) > 1 else "")


def _slug(question: str) -> str:
    """A name for a new FAQ from its question: "How do I rotate secrets?" ->
    "how-do-i-rotate-secrets"."""
    slug = ""
    for word in _SLUG_WORD.findall(fold(question)):
        longer = f"{slug}-{word}" if slug else word
        if len(longer) > MAX_NAME - 4:  # room for "-999"
            break
        slug = longer
    return slug if NAME_PATTERN.match(slug) else "suggested-faq"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _who(suggestion: Suggestion) -> str:
    user = suggestion.user
    if not user.startswith(f"{suggestion.platform}:"):
        user = f"{suggestion.platform}:{user}"
    user = one_line(user)[:200]
    return f"{suggestion.person} ({user})" if suggestion.person else user


def wanted_aliases(
    suggestions: Sequence[Suggestion], knowledge: Knowledge
) -> dict[Ref, dict[str, set[str]]]:
    """The aliases suggested for each entity that it does not have yet, with who suggested
    each (entities no longer in the knowledge too: they map to all their suggestions)."""
    wanted: dict[Ref, dict[str, set[str]]] = {}
    for suggestion in suggestions:
        if suggestion.kind != "alias" or not suggestion.entity or not suggestion.alias:
            continue
        try:
            ref = Ref.parse(suggestion.entity, default_kind="area")
        except RefSyntaxError:
            continue
        alias = one_line(suggestion.alias)
        if alias:
            wanted.setdefault(ref, {}).setdefault(alias, set()).add(_who(suggestion))
    for ref, aliases in wanted.items():
        entity = knowledge.get(ref)
        if entity is not None:
            known = {fold(a) for a in (*entity.aliases, entity.title, entity.ref.name)}
            for alias in [a for a in aliases if not fold(a) or fold(a) in known]:
                del aliases[alias]
    return {ref: aliases for ref, aliases in wanted.items() if aliases}


def alias_changes(
    suggestions: Sequence[Suggestion], knowledge: Knowledge
) -> tuple[list[Change], list[str]]:
    """The suggested aliases as edits of the knowledge files (`opsbot gaps --format
    patch`), and notes on those whose entity is gone."""
    changes, notes = [], []
    for ref, aliases in sorted(wanted_aliases(suggestions, knowledge).items()):
        entity = knowledge.get(ref)
        if entity is None:
            notes.append(f"{ref}: no longer in the knowledge; suggested: {sorted(aliases)}")
        else:
            changes.append(Change(entity=entity, aliases=tuple(sorted(aliases))))
    return changes, notes


def _aliases(
    suggestions: Sequence[Suggestion], knowledge: Knowledge, where: Callable[[Entity], str]
) -> list[str]:
    """One commented snippet per entity: its new aliases, and who suggested them."""
    snippets = []
    for ref, wanted in sorted(wanted_aliases(suggestions, knowledge).items()):
        entity = knowledge.get(ref)
        if entity is None:
            lines = [f"{ref}: no longer in the knowledge; suggested aliases:"]
            lines += dump({"aliases": sorted(wanted)}, flow=True).splitlines()
            snippets.append(_comment(lines))
            continue
        new = sorted(wanted)
        who = sorted({w for a in new for w in wanted[a]})
        lines = [f"{ref}, in {where(entity)} (suggested by {', '.join(who)}):"]
        aliases = dump({"aliases": [*entity.aliases, *new]}, flow=True)
        lines += ["  " + line for line in aliases.splitlines()]
        snippets.append(_comment(lines))
    return snippets


def _comment(lines: Sequence[str]) -> str:
    """Lines as YAML comments: every physical line starts with `#`, whatever it holds."""
    out = []
    for line in lines:
        out += [f"# {piece}".rstrip() for piece in line.splitlines() or [""]]
    return "\n".join(out) + "\n#\n"
