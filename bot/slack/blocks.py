"""Replies as Slack Block Kit: what an answer looks like in Slack, within Slack's limits.

Everything a person typed or the knowledge holds is escaped, so `<!channel>`, user
mentions and disguised links show as text and never ping or mislead anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.answers.render import KIND_LABELS, first_paragraph
from bot.events import Answer, Intent, Reply, feedback_payload, pick_payload
from bot.kb.knowledge import Knowledge
from bot.model import (
    OWNABLE_KINDS,
    Entity,
    FAQSpec,
    OwnableSpec,
    PersonSpec,
    PracticeSpec,
    Ref,
    TeamSpec,
)

Block = dict[str, Any]

# Slack's limits (https://api.slack.com/reference/block-kit/blocks).
SECTION_TEXT = 3000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
CONTEXT_TEXT = 2000
MAX_BLOCKS = 50
MAX_LINK_BUTTONS = 5
FALLBACK_TEXT = 3000

ACTION_PICK = "ops_pick"
ACTION_SHARE = "ops_share"
ACTION_VOTE = "ops_vote"
ACTION_LINK = "ops_link"

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)|<(https?://[^>|\s]+)>")
_MD_BOLD = re.compile(r"\*\*(.+?)\*\*")


def escape(text: str) -> str:
    """Text shown as typed: Slack's control characters escaped, so nothing pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(markdown: str) -> str:
    """Markdown from the knowledge as Slack mrkdwn: links and bold kept, the rest escaped."""
    out, last = [], 0
    for match in _MD_LINK.finditer(markdown):
        out.append(_MD_BOLD.sub(r"*\1*", escape(markdown[last : match.start()])))
        label, url = match.group(1), match.group(2) or match.group(3)
        out.append(f"<{url}|{escape(label)}>" if label else f"<{url}>")
        last = match.end()
    out.append(_MD_BOLD.sub(r"*\1*", escape(markdown[last:])))
    return "".join(out)


def cut(text: str, limit: int, more: str = "") -> str:
    """`text` within `limit` characters; a cut ends with an ellipsis and `more`."""
    if len(text) <= limit:
        return text
    tail = f"… {more}" if more else "…"
    return text[: max(0, limit - len(tail))].rstrip() + tail


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def section(text: str, more: str = "") -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_TEXT, more)}}


def button(text: str, action_id: str, *, value: str = "", url: str = "", style: str = "") -> Block:
    element: Block = {"type": "button", "text": plain(text, BUTTON_TEXT), "action_id": action_id}
    if value:
        element["value"] = value[:BUTTON_VALUE]
    if url:
        element["url"] = url
    if style:
        element["style"] = style
    return element


def context(*parts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut(p, CONTEXT_TEXT)} for p in parts],
    }


class SlackRenderer:
    """Renders replies for one knowledge base."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    # -- parties -------------------------------------------------------------------

    def who(self, ref: Ref) -> str:
        """A team or person: a real Slack mention where the knowledge has the ID."""
        entity = self.knowledge.get(ref)
        if entity is None:
            return escape(str(ref))
        spec = entity.spec
        if isinstance(spec, PersonSpec) and spec.slack and _USER_ID.match(spec.slack):
            return f"<@{spec.slack}>"
        name = f"*{escape(entity.title)}*"
        if isinstance(spec, TeamSpec):
            lead = self.knowledge.get(spec.lead)
            if lead is not None:
                name += f" (lead {self.who(lead.ref)})"
        return name

    def channel(self, name: str | None) -> str | None:
        if not name:
            return None
        return f"<#{name}>" if _CHANNEL_ID.match(name) else escape(name)

    def team_channel(self, ref: Ref | None) -> str | None:
        entity = self.knowledge.get(ref)
        if entity is not None and isinstance(entity.spec, TeamSpec):
            return self.channel(entity.spec.channel)
        return None

    # -- answers -------------------------------------------------------------------

    def reply(self, reply: Reply, *, shareable: bool = False) -> tuple[str, list[Block]]:
        """(fallback text, blocks) for any reply."""
        text = cut(reply.text, FALLBACK_TEXT)
        answer = reply.answer
        if answer is None:
            return text, [section(mrkdwn(reply.text))]
        if answer.entity is None:
            return text, self.unknown(answer)
        entity = self.knowledge.get(answer.entity)
        if entity is None:  # the knowledge was reloaded without it
            return text, [section(escape(reply.text))]
        blocks = self.facts(answer, entity)
        blocks.append(self.source(entity))
        blocks.append(self.actions(answer, reply.question_uid, shareable=shareable))
        return text, blocks[:MAX_BLOCKS]

    def facts(self, answer: Answer, entity: Entity) -> list[Block]:
        more = f"(more in `{escape(entity.source.file)}`)"
        blocks = [section(self.headline(answer, entity), more)]
        fields = self.fields(entity)
        if fields:
            blocks.append({"type": "section", "fields": fields[:10]})
        body = self.body(answer, entity)
        if body:
            blocks.append(section(body, more))
        links = [
            button(link.title, f"{ACTION_LINK}_{i}", url=link.url)
            for i, link in enumerate(entity.links[:MAX_LINK_BUTTONS])
        ]
        if links:
            blocks.append({"type": "actions", "elements": links})
        return blocks

    def headline(self, answer: Answer, entity: Entity) -> str:
        title = f"*{escape(entity.title)}*"
        owner = entity.owner
        match answer.intent:
            case "owner" if owner is not None:
                verb = (
                    "is championed by" if isinstance(entity.spec, PracticeSpec) else "is owned by"
                )
                return f"{title} {verb} {self.who(owner)}"
            case "members":
                people = self.knowledge.members.get(entity.ref, ())
                return f"{title} has {len(people)} member{'s' * (len(people) != 1)}"
            case "owns":
                return f"What {title} owns"
            case "links":
                return f"Links for {title}"
            case "faq":
                return title
            case _:
                label = KIND_LABELS.get(entity.kind, entity.kind)
                return f"{title} ({label})"

    def fields(self, entity: Entity) -> list[dict[str, str]]:
        spec = entity.spec
        facts: list[tuple[str, str | None]] = []
        if isinstance(spec, OwnableSpec):
            facts = [
                ("Owner", self.who(spec.owner)),
                ("Backup", self.who(spec.backup) if spec.backup else None),
                ("Channel", self.channel(spec.channel) or self.team_channel(spec.owner)),
                ("On-call", escape(spec.oncall) if spec.oncall else None),
            ]
        elif isinstance(spec, TeamSpec):
            facts = [("Lead", self.who(spec.lead) if spec.lead else None)]
            facts.append(("Channel", self.channel(spec.channel)))
        elif isinstance(spec, PracticeSpec):
            facts = [("Discipline", escape(spec.discipline) if spec.discipline else None)]
            facts.append(("Champion", self.who(spec.owner) if spec.owner else None))
        return [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in facts if v]

    def body(self, answer: Answer, entity: Entity) -> str:
        k = self.knowledge
        match answer.intent:
            case "members":
                return ", ".join(self.who(p) for p in k.members.get(entity.ref, ()))
            case "owns":
                owned = [f"• {escape(k.title(r))}" for r in k.owned_by.get(entity.ref, ())]
                backup = [escape(k.title(r)) for r in k.backup_for.get(entity.ref, ())]
                lines = owned or ["Nothing in the knowledge base yet."]
                if backup:
                    lines.append(f"_Backup for:_ {', '.join(backup)}")
                return "\n".join(lines)
            case "faq" if isinstance(entity.spec, FAQSpec):
                return mrkdwn(entity.spec.answer.strip())
            case _:
                return mrkdwn(first_paragraph(entity.description))

    def source(self, entity: Entity) -> Block:
        where = f"From `{escape(entity.source.file)}`"
        if isinstance(entity.spec, OwnableSpec) and entity.spec.reviewed is not None:
            where += f" · ownership last reviewed {entity.spec.reviewed.isoformat()}"
        return context(where)

    def actions(self, answer: Answer, question_uid: str | None, *, shareable: bool) -> Block:
        elements = []
        if question_uid:
            elements += [
                button("Helpful", f"{ACTION_VOTE}_up", value=feedback_payload(question_uid, True)),
                button(
                    "Not helpful",
                    f"{ACTION_VOTE}_down",
                    value=feedback_payload(question_uid, False),
                ),
            ]
        if shareable and answer.entity is not None:
            share = pick_payload(answer.intent, answer.entity)
            elements.append(button("Share in channel", ACTION_SHARE, value=share, style="primary"))
        return {"type": "actions", "elements": elements}

    def unknown(self, answer: Answer) -> list[Block]:
        blocks = [section(escape(answer.text))]
        if answer.suggestions:
            picks = [
                button(
                    self.knowledge.title(ref),
                    f"{ACTION_PICK}_{i}",
                    value=pick_payload(_suggested_intent(ref), ref),
                )
                for i, ref in enumerate(answer.suggestions)
            ]
            blocks.append({"type": "actions", "elements": picks})
        blocks.append(context("Try `/ops help`, or ask the enablement team to add it."))
        return blocks

    # -- App Home ------------------------------------------------------------------

    def home(
        self, slack_user: str, open_checkins: Sequence[tuple[str, str]] = ()
    ) -> dict[str, Any]:
        """The Home tab: what the bot answers, the user's open check-ins, their teams."""
        blocks: list[Block] = [
            {"type": "header", "text": plain("opsbot", 150)},
            section(
                "Ask me who owns what, what a role does, where the runbook is, who is on a "
                "team. Mention me in a channel, send me a DM, or use `/ops`."
            ),
            section(
                "*Try*\n• `/ops who-owns feature store`\n• `/ops what-is data drift`\n"
                "• `/ops team ml-platform`\n• `/ops links model registry`"
            ),
            {"type": "divider"},
        ]
        if open_checkins:
            lines = [f"• {escape(title)} ({escape(key)})" for title, key in open_checkins[:10]]
            blocks.append(
                section("*Your open check-ins* (answer in your DMs)\n" + "\n".join(lines))
            )
        person = self._person(slack_user)
        if person is None:
            blocks.append(section("_You are not in the knowledge base yet._"))
            return {"type": "home", "blocks": blocks}
        for team in self.knowledge.teams_of.get(person.ref, ())[:10]:
            owned = self.knowledge.owned_by.get(team, ())
            names = ", ".join(escape(self.knowledge.title(r)) for r in owned) or "nothing yet"
            blocks.append(section(f"*{escape(self.knowledge.title(team))}* owns {names}"))
        return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}

    def _person(self, slack_user: str) -> Entity | None:
        for person in self.knowledge.of_kind("person"):
            if isinstance(person.spec, PersonSpec) and person.spec.slack == slack_user:
                return person
        return None


def _suggested_intent(ref: Ref) -> Intent:
    return "owner" if ref.kind in OWNABLE_KINDS else "definition"
