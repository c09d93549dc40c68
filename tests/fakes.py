"""In-memory fakes of the ports, for tests of the core."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.errors import DeliveryFailed, StorageError, Unreachable
from bot.model import Entity, PersonSpec
from bot.ports import (
    AskedQuestion,
    ChatAddress,
    Delivered,
    DigestMessage,
    Gap,
    NudgeMessage,
    QuestionLog,
    Vote,
    VoteOutcome,
)
from bot.styled import Styled

#: Keys are compared on their first 500 characters, as the database column holds.
KEY_LENGTH = 500


class MemoryQuestionLog:
    """The storage ports in memory; `broken` makes every write fail like a lost database."""

    def __init__(self) -> None:
        self.questions: list[AskedQuestion] = []
        self.votes: dict[tuple[str, str], Vote] = {}
        self.claims: dict[str, datetime] = {}
        self.broken = False

    async def record_vote(self, vote: Vote) -> VoteOutcome:
        if self.broken:
            raise StorageError("database unavailable")
        _require_aware(vote.voted_at)
        if all(q.uid != vote.question_uid for q in self.questions):
            return "unknown"
        self.votes[(vote.question_uid, vote.user)] = vote
        return "counted"

    async def claim(self, key: str, at: datetime) -> bool:
        if self.broken:
            raise StorageError("database unavailable")
        _require_aware(at)
        if key in self.claims:
            return False
        self.claims[key] = at
        return True

    async def record_question(self, question: AskedQuestion) -> int:
        if self.broken:
            raise StorageError("database unavailable")
        _require_aware(question.asked_at)
        self.questions.append(replace(question, key=question.key[:KEY_LENGTH]))
        return len(self.questions)

    async def record_questions(self, questions: list[AskedQuestion]) -> None:
        """All or nothing, like one transaction; a uid already stored is stored once."""
        if self.broken:
            raise StorageError("database unavailable")
        for question in questions:
            _require_aware(question.asked_at)
        for question in questions:
            if not await self.has_question(question.uid):
                self.questions.append(replace(question, key=question.key[:KEY_LENGTH]))

    async def has_question(self, uid: str) -> bool:
        if self.broken:
            raise StorageError("database unavailable")
        return any(q.uid == uid for q in self.questions)

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if since is not None:
            _require_aware(since)
        unhelpful = {v.question_uid for v in self.votes.values() if not v.helpful}
        unanswered = [
            q
            for q in self.questions
            if (not q.answered or q.uid in unhelpful) and (since is None or q.asked_at >= since)
        ]
        counts = Counter(q.key for q in unanswered)
        latest = {q.key: q for q in sorted(unanswered, key=lambda q: q.asked_at)}
        gaps = [
            Gap(key=k, example=latest[k].text, count=n, last_asked=latest[k].asked_at)
            for k, n in counts.items()
        ]
        gaps.sort(key=lambda g: (-g.count, -g.last_asked.timestamp(), g.key))
        return gaps[:limit]


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} refused: give it a timezone")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


T0 = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)


def asked(
    key: str,
    *,
    at: datetime = T0,
    text: str | None = None,
    answered: bool = False,
    uid: str | None = None,
) -> AskedQuestion:
    return AskedQuestion(
        uid=uid or uuid.uuid4().hex,
        asked_at=at,
        platform="slack",
        workspace="T01",
        user="U01",
        channel="C01",
        text=text if text is not None else f"{key}?",
        key=key,
        intent="owner",
        entity=None,
        confidence=0.25,
        answered=answered,
    )


async def record_all(log: QuestionLog, questions: list[AskedQuestion]) -> list[int]:
    return [await log.record_question(q) for q in questions]


class RecordingMessenger:
    """A `Messenger` that records what it would deliver; failures can be scripted."""

    platform = "test"

    def __init__(self, zones: dict[str, str] | None = None) -> None:
        self.nudges: list[NudgeMessage] = []
        self.reports: list[tuple[str, str, bytes | None]] = []
        self.delivered: dict[tuple[str, str], Delivered] = {}
        self.zones = zones or {}
        self.unreachable: set[str] = set()
        self.failing: dict[str, int] = {}  # user -> transient failures still to come
        self.crash_after_delivery = False
        self.digests: list[tuple[str, DigestMessage]] = []

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        return person.spec.slack if isinstance(person.spec, PersonSpec) else None

    async def timezone(self, user: str) -> str | None:
        return self.zones.get(user)

    async def nudge(self, message: NudgeMessage) -> Delivered:
        if message.user in self.unreachable:
            raise Unreachable("user_not_found")
        if self.failing.get(message.user, 0) > 0:
            self.failing[message.user] -= 1
            raise DeliveryFailed("ratelimited")
        self.nudges.append(message)
        delivered = Delivered(channel=f"D-{message.user}", ts=f"{len(self.nudges)}.0")
        self.delivered[(message.user, message.key)] = delivered
        if self.crash_after_delivery:
            raise _Crash("the process died after Slack took the message")
        return delivered

    async def find_nudge(self, user: str, key: str) -> Delivered | None:
        return self.delivered.get((user, key))

    async def report(self, channel: str, text: Styled, chart: bytes | None, title: str) -> None:
        self.reports.append((channel, text.plain, chart))

    async def digest(self, target: str, message: DigestMessage) -> Delivered:
        """A gaps digest, with the same scripted failures and crash as a nudge."""
        if target in self.unreachable:
            raise Unreachable("channel_not_found")
        if self.failing.get(target, 0) > 0:
            self.failing[target] -= 1
            raise DeliveryFailed("ratelimited")
        self.digests.append((target, message))
        delivered = Delivered(channel=target, ts=f"{len(self.digests)}.1")
        self.delivered[(target, message.key)] = delivered
        if self.crash_after_delivery:
            raise _Crash("the process died after Slack took the message")
        return delivered

    async def find_digest(self, target: str, key: str) -> Delivered | None:
        return self.delivered.get((target, key))

    def sent_to(self, user: str) -> list[NudgeMessage]:
        return [n for n in self.firsts if n.user == user]

    @property
    def firsts(self) -> list[NudgeMessage]:
        """Nudges, not reminders."""
        return [n for n in self.nudges if not n.reminder]


class _Crash(BaseException):
    """Stands for a process killed mid-send: nothing catches it."""


class MemoryAddressBook:
    """The `AddressBook` port in memory, with the SQL one's merge rules."""

    _KEPT = ("tenant_id", "user_id", "name", "email", "conversation_id", "bot_id", "timezone")

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ChatAddress] = {}

    async def remember(self, address: ChatAddress) -> None:
        old = self.rows.get((address.platform, address.key))
        if old is None:
            self.rows[(address.platform, address.key)] = address
            return
        first, second = (address, old) if address.updated_at >= old.updated_at else (old, address)
        kept = {
            name: getattr(first, name)
            if getattr(first, name) is not None
            else getattr(second, name)
            for name in self._KEPT
        }
        merged = replace(first, updated_at=max(old.updated_at, address.updated_at), **kept)
        self.rows[(address.platform, address.key)] = merged

    async def addresses(self, platform: str) -> list[ChatAddress]:
        return [a for (p, _), a in sorted(self.rows.items()) if p == platform]
