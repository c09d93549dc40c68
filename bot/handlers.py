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
from bot.checkins.commands import checkin_click, checkin_command
from bot.checkins.service import CheckinService
from bot.conversations import Conversations
from bot.errors import StorageError
from bot.events import (
    Answer,
    CheckinClick,
    Command,
    Event,
    Feedback,
    Intent,
    Message,
    Origin,
    Pick,
    Reply,
)
from bot.kb.problems import LeftOut
from bot.ports import AskedQuestion, Clock, NudgeMessage, QuestionLog, Telemetry, Vote

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
  /ops <question>        anything else, in your own words"""

#: How much of a question is recorded: enough for any real question, bounded for a 40 kB one.
RECORDED_TEXT = 4_000
THANKS = "Thanks, noted. This helps the enablement team improve the answers."
VOTE_KEPT = (
    "Thanks, noted. I couldn't check it against my records just now (the database is"
    " unavailable), so I've kept it and will count it as soon as I can."
)
UNKNOWN_ANSWER = "That answer is no longer known to me, so the vote was not counted."
NOT_SAVED = "Sorry, I could not save that just now. Please try again in a minute."


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
        new_uid: Callable[[], str] = lambda: uuid.uuid4().hex,
        left_out: Callable[[], Sequence[LeftOut]] = lambda: (),
    ) -> None:
        self._checkins = checkins
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
        if isinstance(event, CheckinClick) or self.is_checkin_command(event):
            return await self.checkin(event)
        outcome = self.respond(event)
        return await self.record(outcome)

    def is_checkin_command(self, event: Event) -> bool:
        """`/ops checkin ...`: work with I/O, answered after the acknowledgement."""
        if not isinstance(event, Command):
            return False
        return event.text.strip().lower().split(" ", 1)[0] == "checkin"

    async def checkin(self, event: Event) -> Reply:
        """A check-in command or a click on a nudge."""
        if self._checkins is None:
            return Reply(text="Check-ins are not running here.", kind="error")
        if isinstance(event, CheckinClick):
            return await checkin_click(self._checkins, event)
        if isinstance(event, Command):
            rest = event.text.strip()[len("checkin") :]
            return await checkin_command(self._checkins, event.origin, rest)
        return Reply(text="Sorry, I can't do that. Try /ops help.", kind="unhandled")

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
        reply = Reply(text=answer.text, answer=answer, question_uid=question.uid)
        return Outcome(reply=reply, question=question)
