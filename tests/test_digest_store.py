"""The digest store on real SQLite and PostgreSQL: the week's questions, digests claimed once,
posts taken once under a lease, and suggestions kept with who made them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ports import NewDigestItem, NewSuggestion, Vote
from bot.storage.migrate import upgrade
from bot.storage.store import SqlStore
from bot.storage.suggestions import SqlDigestStore
from tests.fakes import asked

MONDAY = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
WEEK_START = MONDAY - timedelta(days=7)
LEASE = timedelta(minutes=2)


@pytest.fixture
async def stores(engine: AsyncEngine) -> tuple[SqlStore, SqlDigestStore]:
    await upgrade(engine)
    return SqlStore(engine), SqlDigestStore(engine)


def item(key: str = "how do i rotate secrets", **more: object) -> NewDigestItem:
    values: dict[str, object] = {
        "section": "unanswered",
        "key": key,
        "example": "How do I rotate secrets?",
        "wordings": ("How do I rotate secrets?", "how do i rotate secrets"),
        "count": 3,
        **more,
    }
    return NewDigestItem(**values)  # type: ignore[arg-type]


async def claimed(digests: SqlDigestStore, key: str = "weekly 1", targets: int = 1) -> int:
    assert await digests.claim_digest(
        key,
        since=WEEK_START,
        until=MONDAY,
        items=[item(), item("who owns drift watch", section="unhelpful")],
        targets=[f"C{n}" for n in range(targets)],
        at=MONDAY,
    )
    (post,) = await digests.take_posts(MONDAY, "peek", LEASE, 1)
    await digests.posted(post.id, "C0", "1.0", MONDAY)
    return post.digest_id


async def test_the_week_splits_unanswered_from_not_helpful(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """Unanswered questions of the week and answered ones voted "not helpful" come back as
    two lists, most asked first, with their distinct wordings (newest first) and, for the
    second, the entity most often answered; questions outside the week do not count."""
    log, digests = stores
    day = WEEK_START + timedelta(days=1)
    rows = [
        asked("rotate secrets", at=day, text="How do I rotate secrets?"),
        asked("rotate secrets", at=day + timedelta(hours=1), text="how do I   rotate secrets"),
        asked("rotate secrets", at=day + timedelta(hours=2), text="How do I rotate secrets?"),
        asked("gpu quota", at=day, text="gpu quota?"),
        asked("old", at=WEEK_START - timedelta(seconds=1)),
        asked("late", at=MONDAY),
        asked("drift", at=day, text="who owns drift?", answered=True, uid="a1"),
        asked("drift", at=day, text="Who owns drift", answered=True, uid="a2"),
        asked("fine", at=day, answered=True, uid="a3"),
    ]
    rows[6] = replace(rows[6], entity="area:model-monitoring")
    for row in rows:
        await log.record_question(row)
    for uid, helpful in (("a1", False), ("a2", False), ("a3", True)):
        await log.record_vote(Vote(question_uid=uid, user="U1", helpful=helpful, voted_at=day))
    unanswered, unhelpful = await digests.week_gaps(WEEK_START, MONDAY, 5)
    assert [(g.key, g.count) for g in unanswered] == [("rotate secrets", 3), ("gpu quota", 1)]
    top = unanswered[0]
    assert top.example == "How do I rotate secrets?"
    assert top.wordings == ("How do I rotate secrets?", "how do I   rotate secrets")
    assert top.last_asked == day + timedelta(hours=2)
    assert top.last_asked.tzinfo is not None
    assert [(g.key, g.count, g.entity) for g in unhelpful] == [
        ("drift", 2, "area:model-monitoring")
    ]
    assert [g.key for g in (await digests.week_gaps(WEEK_START, MONDAY, 1))[0]] == [
        "rotate secrets"
    ]


async def test_a_digest_is_claimed_once(stores: tuple[SqlStore, SqlDigestStore]) -> None:
    """The same key claimed by several replicas at once: one wins; its items and posts are
    written once."""
    _, digests = stores

    async def claim() -> bool:
        return await digests.claim_digest(
            "weekly 2026-06-01T09:00Z",
            since=WEEK_START,
            until=MONDAY,
            items=[item()],
            targets=["C1", "U1", "C1"],
            at=MONDAY,
        )

    results = await asyncio.gather(*(claim() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert await digests.has_digest("weekly 2026-06-01T09:00Z")
    assert not await digests.has_digest("weekly 2026-06-08T09:00Z")
    posts = await digests.take_posts(MONDAY, "a", LEASE, 10)
    assert sorted(p.target for p in posts) == ["C1", "U1"]
    (only,) = await digests.items(posts[0].digest_id)
    assert only.wordings == ("How do I rotate secrets?", "how do i rotate secrets")
    assert posts[0].since == WEEK_START and posts[0].until == MONDAY


async def test_each_post_is_taken_by_one_sender(stores: tuple[SqlStore, SqlDigestStore]) -> None:
    """Replicas taking posts at once each get different ones; a sent post is never taken
    again; a lapsed lease hands the post back flagged, for a look before resending."""
    _, digests = stores
    await digests.claim_digest(
        "k", since=WEEK_START, until=MONDAY, items=[], targets=["C1", "C2", "C3"], at=MONDAY
    )
    takes = await asyncio.gather(*(digests.take_posts(MONDAY, f"r{n}", LEASE, 1) for n in range(5)))
    taken = [p for take in takes for p in take]
    # A replica that lost a race for one post takes none this time: the rest wait a tick.
    taken += await digests.take_posts(MONDAY, "r8", LEASE, 3)
    assert sorted(p.target for p in taken) == ["C1", "C2", "C3"]
    assert not any(p.lease_expired for p in taken)
    first, second, _ = sorted(taken, key=lambda p: p.target)
    await digests.posted(first.id, "C1", "1.1", MONDAY)
    await digests.post_failed(second.id, "ratelimited", MONDAY + timedelta(minutes=1), owner="x")
    assert await digests.take_posts(MONDAY + timedelta(seconds=1), "r9", LEASE, 5) == []
    later = MONDAY + LEASE + timedelta(seconds=1)
    again = await digests.take_posts(later, "r9", LEASE, 5)
    assert {(p.target, p.lease_expired) for p in again} == {("C2", True), ("C3", True)}
    retry = next(p for p in again if p.target == "C2")
    await digests.posted(next(p for p in again if p.target == "C3").id, "C3", "1.2", later)
    await digests.post_failed(retry.id, "ratelimited", later + timedelta(minutes=1), owner="r9")
    assert await digests.take_posts(later, "r9", LEASE, 5) == []
    (back,) = await digests.take_posts(later + timedelta(minutes=1), "r9", LEASE, 5)
    assert (back.target, back.lease_expired, back.attempts) == ("C2", False, 3)
    await digests.post_failed(back.id, "channel_not_found", None, owner="r9")
    assert await digests.take_posts(later + timedelta(days=9), "r9", LEASE, 5) == []


async def test_suggestions_are_kept_with_who_made_them(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """A suggestion stores the question's key and wordings beside who made it; the same
    person suggesting again replaces theirs; an unknown question stores nothing."""
    _, digests = stores
    digest_id = await claimed(digests)
    first, _ = await digests.items(digest_id)

    def made(user: str, **more: object) -> NewSuggestion:
        values: dict[str, object] = {
            "item_id": first.id,
            "kind": "faq",
            "platform": "slack",
            "user": user,
            "suggested_at": MONDAY,
            "answer": "Use the vault CLI.",
            **more,
        }
        return NewSuggestion(**values)  # type: ignore[arg-type]

    assert await digests.suggest(made("U1", person="person:alice"))
    assert await digests.suggest(made("U2"))
    replaced = made(
        "U1",
        kind="alias",
        answer=None,
        entity="area:secrets",
        alias="rotate secrets",
        suggested_at=MONDAY + timedelta(hours=1),
    )
    assert await digests.suggest(replaced)
    assert not await digests.suggest(made("U3", item_id=999_999))
    kept = await digests.suggestions()
    assert [(s.user, s.kind, s.person) for s in kept] == [
        ("U2", "faq", None),
        ("U1", "alias", None),
    ]
    alias = kept[1]
    assert (alias.entity, alias.alias, alias.answer) == ("area:secrets", "rotate secrets", None)
    assert alias.key == "how do i rotate secrets"
    assert alias.wordings == ("How do I rotate secrets?", "how do i rotate secrets")
    assert [s.user for s in await digests.suggestions(MONDAY + timedelta(minutes=1))] == ["U1"]
    assert await digests.item(first.id) == first
    assert await digests.item(999_999) is None
