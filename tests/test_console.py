"""The local chat: interactive or piped, through the same handlers as the platforms."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from bot import console
from bot.answers import AnswerEngine
from bot.events import Command, Message, Origin
from bot.handlers import Handlers
from bot.kb import require_knowledge
from tests.fakes import FakeClock, MemoryQuestionLog

MINI = Path(__file__).parent / "data" / "mini"


def handlers(log: MemoryQuestionLog) -> Handlers:
    engine = AnswerEngine(require_knowledge(MINI, today=date(2026, 11, 29)))
    return Handlers(answers=lambda: engine, questions=log, clock=FakeClock())


def test_slash_lines_are_commands() -> None:
    """`/ops team x` is the slash command; anything else is a direct message."""
    origin = Origin(platform="console")
    assert console.to_event("/ops team mlp", origin) == Command(origin=origin, text="team mlp")
    assert console.to_event("/ops", origin) == Command(origin=origin, text="")
    assert console.to_event("/opsy", origin) == Message(origin=origin, text="/opsy")


async def test_piped_input_gets_one_line_per_question() -> None:
    """Each non-blank piped line gets exactly one line of answer, in order."""
    log = MemoryQuestionLog()
    stdin = io.StringIO(
        "who owns model monitoring?\n\n/ops help\n/ops team mlp\nwhat is data drift\n"
    )
    stdout = io.StringIO()
    answered = await console.run(handlers(log).handle, stdin, stdout, interactive=False)
    lines = stdout.getvalue().splitlines()
    assert answered == 4
    assert len(lines) == 4
    assert lines[0].startswith("Model monitoring is owned by ML Platform")
    assert lines[1].startswith("I answer questions about who owns what")
    assert lines[2].startswith("ML Platform has 2 members")
    assert lines[3].startswith("Data drift (term)")
    assert [q.platform for q in log.questions] == ["console"] * 3


async def test_interactive_session_prompts_and_quits() -> None:
    """Interactive mode shows a banner and prompts, and /quit ends the session."""
    stdin = io.StringIO("who is on mlp\n/quit\nwho owns model monitoring\n")
    stdout = io.StringIO()
    answered = await console.run(
        handlers(MemoryQuestionLog()).handle, stdin, stdout, interactive=True
    )
    out = stdout.getvalue()
    assert answered == 1
    assert out.startswith(console.BANNER)
    assert "you> opsbot> ML Platform has 2 members" in out


async def test_quit_in_piped_input_leaves() -> None:
    """ "/quit" ends piped input as it ends a typed chat: nothing after it is answered."""
    log = MemoryQuestionLog()
    stdin = io.StringIO("who owns model monitoring?\n/quit\nwhat is data drift\n")
    stdout = io.StringIO()
    answered = await console.run(handlers(log).handle, stdin, stdout, interactive=False)
    assert answered == 1
    assert len(stdout.getvalue().splitlines()) == 1
    assert len(log.questions) == 1


async def test_answering_without_an_open_check_in_says_so() -> None:
    """`answer drift yes` before any nudge: "no open check-in", not a question in gaps."""
    log = MemoryQuestionLog()
    stdin = io.StringIO("answer drift yes\nskip\nwho owns model monitoring?\n")
    stdout = io.StringIO()
    messenger = console.ConsoleMessenger(stdout, "alice")
    await console.run(handlers(log).handle, stdin, stdout, interactive=False, messenger=messenger)
    lines = stdout.getvalue().splitlines()
    assert lines[:2] == [console.NO_OPEN_CHECKIN] * 2
    assert [q.text for q in log.questions] == ["who owns model monitoring?"]


async def test_a_reply_with_a_file_saves_it_and_names_it(tmp_path: Path) -> None:
    """`/ops checkin export weekly` in the chat writes the CSV beside you and says where;
    a second export never overwrites the first."""
    from bot.events import Attachment, Event, Reply

    csv = Attachment(filename="weekly.csv", content=b"person,answer\nalice,yes\n", title="W")

    async def handle(_: Event) -> Reply:
        return Reply(text="Exported 1 answer.", kind="checkin", attachment=csv)

    stdin = io.StringIO("/ops checkin export weekly\n/ops checkin export weekly\n")
    stdout = io.StringIO()
    await console.run(handle, stdin, stdout, interactive=False, files=tmp_path)
    first, second = stdout.getvalue().splitlines()
    assert first == f"Exported 1 answer. (saved as {tmp_path / 'weekly.csv'})"
    assert second.endswith(f"(saved as {tmp_path / 'weekly-2.csv'})")
    assert (tmp_path / "weekly.csv").read_bytes() == csv.content
    assert (tmp_path / "weekly-2.csv").read_bytes() == csv.content


async def test_a_chat_user_who_is_nobody_is_told_how_to_be_someone() -> None:
    """The login name matches no person: the chat says so at start and how to pick one;
    `/as NAME` refuses an unknown name clearly and takes a known one."""
    log = MemoryQuestionLog()
    stdin = io.StringIO("/as nobody\n/as alice\n")
    stdout, notices = io.StringIO(), io.StringIO()
    messenger = console.ConsoleMessenger(stdout, "root")
    await console.run(
        handlers(log).handle,
        stdin,
        stdout,
        interactive=False,
        messenger=messenger,
        people=lambda: ["alice", "bob"],
        notices=notices,
    )
    assert "'root'" in notices.getvalue() and "/as <name>" in notices.getvalue()
    assert "OPSBOT_CHAT_AS" in notices.getvalue() and "alice, bob" in notices.getvalue()
    refused, taken = stdout.getvalue().splitlines()
    assert refused == "No person 'nobody' in the knowledge (people: alice, bob)."
    assert taken.startswith("You are alice now")
    assert messenger.local_person == "alice"
