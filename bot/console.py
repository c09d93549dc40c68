"""The local chat: a terminal conversation with the bot, interactive or piped."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TextIO

from bot.events import Attachment, CheckinClick, Command, Event, Message, Origin, Reply, Suggest
from bot.gaps.digest import CONSOLE_HOW, as_text
from bot.model import Entity, row_id
from bot.ports import Delivered, DigestMessage, NudgeMessage
from bot.styled import Styled

Handle = Callable[[Event], Awaitable[Reply]]

BANNER = """opsbot local chat. Ask a question, or type /ops help. Ctrl-D or /quit leaves."""
PROMPT = "you> "
_QUIT = frozenset({"/quit", "/exit", "quit", "exit"})
NO_OPEN_CHECKIN = (
    "You have no open check-in to answer. When one comes, it shows here as [check-in]."
)


class ConsoleMessenger:
    """Check-ins in the terminal: nudges for the local person are printed to them."""

    platform = "console"

    def __init__(self, out: TextIO, local_person: str | None) -> None:
        self.out = out
        self.local_person = local_person
        self.last_round: int | None = None
        self._sent = 0

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        return person.ref.name if person.ref.name == self.local_person else None

    async def timezone(self, user: str) -> str | None:
        return None

    async def nudge(self, message: NudgeMessage) -> Delivered:
        self.last_round = message.round_id
        heading = f"{'Reminder: ' if message.reminder else ''}{message.title}"
        lines = [f"opsbot> [check-in] {heading}"]
        for question in message.questions:
            if question.type == "choice":
                choices = " / ".join(question.options)
            elif question.type == "scale":
                choices = f"{question.min}-{question.max}"
            else:
                choices = "your words"
            lines.append(f"  {question.id}: {question.text} ({choices})")
        lines.append("  Reply: answer <id> <value> | later | skip")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._sent += 1
        return Delivered(channel="console", ts=str(self._sent))

    async def find_nudge(self, user: str, key: str) -> Delivered | None:
        return None

    async def report(self, channel: str, text: Styled, chart: bytes | None, title: str) -> None:
        self.out.write(f"opsbot> [report to {channel}] {text.plain}\n")
        self.out.flush()

    async def digest(self, target: str, message: DigestMessage) -> Delivered:
        """The gaps digest, printed with each question's number for `suggest`."""
        text = as_text(message, how=CONSOLE_HOW).plain
        self.out.write("opsbot> [digest] " + text.replace("\n", "\n  ") + "\n")
        self.out.flush()
        self._sent += 1
        return Delivered(channel="console", ts=str(self._sent))

    async def find_digest(self, target: str, key: str) -> Delivered | None:
        return None


def to_event(line: str, origin: Origin, last_round: int | None = None) -> Event:
    """`/ops ...` is the slash command; `answer`, `later`, `skip` reply to the last nudge;
    anything else is a direct message."""
    text = line.strip()
    if text == "/ops" or text.startswith("/ops "):
        return Command(origin=origin, text=text[4:].strip())
    word, _, rest = text.partition(" ")
    suggestion = _suggestion(word, rest, origin)
    if suggestion is not None:
        return suggestion
    if last_round is not None and word.lower() in ("answer", "later", "skip"):
        if word.lower() == "answer":
            question, _, value = rest.strip().partition(" ")
            return CheckinClick(
                origin=origin, round_id=last_round, action="answer", question=question, value=value
            )
        if word.lower() == "later":
            return CheckinClick(origin=origin, round_id=last_round, action="later")
        return CheckinClick(origin=origin, round_id=last_round, action="skip")
    return Message(origin=origin, text=text)


def _suggestion(word: str, rest: str, origin: Origin) -> Suggest | None:
    """`suggest N about ENTITY` or `suggest N answer TEXT` (N: a question of the digest)."""
    number, _, more = rest.strip().partition(" ")
    item = row_id(number)
    if word.lower() != "suggest" or item is None:
        return None
    how, _, said = more.strip().partition(" ")
    if how.lower() == "about":
        return Suggest(origin=origin, item=item, kind="alias", entity=said.strip())
    if how.lower() == "answer":
        return Suggest(origin=origin, item=item, kind="faq", answer=said.strip())
    return Suggest(origin=origin, item=item)


def nobody_notice(user: str | None, people: Sequence[str]) -> str:
    """What to tell a chat user who is no person of the knowledge: how to be one."""
    examples = ", ".join(sorted(people)[:5]) or "none in the knowledge"
    return (
        f"You are {user!r} here, who is no person in the knowledge, so no check-in reaches "
        f"you. To be one: OPSBOT_CHAT_AS=<name> when starting, or type /as <name> "
        f"(people: {examples}{', ...' if len(people) > 5 else ''})."
    )


def become(messenger: ConsoleMessenger, name: str, people: Sequence[str]) -> Reply:
    """`/as NAME`: be that person of the knowledge in this chat (for check-ins)."""
    wanted = name.strip().lower()
    if wanted not in people:
        known = ", ".join(sorted(people)[:10]) or "none"
        return Reply(text=f"No person {name!r} in the knowledge (people: {known}).", kind="error")
    messenger.local_person = wanted
    return Reply(text=f"You are {wanted} now: their check-ins come here.", kind="help")


def _answers_a_nudge(text: str) -> bool:
    """`answer Q VALUE`, `later` or `skip`: what the chat says to a nudge."""
    word, _, rest = text.partition(" ")
    word = word.lower()
    return (word == "answer" and bool(rest.strip())) or (word in ("later", "skip") and not rest)


def save(attachment: Attachment, folder: Path) -> Path:
    """Write `attachment` into `folder` under its own name (`weekly.csv`), never over an
    existing file (`weekly-2.csv`); return where."""
    name = Path(attachment.filename).name or "opsbot-file"
    stem, suffix = Path(name).stem, Path(name).suffix
    path = folder / name
    for n in range(2, 1000):
        try:
            with path.open("xb") as out:
                out.write(attachment.content)
            return path
        except FileExistsError:
            path = folder / f"{stem}-{n}{suffix}"
    raise FileExistsError(f"{folder / name} and 998 more exist")


def render(reply: Reply, *, one_line: bool) -> str:
    text = reply.text.strip()
    if reply.confirmed is not None:
        on = reply.confirmed.on.isoformat()
        text += f"\n(Ownership confirmed by @{reply.confirmed.by} on {on}.)"
    if one_line:
        return " ".join(text.split())
    return text


def local_user(person: str | None = None) -> str:
    """Who is at the terminal: the configured person, else the login name."""
    try:
        return person or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "local"


def local_origin(user: str | None = None) -> Origin:
    return Origin(platform="console", user=local_user(user), channel="console", is_direct=True)


async def run(
    handle: Handle,
    stdin: TextIO,
    stdout: TextIO,
    *,
    interactive: bool,
    messenger: ConsoleMessenger | None = None,
    files: Path | None = None,
    people: Callable[[], Sequence[str]] = lambda: (),
    notices: TextIO | None = None,
) -> int:
    """Answer each line of `stdin` on `stdout`; return the number of questions answered.

    Piped input gets exactly one line of output per non-blank input line (nudges that
    arrive meanwhile are printed too, marked `[check-in]`).
    """
    origin = local_origin(messenger.local_person if messenger else None)
    if interactive:
        stdout.write(BANNER + "\n")
    told = stdout if interactive else notices  # piped: one line out per line in
    if messenger is not None and told is not None and messenger.local_person not in people():
        told.write(nobody_notice(messenger.local_person, people()) + "\n")
    answered = 0
    while True:
        if interactive:
            stdout.write(PROMPT)
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in _QUIT:  # typed, or the last line of piped input
            break
        last_round = messenger.last_round if messenger else None
        if messenger is not None and text.lower().startswith("/as"):
            reply = become(messenger, text[3:].strip(), people())
            origin = local_origin(messenger.local_person)
        elif messenger is not None and last_round is None and _answers_a_nudge(text):
            reply = Reply(text=NO_OPEN_CHECKIN, kind="error")  # not a question for `gaps`
        else:
            reply = await handle(to_event(text, origin, last_round))
        prefix = "opsbot> " if interactive else ""
        shown = render(reply, one_line=not interactive)
        if reply.attachment is not None:  # an export's CSV, a report's chart: a local file
            shown += f" (saved as {save(reply.attachment, files or Path.cwd())})"
        stdout.write(prefix + shown + "\n")
        stdout.flush()
        answered += 1
    return answered
