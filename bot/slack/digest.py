"""The knowledge gaps digest in Slack: the channel message with a "Suggest an answer" button
per question, the modal it opens, and what comes back from that modal. Every text a person
typed goes through `markup.escape` (mrkdwn) or `blocks.plain` (plain text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from bot.events import Origin, Suggest, parse_payload, suggest_payload
from bot.gaps.digest import EMPTY, HEADINGS, closest_text, times
from bot.gaps.suggestions import MAX_ALIAS, MAX_ANSWER
from bot.ports import DigestLine, DigestMessage
from bot.slack import markup as mk
from bot.slack.blocks import FALLBACK_TEXT, Block, button, context, plain, section
from bot.slack.markup import Mrkdwn

ACTION_GAP_SUGGEST = "gap_suggest"
ACTION_GAP_ENTITY = "gap_entity"
VIEW_GAP_SUGGEST = "gap_suggest"
METADATA_DIGEST = "opsbot_digest"
#: The most options an external select may list.
MAX_OPTIONS = 100
OPTION_TEXT = 75
KINDS = {
    "alias": "It is about an entity: add its words as an alias",
    "faq": "It needs a new FAQ answer",
}
REVIEW = mk.ours(
    "Suggestions are kept with who made them; maintainers turn them into knowledge with "
    "`opsbot gaps --format yaml`."
)


def digest_message(digest: DigestMessage) -> tuple[Mrkdwn, list[Block]]:
    """The digest for a channel or a DM: its title as the text, a section per question."""
    blocks: list[Block] = [
        {"type": "header", "text": plain(digest.title, 150)},
        context(mk.escape(digest.period)),
    ]
    if not digest.lines:
        blocks.append(section(mk.escape(EMPTY)))
    for name, heading in HEADINGS.items():
        lines = [line for line in digest.lines if line.section == name]
        if lines:
            blocks.append(section(mk.bold(heading)))
        blocks += [_question(line) for line in lines]
    if digest.lines:
        blocks.append(context(REVIEW))
    return mk.cut(mk.escape(digest.title), FALLBACK_TEXT), blocks[:50]


def _question(line: DigestLine) -> Block:
    text = mk.fmt(
        "{} _(asked {})_\n{}",
        mk.bold(f"“{line.question}”"),
        mk.escape(times(line.count)),
        mk.escape(closest_text(line)),
    )
    block = section(text)
    block["accessory"] = button(
        "Suggest an answer",
        f"{ACTION_GAP_SUGGEST}_{line.item_id}",
        value=suggest_payload(line.item_id),
    )
    return block


def suggest_view(line: DigestLine) -> dict[str, Any]:
    """The modal of "Suggest an answer": what the question is about, or a new FAQ answer."""
    kinds = {
        kind: {"text": plain(label, OPTION_TEXT), "value": kind} for kind, label in KINDS.items()
    }
    entity: Block = {
        "type": "external_select",
        "action_id": ACTION_GAP_ENTITY,
        "min_query_length": 0,
        "placeholder": plain("Search the knowledge", 150),
    }
    if line.closest_ref is not None and line.closest is not None:
        entity["initial_option"] = _option(line.closest_ref, line.closest)
    alias: Block = {"type": "plain_text_input", "action_id": "value", "max_length": MAX_ALIAS}
    if line.alias:
        alias["initial_value"] = line.alias
    return {
        "type": "modal",
        "callback_id": VIEW_GAP_SUGGEST,
        "private_metadata": suggest_payload(line.item_id),
        "title": plain("Suggest an answer", 24),
        "submit": plain("Send", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(
                mk.fmt(
                    "{} _(asked {})_",
                    mk.bold(f"“{line.question}”"),
                    mk.escape(times(line.count)),
                )
            ),
            context(mk.escape(closest_text(line))),
            {
                "type": "input",
                "block_id": "kind",
                "label": plain("What do you suggest?", 2000),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "value",
                    "options": list(kinds.values()),
                    "initial_option": kinds["alias" if line.closest_ref else "faq"],
                },
            },
            {
                "type": "input",
                "block_id": "entity",
                "optional": True,
                "label": plain("Which entity is it about?", 2000),
                "element": entity,
            },
            {
                "type": "input",
                "block_id": "alias",
                "optional": True,
                "label": plain("The words that name it (its new alias)", 2000),
                "element": alias,
            },
            {
                "type": "input",
                "block_id": "answer",
                "optional": True,
                "label": plain("Or: the answer a new FAQ should give", 2000),
                "hint": plain("Markdown. Links are welcome.", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": MAX_ANSWER,
                },
            },
        ],
    }


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label, OPTION_TEXT), "value": value[:150]}


def entity_options(choices: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The options an external select lists: (reference, label) pairs."""
    return [_option(value, label) for value, label in choices[:MAX_OPTIONS]]


def submitted(view: dict[str, Any], origin: Origin) -> Suggest | None:
    """The suggestion a submitted modal carries, or None when it is not one of ours."""
    event = parse_payload(str(view.get("private_metadata") or ""), origin)
    if not isinstance(event, Suggest):
        return None
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        values = {}
    chosen = picked(values, "kind", "value")
    kind: Literal["alias", "faq", ""] = (
        "alias" if chosen == "alias" else "faq" if chosen == "faq" else ""
    )
    return Suggest(
        origin=origin,
        item=event.item,
        kind=kind,
        entity=picked(values, "entity", ACTION_GAP_ENTITY),
        alias=typed(values, "alias"),
        answer=typed(values, "answer"),
    )


def picked(values: dict[str, Any], block: str, action: str) -> str:
    fields = values.get(block)
    state = fields.get(action) if isinstance(fields, dict) else None
    option = state.get("selected_option") if isinstance(state, dict) else None
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else ""


def typed(values: dict[str, Any], block: str) -> str:
    fields = values.get(block)
    state = fields.get("value") if isinstance(fields, dict) else None
    value = state.get("value") if isinstance(state, dict) else None
    return value if isinstance(value, str) else ""
