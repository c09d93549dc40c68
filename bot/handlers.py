"""What the bot does with an event, whatever platform it came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from bot.answers import AnswerEngine
from bot.answers.text import normalize
from bot.errors import StorageError
from bot.events import Answer, Command, Event, Intent, Message, Origin, Reply
from bot.ports import AskedQuestion, Clock, QuestionLog

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
  /ops <question>        anything else, in your own words"""


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


class Handlers:
    """Turns events into replies; talks to the world only through its ports."""

    def __init__(
        self,
        *,
        answers: Callable[[], AnswerEngine],
        questions: QuestionLog,
        clock: Clock,
    ) -> None:
        # `answers` is read on every question, so a knowledge reload takes effect at once.
        self._answers = answers
        self._questions = questions
        self._clock = clock

    async def handle(self, event: Event) -> Reply:
        match event:
            case Command(name="ops"):
                return await self._command(event.origin, event.text)
            case Message():
                return await self._message(event.origin, event.text)
            case _:
                return Reply(text="Sorry, I can't do that. Try /ops help.", kind="unhandled")

    async def _command(self, origin: Origin, text: str) -> Reply:
        word, _, rest = text.strip().partition(" ")
        name = word.lower()
        if not name or name in _HELP_WORDS:
            return Reply(text=HELP, kind="help")
        sub = SUB_COMMANDS.get(name)
        if sub is None:
            return await self._ask(origin, text)
        if not rest.strip():
            return Reply(text=f"Usage: {sub.usage}", kind="error")
        return await self._ask(origin, rest, intent=sub.intent)

    async def _message(self, origin: Origin, text: str) -> Reply:
        words = normalize(text)
        if not words or words in _HELP_WORDS:
            return Reply(text=HELP, kind="help")
        return await self._ask(origin, text)

    async def _ask(self, origin: Origin, text: str, intent: Intent | None = None) -> Reply:
        answer = self._answers().answer(text, intent=intent)
        question_id = await self._record(origin, text, answer)
        return Reply(text=answer.text, answer=answer, question_id=question_id)

    async def _record(self, origin: Origin, text: str, answer: Answer) -> int | None:
        """Store the question; an unavailable database must not cost the user an answer."""
        question = AskedQuestion(
            asked_at=self._clock.now(),
            platform=origin.platform,
            workspace=origin.workspace,
            user=origin.user,
            channel=origin.channel,
            text=text,
            key=normalize(text)[:500],
            intent=answer.intent,
            entity=None if answer.entity is None else str(answer.entity),
            confidence=answer.confidence,
            answered=answer.intent != "unknown",
        )
        try:
            return await self._questions.record_question(question)
        except StorageError as exc:
            log.warning("question_not_recorded", platform=origin.platform, error=str(exc))
            return None
