"""Replies as Slack Block Kit: what an answer looks like in Slack, within Slack's limits.

Every text here is `Mrkdwn` from `bot.slack.markup`: what a person typed or the knowledge
holds is escaped there, so `<!channel>`, user mentions and disguised links show as text
and never ping or mislead anyone; real mentions come only from the knowledge's Slack IDs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from bot.answers.render import KIND_LABELS, fact, first_paragraph, person_teams
from bot.events import Answer, Confirmed, Intent, Reply, feedback_payload, pick_payload
from bot.kb.knowledge import Knowledge
from bot.kb.problems import LeftOut
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
from bot.slack import markup as mk
from bot.slack.markup import Mrkdwn

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
#: How many left-out entities an admin's App Home lists (the rest: the log, /readyz).
HOME_PROBLEMS = 5


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object: `text` as written (escaped too: Slack decodes it there as well)."""
    return {"type": "plain_text", "text": mk.cut(mk.escape(text), limit) or " ", "emoji": True}


def section(text: Mrkdwn, more: Mrkdwn = mk.NOTHING) -> Block:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": mk.cut(text, SECTION_TEXT, more) or " "},
    }


def button(text: str, action_id: str, *, value: str = "", url: str = "", style: str = "") -> Block:
    element: Block = {"type": "button", "text": plain(text, BUTTON_TEXT), "action_id": action_id}
    if value:
        element["value"] = value[:BUTTON_VALUE]
    if url:
        element["url"] = url
    if style:
        element["style"] = style
    return element


def context(*parts: Mrkdwn) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": mk.cut(p, CONTEXT_TEXT)} for p in parts],
    }


def reply_mrkdwn(reply: Reply) -> Mrkdwn:
    """A reply as Slack text (a message's `text`, a section): its styles as marks, the rest
    escaped. Every reply reaches Slack through here or through `SlackRenderer`."""
    text = mk.styled(reply.styled) if reply.styled is not None else mk.escape(reply.text)
    return mk.cut(text, FALLBACK_TEXT)


class SlackRenderer:
    """Renders replies for one knowledge base.

    An answer's blocks depend only on the answer and the knowledge, so the latest ones
    are kept: a question asked again costs no rendering but its vote buttons.
    """

    def __init__(self, knowledge: Knowledge, *, remembered: int = 1024) -> None:
        self.knowledge = knowledge
        self._about = lru_cache(maxsize=remembered)(self._about_uncached)

    # -- parties -------------------------------------------------------------------

    def who(self, ref: Ref) -> Mrkdwn:
        """A team or person: a real Slack mention where the knowledge has the ID."""
        entity = self.knowledge.get(ref)
        if entity is None:
            return mk.escape(str(ref))
        spec = entity.spec
        mention = mk.user(spec.slack) if isinstance(spec, PersonSpec) else None
        if mention is not None:
            return mention
        name = mk.bold(entity.title)
        if isinstance(spec, TeamSpec):
            lead = self.knowledge.get(spec.lead)
            if lead is not None:
                return mk.fmt("{} (lead {})", name, self.who(lead.ref))
        return name

    def channel(self, name: str | None) -> Mrkdwn | None:
        return mk.channel(name) if name else None

    def team_channel(self, ref: Ref | None) -> Mrkdwn | None:
        entity = self.knowledge.get(ref)
        if entity is not None and isinstance(entity.spec, TeamSpec):
            return self.channel(entity.spec.channel)
        return None

    # -- answers -------------------------------------------------------------------

    def reply(self, reply: Reply, *, shareable: bool = False) -> tuple[Mrkdwn, list[Block]]:
        """(fallback text, blocks) for any reply."""
        text = reply_mrkdwn(reply)
        answer = reply.answer
        if answer is None:
            return text, [section(text)]
        if answer.entity is None:
            return text, self.unknown(answer)
        about = self._about(answer)
        if about is None:  # the knowledge was reloaded without it
            return text, [section(text)]
        entity = self.knowledge.get(answer.entity)
        if reply.confirmed is not None and entity is not None:
            about = (*about[:-1], self.source(entity, reply.confirmed))
        blocks = [*about, self.actions(answer, reply.question_uid, shareable=shareable)]
        return text, blocks[:MAX_BLOCKS]

    def _about_uncached(self, answer: Answer) -> tuple[Block, ...] | None:
        """The facts and source blocks of an answer about an entity (shared: never edit)."""
        entity = self.knowledge.get(answer.entity)
        if entity is None:
            return None
        return (*self.facts(answer, entity), self.source(entity))

    def facts(self, answer: Answer, entity: Entity) -> list[Block]:
        more = mk.fmt("(more in {})", mk.code(entity.source.file))
        lead = self.lead_fact(answer, entity)
        blocks = [section(lead)] if lead else []
        blocks.append(section(self.headline(answer, entity), more))
        fields = self.fields(entity)
        if fields:
            blocks.append({"type": "section", "fields": fields[:10]})
        body = self.body(answer, entity)
        if body:
            blocks.append(section(body, more))
        # The links of the kind asked for ("the runbook") come first.
        ordered = sorted(entity.links, key=lambda link: link.type != answer.detail)
        links = [
            button(link.title, f"{ACTION_LINK}_{i}", url=link.url)
            for i, link in enumerate(ordered[:MAX_LINK_BUTTONS])
        ]
        if links:
            blocks.append({"type": "actions", "elements": links})
        return blocks

    def lead_fact(self, answer: Answer, entity: Entity) -> Mrkdwn | None:
        """The one fact asked for ("the backup for X is ..."), shown before the rest."""
        detail = answer.detail
        if detail is None or answer.intent not in ("owner", "definition"):
            return None  # links and members answers lead with their fact in the headline
        spec = entity.spec
        if detail == "backup" and isinstance(spec, OwnableSpec) and spec.backup is not None:
            return mk.fmt("The backup for {} is {}", mk.bold(entity.title), self.who(spec.backup))
        team = self.knowledge.get(entity.ref if entity.kind == "team" else entity.owner)
        lead = team.spec.lead if team is not None and isinstance(team.spec, TeamSpec) else None
        if detail == "lead" and team is not None and lead is not None:
            if team is entity:
                return mk.fmt("The lead of {} is {}", mk.bold(team.title), self.who(lead))
            owner = mk.bold(team.title)
            return mk.fmt(
                "The lead of {}, the owner of {}, is {}",
                owner,
                mk.bold(entity.title),
                self.who(lead),
            )
        text = fact(self.knowledge, entity, detail)
        return mk.escape(text) if text else None

    def headline(self, answer: Answer, entity: Entity) -> Mrkdwn:
        title = mk.bold(entity.title)
        owner = entity.owner
        match answer.intent:
            case "owner" if owner is not None:
                if isinstance(entity.spec, PracticeSpec):
                    return mk.fmt("{} is championed by {}", title, self.who(owner))
                return mk.fmt("{} is owned by {}", title, self.who(owner))
            case "members":
                people = len(self.knowledge.members.get(entity.ref, ()))
                count = mk.escape(f"{people} member{'s' * (people != 1)}")
                return mk.fmt("{} has {}", title, count)
            case "owns":
                return mk.fmt("What {} owns", title)
            case "links" if answer.detail is not None:
                return mk.fmt("{} for {}", mk.escape(answer.detail.capitalize()), title)
            case "links":
                return mk.fmt("Links for {}", title)
            case "faq":
                return title
            case _:
                label = mk.escape(KIND_LABELS.get(entity.kind, entity.kind))
                return mk.fmt("{} ({})", title, label)

    def fields(self, entity: Entity) -> list[dict[str, str]]:
        spec = entity.spec
        facts: list[tuple[str, Mrkdwn | None]] = []
        if isinstance(spec, OwnableSpec):
            facts = [
                ("Owner", self.who(spec.owner)),
                ("Backup", self.who(spec.backup) if spec.backup else None),
                ("Channel", self.channel(spec.channel) or self.team_channel(spec.owner)),
                ("On-call", mk.escape(spec.oncall) if spec.oncall else None),
            ]
        elif isinstance(spec, TeamSpec):
            facts = [("Lead", self.who(spec.lead) if spec.lead else None)]
            facts.append(("Channel", self.channel(spec.channel)))
        elif isinstance(spec, PracticeSpec):
            facts = [("Discipline", mk.escape(spec.discipline) if spec.discipline else None)]
            facts.append(("Champion", self.who(spec.owner) if spec.owner else None))
        return [{"type": "mrkdwn", "text": mk.fmt("{}\n{}", mk.bold(k), v)} for k, v in facts if v]

    def body(self, answer: Answer, entity: Entity) -> Mrkdwn:
        k = self.knowledge
        match answer.intent:
            case "members":
                return mk.join((self.who(p) for p in k.members.get(entity.ref, ())), ", ")
            case "owns":
                owned = [
                    mk.fmt("• {}", mk.escape(k.title(r))) for r in k.owned_by.get(entity.ref, ())
                ]
                backup = [mk.escape(k.title(r)) for r in k.backup_for.get(entity.ref, ())]
                lines = owned or [mk.ours("Nothing in the knowledge base yet.")]
                if isinstance(entity.spec, PersonSpec):
                    lines = [mk.italic("Directly:"), *(owned or [mk.ours("• nothing")])]
                    lines += self._through_teams(entity)
                if backup:
                    lines.append(mk.fmt("{} {}", mk.italic("Backup for:"), mk.join(backup, ", ")))
                return mk.join(lines, "\n")
            case "faq" if isinstance(entity.spec, FAQSpec):
                return mk.markdown(entity.spec.answer.strip())
            case _:
                return mk.markdown(first_paragraph(entity.description))

    def _through_teams(self, person: Entity) -> list[Mrkdwn]:
        """What a person's teams own, apart from what the person owns."""
        lines = []
        for team, leads in person_teams(self.knowledge, person.ref):
            owned = self.knowledge.owned_by.get(team, ())
            if owned:
                role = mk.ours(" (lead)") if leads else mk.NOTHING
                names = mk.join((mk.escape(self.knowledge.title(r)) for r in owned), ", ")
                title = mk.bold(self.knowledge.title(team))
                lines.append(mk.fmt("{} {}{}: {}", mk.italic("Through"), title, role, names))
        return lines

    def source(self, entity: Entity, confirmed: Confirmed | None = None) -> Block:
        where = mk.fmt("From {}", mk.code(entity.source.file))
        if confirmed is not None:
            by, on = mk.escape(f"@{confirmed.by}"), mk.escape(confirmed.on.isoformat())
            where = mk.fmt("{} · ownership confirmed by {} on {}", where, by, on)
        elif isinstance(entity.spec, OwnableSpec) and entity.spec.reviewed is not None:
            reviewed = mk.escape(entity.spec.reviewed.isoformat())
            where = mk.fmt("{} · ownership last reviewed {}", where, reviewed)
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
            share = pick_payload(answer.intent, answer.entity, answer.detail)
            elements.append(button("Share in channel", ACTION_SHARE, value=share, style="primary"))
        return {"type": "actions", "elements": elements}

    def unknown(self, answer: Answer) -> list[Block]:
        blocks = [section(mk.escape(answer.text))]
        if answer.suggestions:
            picks = [
                button(
                    self.knowledge.title(ref),
                    f"{ACTION_PICK}_{i}",
                    # A question back answers what was asked ("the runbook") about the pick.
                    value=pick_payload(answer.asked or _suggested_intent(ref), ref, answer.detail),
                )
                for i, ref in enumerate(answer.suggestions)
            ]
            blocks.append({"type": "actions", "elements": picks})
        blocks.append(context(mk.ours("Try `/ops help`, or ask the enablement team to add it.")))
        return blocks

    # -- App Home ------------------------------------------------------------------

    def home(
        self,
        slack_user: str,
        open_checkins: Sequence[tuple[str, str]] = (),
        left_out: Sequence[LeftOut] = (),
    ) -> dict[str, Any]:
        """The Home tab: what the bot answers, the user's open check-ins, their teams; and
        for an admin (the caller decides), the knowledge left out."""
        blocks: list[Block] = [
            {"type": "header", "text": plain("opsbot", 150)},
            section(
                mk.ours(
                    "Ask me who owns what, what a role does, where the runbook is, who is on a "
                    "team. Mention me in a channel, send me a DM, or use `/ops`."
                )
            ),
            section(
                mk.ours(
                    "*Try*\n• `/ops who-owns feature store`\n• `/ops what-is data drift`\n"
                    "• `/ops team ml-platform`\n• `/ops links model registry`"
                )
            ),
            {"type": "divider"},
        ]
        if left_out:
            blocks.append(knowledge_problems(left_out))
        if open_checkins:
            lines = [
                mk.fmt("• {} ({})", mk.escape(title), mk.escape(key))
                for title, key in open_checkins[:10]
            ]
            heading = mk.ours("*Your open check-ins* (answer in your DMs)")
            blocks.append(section(mk.join([heading, *lines], "\n")))
        person = self._person(slack_user)
        if person is None:
            blocks.append(section(mk.ours("_You are not in the knowledge base yet._")))
            return {"type": "home", "blocks": blocks}
        for team in self.knowledge.teams_of.get(person.ref, ())[:10]:
            owned = self.knowledge.owned_by.get(team, ())
            names = mk.join((mk.escape(self.knowledge.title(r)) for r in owned), ", ")
            title = mk.bold(self.knowledge.title(team))
            blocks.append(section(mk.fmt("{} owns {}", title, names or mk.ours("nothing yet"))))
        return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}

    def _person(self, slack_user: str) -> Entity | None:
        for person in self.knowledge.of_kind("person"):
            if isinstance(person.spec, PersonSpec) and person.spec.slack == slack_user:
                return person
        return None


def knowledge_problems(left_out: Sequence[LeftOut]) -> Block:
    """The section "Knowledge problems: 3 entities left out", and where the first few are."""
    entities = sum(1 for item in left_out if item.entity)
    files = len(left_out) - entities
    counts = [
        f"{n} {word if n == 1 else words}"
        for n, word, words in ((entities, "entity", "entities"), (files, "file", "files"))
        if n
    ]
    heading = mk.fmt(
        "{} {} left out (not answered from; see the log or /readyz)",
        mk.ours("*Knowledge problems:*"),
        mk.escape(" and ".join(counts)),
    )
    lines = [
        mk.fmt("• {} {}", mk.code(item.where), mk.escape(item.problem))
        for item in left_out[:HOME_PROBLEMS]
    ]
    if len(left_out) > HOME_PROBLEMS:
        lines.append(mk.escape(f"… and {len(left_out) - HOME_PROBLEMS} more"))
    return section(mk.join([heading, *lines], "\n"))


def _suggested_intent(ref: Ref) -> Intent:
    return "owner" if ref.kind in OWNABLE_KINDS else "definition"
