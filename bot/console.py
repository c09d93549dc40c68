"""The local chat: a terminal conversation with the bot, interactive or piped."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.events import Command, Event, Message, Origin, Reply

Handle = Callable[[Event], Awaitable[Reply]]

BANNER = """opsbot local chat. Ask a question, or type /ops help. Ctrl-D or /quit leaves."""
PROMPT = "you> "
_QUIT = frozenset({"/quit", "/exit", "quit", "exit"})


def to_event(line: str, origin: Origin) -> Event:
    """`/ops ...` is the slash command; anything else is a direct message."""
    text = line.strip()
    if text == "/ops" or text.startswith("/ops "):
        return Command(origin=origin, text=text[4:].strip())
    return Message(origin=origin, text=text)


def render(reply: Reply, *, one_line: bool) -> str:
    text = reply.text.strip()
    if one_line:
        return " ".join(text.split())
    return text


def local_origin(user: str | None = None) -> Origin:
    try:
        name = user or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        name = "local"
    return Origin(platform="console", user=name, channel="console", is_direct=True)


async def run(handle: Handle, stdin: TextIO, stdout: TextIO, *, interactive: bool) -> int:
    """Answer each line of `stdin` on `stdout`; return the number of questions answered.

    Piped input gets exactly one line of output per non-blank input line.
    """
    origin = local_origin()
    if interactive:
        stdout.write(BANNER + "\n")
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
        if interactive and text.lower() in _QUIT:
            break
        reply = await handle(to_event(text, origin))
        prefix = "opsbot> " if interactive else ""
        stdout.write(prefix + render(reply, one_line=not interactive) + "\n")
        stdout.flush()
        answered += 1
    return answered
