"""The knowledge gaps digest in Teams: an Adaptive Card with, per question, a "Suggest an
answer" button that opens a small form on the card (Action.ShowCard); its "Send suggestion"
(Action.Submit) carries the question in its data and the form's inputs beside it.

Text a person typed goes through `cards.literal` (TextBlocks) or `cards.plain` (titles and
placeholders); a form is prefilled only with what the bot made (an entity reference, an
alias of lower-case words), never with raw text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bot.events import Suggest, suggest_payload
from bot.gaps.digest import EMPTY, HEADINGS, closest_text, times
from bot.gaps.suggestions import MAX_ALIAS, MAX_ANSWER, MAX_ENTITY
from bot.ports import DigestLine, DigestMessage
from bot.teams.cards import (
    MAX_CARD_BYTES,
    SCHEMA,
    VERSION,
    bold,
    card_size,
    italic,
    literal,
    plain,
)

Card = dict[str, Any]
KIND_INPUT = "gap-kind:"
ENTITY_INPUT = "gap-entity:"
ALIAS_INPUT = "gap-alias:"
ANSWER_INPUT = "gap-answer:"
CUT = "More questions did not fit on this card."
REVIEW = (
    "Suggestions are kept with who made them; maintainers turn them into knowledge with "
    "opsbot gaps --format yaml."
)


def _text(markup: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": markup or " ", "wrap": True, **style}


def digest_card(digest: DigestMessage) -> Card:
    """The digest as a card, each question with its form; questions that would take the
    card past Teams' size are left out (and that said)."""
    lines = list(digest.lines)
    while True:
        card = _card(digest, lines, cut=len(lines) < len(digest.lines))
        if card_size(card) <= MAX_CARD_BYTES or not lines:
            return card
        lines.pop()


def _card(digest: DigestMessage, lines: list[DigestLine], *, cut: bool) -> Card:
    body: list[dict[str, Any]] = [
        _text(literal(digest.title), weight="Bolder", size="Medium"),
        _text(literal(digest.period), isSubtle=True, spacing="None"),
    ]
    if not digest.lines:
        body.append(_text(literal(EMPTY)))
    for name, heading in HEADINGS.items():
        chosen = [line for line in lines if line.section == name]
        if chosen:
            body.append(_text(bold(heading), spacing="Medium"))
        for line in chosen:
            body += _question(line)
    if cut:
        body.append(_text(literal(CUT), isSubtle=True, size="Small"))
    if digest.lines:
        body.append(_text(literal(REVIEW), isSubtle=True, size="Small"))
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }


def _question(line: DigestLine) -> list[dict[str, Any]]:
    asked = f"{bold(f'“{line.question}”')} {italic(f'(asked {times(line.count)})')}"
    return [
        _text(asked, spacing="Medium"),
        _text(literal(closest_text(line)), isSubtle=True, spacing="None"),
        {
            "type": "ActionSet",
            "actions": [
                {
                    "type": "Action.ShowCard",
                    "title": plain("Suggest an answer"),
                    "card": _form(line),
                }
            ],
        },
    ]


def _form(line: DigestLine) -> Card:
    item = line.item_id
    entity: dict[str, Any] = {
        "type": "Input.Text",
        "id": f"{ENTITY_INPUT}{item}",
        "label": "Which entity is it about? (its reference, name or title)",
        "placeholder": plain("e.g. area:model-monitoring", 100),
        "maxLength": MAX_ENTITY,
    }
    if line.closest_ref is not None:
        entity["value"] = line.closest_ref  # a reference: kind:name, nothing a person typed
    alias: dict[str, Any] = {
        "type": "Input.Text",
        "id": f"{ALIAS_INPUT}{item}",
        "label": "The words that name it (its new alias)",
        "maxLength": MAX_ALIAS,
    }
    if line.alias:
        alias["value"] = line.alias  # lower-case letters, digits and spaces only
    return {
        "type": "AdaptiveCard",
        "version": VERSION,
        "body": [
            {
                "type": "Input.ChoiceSet",
                "id": f"{KIND_INPUT}{item}",
                "label": "What do you suggest?",
                "style": "expanded",
                "value": "alias" if line.closest_ref else "faq",
                "choices": [
                    {"title": "It is about an entity: add its words as an alias", "value": "alias"},
                    {"title": "It needs a new FAQ answer", "value": "faq"},
                ],
            },
            entity,
            alias,
            {
                "type": "Input.Text",
                "id": f"{ANSWER_INPUT}{item}",
                "label": "Or: the answer a new FAQ should give (Markdown)",
                "isMultiline": True,
                "maxLength": MAX_ANSWER,
            },
        ],
        "actions": [
            {
                "type": "Action.Submit",
                "title": plain("Send suggestion"),
                "data": {"opsbot": suggest_payload(item)},
            }
        ],
    }


def with_inputs(event: Suggest, value: object) -> Suggest:
    """The click's suggestion with what was typed in its question's form (other questions'
    forms on the same card are not read)."""
    data = value if isinstance(value, Mapping) else {}
    action = data.get("action")
    if isinstance(action, Mapping) and isinstance(action.get("data"), Mapping):
        data = action["data"]  # Action.Execute
    item = event.item

    def typed(prefix: str, limit: int) -> str:
        text = data.get(f"{prefix}{item}")
        return text[: limit + 1] if isinstance(text, str) else ""

    picked = typed(KIND_INPUT, 10)
    kind: Literal["alias", "faq", ""] = (
        "alias" if picked == "alias" else "faq" if picked == "faq" else ""
    )
    return Suggest(
        origin=event.origin,
        item=item,
        kind=kind,
        entity=typed(ENTITY_INPUT, MAX_ENTITY),
        alias=typed(ALIAS_INPUT, MAX_ALIAS),
        answer=typed(ANSWER_INPUT, MAX_ANSWER),
    )
