"""The check-in store on SQLite and PostgreSQL: claims, sending, reminders, answers, closing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ports import NewNudge
from bot.storage.checkins import SqlCheckinStore
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade

T0 = datetime(2026, 11, 30, 10, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def nudge(person: str, *, at: datetime = T0, round_key: str = "2026-11-30T10:00",
          missed: bool = False, checkin: str = "weekly") -> NewNudge:  # fmt: skip
    return NewNudge(
        key=f"{checkin}|person:{person}|{at.isoformat()}",
        checkin=checkin,
        round_key=round_key,
        person=f"person:{person}",
        user=f"U{person.upper()}",
        occurrence=at,
        remind_at=at + timedelta(hours=4),
        closes_at=at + timedelta(days=2),
        missed=missed,
    )


async def store_on(engine: AsyncEngine) -> SqlCheckinStore:
    await upgrade(engine)
    return SqlCheckinStore(engine)


async def test_claims_are_taken_once(engine: AsyncEngine) -> None:
    """A nudge key is claimed once; claiming again (another replica, a restart) adds none."""
    store = await store_on(engine)
    assert await store.claim([nudge("a"), nudge("b")], T0) == 2
    assert await store.claim([nudge("a"), nudge("b"), nudge("c")], T0) == 1
    (round_,) = await store.rounds("weekly", 10)
    assert round_.closes_at == T0 + timedelta(days=2)


async def test_a_later_zone_keeps_the_round_open_longer(engine: AsyncEngine) -> None:
    """The round closes after its last recipient's window, not its first."""
    store = await store_on(engine)
    await store.claim([nudge("london")], T0)
    await store.claim([nudge("newyork", at=T0 + timedelta(hours=5))], T0)
    (round_,) = await store.rounds("weekly", 10)
    assert round_.closes_at == T0 + timedelta(days=2, hours=5)


async def test_due_nudges_are_handed_out_once(engine: AsyncEngine) -> None:
    """Claimed nudges go to one sender each, only once they are due."""
    store = await store_on(engine)
    await store.claim([nudge("a"), nudge("b", at=T0 + timedelta(hours=1))], T0)
    first = await store.take_due(T0, "r1", LEASE, 100)
    assert [n.person for n in first] == ["person:a"]
    assert first[0].state == "sending" and first[0].attempts == 1
    assert await store.take_due(T0, "r2", LEASE, 100) == []
    await store.sent(first[0].id, "DA", "1.1", T0)
    later = await store.take_due(T0 + timedelta(hours=1), "r2", LEASE, 100)
    assert [n.person for n in later] == ["person:b"]


async def test_a_sender_that_vanished_is_noticed(engine: AsyncEngine) -> None:
    """A nudge left "sending" past its lease comes back, flagged as ambiguous."""
    store = await store_on(engine)
    await store.claim([nudge("a")], T0)
    (taken,) = await store.take_due(T0, "crashed", LEASE, 100)
    assert taken.lease_expired is False
    assert await store.take_due(T0 + timedelta(minutes=1), "r2", LEASE, 100) == []
    (again,) = await store.take_due(T0 + LEASE, "r2", LEASE, 100)
    assert again.lease_expired is True
    assert again.attempts == 2


async def test_sent_failed_and_unreachable(engine: AsyncEngine) -> None:
    """Failures are retried when told, unreachable people never; sent is final."""
    store = await store_on(engine)
    await store.claim([nudge("a"), nudge("b"), nudge("c")], T0)
    a, b, c = await store.take_due(T0, "r1", LEASE, 100)
    await store.sent(a.id, "DA", "1.1", T0)
    await store.failed(b.id, "ratelimited", T0 + timedelta(seconds=30), owner="r1")
    await store.failed(c.id, "user_not_found", None, owner="r1")
    assert await store.take_due(T0 + timedelta(seconds=10), "r1", LEASE, 100) == []
    (retry,) = await store.take_due(T0 + timedelta(seconds=30), "r1", LEASE, 100)
    assert retry.person == "person:b"
    await store.sent(retry.id, "DB", "1.2", T0 + timedelta(seconds=31))
    assert await store.take_due(T0 + timedelta(days=1), "r1", LEASE, 100) == []
    assert await store.recipients(a.round_id) == ["person:a", "person:b"]


async def test_missed_nudges_are_recorded_not_sent(engine: AsyncEngine) -> None:
    """A nudge that fell due while everything was down, its round closed, is kept as missed."""
    store = await store_on(engine)
    assert await store.claim([nudge("a", missed=True)], T0) == 1
    assert await store.take_due(T0 + timedelta(days=3), "r1", LEASE, 100) == []


async def test_reminders_go_once_to_those_who_have_not_answered(engine: AsyncEngine) -> None:
    """After remind_at, unanswered nudges are handed out for one reminder; snoozing adds one."""
    store = await store_on(engine)
    await store.claim([nudge("a"), nudge("b")], T0)
    for n in await store.take_due(T0, "r1", LEASE, 100):
        await store.sent(n.id, f"D{n.person}", "1.1", T0)
    round_id = (await store.rounds("weekly", 1))[0].id
    await store.answer(round_id, "person:a", "drift", "Yes", T0 + timedelta(hours=1))
    assert await store.take_reminders(T0 + timedelta(hours=3), 100) == []
    (reminder,) = await store.take_reminders(T0 + timedelta(hours=4), 100)
    assert reminder.person == "person:b"
    assert await store.take_reminders(T0 + timedelta(hours=5), 100) == []
    assert await store.snooze(round_id, "person:b", T0 + timedelta(hours=6)) is True
    (snoozed,) = await store.take_reminders(T0 + timedelta(hours=6), 100)
    assert snoozed.person == "person:b"


async def test_answers_can_change_until_close_and_rounds_close_once(engine: AsyncEngine) -> None:
    """An answer replaces the earlier one; a round past its time is closed exactly once."""
    store = await store_on(engine)
    await store.claim([nudge("a")], T0)
    (round_,) = await store.rounds("weekly", 1)
    await store.answer(round_.id, "person:a", "drift", "No", T0)
    await store.answer(round_.id, "person:a", "drift", "Yes", T0 + timedelta(minutes=1))
    assert [(a.question, a.value) for a in await store.answers(round_.id)] == [("drift", "Yes")]
    assert await store.take_closing(T0 + timedelta(days=1)) == []
    (closed,) = await store.take_closing(T0 + timedelta(days=2))
    assert closed.closed_at == T0 + timedelta(days=2)
    assert await store.take_closing(T0 + timedelta(days=3)) == []
    assert (await store.round(round_.id)) == closed


async def test_pausing_and_the_audit_log(engine: AsyncEngine) -> None:
    """Pause flags persist per check-in; audit entries are written."""
    store = await store_on(engine)
    await store.set_paused("weekly", True, T0)
    await store.set_paused("daily", False, T0)
    assert await store.paused() == {"weekly"}
    await store.set_paused("weekly", False, T0)
    assert await store.paused() == set()
    await store.audit(T0, "slack", "U1", "checkin run weekly", False)


async def test_replicas_hand_out_each_nudge_once(postgres_url: str) -> None:
    """Four replicas taking due nudges at once on PostgreSQL get disjoint sets, all of them."""
    engines = [create_engine(postgres_url) for _ in range(4)]
    try:
        await upgrade(engines[0])
        stores = [SqlCheckinStore(e) for e in engines]
        people = [nudge(f"p{i}") for i in range(200)]
        claimed = await asyncio.gather(*(s.claim(people, T0) for s in stores))
        assert sum(claimed) == 200

        async def drain(store: SqlCheckinStore, owner: str) -> list[str]:
            got: list[str] = []
            while batch := await store.take_due(T0, owner, LEASE, 7):
                got += [n.person for n in batch]
            return got

        taken = await asyncio.gather(*(drain(s, f"r{i}") for i, s in enumerate(stores)))
        everyone = [p for part in taken for p in part]
        assert sorted(everyone) == sorted(n.person for n in people)
        assert len(set(everyone)) == 200
        closed = await asyncio.gather(*(s.take_closing(T0 + timedelta(days=2)) for s in stores))
        assert sum(len(c) for c in closed) == 1
    finally:
        for e in engines:
            await e.dispose()


async def test_a_lease_taken_over_cannot_be_renewed(engine: AsyncEngine) -> None:
    """A sender whose lease ran out and was taken over may not send: renewing fails."""
    store = await store_on(engine)
    await store.claim([nudge("a")], T0)
    (mine,) = await store.take_due(T0, "slow", LEASE, 100)
    assert await store.renew(mine.id, "slow", T0 + LEASE) is True
    (theirs,) = await store.take_due(T0 + 2 * LEASE, "other", LEASE, 100)
    assert theirs.lease_expired is True
    assert await store.renew(mine.id, "slow", T0 + 3 * LEASE) is False
    assert await store.renew(theirs.id, "other", T0 + 3 * LEASE) is True
    # Nor may its failure undo the new owner's send under way.
    await store.failed(mine.id, "timeout", T0 + 2 * LEASE, owner="slow")
    assert await store.take_due(T0 + 2 * LEASE, "third", LEASE, 100) == []
    assert await store.renew(theirs.id, "other", T0 + 3 * LEASE) is True


async def test_planning_resumes_where_it_left_off(engine: AsyncEngine) -> None:
    """Planning starts when a check-in is first seen, then where the last window ended."""
    store = await store_on(engine)
    assert await store.plan_from(["weekly"], T0) == {"weekly": T0}
    assert await store.plan_from(["weekly", "daily"], T0 + LEASE) == {
        "weekly": T0,
        "daily": T0 + LEASE,
    }
    await store.planned(["weekly"], T0 + timedelta(hours=1))
    await store.planned(["weekly"], T0 + timedelta(minutes=1))  # never goes back
    assert await store.plan_from(["weekly"], T0 + 2 * LEASE) == {"weekly": T0 + timedelta(hours=1)}


async def test_one_nudge_per_person_and_round(engine: AsyncEngine) -> None:
    """The same person in the same round again (their zone changed): not claimed twice."""
    store = await store_on(engine)
    assert await store.claim([nudge("a")], T0) == 1
    assert await store.claim([nudge("a", at=T0 + timedelta(hours=5)), nudge("b")], T0) == 1
    (round_,) = await store.rounds("weekly", 10)
    assert await store.recipients(round_.id) == []  # nothing sent yet
    assert len(await store.take_due(T0 + timedelta(hours=5), "r1", LEASE, 100)) == 2
