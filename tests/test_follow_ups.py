"""Follow-ups ("and the runbook?") within one conversation, for a short time, and nowhere else."""

from __future__ import annotations

import io
import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from bot import console
from bot.answers import AnswerEngine
from bot.cli import main
from bot.conversations import FOLLOW_UP_WINDOW, Conversations, conversation_of
from bot.events import Answer, Command, Message, Origin, Pick
from bot.handlers import Handlers
from bot.kb import require_knowledge
from bot.model import Ref
from tests.fakes import FakeClock, MemoryQuestionLog
from tests.test_answer_facts import HARBOR, TODAY

THREAD = Origin(platform="slack", user="U1", workspace="T1", channel="C1", thread="1700.1")
DM = Origin(platform="slack", user="U1", workspace="T1", channel="D1", is_direct=True)
BILLING = Ref(kind="area", name="billing-service")


@pytest.fixture(scope="module")
def knowledge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("harbor")
    (root / "harbor.yaml").write_text(textwrap.dedent(HARBOR))
    return root


@pytest.fixture(scope="module")
def engine(knowledge_dir: Path) -> AnswerEngine:
    return AnswerEngine(require_knowledge(knowledge_dir, today=TODAY))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def handlers(engine: AnswerEngine, clock: FakeClock) -> Handlers:
    return Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=clock)


async def ask(handlers: Handlers, origin: Origin, text: str) -> Answer:
    reply = await handlers.handle(Message(origin=origin, text=text))
    assert reply.answer is not None
    return reply.answer


@pytest.mark.parametrize("origin", [THREAD, DM], ids=["thread", "dm"])
@pytest.mark.parametrize(
    ("follow_up", "intent", "detail"),
    [("and the runbook?", "links", "runbook"), ("who's their lead?", "owner", "lead"),
     ("and the backup?", "owner", "backup"), ("who owns it", "owner", None)],
)  # fmt: skip
async def test_a_follow_up_is_about_the_previous_answer(
    handlers: Handlers, origin: Origin, follow_up: str, intent: str, detail: str | None
) -> None:
    """In one thread or DM, a question naming nothing is about the previous answer's entity."""
    await ask(handlers, origin, "who owns the billing service?")
    answer = await ask(handlers, origin, follow_up)
    assert (answer.intent, answer.entity, answer.detail) == (intent, BILLING, detail)
    assert answer.confidence >= 0.6


async def test_a_follow_up_names_the_fact_first(handlers: Handlers) -> None:
    """The follow-up's answer leads with the fact asked, about the previous entity."""
    await ask(handlers, THREAD, "who owns the billing service?")
    answer = await ask(handlers, THREAD, "and the backup?")
    assert answer.text.startswith("The backup for Billing service is Omar Haddad.")


@pytest.mark.parametrize(
    "other",
    [
        Origin(platform="slack", user="U2", workspace="T1", channel="C1", thread="1700.1"),
        Origin(platform="slack", user="U1", workspace="T1", channel="C1", thread="1700.2"),
        Origin(platform="slack", user="U1", workspace="T1", channel="C1"),
        Origin(platform="slack", user="U1", workspace="T2", channel="C1", thread="1700.1"),
        Origin(platform="slack", user="U1", workspace="T1", channel="D2", is_direct=True),
        Origin(platform="console", user="U1", channel="console", is_direct=True),
    ],
    ids=["other-user", "other-thread", "no-thread", "other-workspace", "other-dm", "console"],
)
async def test_no_follow_up_across_conversations(handlers: Handlers, other: Origin) -> None:
    """Another person, thread, workspace or DM, or a channel message, gets a question back."""
    await ask(handlers, THREAD, "who owns the billing service?")
    await ask(handlers, DM, "who owns the billing service?")
    answer = await ask(handlers, other, "and the runbook?")
    assert (answer.intent, answer.entity) == ("unknown", None)
    assert answer.text.startswith("Which one do you mean?")


async def test_channel_messages_outside_a_thread_stand_alone(handlers: Handlers) -> None:
    """Two messages in a channel, outside any thread, are not one conversation."""
    channel = Origin(platform="slack", user="U1", workspace="T1", channel="C1")
    await ask(handlers, channel, "who owns the billing service?")
    assert (await ask(handlers, channel, "and the runbook?")).intent == "unknown"


async def test_a_follow_up_expires(handlers: Handlers, clock: FakeClock) -> None:
    """After the follow-up window, the conversation's entity is forgotten."""
    await ask(handlers, DM, "who owns the billing service?")
    clock.advance(FOLLOW_UP_WINDOW - timedelta(seconds=1))
    assert (await ask(handlers, DM, "and the runbook?")).entity == BILLING
    clock.advance(FOLLOW_UP_WINDOW + timedelta(seconds=1))
    assert (await ask(handlers, DM, "and the backup?")).intent == "unknown"


async def test_a_message_naming_an_entity_is_not_a_follow_up(handlers: Handlers) -> None:
    """A question naming its own entity is about that one, and becomes the new subject."""
    await ask(handlers, DM, "who owns the billing service?")
    answer = await ask(handlers, DM, "and the runbook for the search indexer?")
    assert (answer.intent, str(answer.entity)) == ("links", "area:search-indexer")
    assert (await ask(handlers, DM, "who owns it?")).entity == Ref(
        kind="area", name="search-indexer"
    )


async def test_an_unknown_answer_keeps_the_subject(handlers: Handlers) -> None:
    """A question the bot cannot answer leaves the conversation's subject as it was."""
    await ask(handlers, DM, "who owns the billing service?")
    assert (await ask(handlers, DM, "who owns the coffee machine?")).intent == "unknown"
    assert (await ask(handlers, DM, "and the runbook?")).entity == BILLING


async def test_a_picked_suggestion_becomes_the_subject(handlers: Handlers) -> None:
    """After "which one?" and a pick, a follow-up is about the picked entity."""
    assert (await ask(handlers, DM, "who owns the ledger?")).intent == "unknown"
    ledger = Ref(kind="area", name="ledger-archive")
    await handlers.handle(Pick(origin=DM, intent="owner", ref=ledger))
    answer = await ask(handlers, DM, "who's their lead?")
    assert (answer.entity, answer.detail) == (ledger, "lead")
    assert answer.text.startswith("The lead of Engineering, the owner of Ledger archive, is")


async def test_a_slash_command_follows_up_in_a_dm(handlers: Handlers) -> None:
    """`/ops links it` in a DM is about the DM's subject."""
    await ask(handlers, DM, "who owns the billing service?")
    reply = await handlers.handle(Command(origin=DM, text="links it"))
    assert reply.answer is not None and reply.answer.entity == BILLING


def test_conversations_are_bounded() -> None:
    """The memory keeps at most its size, forgetting the least recently active first."""
    memory = Conversations(FakeClock(), size=2)
    origins = [Origin(platform="slack", user=f"U{i}", channel="D", is_direct=True) for i in "123"]
    for origin in origins:
        memory.remember(origin, BILLING)
    assert len(memory) == 2
    assert memory.about(origins[0]) is None
    assert memory.about(origins[2]) == BILLING
    assert conversation_of(Origin(platform="cli")) is None


async def test_the_local_chat_session_is_one_conversation(
    handlers: Handlers, knowledge_dir: Path
) -> None:
    """In `opsbot chat`, a follow-up line is about the previous line's answer."""
    stdin = io.StringIO("who owns the billing service?\nand the runbook?\n")
    stdout = io.StringIO()
    await console.run(handlers.handle, stdin, stdout, interactive=False)
    lines = stdout.getvalue().splitlines()
    assert lines[1].startswith("Billing service's runbook: Billing runbook:")


def test_batch_questions_never_follow_up(
    knowledge_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opsbot ask --batch` answers each line alone: a follow-up line is asked back."""
    batch = tmp_path / "q.txt"
    batch.write_text("who owns the billing service?\nand the runbook?\n")
    assert main(["ask", "--knowledge", str(knowledge_dir), "--json", "--batch", str(batch)]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["entity"] == "area:billing-service"
    assert (second["intent"], second["entity"], second["detail"]) == ("unknown", None, "runbook")
