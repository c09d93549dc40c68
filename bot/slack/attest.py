"""Ownership attestation in Slack: after "No, it's someone else", a modal asks who owns it
now (a person or team picked from the knowledge as one types, or a few words)."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import plain
from bot.slack.digest import picked, typed

ACTION_ATTEST_OWNER = "attest_owner"
VIEW_ATTEST_OWNER = "attest_owner"
#: The most a typed owner may say (the service keeps 200 characters).
MAX_OWNER = 200


def owner_view(title: str, round_id: int, question: str) -> dict[str, Any]:
    """The modal asking who owns `title` now; it remembers which question it answers."""
    return {
        "type": "modal",
        "callback_id": VIEW_ATTEST_OWNER,
        "private_metadata": f"{round_id}|{question}",
        "title": plain("Ownership check", 24),
        "submit": plain("Send", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {
                "type": "input",
                "block_id": "owner",
                "optional": True,
                "label": plain(f"Who owns {title} now?", 2000),
                "element": {
                    "type": "external_select",
                    "action_id": ACTION_ATTEST_OWNER,
                    "min_query_length": 0,
                    "placeholder": plain("A person or team", 150),
                },
            },
            {
                "type": "input",
                "block_id": "words",
                "optional": True,
                "label": plain("Or in your words", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "max_length": MAX_OWNER,
                },
            },
        ],
    }


def owner_submitted(view: dict[str, Any]) -> tuple[int, str, str] | None:
    """(round, question, owner) from a submitted owner modal; owner "" when both fields
    were left empty; None when the modal is not one of ours."""
    round_id, _, question = str(view.get("private_metadata") or "").partition("|")
    if not round_id.isdigit() or not question:
        return None
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        values = {}
    owner = picked(values, "owner", ACTION_ATTEST_OWNER) or typed(values, "words").strip()
    return int(round_id), question, owner
