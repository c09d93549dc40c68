"""What a conversation is about: the entity of its last answer, for follow-up questions.

"who owns the feature store?" then "and the runbook?": the second question names no
entity, and within the same conversation, shortly after, it is about the first one's.
A conversation is a Slack DM (one person and the bot), one person's messages in one
Slack thread, or one local chat session; anything else (a channel message outside a
thread, `opsbot ask`) has no conversation, so every question there stands alone.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.events import Origin
from bot.model import Ref
from bot.ports import Clock

#: How long an answer's entity is the subject of follow-ups.
FOLLOW_UP_WINDOW = timedelta(minutes=10)
#: Conversations remembered at most; the least recently active is forgotten first.
MAX_CONVERSATIONS = 10_000

Key = tuple[str, str, str, str, str]


def conversation_of(origin: Origin) -> Key | None:
    """The conversation `origin` belongs to, or None where questions stand alone."""
    if not origin.user:
        return None
    if origin.is_direct:  # a DM channel (a thread in it is the same conversation)
        thread = ""
    elif origin.thread:
        thread = origin.thread
    else:
        return None
    return (origin.platform, origin.workspace or "", origin.channel or "", origin.user, thread)


@dataclass(frozen=True, kw_only=True)
class _Subject:
    ref: Ref
    at: datetime


class Conversations:
    """The subject of each recent conversation, in memory, bounded in size and time."""

    def __init__(
        self,
        clock: Clock,
        *,
        window: timedelta = FOLLOW_UP_WINDOW,
        size: int = MAX_CONVERSATIONS,
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self._clock = clock
        self._window = window
        self._size = size
        self._subjects: OrderedDict[Key, _Subject] = OrderedDict()

    def __len__(self) -> int:
        return len(self._subjects)

    def about(self, origin: Origin) -> Ref | None:
        """The entity the conversation of `origin` was last about, if recent enough."""
        key = conversation_of(origin)
        subject = None if key is None else self._subjects.get(key)
        if key is None or subject is None:
            return None
        if self._clock.now() - subject.at > self._window:
            del self._subjects[key]
            return None
        return subject.ref

    def remember(self, origin: Origin, ref: Ref | None) -> None:
        """Note that the conversation of `origin` is now about `ref` (None: unchanged)."""
        key = conversation_of(origin)
        if key is None or ref is None:
            return
        self._subjects[key] = _Subject(ref=ref, at=self._clock.now())
        self._subjects.move_to_end(key)
        while len(self._subjects) > self._size:
            self._subjects.popitem(last=False)
