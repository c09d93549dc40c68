"""Ports: the small protocols through which the core talks to the world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class AskedQuestion:
    """One question as asked, with what the bot made of it."""

    asked_at: datetime  # timezone-aware, UTC
    platform: str
    text: str
    key: str  # the normalised text; unanswered questions are grouped by it
    intent: str
    entity: str | None
    confidence: float
    answered: bool
    workspace: str | None = None
    user: str | None = None
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class Gap:
    """An unanswered question, grouped by its normalised text."""

    key: str
    example: str  # the most recent original wording
    count: int
    last_asked: datetime


class QuestionLog(Protocol):
    """Where asked questions are recorded, and gaps read back."""

    async def record_question(self, question: AskedQuestion) -> int:
        """Store the question; return its id."""
        ...

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        """The most-asked unanswered questions, most asked first (ties: most recent first)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
