"""Replies and check-ins as Adaptive Cards: what an answer looks like in Teams, within its limits.

A TextBlock (and a fact of a FactSet) renders a Markdown subset, so every piece of text a
person typed or the knowledge holds goes through `literal`: Markdown characters are escaped
with backslashes, `<` and `&` get a zero-width space after them (no HTML, no `<at>` tag, no
entity) and so does the `$` of `${` (no template expansion). Button titles and other
plain-text fields go through `plain`, which breaks tags and templates the same way without
backslashes. The only markup on a card is made here from data the bot holds: bold and
italic from `Styled` spans, links from the knowledge's Markdown, and mentions of the Teams
users the knowledge's people are matched to, each with its entity in `msteams.entities`.

Cards stay under Teams' message size: every text has a budget, and a card that is still too
large is rendered again with smaller budgets (then cut), as Slack's blocks are cut.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bot.answers.render import KIND_LABELS, fact, first_paragraph, person_teams
from bot.checkins.schedule import SKIP_QUESTION
from bot.events import (
    Answer,
    Confirmed,
    Intent,
    OwnerPrompt,
    Reply,
    answer_payload,
    feedback_payload,
    owner_payload,
    pick_payload,
    round_payload,
)
from bot.kb.knowledge import Knowledge
from bot.model import (
    OWNABLE_KINDS,
    CheckInQuestion,
    Entity,
    FAQSpec,
    Link,
    OwnableSpec,
    PersonSpec,
    PracticeSpec,
    Ref,
    TeamSpec,
)
from bot.ports import NudgeMessage
from bot.styled import Span, Style, Styled

Card = dict[str, Any]
Element = dict[str, Any]

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
#: What a card may weigh, JSON-encoded with its mention entities counted twice (the
#: adapter repeats them on the activity): under Teams' 28 KB, with room for the envelope.
MAX_CARD_BYTES = 26_000
#: What we put in a button's data, as Slack's button values (and what we take back).
MAX_PAYLOAD = 2000
#: The longest free-text check-in answer taken from a card (Slack's modal allows as much).
MAX_TEXT_INPUT = 3000
BUTTON_TEXT = 75
MAX_LINK_BUTTONS = 5
MAX_SUGGESTIONS = 10
MAX_OPTIONS = 25
#: Buttons per row: Teams folds longer rows into an overflow menu.
ROW = 5
TEXT_INPUT = "text:"
OWNER_INPUT = "owner"
WORDS_INPUT = "owner-words"

# Budgets, in JSON-encoded bytes of one text (scaled down when a card is too large).
HEADING = 600
LINE = 1500
BODY = 6000
TEXT = 20_000
#: A title inside a sentence (bytes, as the budgets above); a name in a mention (characters).
TITLE = 600
NAME = 100

#: The Adaptive Cards 1.5 element and action types (the tests check cards against them).
ELEMENTS = frozenset(
    {
        "TextBlock",
        "RichTextBlock",
        "Image",
        "ImageSet",
        "Media",
        "Container",
        "ColumnSet",
        "Column",
        "FactSet",
        "ActionSet",
        "Table",
        "Input.Text",
        "Input.Number",
        "Input.Date",
        "Input.Time",
        "Input.Toggle",
        "Input.ChoiceSet",
    }
)
ACTIONS = frozenset(
    {
        "Action.OpenUrl",
        "Action.Submit",
        "Action.ShowCard",
        "Action.ToggleVisibility",
        "Action.Execute",
    }
)

UNKNOWN_HINT = "Try `help`, or ask the enablement team to add it."
CAN_CHANGE = "You can change your answers until the round closes."
CLOSED = "This round is closed, so answers can no longer change."
SKIPPED = "You skipped this round."
CHART_TOO_LARGE = "The chart is too large to show on a card."
CUT = "This card was cut to fit in Teams."

# -- text ------------------------------------------------------------------------------------

#: Breaks what Teams would read in the text before any Markdown: a tag, an entity, `${`.
_ZWSP = "\N{ZERO WIDTH SPACE}"
_BREAK = r"[<&]|\$(?=[{\u200b]|\Z)"
#: Markdown's characters, the `.` of a list marker ("1."), and the breakers.
_SPECIAL = re.compile(r"[\\*_~`#>\[\]()!+|=-]|(?:^|(?<=[0-9]))\.|" + _BREAK)
#: Inside `<at>...</at>` nothing starts a line: only emphasis, code and links need escaping.
_IN_MENTION = re.compile(r"[\\*_~`\[\]]|" + _BREAK)
_PLAIN = re.compile(_BREAK)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return char + _ZWSP if char in "<&$" else "\\" + char


def literal(text: str) -> str:
    """`text` shown as written in a TextBlock or a fact: no Markdown, no HTML or `<at>` tag,
    no `${...}` template; the one boundary for text on a card."""
    return _SPECIAL.sub(_escape, text)


def plain(text: str, limit: int = BUTTON_TEXT) -> str:
    """`text` for a plain-text field (a button title, a placeholder): one line, at most
    `limit` characters, tags and templates broken; never empty."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return _PLAIN.sub(_escape, line) or "…"


def _cost(text: str) -> int:
    """What `text` weighs in a card: its JSON encoding (ASCII-escaped, the worst case)."""
    return len(json.dumps(text)) - 2


def _fit_prefix(length: int, render: Callable[[int], str], budget: int, more: str = "") -> str:
    """`render(length)`, or the longest `render(n)` that fits `budget` with an ellipsis and
    `more`. `render(n)` renders the first n characters of the source, so a cut never splits
    an escape, a mention or a link: what is left of one is rendered as text or not at all."""
    whole = render(length)
    if _cost(whole) <= budget:
        return whole
    tail = f"… {more}" if more else "…"
    if _cost(tail) > budget:
        tail = "…"
    lo, hi = 0, min(length, budget)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _cost(render(mid).rstrip() + tail) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return render(lo).rstrip() + tail


def _clip(text: str, budget: int, more: str = "") -> str:
    """`literal(text)` within `budget`."""
    return _fit_prefix(len(text), lambda n: literal(text[:n]), budget, more)


def _short(text: str, limit: int) -> str:
    """A name, cut to `limit` characters before it is escaped."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _join_fit(pieces: Iterable[str], sep: str, budget: int, more: str = "") -> str:
    """Markup pieces (each whole: a mention, a line) joined while they fit in `budget`."""
    items = list(pieces)
    sep_cost = _cost(sep)
    total = sum(_cost(p) for p in items) + sep_cost * max(0, len(items) - 1)
    if total <= budget:
        return sep.join(items)
    tail = f"… {more}" if more else "…"
    room = budget - _cost(tail) - 1
    kept: list[str] = []
    used = 0
    for piece in items:
        cost = _cost(piece) + (sep_cost if kept else 0)
        if used + cost > room:
            break
        kept.append(piece)
        used += cost
    return f"{sep.join(kept)} {tail}" if kept else tail


def _styled(text: str, style: Style) -> str:
    """One line of one style: the marks around the text, spaces outside them (Markdown
    emphasis cannot start or end with a space), the text escaped inside."""
    core = text.strip()
    if style == "plain" or not core:
        return literal(text)
    start = text.index(core)
    # A backtick inside would end a code span: a look-alike stands in.
    shown = core.replace("`", "\N{MODIFIER LETTER GRAVE ACCENT}") if style == "code" else core
    inner = literal(shown)
    mark = {"bold": "**", "italic": "_", "code": "`"}[style]
    return f"{literal(text[:start])}{mark}{inner}{mark}{literal(text[start + len(core) :])}"


def bold(text: str) -> str:
    return _styled(text, "bold")


def italic(text: str) -> str:
    return _styled(text, "italic")


def code(text: str) -> str:
    return _styled(text, "code")


def _bold_fit(text: str, budget: int) -> str:
    """`text` in bold within `budget`."""
    return _fit_prefix(len(text), lambda n: bold(text[:n]), budget)


def _spans_fit(spans: Sequence[Span], budget: int) -> str:
    """A line of spans, styled, within `budget`."""
    length = sum(len(span.text) for span in spans)
    return _fit_prefix(length, lambda n: _spans_prefix(spans, n), budget)


def _spans_prefix(spans: Sequence[Span], length: int) -> str:
    """The first `length` characters of a line of spans, styled."""
    out = []
    for span in spans:
        if length <= 0:
            break
        out.append(_styled(span.text[:length], span.style))
        length -= len(span.text)
    return "".join(out)


def styled_lines(text: Styled, budget: int = LINE) -> list[str]:
    """Text with styles as Markdown lines, each within `budget`; a span's own line breaks
    start new lines too."""
    rows: list[list[Span]] = []
    for line in text.lines:
        row: list[Span] = []
        for span in line:
            first, *rest = span.text.split("\n")
            row.append(Span(text=first, style=span.style))
            for piece in rest:
                rows.append(row)
                row = [Span(text=piece, style=span.style)]
        rows.append(row)
    return [_spans_fit(row, budget) for row in rows]


#: The knowledge's Markdown (as Slack reads it): `[label](url)` and `<url>` links, `**bold**`.
_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)|<(https?://[^>|\s]+)>")
_MD_BOLD = re.compile(r"\*\*(.+?)\*\*")
_WEB_URL = re.compile(r"(?:https?://|mailto:)\S+", re.IGNORECASE)
#: What a URL keeps as it is; the rest (brackets, braces, quotes, `<>`, spaces) is
#: percent-encoded, so a URL can neither end a Markdown link nor carry a tag or `${`.
_URL_SAFE = "/:?#@!$&'*+,;=%~"
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif);base64,[A-Za-z0-9+/]+={0,2}")


def safe_url(url: str) -> str | None:
    """`url` ready for a card (http, https or mailto, encoded), or None for anything else."""
    if not _WEB_URL.fullmatch(url.strip()):
        return None
    encoded = quote(url.strip(), safe=_URL_SAFE)
    return encoded if len(encoded) <= MAX_PAYLOAD else None


def link(url: str, label: str | None = None) -> str:
    """A Markdown link showing `label` (else the URL); anything but a web link is text."""
    target = safe_url(url)
    if target is None:
        return literal(label or url)
    return f"[{literal(label or url)}]({target})"


#: A line that starts a block of its own in Markdown: a list item.
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|[0-9]{1,9}[.)])\s")


def markdown(text: str) -> str:
    """The knowledge's Markdown for a card: its links and bold kept, everything else text.
    Paragraphs and list items each become a paragraph (shown as text: their markers are
    escaped); the lines of one are joined, as Markdown joins them."""
    blocks: list[list[str]] = []
    fresh = True
    for line in text.splitlines():
        if not line.strip():
            fresh = True
        elif fresh or _LIST_ITEM.match(line):
            blocks.append([line.strip()])
            fresh = False
        else:
            blocks[-1].append(line.strip())
    return "\n\n".join(_markdown_line(" ".join(block)) for block in blocks)


def _markdown_line(text: str) -> str:
    out, last = [], 0
    for match in _MD_LINK.finditer(text):
        out.append(_markdown_bold(text[last : match.start()]))
        out.append(link(match.group(2) or match.group(3), match.group(1)))
        last = match.end()
    out.append(_markdown_bold(text[last:]))
    return "".join(out)


def _markdown_bold(text: str) -> str:
    return "".join(
        bold(part) if i % 2 else literal(part) for i, part in enumerate(_MD_BOLD.split(text))
    )


def _markdown_fit(text: str, budget: int, more: str = "") -> str:
    return _fit_prefix(len(text), lambda n: markdown(text[:n]), budget, more)


# -- elements --------------------------------------------------------------------------------


def _text(markup: str, **style: Any) -> Element:
    return {"type": "TextBlock", "text": markup or " ", "wrap": True, **style}


def _note(markup: str) -> Element:
    return _text(markup, isSubtle=True, size="Small")


def _data(payload: str) -> dict[str, str]:
    return {"opsbot": payload[:MAX_PAYLOAD]}


def _submit(title: str, payload: str, **more: Any) -> Element:
    """A button whose data carries our payload (Teams sends the data back as it is)."""
    return {"type": "Action.Submit", "title": plain(title), "data": _data(payload), **more}


def _rows(actions: Sequence[Element]) -> list[Element]:
    return [
        {"type": "ActionSet", "actions": list(actions[i : i + ROW])}
        for i in range(0, len(actions), ROW)
    ]


def _styled_blocks(lines: Sequence[str], budget: int) -> list[Element]:
    """Lines as TextBlocks (a blank line as space before the next), within `budget`."""
    blocks: list[Element] = []
    used, gap = 0, False
    for line in lines:
        if not line.strip():
            gap = True
            continue
        if used + _cost(line) > budget:
            blocks.append(_text("…", spacing="None"))
            break
        used += _cost(line)
        spacing = "Medium" if gap else "None"
        blocks.append(_text(line, spacing=spacing) if blocks else _text(line))
        gap = False
    return blocks or [_text(" ")]


@dataclass
class _Context:
    """One rendering: how much room texts get, and the mentions made."""

    scale: float = 1.0
    #: Each mention's text, and who it mentions under which name.
    mentions: dict[str, tuple[TeamsUser, str]] = field(default_factory=dict)

    def budget(self, size: int) -> int:
        return max(40, int(size * self.scale))

    def mention(self, user: TeamsUser, name: str) -> str | None:
        """`<at>name</at>` for `user`; None if that text already mentions someone else."""
        name = " ".join(_short(name, NAME).split()) or "?"
        text = f"<at>{_IN_MENTION.sub(_escape, name)}</at>"
        known, _ = self.mentions.setdefault(text, (user, name))
        return text if known.id == user.id else None


Build = Callable[[_Context], tuple[list[Element], list[Element]]]


def _strings(node: object) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _card(
    body: list[Element], actions: list[Element], mentions: Mapping[str, tuple[TeamsUser, str]]
) -> Card:
    """The card, with an entity for each mention its texts still hold."""
    card: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        card["actions"] = actions
    shown = "\n".join(_strings([body, actions]))
    entities = [
        {
            "type": "mention",
            "text": text,
            "mentioned": {"id": user.id, "name": plain(name, NAME)},
        }
        for text, (user, name) in mentions.items()
        if text in shown
    ]
    card["msteams"] = {"width": "Full", **({"entities": entities} if entities else {})}
    return card


def card_size(card: Card) -> int:
    """What a card weighs as sent: its JSON, and its mention entities once more."""
    entities = card.get("msteams", {}).get("entities", [])
    return len(json.dumps(card)) + (len(json.dumps(entities)) if entities else 0)


def _fit(build: Build) -> Card:
    """The card `build` makes, with smaller text budgets while it is too large; at last,
    cut from the end (the first element and the buttons stay while they can)."""
    for scale in (1.0, 0.5, 0.25, 0.1):
        context = _Context(scale=scale)
        body, actions = build(context)
        card = _card(body, actions, context.mentions)
        if card_size(card) <= MAX_CARD_BYTES:
            return card
    note = _note(literal(CUT))
    while len(body) > 1 and card_size(card) > MAX_CARD_BYTES:
        body = body[:-1]
        card = _card([*body, note], actions, context.mentions)
    if card_size(card) > MAX_CARD_BYTES:
        card = _card([*body, note], [], context.mentions)
    return card


# -- people ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamsUser:
    """A person as Teams knows them: the user id mentions use ("29:..."), the Entra object
    id, and the display name."""

    id: str
    aad_object_id: str | None
    name: str


# -- answers ---------------------------------------------------------------------------------


class TeamsRenderer:
    """Renders replies and check-ins for one knowledge base, as Slack's renderer does.

    `user_of` finds the Teams user of a knowledge person (None: not in Teams, or not known
    yet): only those become mentions.
    """

    def __init__(self, knowledge: Knowledge, user_of: Callable[[Ref], TeamsUser | None]) -> None:
        self.knowledge = knowledge
        self.user_of = user_of

    # -- parties -------------------------------------------------------------------------

    def who(self, ref: Ref, context: _Context) -> str:
        """A team or person: a real mention where Teams knows the person."""
        entity = self.knowledge.get(ref)
        if entity is None:
            return literal(str(ref))
        spec = entity.spec
        if isinstance(spec, PersonSpec):
            user = self.user_of(ref)
            mention = None if user is None else context.mention(user, user.name or entity.title)
            if mention is not None:
                return mention
        name = _title(entity.title, context)
        if isinstance(spec, TeamSpec):
            lead = self.knowledge.get(spec.lead)
            if lead is not None:
                return f"{name} (lead {self.who(lead.ref, context)})"
        return name

    def channel(self, name: str | None) -> str | None:
        return _clip(name, TITLE) if name else None

    def team_channel(self, ref: Ref | None) -> str | None:
        entity = self.knowledge.get(ref)
        if entity is not None and isinstance(entity.spec, TeamSpec):
            return self.channel(entity.spec.channel)
        return None

    # -- cards ---------------------------------------------------------------------------

    def reply_card(
        self, reply: Reply, *, asker: TeamsUser | None = None, shareable: bool = False
    ) -> Card:
        """The card for any reply: an answer's facts, links, source and vote buttons, an
        unknown answer's suggestions, or the reply's text. `asker` is mentioned first."""
        return _fit(lambda context: self._reply(reply, asker, shareable, context))

    def nudge_card(self, message: NudgeMessage) -> Card:
        return nudge_card(message)

    def recorded_card(
        self, message: NudgeMessage, answers: Mapping[str, str], *, closed: bool = False
    ) -> Card:
        return recorded_card(message, answers, closed=closed)

    def text_card(self, text: Styled | str) -> Card:
        return text_card(text)

    def report_card(self, text: Styled, title: str, chart_url: str | None) -> Card:
        return report_card(text, title, chart_url)

    # -- answers -------------------------------------------------------------------------

    def _reply(
        self, reply: Reply, asker: TeamsUser | None, shareable: bool, context: _Context
    ) -> tuple[list[Element], list[Element]]:
        body: list[Element] = []
        if asker is not None:
            mention = context.mention(asker, asker.name)
            if mention is not None:
                body.append(_text(mention))
        answer = reply.answer
        entity = None if answer is None else self.knowledge.get(answer.entity)
        if answer is not None and answer.entity is None:
            return [*body, *self.unknown(answer, context)], []
        if reply.owner_prompt is not None:
            form, send = owner_form(reply.owner_prompt)
            return [*body, *_said(reply, context), *form], [send]
        if answer is None or entity is None:  # no answer, or the knowledge lost its entity
            return [*body, *_said(reply, context)], []
        body += self.facts(answer, entity, context)
        body.append(self.source(entity, reply.confirmed))
        return body, self.actions(answer, reply.question_uid, shareable=shareable)

    def facts(self, answer: Answer, entity: Entity, context: _Context) -> list[Element]:
        more = f"(more in {code(entity.source.file)})"
        blocks: list[Element] = []
        lead = self.lead_fact(answer, entity, context)
        if lead:
            blocks.append(_text(lead))
        blocks.append(_text(self.headline(answer, entity, context)))
        fields = self.fields(entity, context)
        if fields:
            blocks.append({"type": "FactSet", "facts": fields[:10]})
        body = self.body(answer, entity, context, more)
        if body:
            blocks.append(_text(body))
        # The links of the kind asked for ("the runbook") come first.
        ordered = sorted(entity.links, key=lambda link: link.type != answer.detail)
        buttons, others = _links(ordered[:MAX_LINK_BUTTONS], context)
        blocks += _rows(buttons)
        if others:
            blocks.append(_text(_join_fit(others, "\n\n", context.budget(LINE))))
        return blocks

    def lead_fact(self, answer: Answer, entity: Entity, context: _Context) -> str | None:
        """The one fact asked for ("the backup for X is ..."), shown before the rest."""
        detail = answer.detail
        if detail is None or answer.intent not in ("owner", "definition"):
            return None  # links and members answers lead with their fact in the headline
        spec = entity.spec
        title = _title(entity.title, context)
        if detail == "backup" and isinstance(spec, OwnableSpec) and spec.backup is not None:
            return f"The backup for {title} is {self.who(spec.backup, context)}"
        team = self.knowledge.get(entity.ref if entity.kind == "team" else entity.owner)
        lead = team.spec.lead if team is not None and isinstance(team.spec, TeamSpec) else None
        if detail == "lead" and team is not None and lead is not None:
            who = self.who(lead, context)
            if team is entity:
                return f"The lead of {title} is {who}"
            return f"The lead of {_title(team.title, context)}, the owner of {title}, is {who}"
        text = fact(self.knowledge, entity, detail)
        return _clip(text, context.budget(LINE)) if text else None

    def headline(self, answer: Answer, entity: Entity, context: _Context) -> str:
        title = _title(entity.title, context)
        owner = entity.owner
        match answer.intent:
            case "owner" if owner is not None:
                verb = "championed" if isinstance(entity.spec, PracticeSpec) else "owned"
                return f"{title} is {verb} by {self.who(owner, context)}"
            case "members":
                people = len(self.knowledge.members.get(entity.ref, ()))
                return f"{title} has {people} member{'s' * (people != 1)}"
            case "owns":
                return f"What {title} owns"
            case "links" if answer.detail is not None:
                return f"{literal(answer.detail.capitalize())} for {title}"
            case "links":
                return f"Links for {title}"
            case "faq":
                return title
            case _:
                return f"{title} ({literal(KIND_LABELS.get(entity.kind, entity.kind))})"

    def fields(self, entity: Entity, context: _Context) -> list[dict[str, str]]:
        """Owner, backup, channel... as the facts of a FactSet."""
        spec = entity.spec
        facts: list[tuple[str, str | None]] = []
        line = context.budget(LINE)
        if isinstance(spec, OwnableSpec):
            facts = [
                ("Owner", self.who(spec.owner, context)),
                ("Backup", self.who(spec.backup, context) if spec.backup else None),
                ("Channel", self.channel(spec.channel) or self.team_channel(spec.owner)),
                ("On-call", _oncall(spec.oncall, line) if spec.oncall else None),
            ]
        elif isinstance(spec, TeamSpec):
            facts = [("Lead", self.who(spec.lead, context) if spec.lead else None)]
            facts.append(("Channel", self.channel(spec.channel)))
        elif isinstance(spec, PracticeSpec):
            facts = [("Discipline", _clip(spec.discipline, line) if spec.discipline else None)]
            facts.append(("Champion", self.who(spec.owner, context) if spec.owner else None))
        return [{"title": key, "value": value} for key, value in facts if value]

    def body(self, answer: Answer, entity: Entity, context: _Context, more: str) -> str:
        k = self.knowledge
        budget = context.budget(BODY)
        match answer.intent:
            case "members":
                people = (self.who(p, context) for p in k.members.get(entity.ref, ()))
                return _join_fit(people, ", ", budget, more)
            case "owns":
                owned = [
                    f"• {_clip(k.title(r), context.budget(TITLE))}"
                    for r in k.owned_by.get(entity.ref, ())
                ]
                backup = [
                    _clip(k.title(r), context.budget(TITLE))
                    for r in k.backup_for.get(entity.ref, ())
                ]
                lines = owned or [literal("Nothing in the knowledge base yet.")]
                if isinstance(entity.spec, PersonSpec):
                    lines = [italic("Directly:"), *(owned or ["• nothing"])]
                    lines += self._through_teams(entity, context)
                if backup:
                    names = _join_fit(backup, ", ", context.budget(LINE))
                    lines.append(f"{italic('Backup for:')} {names}")
                return _join_fit(lines, "\n\n", budget, more)
            case "faq" if isinstance(entity.spec, FAQSpec):
                return _markdown_fit(entity.spec.answer.strip(), budget, more)
            case _:
                return _markdown_fit(first_paragraph(entity.description), budget, more)

    def _through_teams(self, person: Entity, context: _Context) -> list[str]:
        """What a person's teams own, apart from what the person owns."""
        lines = []
        for team, leads in person_teams(self.knowledge, person.ref):
            owned = self.knowledge.owned_by.get(team, ())
            if owned:
                role = " (lead)" if leads else ""
                titles = (_clip(self.knowledge.title(r), context.budget(TITLE)) for r in owned)
                names = _join_fit(titles, ", ", context.budget(LINE))
                title = _title(self.knowledge.title(team), context)
                lines.append(f"{italic('Through')} {title}{role}: {names}")
        return lines

    def source(self, entity: Entity, confirmed: Confirmed | None = None) -> Element:
        where = f"From {code(entity.source.file)}"
        if confirmed is not None:
            by, on = literal(f"@{confirmed.by}"), literal(confirmed.on.isoformat())
            where = f"{where} · ownership confirmed by {by} on {on}"
        elif isinstance(entity.spec, OwnableSpec) and entity.spec.reviewed is not None:
            reviewed = literal(entity.spec.reviewed.isoformat())
            where = f"{where} · ownership last reviewed {reviewed}"
        return _note(where)

    def actions(
        self, answer: Answer, question_uid: str | None, *, shareable: bool
    ) -> list[Element]:
        """Helpful / Not helpful for a recorded question, and (in private) sharing."""
        actions = []
        if question_uid:
            actions += [
                _submit("Helpful", feedback_payload(question_uid, True)),
                _submit("Not helpful", feedback_payload(question_uid, False)),
            ]
        if shareable and answer.entity is not None:
            share = pick_payload(answer.intent, answer.entity, answer.detail)
            actions.append(_submit("Share in channel", share, style="positive"))
        return actions

    def unknown(self, answer: Answer, context: _Context) -> list[Element]:
        blocks = [_text(_clip(answer.text, context.budget(LINE)))]
        picks = [
            _submit(
                self.knowledge.title(ref),
                # A question back answers what was asked ("the runbook") about the pick.
                pick_payload(answer.asked or _suggested_intent(ref), ref, answer.detail),
            )
            for ref in answer.suggestions[:MAX_SUGGESTIONS]
        ]
        blocks += _rows(picks)
        blocks.append(_note(UNKNOWN_HINT))
        return blocks


def _links(links: Sequence[Link], context: _Context) -> tuple[list[Element], list[str]]:
    """Web links as buttons; any other as a line of text (title: address)."""
    buttons: list[Element] = []
    others: list[str] = []
    for item in links:
        url = safe_url(item.url)
        if url is not None:
            buttons.append({"type": "Action.OpenUrl", "title": plain(item.title), "url": url})
        else:
            shown = f"{_short(item.title, 200)}: {item.url}"
            others.append(_clip(shown, context.budget(LINE // 2)))
    return buttons, others


def _said(reply: Reply, context: _Context) -> list[Element]:
    """A reply's own text: its styles kept, the rest shown as written."""
    styled = reply.styled if reply.styled is not None else Styled.of(*reply.text.split("\n"))
    return _styled_blocks(styled_lines(styled, context.budget(LINE)), context.budget(TEXT))


def _oncall(text: str, budget: int) -> str:
    """The on-call rota: a link when it is a web address, else text."""
    return link(text) if safe_url(text) is not None else _clip(text, budget)


def _title(text: str, context: _Context) -> str:
    """An entity's title in bold, within its budget."""
    return _bold_fit(text, context.budget(TITLE))


def _suggested_intent(ref: Ref) -> Intent:
    return "owner" if ref.kind in OWNABLE_KINDS else "definition"


# -- check-ins ---------------------------------------------------------------------------


def nudge_card(message: NudgeMessage) -> Card:
    """A check-in nudge: each question with its buttons (or a box and Send), then "later"
    and "skip"."""
    return _fit(lambda context: _nudge(message, {}, closed=False, context=context))


def recorded_card(
    message: NudgeMessage, answers: Mapping[str, str], *, closed: bool = False
) -> Card:
    """The nudge showing what was recorded: editable while the round is open, without
    buttons once it is closed."""
    return _fit(lambda context: _nudge(message, answers, closed=closed, context=context))


def _nudge(
    message: NudgeMessage, answers: Mapping[str, str], *, closed: bool, context: _Context
) -> tuple[list[Element], list[Element]]:
    heading = f"Reminder: {message.title}" if message.reminder else message.title
    body = [_text(_clip(heading, context.budget(HEADING)), weight="Bolder", size="Medium")]
    for question in message.questions:
        body.append(_text(_bold_fit(question.text, context.budget(LINE))))
        given = answers.get(question.id)
        if given is not None:
            budget = context.budget(BODY)
            # A choice as it was offered, in bold; typed text as it was typed.
            shown = _clip(given, budget) if question.type == "text" else _bold_fit(given, budget)
            body.append(_text(f"Your answer: {shown if given else italic('(empty)')}"))
        if not closed:
            body += _answers(message.round_id, question, given)
    if SKIP_QUESTION in answers:
        body.append(_text(literal(SKIPPED)))
    if closed:
        body.append(_note(literal(CLOSED)))
        return body, []
    later = _submit("Remind me in an hour", round_payload("later", message.round_id))
    skip = _submit("Skip this round", round_payload("skip", message.round_id))
    for action in (later, skip):
        action["associatedInputs"] = "none"
    body += _rows([later, skip])
    body.append(_note(literal(CAN_CHANGE)))
    return body, []


def _answers(round_id: int, question: CheckInQuestion, given: str | None) -> list[Element]:
    if question.type == "text":
        box = {
            "type": "Input.Text",
            "id": TEXT_INPUT + question.id,
            "isMultiline": True,
            "maxLength": MAX_TEXT_INPUT,
            "placeholder": "Your answer",
        }
        return [box, *_rows([_submit("Send", answer_payload(round_id, question.id, ""))])]
    options = (
        question.options
        if question.type == "choice"
        else tuple(str(v) for v in range(question.min, question.max + 1))
    )
    buttons = []
    for option in options[:MAX_OPTIONS]:
        button = _submit(option, answer_payload(round_id, question.id, option))
        button["associatedInputs"] = "none"  # a click sends its answer, not the text boxes
        if option == given:
            button["style"] = "positive"
        buttons.append(button)
    return _rows(buttons)


# -- text and reports --------------------------------------------------------------------


def text_card(text: Styled | str) -> Card:
    """Help, errors, confirmations: the text with its styles, shown as written."""
    styled = text if isinstance(text, Styled) else Styled.of(*text.split("\n"))
    return _fit(
        lambda context: (
            _styled_blocks(styled_lines(styled, context.budget(LINE)), context.budget(TEXT)),
            [],
        )
    )


def report_card(text: Styled, title: str, chart_url: str | None) -> Card:
    """A round's report for a channel, with its chart (a data: or https image) below."""
    image = _image(chart_url, title)

    def build(context: _Context, image: Element | None) -> tuple[list[Element], list[Element]]:
        body = _styled_blocks(styled_lines(text, context.budget(LINE)), context.budget(TEXT))
        return [*body, image] if image is not None else body, []

    if image is not None:
        card = _card(*build(_Context(), image), {})
        if card_size(card) <= MAX_CARD_BYTES:
            return card
    card = _fit(lambda context: build(context, None))
    if image is not None:
        card["body"].append(_note(literal(CHART_TOO_LARGE)))
    return card


def _image(url: str | None, title: str) -> Element | None:
    if url is None:
        return None
    if _DATA_IMAGE.fullmatch(url):
        src: str | None = url
    else:
        src = safe_url(url) if url.lower().startswith("https://") else None
    if src is None:
        return None
    return {"type": "Image", "url": src, "altText": plain(title, 200)}


# -- what comes back ---------------------------------------------------------------------


def _submitted(value: object) -> Mapping[str, Any] | None:
    """The data of a button: a message activity's `value` (Action.Submit), or the `data`
    of an invoke's `value.action` (Action.Execute)."""
    if not isinstance(value, Mapping):
        return None
    action = value.get("action")
    if isinstance(action, Mapping):
        data = action.get("data")
        return data if isinstance(data, Mapping) else None
    return value


def action_data(value: object) -> str | None:
    """Our payload from a card action's value, or None for anything not ours."""
    data = _submitted(value)
    payload = None if data is None else data.get("opsbot")
    if not isinstance(payload, str) or not payload or len(payload) > MAX_PAYLOAD:
        return None
    return payload


def owner_form(prompt: OwnerPrompt) -> tuple[list[Element], Element]:
    """Who owns it now: a person or team to pick (typed to filter), or a few words."""
    choices = [{"title": plain(label, 100), "value": ref} for ref, label in prompt.choices]
    form: list[Element] = [
        {
            "type": "Input.ChoiceSet",
            "id": OWNER_INPUT,
            "label": plain(f"Who owns {prompt.title} now?", 200),
            "style": "filtered",
            "isRequired": False,
            "choices": choices,
        },
        {
            "type": "Input.Text",
            "id": WORDS_INPUT,
            "label": "Or in your words",
            "maxLength": 200,
            "isRequired": False,
        },
    ]
    return form, _submit("Send", owner_payload(prompt.round_id, prompt.question))


def owner_inputs(value: object) -> str:
    """The owner named in a submitted owner form: the one picked, else the words typed."""
    data = _submitted(value) or {}
    for key in (OWNER_INPUT, WORDS_INPUT):
        text = data.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()[:200]
    return ""


def text_inputs(value: object) -> dict[str, str]:
    """Question id -> the text typed in its box (at most MAX_TEXT_INPUT characters)."""
    data = _submitted(value)
    if data is None:
        return {}
    typed: dict[str, str] = {}
    for key, text in list(data.items())[:100]:
        if isinstance(key, str) and key.startswith(TEXT_INPUT) and isinstance(text, str):
            question = key[len(TEXT_INPUT) :]
            if question and len(question) <= 200:
                typed[question] = text[:MAX_TEXT_INPUT]
    return typed
