"""Platform-neutral events in, replies out: what adapters translate to and from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, cast, get_args

from bot.model import Ref, row_id
from bot.styled import Styled

Intent = Literal["owner", "definition", "links", "members", "owns", "faq", "unknown"]
INTENTS: tuple[Intent, ...] = ("owner", "definition", "links", "members", "owns", "faq", "unknown")
#: The specific fact an answer leads with (`detail` in the `opsbot ask --json` contract).
Detail = Literal[
    "backup",
    "channel",
    "email",
    "oncall",
    "lead",
    "member_of",
    "role",
    "members",
    "runbook",
    "dashboard",
    "repo",
    "docs",
    "description",
]
DETAILS: tuple[Detail, ...] = get_args(Detail)


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Who said something, and where."""

    platform: str  # "slack", "teams", "console", "cli"
    user: str | None = None
    workspace: str | None = None
    channel: str | None = None
    is_direct: bool = False
    #: The thread a message was posted in (Slack's `thread_ts`), if any.
    thread: str | None = None


@dataclass(frozen=True, kw_only=True)
class Message:
    """Free text addressed to the bot: an @mention, a DM, a console line."""

    origin: Origin
    text: str


@dataclass(frozen=True, kw_only=True)
class Command:
    """A slash command such as `/ops who-owns feature store`; `text` follows the command."""

    origin: Origin
    text: str
    name: str = "ops"
    #: A key of this one delivery (e.g. Slack's request signature): a replay of the same
    #: request records the same question, once.
    uid: str | None = None


@dataclass(frozen=True, kw_only=True)
class Feedback:
    """A "helpful / not helpful" click on an answer."""

    origin: Origin
    question_uid: str
    helpful: bool


@dataclass(frozen=True, kw_only=True)
class Pick:
    """A click on a suggestion (or a shared answer): answer `intent` (and `detail`) about `ref`."""

    origin: Origin
    intent: Intent
    ref: Ref
    detail: Detail | None = None


@dataclass(frozen=True, kw_only=True)
class CheckinClick:
    """A click on a check-in nudge: an answer, "skip this round" or "remind me later"."""

    origin: Origin
    round_id: int
    action: Literal["answer", "skip", "later"]
    question: str = ""
    value: str = ""


@dataclass(frozen=True, kw_only=True)
class Suggest:
    """A suggestion for a question of the knowledge gaps digest: which entity it is about
    (its words become an alias), or a new FAQ answer. A click on "Suggest an answer"
    carries only the question (`item`); the form sent back carries the rest."""

    origin: Origin
    item: int
    kind: Literal["alias", "faq", ""] = ""
    entity: str = ""
    alias: str = ""
    answer: str = ""


@dataclass(frozen=True, kw_only=True)
class OwnerNamed:
    """Who owns it now, after "No, it's someone else" on an ownership check: a person or
    team picked, or a few words (empty when the form was sent blank)."""

    origin: Origin
    round_id: int
    question: str
    owner: str = ""


@dataclass(frozen=True, kw_only=True)
class OwnerPrompt:
    """A reply's request to name the owner now, as a form where a platform has one."""

    round_id: int
    question: str
    title: str
    #: (reference, label) of the people and teams to pick from.
    choices: tuple[tuple[str, str], ...] = ()


Event = Message | Command | Feedback | Pick | CheckinClick | Suggest | OwnerNamed


# Button payloads, the same on every platform: "<kind>|<field>|<field>".
_SEP = "|"


def pick_payload(intent: Intent, ref: Ref, detail: Detail | None = None) -> str:
    """`pick|<intent>|<ref>`, and `|<detail>` when the answer is about one fact."""
    return _SEP.join(("pick", intent, str(ref), *((detail,) if detail else ())))


def feedback_payload(question_uid: str, helpful: bool) -> str:
    return _SEP.join(("vote", question_uid, "up" if helpful else "down"))


def answer_payload(round_id: int, question: str, value: str) -> str:
    return _SEP.join(("checkin", str(round_id), question, value))


def round_payload(action: Literal["skip", "later"], round_id: int) -> str:
    return _SEP.join((f"checkin-{action}", str(round_id)))


def owner_payload(round_id: int, question: str) -> str:
    """`owner|<round>|<question>`: the form naming who owns an entity now."""
    return _SEP.join(("owner", str(round_id), question))


def suggest_payload(item: int) -> str:
    """`suggest|<digest item>`: "Suggest an answer" for one question of a gaps digest."""
    return _SEP.join(("suggest", str(item)))


def parse_payload(
    value: str, origin: Origin
) -> Feedback | Pick | CheckinClick | Suggest | OwnerNamed | None:
    """The event a button payload stands for, or None if it is not one of ours."""
    kind, _, rest = value.partition(_SEP)
    first, _, second = rest.partition(_SEP)
    if kind == "owner":
        round_id = row_id(first)
        if round_id is None or not 0 < len(second) <= 63 or _SEP in second:
            return None
        return OwnerNamed(origin=origin, round_id=round_id, question=second)
    if kind == "suggest":
        item = row_id(first)
        return None if item is None or second else Suggest(origin=origin, item=item)
    if kind.startswith("checkin"):
        round_id = row_id(first)
        return None if round_id is None else _checkin_click(kind, round_id, second, origin)
    if kind == "vote" and first and second in ("up", "down"):
        return Feedback(origin=origin, question_uid=first, helpful=second == "up")
    if kind == "pick" and first in INTENTS and first != "unknown":
        return _pick(first, second, origin)
    return None


def _pick(intent: str, rest: str, origin: Origin) -> Pick | None:
    """`<ref>` or `<ref>|<detail>` (payloads of older messages carry no detail)."""
    text, _, detail = rest.partition(_SEP)
    if detail and detail not in DETAILS:
        return None
    try:
        ref = Ref.parse(text, default_kind="area")
    except ValueError:
        return None
    chosen = detail or None
    return Pick(origin=origin, intent=cast(Intent, intent), ref=ref, detail=chosen)


def _checkin_click(kind: str, round_id: int, rest: str, origin: Origin) -> CheckinClick | None:
    if kind == "checkin":
        question, _, value = rest.partition(_SEP)
        if not question:
            return None
        return CheckinClick(
            origin=origin, round_id=round_id, action="answer", question=question, value=value
        )
    if kind in ("checkin-skip", "checkin-later"):
        action: Literal["skip", "later"] = "skip" if kind == "checkin-skip" else "later"
        return CheckinClick(origin=origin, round_id=round_id, action=action)
    return None


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What the answer engine concluded; the `opsbot ask --json` contract."""

    intent: Intent
    entity: Ref | None
    confidence: float
    text: str
    suggestions: tuple[Ref, ...] = ()
    #: The fact the answer leads with (the backup, the runbook...), None for a general one.
    #: On an `unknown` answer, the fact the question asked for, if it asked for one.
    detail: Detail | None = None
    #: On an `unknown` answer, the intent the question asked (what a suggestion answers).
    asked: Intent | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} is outside [0, 1]")
        if (self.intent == "unknown") != (self.entity is None):
            raise ValueError("an unknown answer has no entity, and only an unknown one")

    def to_json(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "entity": None if self.entity is None else str(self.entity),
            "confidence": round(self.confidence, 4),
            "text": self.text,
            "suggestions": [str(s) for s in self.suggestions],
            "detail": self.detail,
        }


ReplyKind = Literal["answer", "help", "error", "unhandled", "checkin"]


@dataclass(frozen=True, kw_only=True)
class Attachment:
    """A file that goes with a reply: a chart, a CSV export."""

    filename: str
    content: bytes
    title: str


@dataclass(frozen=True, kw_only=True)
class Confirmed:
    """An owner's own word that an entity's ownership is right: who (their name), when."""

    by: str
    on: date


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What the bot says back; adapters render it (text, Block Kit, Adaptive Card)."""

    text: str
    kind: ReplyKind = "answer"
    answer: Answer | None = None
    question_uid: str | None = None
    attachment: Attachment | None = None
    #: `text` with its emphasis marked, for platforms that show styles; see `Reply.of`.
    styled: Styled | None = None
    #: The last confirmation by an owner of the answer's entity, when newer than the file's.
    confirmed: Confirmed | None = None
    #: Who owns it now? (after "No, it's someone else" on an ownership check)
    owner_prompt: OwnerPrompt | None = None

    def __post_init__(self) -> None:
        if self.styled is not None and self.styled.plain != self.text:
            raise ValueError("a reply's styled text must read the same as its text")

    @classmethod
    def of(
        cls, styled: Styled, *, kind: ReplyKind = "answer", attachment: Attachment | None = None
    ) -> Reply:
        """A reply whose text has styles (bold, code...), kept as data."""
        return cls(text=styled.plain, kind=kind, attachment=attachment, styled=styled)
