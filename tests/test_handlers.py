"""The handlers: one path from any platform's event to a reply, with every question recorded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.answers import AnswerEngine
from bot.events import (
    CheckinClick,
    Command,
    Feedback,
    Message,
    Origin,
    Pick,
    feedback_payload,
    parse_payload,
    pick_payload,
)
from bot.handlers import HELP, NOT_SAVED, THANKS, Handlers
from bot.kb import require_knowledge
from bot.model import Ref
from tests.fakes import FakeClock, MemoryQuestionLog

MINI = Path(__file__).parent / "data" / "mini"
ORIGIN = Origin(platform="slack", user="U1", workspace="T1", channel="C1")


@pytest.fixture(scope="module")
def engine() -> AnswerEngine:
    return AnswerEngine(require_knowledge(MINI, today=date(2026, 11, 29)))


@pytest.fixture
def log() -> MemoryQuestionLog:
    return MemoryQuestionLog()


@pytest.fixture
def handlers(engine: AnswerEngine, log: MemoryQuestionLog) -> Handlers:
    return Handlers(answers=lambda: engine, questions=log, clock=FakeClock())


async def test_question_is_answered_and_recorded(
    handlers: Handlers, log: MemoryQuestionLog
) -> None:
    """A free-text question gets the engine's answer and is stored with who asked where."""
    reply = await handlers.handle(Message(origin=ORIGIN, text="Who owns model monitoring?"))
    assert reply.kind == "answer"
    assert reply.answer is not None and str(reply.answer.entity) == "area:model-monitoring"
    assert "ML Platform" in reply.text
    (stored,) = log.questions
    assert reply.question_uid == stored.uid
    assert (stored.platform, stored.user, stored.workspace, stored.channel) == (
        "slack",
        "U1",
        "T1",
        "C1",
    )
    assert stored.text == "Who owns model monitoring?"
    assert stored.key == "who owns model monitoring"
    assert (stored.intent, stored.entity, stored.answered) == (
        "owner",
        "area:model-monitoring",
        True,
    )
    assert stored.asked_at.tzinfo is not None


async def test_unknown_is_recorded_as_unanswered(
    handlers: Handlers, log: MemoryQuestionLog
) -> None:
    """An out-of-scope question is recorded unanswered, so `gaps` can show it."""
    reply = await handlers.handle(Message(origin=ORIGIN, text="who owns the coffee machine?"))
    assert reply.answer is not None and reply.answer.intent == "unknown"
    assert log.questions[0].answered is False
    gaps = await log.gaps()
    assert [(g.example, g.count) for g in gaps] == [("who owns the coffee machine?", 1)]


@pytest.mark.parametrize(
    ("text", "intent", "entity"),
    [
        ("who-owns drift detection", "owner", "area:model-monitoring"),
        ("what-is data drift", "definition", "term:data-drift"),
        ("team mlp", "members", "team:ml-platform"),
        ("owns ML Platform", "owns", "team:ml-platform"),
        ("links model monitoring", "links", "area:model-monitoring"),
        ("WHO-OWNS model monitoring", "owner", "area:model-monitoring"),
        ("who owns model monitoring?", "owner", "area:model-monitoring"),
    ],
)
async def test_sub_commands(handlers: Handlers, text: str, intent: str, entity: str) -> None:
    """Each /ops sub-command answers with its own intent; other text is a question."""
    reply = await handlers.handle(Command(origin=ORIGIN, text=text))
    assert reply.answer is not None
    assert (reply.answer.intent, str(reply.answer.entity)) == (intent, entity)


@pytest.mark.parametrize("text", ["", "help", "HELP", "?"])
async def test_help(handlers: Handlers, log: MemoryQuestionLog, text: str) -> None:
    """`/ops`, `/ops help` and a bare "help" message show the help, and record nothing."""
    assert (await handlers.handle(Command(origin=ORIGIN, text=text))).text == HELP
    assert (await handlers.handle(Message(origin=ORIGIN, text=text or "help"))).kind == "help"
    assert log.questions == []


async def test_sub_command_without_argument_shows_usage(handlers: Handlers) -> None:
    """`/ops who-owns` with nothing after it explains the usage."""
    reply = await handlers.handle(Command(origin=ORIGIN, text="who-owns  "))
    assert (reply.kind, reply.text) == ("error", "Usage: /ops who-owns <area>")


async def test_other_commands_are_unhandled_politely(handlers: Handlers) -> None:
    """A slash command that is not /ops gets a polite pointer, not an exception."""
    reply = await handlers.handle(Command(origin=ORIGIN, name="deploy", text="prod"))
    assert reply.kind == "unhandled"
    assert "/ops help" in reply.text


async def test_answer_survives_a_broken_database(
    handlers: Handlers, log: MemoryQuestionLog
) -> None:
    """When the question cannot be stored, the user still gets the answer."""
    log.broken = True
    reply = await handlers.handle(Message(origin=ORIGIN, text="who owns model monitoring"))
    assert reply.answer is not None and reply.answer.intent == "owner"
    assert log.questions == []


async def test_a_reloaded_engine_answers_at_once(
    engine: AnswerEngine, log: MemoryQuestionLog
) -> None:
    """Handlers read the engine on every question, so a knowledge reload takes effect."""
    current = {"engine": engine}
    handlers = Handlers(answers=lambda: current["engine"], questions=log, clock=FakeClock())
    empty = AnswerEngine(require_knowledge(MINI, today=date(2026, 11, 29)), threshold=1.0)
    current["engine"] = empty
    reply = await handlers.handle(Message(origin=ORIGIN, text="who owns drift detectoin"))
    assert reply.answer is not None and reply.answer.intent == "unknown"


async def test_respond_does_no_io(engine: AnswerEngine, log: MemoryQuestionLog) -> None:
    """`respond` decides the reply without storing anything; `record` stores it after."""
    handlers = Handlers(answers=lambda: engine, questions=log, clock=FakeClock())
    outcome = handlers.respond(Command(origin=ORIGIN, text="who-owns drift detection"))
    assert log.questions == []
    assert outcome.question is not None
    assert outcome.reply.question_uid == outcome.question.uid
    await handlers.record(outcome)
    assert [q.uid for q in log.questions] == [outcome.question.uid]


async def test_feedback_is_recorded_once_per_user(
    handlers: Handlers, log: MemoryQuestionLog
) -> None:
    """A vote is stored against the answer; voting again replaces it."""
    reply = await handlers.handle(Message(origin=ORIGIN, text="who owns model monitoring"))
    assert reply.question_uid is not None
    uid = reply.question_uid
    thanks = await handlers.handle(Feedback(origin=ORIGIN, question_uid=uid, helpful=False))
    assert thanks.text == THANKS
    assert [g.key for g in await log.gaps()] == ["who owns model monitoring"]
    await handlers.handle(Feedback(origin=ORIGIN, question_uid=uid, helpful=True))
    assert len(log.votes) == 1
    assert await log.gaps() == []


async def test_feedback_on_a_broken_database_says_so(
    handlers: Handlers, log: MemoryQuestionLog
) -> None:
    """When a vote cannot be saved the user is told, not thanked."""
    log.broken = True
    reply = await handlers.handle(Feedback(origin=ORIGIN, question_uid="q1", helpful=True))
    assert (reply.kind, reply.text) == ("error", NOT_SAVED)


async def test_pick_answers_about_the_picked_entity(handlers: Handlers) -> None:
    """A suggestion click answers its intent about exactly that entity, confidently."""
    ref = Ref(kind="area", name="model-monitoring")
    reply = await handlers.handle(Pick(origin=ORIGIN, intent="owner", ref=ref))
    assert reply.answer is not None
    assert (reply.answer.intent, reply.answer.entity, reply.answer.confidence) == (
        "owner",
        ref,
        1.0,
    )
    team = await handlers.handle(
        Pick(origin=ORIGIN, intent="owner", ref=Ref(kind="team", name="ml-platform"))
    )
    assert team.answer is not None and team.answer.intent == "definition"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("vote|abc123|up", Feedback(origin=ORIGIN, question_uid="abc123", helpful=True)),
        ("vote|abc123|down", Feedback(origin=ORIGIN, question_uid="abc123", helpful=False)),
        (
            "pick|owner|area:model-monitoring",
            Pick(origin=ORIGIN, intent="owner", ref=Ref(kind="area", name="model-monitoring")),
        ),
        ("pick|unknown|area:x", None),
        ("pick|owner|not a ref!", None),
        ("vote|abc|sideways", None),
        ("checkin|x|drift|Yes", None),
        ("checkin|7|", None),
        (
            "checkin|7|drift|Yes",
            CheckinClick(origin=ORIGIN, round_id=7, action="answer", question="drift", value="Yes"),
        ),
        ("checkin-skip|7", CheckinClick(origin=ORIGIN, round_id=7, action="skip")),
        ("checkin-later|7", CheckinClick(origin=ORIGIN, round_id=7, action="later")),
        ("", None),
    ],
)
def test_button_payloads(value: str, expected: object) -> None:
    """Button payloads decode to typed events; anything else is not ours."""
    assert parse_payload(value, ORIGIN) == expected


def test_payloads_round_trip() -> None:
    """What the encoders write, the parser reads back."""
    ref = Ref(kind="component", name="x", namespace="ns")
    assert parse_payload(pick_payload("links", ref), ORIGIN) == Pick(
        origin=ORIGIN, intent="links", ref=ref
    )
    assert parse_payload(feedback_payload("u1", False), ORIGIN) == Feedback(
        origin=ORIGIN, question_uid="u1", helpful=False
    )
