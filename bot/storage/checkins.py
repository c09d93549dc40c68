"""`SqlCheckinStore`: check-in rounds, nudges and answers, each change a compare-and-set.

Several replicas may run the same ticks at once: a nudge is claimed by inserting its
unique key, handed to one sender by an UPDATE that only matches while it is still
free, and a round is closed by the one UPDATE that finds it open. The database
decides; no replica needs to know about the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, exists, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.ports import NewNudge, Nudge, Round, StoredAnswer
from bot.storage.engine import transaction
from bot.storage.models import (
    AuditEntry,
    CheckinAnswer,
    CheckinNudge,
    CheckinRound,
    CheckinSchedule,
    UTCDateTime,
)
from bot.storage.store import insert_for

_CHUNK = 500
_ROUND = cast(Table, CheckinRound.__table__)
_NUDGE = cast(Table, CheckinNudge.__table__)


class SqlCheckinStore:
    """The `CheckinStore` port on the database behind `engine`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- schedules -------------------------------------------------------------------

    async def paused(self) -> set[str]:
        query = select(CheckinSchedule.checkin).where(CheckinSchedule.paused.is_(True))
        async with self._transaction("reading paused check-ins") as conn:
            return set((await conn.execute(query)).scalars())

    async def plan_from(self, checkins: list[str], at: datetime) -> dict[str, datetime]:
        """Where planning each check-in resumes: the end of the window last planned, else
        when it was first seen (`at`, for new ones)."""
        if not checkins:
            return {}
        rows = [
            {"checkin": c, "paused": False, "first_seen": at, "updated_at": at} for c in checkins
        ]
        start = func.coalesce(
            CheckinSchedule.planned_until, CheckinSchedule.first_seen, type_=UTCDateTime()
        )
        query = select(CheckinSchedule.checkin, start.label("start")).where(
            CheckinSchedule.checkin.in_(checkins)
        )
        async with self._transaction("reading check-in schedules") as conn:
            await conn.execute(
                insert_for(conn)(CheckinSchedule).values(rows).on_conflict_do_nothing()
            )
            return {row.checkin: row.start for row in await conn.execute(query)}

    async def planned(self, checkins: list[str], until: datetime) -> None:
        """Every occurrence of `checkins` before `until` is claimed; it never goes back."""
        async with self._transaction("recording what was planned") as conn:
            await conn.execute(
                update(CheckinSchedule)
                .where(
                    CheckinSchedule.checkin.in_(checkins),
                    or_(
                        CheckinSchedule.planned_until.is_(None),
                        CheckinSchedule.planned_until < until,
                    ),
                )
                .values(planned_until=until)
            )

    async def missed(self, nudge_id: int) -> None:
        """A nudge taken for sending after its round closed: recorded, never sent."""
        async with self._transaction("marking a nudge missed") as conn:
            await conn.execute(
                update(CheckinNudge)
                .where(_in_flight(nudge_id))
                .values(state="missed", owner=None, next_attempt_at=None)
            )

    async def set_paused(self, checkin: str, paused: bool, at: datetime) -> None:
        values = {"checkin": checkin, "paused": paused, "first_seen": at, "updated_at": at}
        async with self._transaction("pausing a check-in") as conn:
            upsert = insert_for(conn)(CheckinSchedule).values(values)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[CheckinSchedule.checkin],
                    set_={"paused": paused, "updated_at": at},
                )
            )

    # -- claiming and sending --------------------------------------------------------

    async def claim(self, nudges: list[NewNudge], at: datetime) -> int:
        """Insert the nudges whose keys are new (and their rounds); return how many."""
        if not nudges:
            return 0
        async with self._transaction("claiming nudges") as conn:
            return await claim_nudges(conn, nudges, at)

    async def take_due(
        self, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[Nudge]:
        """Move nudges that may be sent now to "sending", leased to `owner`; return them.

        A nudge still "sending" after its lease ran out lost its sender mid-send: it
        comes back flagged `lease_expired`, so the caller can look before it resends.
        """
        fresh = and_(
            CheckinNudge.state.in_(("claimed", "failed")), CheckinNudge.next_attempt_at <= now
        )
        expired = and_(CheckinNudge.state == "sending", CheckinNudge.next_attempt_at <= now)
        taken: list[Nudge] = []
        async with self._transaction("taking nudges to send") as conn:
            for condition, was_sending in ((expired, True), (fresh, False)):
                ids = select(CheckinNudge.id).where(condition).order_by(CheckinNudge.id)
                statement = (
                    update(CheckinNudge)
                    .where(CheckinNudge.id.in_(ids.limit(limit).scalar_subquery()), condition)
                    .values(
                        state="sending",
                        owner=owner,
                        next_attempt_at=now + lease,
                        attempts=CheckinNudge.attempts + 1,
                    )
                    .returning(CheckinNudge.id)
                )
                got = list((await conn.execute(statement)).scalars())
                taken += await self._nudges(conn, got, lease_expired=was_sending)
        return taken

    async def renew(self, nudge_id: int, owner: str, until: datetime) -> bool:
        """Extend `owner`'s lease right before sending; False if it is no longer theirs."""
        async with self._transaction("renewing a lease") as conn:
            result = await conn.execute(
                update(CheckinNudge)
                .where(_in_flight(nudge_id, owner))
                .values(next_attempt_at=until)
            )
            return result.rowcount == 1

    async def sent(self, nudge_id: int, channel: str, ts: str, at: datetime) -> None:
        # Whoever holds the lease now: the message went out, and that is what counts.
        async with self._transaction("marking a nudge sent") as conn:
            await conn.execute(
                update(CheckinNudge)
                .where(_in_flight(nudge_id))
                .values(
                    state="sent",
                    sent_at=at,
                    channel=channel,
                    message_ts=ts,
                    owner=None,
                    next_attempt_at=None,
                    error=None,
                )
            )

    async def failed(
        self, nudge_id: int, error: str, retry_at: datetime | None, *, owner: str
    ) -> None:
        state = "unreachable" if retry_at is None else "failed"
        async with self._transaction("marking a nudge failed") as conn:
            await conn.execute(
                update(CheckinNudge)
                .where(_in_flight(nudge_id, owner))
                .values(state=state, next_attempt_at=retry_at, owner=None, error=error[:255])
            )

    async def readdress(self, nudge_id: int, user: str, *, owner: str) -> bool:
        async with self._transaction("addressing a nudge") as conn:
            result = await conn.execute(
                update(CheckinNudge)
                .where(_in_flight(nudge_id, owner), CheckinNudge.user_id.is_(None))
                .values(user_id=user)
            )
            return result.rowcount == 1

    # -- reminders -------------------------------------------------------------------

    async def take_reminders(self, now: datetime, limit: int) -> list[Nudge]:
        answered = exists().where(
            CheckinAnswer.round_id == CheckinNudge.round_id,
            CheckinAnswer.person == CheckinNudge.person,
        )
        still_open = exists().where(
            CheckinRound.id == CheckinNudge.round_id, CheckinRound.closed_at.is_(None)
        )
        due = and_(
            CheckinNudge.state == "sent",
            CheckinNudge.remind_at <= now,
            CheckinNudge.reminded_at.is_(None),
            ~answered,
            still_open,
        )
        ids = select(CheckinNudge.id).where(due).order_by(CheckinNudge.id).limit(limit)
        async with self._transaction("taking reminders") as conn:
            got = await conn.execute(
                update(CheckinNudge)
                .where(CheckinNudge.id.in_(ids.scalar_subquery()), due)
                .values(reminded_at=now)
                .returning(CheckinNudge.id)
            )
            return await self._nudges(conn, list(got.scalars()))

    async def snooze(self, round_id: int, person: str, until: datetime) -> bool:
        async with self._transaction("snoozing a nudge") as conn:
            result = await conn.execute(
                update(CheckinNudge)
                .where(
                    CheckinNudge.round_id == round_id,
                    CheckinNudge.person == person,
                    CheckinNudge.state == "sent",
                )
                .values(remind_at=until, reminded_at=None)
            )
            return bool(result.rowcount)

    # -- answers ---------------------------------------------------------------------

    async def round(self, round_id: int) -> Round | None:
        async with self._transaction("reading a round") as conn:
            row = (await conn.execute(select(_ROUND).where(_ROUND.c.id == round_id))).first()
        return None if row is None else _round(row)

    async def nudge_for(self, round_id: int, user: str) -> Nudge | None:
        query = select(CheckinNudge.id).where(
            CheckinNudge.round_id == round_id, CheckinNudge.user_id == user
        )
        async with self._transaction("finding a nudge") as conn:
            ids = list((await conn.execute(query)).scalars())
            found = await self._nudges(conn, ids[:1])
        return found[0] if found else None

    async def open_for(self, user: str) -> list[Nudge]:
        """Nudges sent to `user` whose rounds are still open."""
        query = (
            select(CheckinNudge.id)
            .join(CheckinRound, CheckinRound.id == CheckinNudge.round_id)
            .where(
                CheckinNudge.user_id == user,
                CheckinNudge.state == "sent",
                CheckinRound.closed_at.is_(None),
            )
            .order_by(CheckinNudge.id)
        )
        async with self._transaction("finding open check-ins") as conn:
            return await self._nudges(conn, list((await conn.execute(query)).scalars()))

    async def answer(
        self, round_id: int, person: str, question: str, value: str, at: datetime
    ) -> None:
        values = {
            "round_id": round_id,
            "person": person,
            "question": question,
            "value": value,
            "answered_at": at,
        }
        async with self._transaction("recording an answer") as conn:
            upsert = insert_for(conn)(CheckinAnswer).values(values)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[
                        CheckinAnswer.round_id,
                        CheckinAnswer.person,
                        CheckinAnswer.question,
                    ],
                    set_={"value": value, "answered_at": at},
                    # An answer kept through an outage (or replayed from the spool) never
                    # overwrites one the person gave after it.
                    where=CheckinAnswer.answered_at <= at,
                )
            )

    async def answers(self, round_id: int) -> list[StoredAnswer]:
        query = (
            select(CheckinAnswer)
            .where(CheckinAnswer.round_id == round_id)
            .order_by(CheckinAnswer.person, CheckinAnswer.question)
        )
        async with self._transaction("reading answers") as conn:
            rows = (await conn.execute(query)).all()
        return [
            StoredAnswer(
                person=r.person, question=r.question, value=r.value, answered_at=r.answered_at
            )
            for r in rows
        ]

    async def recipients(self, round_id: int) -> list[str]:
        query = (
            select(CheckinNudge.person)
            .where(CheckinNudge.round_id == round_id, CheckinNudge.state == "sent")
            .order_by(CheckinNudge.person)
        )
        async with self._transaction("reading recipients") as conn:
            return list((await conn.execute(query)).scalars())

    # -- rounds ----------------------------------------------------------------------

    async def take_closing(self, now: datetime) -> list[Round]:
        async with self._transaction("closing rounds") as conn:
            rows = await conn.execute(
                update(_ROUND)
                .where(_ROUND.c.closed_at.is_(None), _ROUND.c.closes_at <= now)
                .values(closed_at=now)
                .returning(*_ROUND.c)
            )
            return sorted((_round(r) for r in rows), key=lambda r: r.id)

    async def rounds(self, checkin: str, limit: int) -> list[Round]:
        query = (
            select(_ROUND)
            .where(_ROUND.c.checkin == checkin)
            .order_by(_ROUND.c.opened_at.desc(), _ROUND.c.id.desc())
            .limit(limit)
        )
        async with self._transaction("reading rounds") as conn:
            return [_round(r) for r in (await conn.execute(query)).all()]

    async def audit(
        self, at: datetime, platform: str, user: str | None, action: str, allowed: bool
    ) -> None:
        values = {
            "at": at,
            "platform": platform,
            "user_id": user,
            "action": action[:255],
            "allowed": allowed,
        }
        async with self._transaction("writing the audit log") as conn:
            await conn.execute(insert(AuditEntry).values(values))

    # -- plumbing --------------------------------------------------------------------

    async def _nudges(
        self, conn: AsyncConnection, ids: list[int], *, lease_expired: bool = False
    ) -> list[Nudge]:
        if not ids:
            return []
        query = (
            select(_NUDGE, _ROUND.c.checkin, _ROUND.c.round_key)
            .join(_ROUND, _ROUND.c.id == _NUDGE.c.round_id)
            .where(_NUDGE.c.id.in_(ids))
            .order_by(_NUDGE.c.id)
        )
        return [_nudge(r, lease_expired) for r in (await conn.execute(query)).all()]

    def _transaction(self, action: str) -> AbstractAsyncContextManager[AsyncConnection]:
        return transaction(self._engine, action)


async def claim_nudges(conn: AsyncConnection, nudges: Sequence[NewNudge], at: datetime) -> int:
    """Insert the nudges whose keys are new (and their rounds), within the transaction of
    `conn`; return how many."""
    inserted = 0
    rounds = await _open_rounds(conn, nudges, at)
    for start in range(0, len(nudges), _CHUNK):
        rows = [
            {
                "key": n.key,
                "round_id": rounds[(n.checkin, n.round_key)],
                "person": n.person,
                "user_id": n.user,
                "occurrence": n.occurrence,
                "state": "missed" if n.missed else "claimed",
                "attempts": 0,
                "next_attempt_at": None if n.missed else n.occurrence,
                "remind_at": n.remind_at,
            }
            for n in nudges[start : start + _CHUNK]
        ]
        statement = insert_for(conn)(CheckinNudge).values(rows).on_conflict_do_nothing()
        result = await conn.execute(statement)
        inserted += max(result.rowcount, 0)
    return inserted


async def _open_rounds(
    conn: AsyncConnection, nudges: Sequence[NewNudge], at: datetime
) -> dict[tuple[str, str], int]:
    latest: dict[tuple[str, str], datetime] = {}
    for n in nudges:
        key = (n.checkin, n.round_key)
        latest[key] = max(latest.get(key, n.closes_at), n.closes_at)
    for (checkin, round_key), closes_at in latest.items():
        upsert = insert_for(conn)(CheckinRound).values(
            checkin=checkin, round_key=round_key, opened_at=at, closes_at=closes_at
        )
        # Someone in a later time zone keeps the round open longer, until it closes.
        later = case(
            (upsert.excluded.closes_at > _ROUND.c.closes_at, upsert.excluded.closes_at),
            else_=_ROUND.c.closes_at,
        )
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[CheckinRound.checkin, CheckinRound.round_key],
                set_={"closes_at": later},
                where=_ROUND.c.closed_at.is_(None),
            )
        )
    wanted = or_(*(and_(CheckinRound.checkin == c, CheckinRound.round_key == r) for c, r in latest))
    found = await conn.execute(
        select(CheckinRound.id, CheckinRound.checkin, CheckinRound.round_key).where(wanted)
    )
    return {(row.checkin, row.round_key): row.id for row in found}


def _round(row: Row[Any]) -> Round:
    return Round(
        id=row.id,
        checkin=row.checkin,
        round_key=row.round_key,
        opened_at=row.opened_at,
        closes_at=row.closes_at,
        closed_at=row.closed_at,
    )


def _nudge(row: Row[Any], lease_expired: bool) -> Nudge:
    return Nudge(
        id=row.id,
        key=row.key,
        round_id=row.round_id,
        checkin=row.checkin,
        round_key=row.round_key,
        person=row.person,
        user=row.user_id,
        occurrence=row.occurrence,
        state=row.state,
        attempts=row.attempts,
        channel=row.channel,
        message_ts=row.message_ts,
        lease_expired=lease_expired,
    )


def _in_flight(nudge_id: int, owner: str | None = None) -> ColumnElement[bool]:
    """The nudge while it is being sent (by `owner`, when given)."""
    condition = and_(CheckinNudge.id == nudge_id, CheckinNudge.state == "sending")
    return condition if owner is None else and_(condition, CheckinNudge.owner == owner)
