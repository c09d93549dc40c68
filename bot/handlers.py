"""What the bot does with an event, whatever platform it came from.

`respond` decides the reply without any I/O, so a platform can answer inside its
acknowledgement; `record` stores the question afterwards. `handle` does both.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from bot.answers import AnswerEngine
from bot.answers.text import normalize
from bot.attestation.commands import attest_command
from bot.attestation.service import AttestationService, is_no
from bot.checkins.commands import checkin_click, checkin_command
from bot.checkins.service import CheckinService
from bot.conversations import Conversations
from bot.errors import StorageError
from bot.events import (
    Answer,
    CheckinClick,
    Command,
    Confirmed,
    Event,
    Feedback,
    Intent,
    Message,
    Origin,
    OwnerNamed,
    Pick,
    Reply,
    Suggest,
)
from bot.gaps import GapService
from bot.gaps.suggestions import Refusal
from bot.kb.problems import LeftOut
from bot.model import Entity, Ref
from bot.ports import (
    AskedQuestion,
    Clock,
    DigestLine,
    NudgeMessage,
    QuestionLog,
    Telemetry,
    Vote,
)

log = structlog.get_logger(__name__)

HELP = """\
I answer questions about who owns what, teams, roles, practices and the glossary.
Ask in plain words, e.g. "who owns model monitoring?", "what does an ML engineer do?",
"runbook for the inference gateway", "who is on the data engineering team?".
Commands:
  /ops help              this help
  /ops who-owns X        who owns an area, service or practice
  /ops what-is X         what a term, role, team or area is
  /ops team X            who is on a team
  /ops owns X            what a team or person owns
  /ops links X           runbooks, dashboards, docs and repos of X
  /ops checkin list      practice check-ins (also run, pause, resume, report, export)
  /ops attest status     how fresh ownership is (admins: /ops attest run asks owners now)
  /ops digest            post the week's knowledge gaps digest now (admins)
  /ops <question>        anything else, in your own words"""

#: How much of a question is recorded: enough for any real question, bounded for a 40 kB one.
RECORDED_TEXT = 4_000
THANKS = "Thanks, noted. This helps the enablement team improve the answers."
VOTE_KEPT = (
    "Thanks, noted. I couldn't check it against my records just now (the database is"
    " unavailable), so I've kept it and will count it as soon as I can."
)
UNKNOWN_ANSWER = "That answer is no longer known to me, so the vote was not counted."
NO_OWNER = "Please pick a person or team, or say who owns it now in your words."
NOT_SAVED = "Sorry, I could not save that just now. Please try again in a minute."


#: Commands answered after the acknowledgement: they do I/O (the database, the platforms).
DEFERRED = frozenset({"checkin", "attest", "digest"})


def _first_word(event: Event) -> str | None:
    """A command's first word, lower-case (None for any other event)."""
    if not isinstance(event, Command):
        return None
    return event.text.strip().split(" ", 1)[0].lower()


@dataclass(frozen=True, kw_only=True)
class SubCommand:
    intent: Intent
    usage: str


SUB_COMMANDS: dict[str, SubCommand] = {
    "who-owns": SubCommand(intent="owner", usage="/ops who-owns <area>"),
    "what-is": SubCommand(intent="definition", usage="/ops what-is <term>"),
    "team": SubCommand(intent="members", usage="/ops team <team>"),
    "owns": SubCommand(intent="owns", usage="/ops owns <team or person>"),
    "links": SubCommand(intent="links", usage="/ops links <area>"),
}
_HELP_WORDS = frozenset({"help", "?", "commands", "usage", "help me"})


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A reply, and the question to record once the reply is on its way."""

    reply: Reply
    question: AskedQuestion | None = None


class Handlers:
    """Turns events into replies; talks to the world only through its ports."""

    def __init__(
        self,
        *,
        answers: Callable[[], AnswerEngine],
        questions: QuestionLog,
        clock: Clock,
        telemetry: Telemetry | None = None,
        checkins: CheckinService | None = None,
        attestation: AttestationService | None = None,
        gaps: GapService | None = None,
        new_uid: Callable[[], str] = lambda: uuid.uuid4().hex,
        left_out: Callable[[], Sequence[LeftOut]] = lambda: (),
    ) -> None:
        self._checkins = checkins
        self._attestation = attestation
        self._gaps = gaps
        self._left_out = left_out  # knowledge not served; admins see it in App Home
        # `answers` is read on every question, so a knowledge reload takes effect at once.
        self._answers = answers
        self._questions = questions
        self._clock = clock
        self._telemetry = telemetry
        self._new_uid = new_uid
        # What each conversation (a DM, a thread, the local chat) was last about, so
        # that "and the runbook?" follows up on it; in memory, bounded, expiring.
        self._conversations = Conversations(clock)

    async def handle(self, event: Event) -> Reply:
        """Reply to any event, storing what must be stored first."""
        if isinstance(event, Feedback):
            return await self.vote(event)
        if isinstance(event, OwnerNamed):
            return await self.name_owner(event)
        if isinstance(event, Suggest):
            return await self.suggest(event)
        if isinstance(event, CheckinClick) or self.is_deferred_command(event):
            return await self.checkin(event)
        outcome = self.respond(event)
        return await self.record(outcome)

    def is_deferred_command(self, event: Event) -> bool:
        """`/ops checkin|attest|digest ...`: work with I/O, answered after the acknowledgement."""
        return _first_word(event) in DEFERRED

    async def checkin(self, event: Event) -> Reply:
        """A click on a nudge, or a deferred command (check-ins, attestation, the digest)."""
        word = _first_word(event)
        if isinstance(event, Command) and word == "digest":
            return await self.digest(event)
        if self._checkins is None:
            return Reply(text="Check-ins are not running here.", kind="error")
        if isinstance(event, CheckinClick):
            reply = await checkin_click(self._checkins, event)
            return await self._after_click(event, reply)
        if not isinstance(event, Command) or word is None:
            return Reply(text="Sorry, I can't do that. Try /ops help.", kind="unhandled")
        rest = event.text.strip()[len(word) :]
        if word == "checkin":
            return await checkin_command(self._checkins, event.origin, rest)
        if self._attestation is None:
            return Reply(text="Ownership checks are not running here.", kind="error")
        return await attest_command(
            self._attestation,
            event.origin,
            rest,
            is_admin=self._checkins.is_admin,
            audit=self._checkins.audit,
        )

    # -- the knowledge gaps digest ----------------------------------------------------

    async def digest(self, event: Command) -> Reply:
        """`/ops digest`: an admin has the gaps digest posted now."""
        if self._gaps is None:
            return Reply(text="The knowledge gaps digest is not running here.", kind="error")
        if event.text.strip().lower() != "digest":
            return Reply(text="Usage: /ops digest (posts the gaps digest now)", kind="error")
        return await self._gaps.post_now(event.origin)

    async def suggest(self, event: Suggest) -> Reply:
        """A suggestion for a question of the digest: kept with who made it, or refused."""
        if self._gaps is None:
            return Reply(text="The knowledge gaps digest is not running here.", kind="error")
        return await self._gaps.suggest(event)

    def suggestion_problem(self, event: Suggest) -> Refusal | None:
        """What is wrong with a suggestion as typed, if anything; no I/O (a form shows it)."""
        return None if self._gaps is None else self._gaps.problem(event)

    def entity_choices(self, query: str) -> list[tuple[str, str]]:
        """(reference, label) of the entities a picker offers for `query`."""
        return [] if self._gaps is None else self._gaps.entity_choices(query)

    async def digest_question(self, item: int) -> DigestLine | None:
        """One question of a digest, for a suggestion form (None: unknown or unreadable)."""
        return None if self._gaps is None else await self._gaps.line(item)

    async def disowned(self, click: CheckinClick) -> Entity | None:
        """The entity a click of "No, it's someone else" on an ownership check is about
        (None for any other click)."""
        if self._attestation is None or click.origin.user is None or not is_no(click.value):
            return None
        return await self._attestation.asked_about(
            click.origin.user, click.round_id, click.question
        )

    def owner_choices(self, query: str) -> list[tuple[str, str]]:
        """(reference, label) of the people and teams an owner picker offers."""
        return [] if self._attestation is None else self._attestation.owner_choices(query)

    async def _after_click(self, click: CheckinClick, reply: Reply) -> Reply:
        """A "no" to an ownership check asks who owns it now."""
        if self._attestation is None or click.action != "answer" or click.origin.user is None:
            return reply
        asked = await self._attestation.ask_owner(
            click.origin.user, click.round_id, click.question, click.value
        )
        if asked is None:
            return reply
        text, prompt = asked
        return Reply(text=f"{reply.text} {text}", kind=reply.kind, owner_prompt=prompt)

    async def name_owner(self, event: OwnerNamed) -> Reply:
        """Who owns it now, from the form (or command) after a "no"."""
        if self._attestation is None:
            return Reply(text="Ownership checks are not running here.", kind="error")
        if not event.owner.strip():
            return Reply(text=NO_OWNER, kind="error")
        user = event.origin.user or ""
        text = await self._attestation.propose(user, event.round_id, event.question, event.owner)
        return Reply(text=text, kind="checkin")

    def respond(self, event: Event) -> Outcome:
        """The reply to a question, command or suggestion click; no I/O at all."""
        match event:
            case Command(name="ops"):
                return self._command(event.origin, event.text, event.uid)
            case Message():
                return self._message(event.origin, event.text)
            case Pick():
                answer = self._answers().about(event.ref, event.intent, event.detail)
                self._conversations.remember(event.origin, answer.entity)
                return self._outcome(event.origin, f"{event.intent} {event.ref}", answer)
            case _:
                reply = Reply(text="Sorry, I can't do that. Try /ops help.", kind="unhandled")
                return Outcome(reply=reply)

    async def record(self, outcome: Outcome) -> Reply:
        """Store the outcome's question; an unavailable database must not cost the answer."""
        if outcome.question is not None:
            try:
                await self._questions.record_question(outcome.question)
            except StorageError as exc:
                platform = outcome.question.platform
                log.warning("question_not_recorded", platform=platform, error=str(exc))
        return outcome.reply

    async def open_checkins(self, user: str) -> list[tuple[str, str]]:
        """The user's open check-in rounds (none when check-ins are off or unreachable)."""
        if self._checkins is None:
            return []
        try:
            return await self._checkins.open_checkins(user)
        except StorageError:
            return []

    async def nudge_view(
        self, user: str, round_id: int
    ) -> tuple[NudgeMessage, dict[str, str], bool] | None:
        """`user`'s nudge in `round_id`, their answers and whether it is open (None when
        check-ins are off, the nudge is not theirs, or the database is away)."""
        if self._checkins is None:
            return None
        try:
            return await self._checkins.nudge_view(user, round_id)
        except StorageError:
            return None

    def knowledge_problems(self, user: str) -> Sequence[LeftOut]:
        """What of the knowledge was left out, for an admin's eyes only (else nothing)."""
        if self._checkins is None or not self._checkins.is_admin(user):
            return ()
        return self._left_out()

    async def vote(self, event: Feedback) -> Reply:
        """Record a "helpful / not helpful" click; one vote per user per answer."""
        vote = Vote(
            question_uid=event.question_uid,
            user=event.origin.user or "anonymous",
            helpful=event.helpful,
            voted_at=self._clock.now(),
        )
        try:
            outcome = await self._questions.record_vote(vote)
        except StorageError as exc:
            log.warning("vote_not_recorded", platform=event.origin.platform, error=str(exc))
            return Reply(text=NOT_SAVED, kind="error")
        if outcome == "unknown":
            log.info("vote_on_unknown_answer", platform=event.origin.platform)
            return Reply(text=UNKNOWN_ANSWER, kind="error")
        return Reply(text=THANKS if outcome == "counted" else VOTE_KEPT, kind="help")

    # -- questions -----------------------------------------------------------------

    def _command(self, origin: Origin, text: str, uid: str | None = None) -> Outcome:
        word, _, rest = text.strip().partition(" ")
        name = word.lower()
        if not name or name in _HELP_WORDS:
            return Outcome(reply=Reply(text=HELP, kind="help"))
        sub = SUB_COMMANDS.get(name)
        if sub is None:
            return self._ask(origin, text, uid=uid)
        if not rest.strip():
            return Outcome(reply=Reply(text=f"Usage: {sub.usage}", kind="error"))
        return self._ask(origin, rest, intent=sub.intent, uid=uid)

    def _message(self, origin: Origin, text: str) -> Outcome:
        words = normalize(text)
        if not words or words in _HELP_WORDS:
            return Outcome(reply=Reply(text=HELP, kind="help"))
        return self._ask(origin, text)

    def _ask(
        self, origin: Origin, text: str, intent: Intent | None = None, uid: str | None = None
    ) -> Outcome:
        about = self._conversations.about(origin)
        answer = self._answers().answer(text, intent=intent, about=about)
        self._conversations.remember(origin, answer.entity)
        return self._outcome(origin, text, answer, uid)

    def _outcome(
        self, origin: Origin, text: str, answer: Answer, uid: str | None = None
    ) -> Outcome:
        if self._telemetry is not None:
            self._telemetry.answered(answer.intent)
        question = AskedQuestion(
            uid=uid or self._new_uid(),
            asked_at=self._clock.now(),
            platform=origin.platform,
            workspace=origin.workspace,
            user=origin.user,
            channel=origin.channel,
            text=text[:RECORDED_TEXT],
            key=normalize(text)[:500],
            intent=answer.intent,
            entity=None if answer.entity is None else str(answer.entity),
            confidence=answer.confidence,
            answered=answer.intent != "unknown",
        )
        reply = Reply(
            text=answer.text,
            answer=answer,
            question_uid=question.uid,
            confirmed=self._confirmed(answer.entity),
        )
        return Outcome(reply=reply, question=question)

    def _confirmed(self, ref: Ref | None) -> Confirmed | None:
        found = (
            None if ref is None or self._attestation is None else self._attestation.confirmed(ref)
        )
        if found is None or found.by is None:
            return None
        by = self._answers().knowledge.title(Ref.parse(found.by, default_kind="person"))
        return Confirmed(by=by, on=found.on)
