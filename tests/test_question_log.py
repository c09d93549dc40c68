"""The QuestionLog contract: the same tests for the in-memory fake, SQLite and PostgreSQL
(and, for votes, each of them behind the writer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.ports import EventLog, Gap, QuestionLog, Vote
from bot.storage.store import SqlStore
from bot.storage.writer import QuestionWriter
from tests.fakes import T0, MemoryQuestionLog, asked, record_all


@pytest.fixture(params=("direct", "writer"))
async def voting(
    request: pytest.FixtureRequest, log: SqlStore | MemoryQuestionLog, tmp_path: Path
) -> AsyncIterator[QuestionLog]:
    """Every implementation, as it is and behind the writer (votes queue behind questions)."""
    if request.param == "direct":
        yield log
        return
    async with QuestionWriter(log, spool_dir=tmp_path / "spool").running() as writer:
        yield writer


async def test_record_returns_increasing_ids(log: QuestionLog) -> None:
    """Each recorded question gets a larger id than the one before."""
    ids = await record_all(log, [asked("a"), asked("b"), asked("a")])
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_gaps_of_an_empty_log_are_empty(log: QuestionLog) -> None:
    """With nothing recorded there are no gaps."""
    assert await log.gaps() == []


async def test_gaps_group_by_key_most_asked_first(log: QuestionLog) -> None:
    """Unanswered questions are grouped by their normalised text, most asked first."""
    minute = timedelta(minutes=1)
    await record_all(
        log,
        [
            asked("b", at=T0),
            asked("a", at=T0 + minute),
            asked("b", at=T0 + 2 * minute),
            asked("c", at=T0 + 3 * minute),
            asked("b", at=T0 + 4 * minute),
            asked("a", at=T0 + 5 * minute),
        ],
    )
    gaps = await log.gaps()
    assert [(g.key, g.count) for g in gaps] == [("b", 3), ("a", 2), ("c", 1)]
    assert [g.last_asked for g in gaps] == [T0 + 4 * minute, T0 + 5 * minute, T0 + 3 * minute]
    assert all(g.last_asked.tzinfo is UTC for g in gaps)


async def test_gaps_ties_go_to_the_most_recent(log: QuestionLog) -> None:
    """Keys asked equally often are ordered by when they were last asked, newest first."""
    hour = timedelta(hours=1)
    await record_all(
        log,
        [asked("old", at=T0), asked("new", at=T0 + 2 * hour), asked("mid", at=T0 + hour)],
    )
    assert [g.key for g in await log.gaps()] == ["new", "mid", "old"]


async def test_gaps_example_is_the_most_recent_wording(log: QuestionLog) -> None:
    """A gap's example is the latest wording by time asked, whatever the order recorded."""
    hour = timedelta(hours=1)
    await record_all(
        log,
        [
            asked("deploy", at=T0 + 2 * hour, text="How do I deploy??"),
            asked("deploy", at=T0, text="how do i deploy"),
            asked("deploy", at=T0 + hour, text="How do I deploy"),
        ],
    )
    assert await log.gaps() == [
        Gap(key="deploy", example="How do I deploy??", count=3, last_asked=T0 + 2 * hour)
    ]


async def test_gaps_never_include_answered_questions(log: QuestionLog) -> None:
    """Answered questions neither form gaps nor count towards them."""
    await record_all(
        log,
        [
            asked("known", answered=True),
            asked("known", answered=True),
            asked("mixed", answered=True, at=T0 + timedelta(hours=1), text="answered wording"),
            asked("mixed", text="unanswered wording"),
        ],
    )
    gaps = await log.gaps()
    assert [(g.key, g.count, g.example) for g in gaps] == [("mixed", 1, "unanswered wording")]
    assert gaps[0].last_asked == T0


async def test_gaps_limit_keeps_the_most_asked(log: QuestionLog) -> None:
    """The limit keeps only the most asked gaps."""
    await record_all(log, [asked(k) for k in "aaaabbbccd"])
    assert [g.key for g in await log.gaps(limit=2)] == ["a", "b"]
    assert len(await log.gaps()) == 4


async def test_gaps_limit_must_be_positive(log: QuestionLog) -> None:
    """A limit below one is refused."""
    with pytest.raises(ValueError, match="limit"):
        await log.gaps(limit=0)


async def test_gaps_since_counts_only_recent_questions(log: QuestionLog) -> None:
    """With `since`, only questions asked at or after it are counted."""
    day = timedelta(days=1)
    await record_all(
        log,
        [
            asked("stale", at=T0 - 3 * day),
            asked("stale", at=T0 - 2 * day),
            asked("both", at=T0 - day),
            asked("both", at=T0),
            asked("fresh", at=T0 + day),
        ],
    )
    gaps = await log.gaps(since=T0)
    assert [(g.key, g.count) for g in gaps] == [("fresh", 1), ("both", 1)]
    since_in_other_zone = T0.astimezone(timezone(timedelta(hours=-5)))
    assert await log.gaps(since=since_in_other_zone) == gaps


async def test_naive_asked_at_is_refused(log: QuestionLog) -> None:
    """A question whose time has no timezone is refused, and nothing is stored."""
    with pytest.raises(ValueError, match="timezone"):
        await log.record_question(asked("naive", at=datetime(2025, 1, 1, 12, 0)))
    assert await log.gaps() == []


async def test_naive_since_is_refused(log: QuestionLog) -> None:
    """A `since` without timezone is refused."""
    with pytest.raises(ValueError, match="timezone"):
        await log.gaps(since=datetime(2025, 1, 1, 12, 0))


async def test_long_keys_are_grouped_by_their_prefix(log: QuestionLog) -> None:
    """Keys longer than the column are stored by their first 500 characters."""
    long_key = "x" * 600
    await record_all(log, [asked(long_key), asked(long_key[:500] + "y" * 10)])
    assert [(g.key, g.count) for g in await log.gaps()] == [("x" * 500, 2)]


async def test_unhelpful_answers_are_gaps_too(voting: QuestionLog) -> None:
    """An answered question whose answer was voted not helpful counts as a gap."""
    await record_all(
        voting,
        [
            asked("good", answered=True, uid="q-good"),
            asked("bad", answered=True, uid="q-bad"),
            asked("bad", answered=True, uid="q-bad-2"),
        ],
    )
    await voting.record_vote(Vote(question_uid="q-good", user="U1", helpful=True, voted_at=T0))
    await voting.record_vote(Vote(question_uid="q-bad", user="U1", helpful=False, voted_at=T0))
    assert [(g.key, g.count) for g in await voting.gaps()] == [("bad", 1)]


async def test_a_second_vote_replaces_the_first(voting: QuestionLog) -> None:
    """One vote per user per answer: voting again changes the vote, not the tally."""
    await record_all(voting, [asked("x", answered=True, uid="q-x")])
    await voting.record_vote(Vote(question_uid="q-x", user="U1", helpful=False, voted_at=T0))
    assert [g.key for g in await voting.gaps()] == ["x"]
    later = T0 + timedelta(minutes=1)
    await voting.record_vote(Vote(question_uid="q-x", user="U1", helpful=True, voted_at=later))
    assert await voting.gaps() == []
    await voting.record_vote(Vote(question_uid="q-x", user="U2", helpful=False, voted_at=later))
    assert [(g.key, g.count) for g in await voting.gaps()] == [("x", 1)]


async def test_a_vote_on_an_unknown_answer_is_refused(voting: QuestionLog) -> None:
    """A vote on a uid no question has is "unknown" and kept nowhere, not even for later."""
    vote = Vote(question_uid="q-never", user="U1", helpful=False, voted_at=T0)
    assert await voting.record_vote(vote) == "unknown"
    await record_all(voting, [asked("late", answered=True, uid="q-never")])
    assert await voting.gaps() == []
    assert await voting.record_vote(vote) == "counted"
    assert [g.key for g in await voting.gaps()] == ["late"]


async def test_claims_are_taken_once(log: EventLog) -> None:
    """The first claim of a key wins; every later claim of it is refused."""
    assert await log.claim("C1:1700000000.0001", T0) is True
    assert await log.claim("C1:1700000000.0001", T0) is False
    assert await log.claim("C1:1700000000.0001", T0 + timedelta(hours=1)) is False
    assert await log.claim("C1:1700000000.0002", T0) is True
