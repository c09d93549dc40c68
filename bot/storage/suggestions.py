"""`SqlDigestStore`: knowledge gaps digests, their posts and the suggestions made from them.

A digest is claimed by inserting its unique key, with its questions and one post per place,
in one transaction; a post is handed to one sender by an UPDATE that matches only while it
is free (or its sender's lease has lapsed), as check-in nudges are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.ports import (
    DigestItem,
    DigestPost,
    GapSection,
    NewDigestItem,
    NewSuggestion,
    Suggestion,
    WeekGap,
)
from bot.storage.engine import transaction
from bot.storage.models import (
    ENTITY_LENGTH,
    KEY_LENGTH,
    GapDigest,
    GapDigestItem,
    GapDigestPost,
    GapSuggestion,
    Question,
)
from bot.storage.models import Vote as VoteRow
from bot.storage.store import insert_for

#: Rows of one question read to find its wordings (the newest first).
_WORDING_ROWS = 200
MAX_WORDINGS = 10
_ERROR = 255


class SqlDigestStore:
    """The `DigestStore` port on the database behind `engine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- the week's questions ------------------------------------------------------------

    async def week_gaps(
        self, since: datetime, until: datetime, limit: int
    ) -> tuple[list[WeekGap], list[WeekGap]]:
        """The most-asked unanswered questions, and the most-asked ones answered "not
        helpful", asked in [since, until); most asked first, then the most recent."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        in_week = and_(Question.asked_at >= since, Question.asked_at < until)
        unhelpful = Question.uid.in_(select(VoteRow.question_uid).where(VoteRow.helpful == false()))
        sections: tuple[tuple[GapSection, ColumnElement[bool]], ...] = (
            ("unanswered", and_(in_week, Question.answered == false())),
            ("unhelpful", and_(in_week, Question.answered == true(), unhelpful)),
        )
        found: dict[GapSection, list[WeekGap]] = {}
        async with self._transaction("reading the week's questions") as conn:
            for section, condition in sections:
                found[section] = await _top(conn, condition, limit)
        return found["unanswered"], found["unhelpful"]

    # -- claiming and posting --------------------------------------------------------------

    async def has_digest(self, key: str) -> bool:
        query = select(exists().where(GapDigest.key == key))
        async with self._transaction("looking up a digest") as conn:
            return bool((await conn.execute(query)).scalar())

    async def claim_digest(
        self,
        key: str,
        *,
        since: datetime,
        until: datetime,
        items: Sequence[NewDigestItem],
        targets: Sequence[str],
        at: datetime,
    ) -> bool:
        """Insert the digest with its items and posts; False (nothing written) if `key` was
        claimed before, by this replica or another."""
        row = {"key": key, "since": since, "until": until, "claimed_at": at}
        async with self._transaction("claiming a digest") as conn:
            claim = (
                insert_for(conn)(GapDigest)
                .values(row)
                .on_conflict_do_nothing(index_elements=[GapDigest.key])
                .returning(GapDigest.id)
            )
            digest_id = (await conn.execute(claim)).scalar()
            if digest_id is None:
                return False
            if items:
                rows = [_item_row(digest_id, n, item) for n, item in enumerate(items)]
                await conn.execute(insert_for(conn)(GapDigestItem), rows)
            if targets:
                posts = [
                    {
                        "digest_id": digest_id,
                        "target": target,
                        "state": "claimed",
                        "attempts": 0,
                        "next_attempt_at": at,
                    }
                    for target in dict.fromkeys(targets)
                ]
                await conn.execute(insert_for(conn)(GapDigestPost), posts)
            return True

    async def take_posts(
        self, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[DigestPost]:
        """Move posts that may be sent now to "sending", leased to `owner`; one whose sender
        vanished mid-send comes back flagged `lease_expired`."""
        fresh = and_(
            GapDigestPost.state.in_(("claimed", "failed")), GapDigestPost.next_attempt_at <= now
        )
        expired = and_(GapDigestPost.state == "sending", GapDigestPost.next_attempt_at <= now)
        taken: list[DigestPost] = []
        async with self._transaction("taking digest posts") as conn:
            for condition, was_sending in ((expired, True), (fresh, False)):
                if len(taken) >= limit:
                    break
                ids = select(GapDigestPost.id).where(condition).order_by(GapDigestPost.id)
                statement = (
                    update(GapDigestPost)
                    .where(
                        GapDigestPost.id.in_(ids.limit(limit - len(taken)).scalar_subquery()),
                        condition,
                    )
                    .values(
                        state="sending",
                        owner=owner,
                        next_attempt_at=now + lease,
                        attempts=GapDigestPost.attempts + 1,
                    )
                    .returning(GapDigestPost.id)
                )
                got = list((await conn.execute(statement)).scalars())
                taken += await _posts(conn, got, lease_expired=was_sending)
        return taken

    async def posted(self, post_id: int, channel: str, ts: str, at: datetime) -> None:
        """Delivered, whoever holds the lease now: the message went out."""
        async with self._transaction("marking a digest posted") as conn:
            await conn.execute(
                update(GapDigestPost)
                .where(GapDigestPost.id == post_id, GapDigestPost.state == "sending")
                .values(
                    state="sent",
                    posted_at=at,
                    channel=channel[:255],
                    message_ts=ts[:64],
                    owner=None,
                    next_attempt_at=None,
                    error=None,
                )
            )

    async def post_failed(
        self, post_id: int, error: str, retry_at: datetime | None, *, owner: str
    ) -> None:
        """Retried at `retry_at`, or given up (None); nothing if the lease passed on."""
        async with self._transaction("marking a digest post failed") as conn:
            await conn.execute(
                update(GapDigestPost)
                .where(
                    GapDigestPost.id == post_id,
                    GapDigestPost.state == "sending",
                    GapDigestPost.owner == owner,
                )
                .values(
                    state="failed" if retry_at is not None else "given_up",
                    next_attempt_at=retry_at,
                    owner=None,
                    error=error[:_ERROR],
                )
            )

    # -- items and suggestions -------------------------------------------------------------

    async def items(self, digest_id: int) -> list[DigestItem]:
        query = (
            select(GapDigestItem)
            .where(GapDigestItem.digest_id == digest_id)
            .order_by(GapDigestItem.position)
        )
        async with self._transaction("reading a digest") as conn:
            return [_item(row) for row in (await conn.execute(query)).all()]

    async def item(self, item_id: int) -> DigestItem | None:
        query = select(GapDigestItem).where(GapDigestItem.id == item_id)
        async with self._transaction("reading a digest question") as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _item(row)

    async def suggest(self, suggestion: NewSuggestion) -> bool:
        """Store it with the question's key and wordings, read from its item in the same
        statement; the same person suggesting again for that item replaces theirs."""
        given = {
            "kind": suggestion.kind,
            "entity": None if suggestion.entity is None else suggestion.entity[:ENTITY_LENGTH],
            "alias": suggestion.alias,
            "answer": suggestion.answer,
            "platform": suggestion.platform[:32],
            "user_id": suggestion.user[:255],
            "person": None if suggestion.person is None else suggestion.person[:255],
            "suggested_at": suggestion.suggested_at,
        }
        columns = ["item_id", "key", "wordings", *given]
        row = select(
            GapDigestItem.id,
            GapDigestItem.key,
            GapDigestItem.wordings,
            *(literal(value, getattr(GapSuggestion, name).type) for name, value in given.items()),
        ).where(GapDigestItem.id == suggestion.item_id)
        replaced = {k: v for k, v in given.items() if k not in ("platform", "user_id")}
        async with self._transaction("keeping a suggestion") as conn:
            upsert = insert_for(conn)(GapSuggestion).from_select(columns, row)
            result = await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[
                        GapSuggestion.item_id,
                        GapSuggestion.platform,
                        GapSuggestion.user_id,
                    ],
                    set_=replaced,
                )
            )
        return bool(result.rowcount)

    async def suggestions(self, since: datetime | None = None) -> list[Suggestion]:
        query = select(GapSuggestion).order_by(GapSuggestion.suggested_at, GapSuggestion.id)
        if since is not None:
            query = query.where(GapSuggestion.suggested_at >= since)
        async with self._transaction("reading suggestions") as conn:
            rows = (await conn.execute(query)).all()
        return [
            Suggestion(
                id=row.id,
                item_id=row.item_id,
                key=row.key,
                wordings=tuple(row.wordings or ()),
                kind=row.kind,
                platform=row.platform,
                user=row.user_id,
                person=row.person,
                suggested_at=row.suggested_at,
                entity=row.entity,
                alias=row.alias,
                answer=row.answer,
            )
            for row in rows
        ]

    def _transaction(self, action: str) -> AbstractAsyncContextManager[AsyncConnection]:
        return transaction(self._engine, action)


async def _top(conn: AsyncConnection, condition: ColumnElement[bool], limit: int) -> list[WeekGap]:
    """The `limit` most-asked keys among the questions matching `condition`, each with its
    wordings (newest first, without repeats) and the entity it was most often answered with."""
    newest = func.max(Question.asked_at)
    ranked = (
        select(Question.key, func.count().label("n"), newest.label("last"))
        .where(condition)
        .group_by(Question.key)
        .order_by(func.count().desc(), newest.desc(), Question.key)
        .limit(limit)
    )
    top = (await conn.execute(ranked)).all()
    gaps = []
    for key, count, last in top:
        rows = await conn.execute(
            select(Question.text, Question.entity)
            .where(condition, Question.key == key)
            .order_by(Question.asked_at.desc(), Question.id.desc())
            .limit(_WORDING_ROWS)
        )
        texts: dict[str, str] = {}
        entities: Counter[str] = Counter()
        for text, entity in rows:
            texts.setdefault(" ".join(text.split()).casefold(), text)
            if entity:
                entities[entity] += 1
        wordings = tuple(list(texts.values())[:MAX_WORDINGS])
        gaps.append(
            WeekGap(
                key=key,
                example=wordings[0] if wordings else key,
                wordings=wordings,
                count=int(count),
                last_asked=last,
                entity=entities.most_common(1)[0][0] if entities else None,
            )
        )
    return gaps


def _item_row(digest_id: int, position: int, item: NewDigestItem) -> dict[str, object]:
    return {
        "digest_id": digest_id,
        "position": position,
        "section": item.section,
        "key": item.key[:KEY_LENGTH],
        "example": item.example,
        "wordings": list(item.wordings),
        "count": item.count,
        "entity": item.entity,
        "owner": item.owner,
    }


def _item(row: Any) -> DigestItem:
    values = row._mapping  # `row.count` would be the tuple's own method
    return DigestItem(
        id=values["id"],
        digest_id=values["digest_id"],
        section=values["section"],
        key=values["key"],
        example=values["example"],
        wordings=tuple(values["wordings"] or ()),
        count=values["count"],
        entity=values["entity"],
        owner=values["owner"],
    )


async def _posts(conn: AsyncConnection, ids: list[int], *, lease_expired: bool) -> list[DigestPost]:
    if not ids:
        return []
    query = (
        select(GapDigestPost, GapDigest.key, GapDigest.since, GapDigest.until)
        .join(GapDigest, GapDigest.id == GapDigestPost.digest_id)
        .where(GapDigestPost.id.in_(ids))
        .order_by(GapDigestPost.id)
    )
    rows = (await conn.execute(query)).all()
    return [
        DigestPost(
            id=row.id,
            digest_id=row.digest_id,
            key=row.key,
            target=row.target,
            attempts=row.attempts,
            since=row.since,
            until=row.until,
            lease_expired=lease_expired,
        )
        for row in rows
    ]
