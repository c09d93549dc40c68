"""`SqlStore`: the `QuestionLog` and `EventLog` ports on a SQL database."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, false, func, insert, literal, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.ports import AskedQuestion, Gap, Vote, VoteOutcome
from bot.storage.engine import transaction
from bot.storage.models import ENTITY_LENGTH, KEY_LENGTH, EventClaim, Question
from bot.storage.models import Vote as VoteRow


class SqlStore:
    """Asked questions, votes, gaps and event claims, kept in the database behind `engine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record_question(self, question: AskedQuestion) -> int:
        """Store the question; return its id."""
        _require_aware(question.asked_at, "asked_at")
        async with self._transaction("recording a question") as conn:
            statement = insert(Question).values(_row(question)).returning(Question.id)
            return (await conn.execute(statement)).scalar_one()

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        """The most-asked unanswered questions, most asked first (ties: most recent first)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if since is not None:
            _require_aware(since, "since")
        # One pass with window functions (SQLite >= 3.25 and PostgreSQL alike):
        # per key, the count and the newest row, whose wording is the example.
        per_key = (Question.key,)
        voted_unhelpful = select(VoteRow.question_uid).where(VoteRow.helpful == false())
        newest_first = (Question.asked_at.desc(), Question.id.desc())
        ranked = select(
            Question.key,
            Question.text,
            Question.asked_at,
            func.count().over(partition_by=per_key).label("n"),
            func.row_number().over(partition_by=per_key, order_by=newest_first).label("rank"),
        ).where(or_(Question.answered == false(), Question.uid.in_(voted_unhelpful)))
        if since is not None:
            ranked = ranked.where(Question.asked_at >= since)
        sub = ranked.subquery()
        query = (
            select(sub.c.key, sub.c.text, sub.c.n, sub.c.asked_at)
            .where(sub.c.rank == 1)
            .order_by(sub.c.n.desc(), sub.c.asked_at.desc(), sub.c.key)
            .limit(limit)
        )
        async with self._transaction("reading question gaps") as conn:
            rows = (await conn.execute(query)).all()
        return [
            Gap(key=row.key, example=row.text, count=int(row.n), last_asked=row.asked_at)
            for row in rows
        ]

    async def record_questions(self, questions: list[AskedQuestion]) -> None:
        """Store many questions in one transaction; a uid already stored is stored once."""
        if not questions:
            return
        for question in questions:
            _require_aware(question.asked_at, "asked_at")
        rows = list({q.uid: _row(q) for q in reversed(questions)}.values())[::-1]
        async with self._transaction("recording questions") as conn:
            once = insert_for(conn)(Question).on_conflict_do_nothing(index_elements=[Question.uid])
            await conn.execute(once, rows)

    async def record_vote(self, vote: Vote) -> VoteOutcome:
        """Store a vote on a recorded question; the same user voting again replaces it.

        A vote on a uid no question has is "unknown" and not stored; the check and the
        write are one statement, so no question can appear or vanish in between.
        """
        _require_aware(vote.voted_at, "voted_at")
        row = select(
            literal(vote.question_uid, VoteRow.question_uid.type),
            literal(vote.user, VoteRow.user_id.type),
            literal(vote.helpful, VoteRow.helpful.type),
            literal(vote.voted_at, VoteRow.voted_at.type),
        ).where(exists().where(Question.uid == vote.question_uid))
        columns = ["question_uid", "user_id", "helpful", "voted_at"]
        async with self._transaction("recording a vote") as conn:
            upsert = insert_for(conn)(VoteRow).from_select(columns, row)
            result = await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[VoteRow.question_uid, VoteRow.user_id],
                    set_={"helpful": vote.helpful, "voted_at": vote.voted_at},
                )
            )
        return "counted" if result.rowcount else "unknown"

    async def has_question(self, uid: str) -> bool:
        """Whether a question with this uid is stored."""
        query = select(exists().where(Question.uid == uid))
        async with self._transaction("looking up a question") as conn:
            return bool((await conn.execute(query)).scalar())

    async def claim(self, key: str, at: datetime) -> bool:
        """True for the first claim of `key` ever made, False for every later one."""
        _require_aware(at, "at")
        async with self._transaction("claiming an event") as conn:
            insert_once = insert_for(conn)(EventClaim).values(key=key, claimed_at=at)
            result = await conn.execute(insert_once.on_conflict_do_nothing())
            return result.rowcount == 1

    async def forget_claims(self, before: datetime) -> int:
        """Drop event claims older than `before` (platforms stop retrying long before)."""
        _require_aware(before, "before")
        async with self._transaction("pruning event claims") as conn:
            result = await conn.execute(delete(EventClaim).where(EventClaim.claimed_at < before))
            return max(result.rowcount, 0)

    async def ping(self) -> None:
        """Return if the database answers; raise `StorageError` if it does not."""
        async with self._transaction("pinging the database") as conn:
            await conn.execute(text("SELECT 1"))

    def _transaction(self, action: str) -> AbstractAsyncContextManager[AsyncConnection]:
        return transaction(self._engine, action)


def insert_for(conn: AsyncConnection) -> Callable[..., Any]:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL alike)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _row(question: AskedQuestion) -> dict[str, object]:
    return {
        "uid": question.uid,
        "asked_at": question.asked_at,
        "platform": question.platform,
        "workspace": question.workspace,
        "user_id": question.user,
        "channel": question.channel,
        "text": question.text,
        # Over-long keys would be refused by PostgreSQL: group by their prefix.
        "key": question.key[:KEY_LENGTH],
        "intent": question.intent,
        "entity": None if question.entity is None else question.entity[:ENTITY_LENGTH],
        "confidence": question.confidence,
        "answered": question.answered,
    }
