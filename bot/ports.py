"""Ports: the small protocols through which the core talks to the world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class AskedQuestion:
    """One question as asked, with what the bot made of it."""

    asked_at: datetime  # timezone-aware, UTC
    uid: str  # chosen before storing, so an answer can carry it before the write commits
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
class Vote:
    """A user's "helpful / not helpful" on one answer; a later vote replaces theirs."""

    question_uid: str
    user: str
    helpful: bool
    voted_at: datetime


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

    async def record_vote(self, vote: Vote) -> None:
        """Store a vote; the same user voting again on the same answer replaces the vote."""
        ...

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        """The most-asked questions without a good answer, most asked first.

        A question counts when it was not answered, or when its answer was voted not
        helpful. Ties go to the most recently asked.
        """
        ...


class EventLog(Protocol):
    """Which inbound events were already taken, across every replica."""

    async def claim(self, key: str, at: datetime) -> bool:
        """True for the first claim of `key` ever made, False for every later one."""
        ...


class Telemetry(Protocol):
    """What the bot counts for its operators (metrics)."""

    def answered(self, intent: str) -> None:
        """One answer of `intent` was given ("unknown" included)."""
        ...

    def platform_error(self, platform: str, method: str, error: str) -> None:
        """A call to a chat platform's API failed."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
