"""`SqlAttestStore`: ownership attestation asks, beside the check-in rounds they ride on."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.ports import AttestAsk, AttestRecord, NewNudge
from bot.storage.checkins import claim_nudges
from bot.storage.engine import transaction
from bot.storage.models import AttestItem, CheckinAnswer, CheckinNudge, CheckinRound
from bot.storage.store import insert_for


class SqlAttestStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(
        self, checkin: str, nudges: list[NewNudge], asks: list[AttestAsk], at: datetime
    ) -> int:
        if not nudges:
            return 0
        async with self._transaction("claiming attestations") as conn:
            claimed = await claim_nudges(conn, nudges, at)
            keys = {a.round_key for a in asks}
            found = await conn.execute(
                select(CheckinRound.id, CheckinRound.round_key).where(
                    CheckinRound.checkin == checkin, CheckinRound.round_key.in_(keys)
                )
            )
            rounds = {row.round_key: row.id for row in found}
            occurrence = {(n.round_key, n.person): n.occurrence for n in nudges}
            rows = [
                {
                    "round_id": rounds[a.round_key],
                    "person": a.person,
                    "question": a.question,
                    "entity": a.entity,
                    "asked_at": occurrence[(a.round_key, a.person)],
                }
                for a in asks
            ]
            if rows:
                await conn.execute(
                    insert_for(conn)(AttestItem).values(rows).on_conflict_do_nothing()
                )
            return claimed

    async def asks(self, round_id: int, person: str) -> list[AttestAsk]:
        query = (
            select(
                AttestItem.person, AttestItem.question, AttestItem.entity, CheckinRound.round_key
            )
            .join(CheckinRound, CheckinRound.id == AttestItem.round_id)
            .where(AttestItem.round_id == round_id, AttestItem.person == person)
            .order_by(AttestItem.id)
        )
        async with self._transaction("reading attestation asks") as conn:
            rows = (await conn.execute(query)).all()
        return [
            AttestAsk(round_key=r.round_key, person=r.person, question=r.question, entity=r.entity)
            for r in rows
        ]

    async def records(self, checkin: str) -> list[AttestRecord]:
        answered = and_(
            CheckinAnswer.round_id == AttestItem.round_id,
            CheckinAnswer.person == AttestItem.person,
            CheckinAnswer.question == AttestItem.question,
        )
        sent = and_(
            CheckinNudge.round_id == AttestItem.round_id,
            CheckinNudge.person == AttestItem.person,
        )
        query = (
            select(
                AttestItem.round_id,
                AttestItem.person,
                AttestItem.question,
                AttestItem.entity,
                AttestItem.asked_at,
                AttestItem.proposed_owner,
                AttestItem.proposed_by,
                CheckinRound.closes_at,
                CheckinRound.closed_at,
                CheckinNudge.state,
                CheckinAnswer.value,
                CheckinAnswer.answered_at,
            )
            .join(CheckinRound, CheckinRound.id == AttestItem.round_id)
            .join(CheckinNudge, sent)
            .outerjoin(CheckinAnswer, answered)
            .where(CheckinRound.checkin == checkin)
            .order_by(AttestItem.asked_at, AttestItem.id)
        )
        async with self._transaction("reading attestations") as conn:
            rows = (await conn.execute(query)).all()
        return [
            AttestRecord(
                round_id=r.round_id,
                person=r.person,
                question=r.question,
                entity=r.entity,
                asked_at=r.asked_at,
                closes_at=r.closed_at or r.closes_at,
                sent=r.state == "sent",
                answer=r.value,
                answered_at=r.answered_at,
                proposed_owner=r.proposed_owner,
                proposed_by=r.proposed_by,
            )
            for r in rows
        ]

    async def propose(
        self, round_id: int, person: str, question: str, owner: str, by: str, at: datetime
    ) -> bool:
        statement = (
            update(AttestItem)
            .where(
                AttestItem.round_id == round_id,
                AttestItem.person == person,
                AttestItem.question == question,
            )
            .values(proposed_owner=owner, proposed_by=by, proposed_at=at)
        )
        async with self._transaction("recording a proposed owner") as conn:
            return (await conn.execute(statement)).rowcount > 0

    def _transaction(self, action: str) -> AbstractAsyncContextManager[AsyncConnection]:
        return transaction(self._engine, action)
