"""The `Pace` port: turns for calls to a platform, kept by this process or by the database.

Slack and Teams limit an app per workspace (per tenant), however many replicas it runs.
On PostgreSQL the replicas share one database, so they share the turns too: each bucket
is a row holding its next free turn, and taking a turn is one statement that moves it on
by 1/rate from whichever is later, that turn or now, and says how long until the turn
taken. Turns come evenly spaced, by the database's clock (the replicas' clocks do not
matter), in the order they were asked for, one round-trip each. A bucket left idle keeps
no credit: no burst of our own, so the platform's burst room is left to absorb what the
network, or a replica's busy event loop, bunches up on the way.

SQLite serves one replica: its turns stay in the process (aiolimiter).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import cast

from aiolimiter import AsyncLimiter
from sqlalchemy import Float, String, Table, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ports import Pace
from bot.storage.engine import transaction
from bot.storage.models import PaceBucket

_BUCKETS = cast(Table, PaceBucket.__table__)
BUCKET_LENGTH = cast(String, _BUCKETS.c.bucket.type).length or 255

# One statement, one row lock: the turn taken is `next_at` before the update (or now,
# if that has passed), and `wait` the seconds from now until it.
_TAKE = text(
    """
    INSERT INTO pace_buckets AS b (bucket, next_at)
    VALUES (:bucket, clock_timestamp() + make_interval(secs => CAST(:gap AS float8)))
    ON CONFLICT (bucket) DO UPDATE
        SET next_at = greatest(b.next_at, clock_timestamp())
            + make_interval(secs => CAST(:gap AS float8))
    RETURNING CAST(extract(epoch FROM b.next_at - clock_timestamp()) AS float8)
        - CAST(:gap AS float8) AS wait
    """
).bindparams(bindparam("bucket", type_=String()), bindparam("gap", type_=Float()))


class SharedPace:
    """Turns shared by every replica on one PostgreSQL database (table `pace_buckets`).

    A database failure while taking a turn raises `StorageError`: the call does not go.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"a shared pace needs PostgreSQL, not {engine.dialect.name}")
        self._engine = engine

    async def take(self, bucket: str, per_second: float) -> None:
        if per_second <= 0:
            return
        key = bucket_key(bucket)
        async with transaction(self._engine, f"taking a turn of {key}") as conn:
            wait = (await conn.execute(_TAKE, {"bucket": key, "gap": 1 / per_second})).scalar_one()
        if wait > 0:
            await asyncio.sleep(wait)


class LocalPace:
    """Turns kept in this process, evenly spaced per bucket (aiolimiter): one replica's."""

    def __init__(self) -> None:
        self._limiters: dict[str, AsyncLimiter] = {}

    async def take(self, bucket: str, per_second: float) -> None:
        if per_second <= 0:
            return
        limiter = self._limiters.get(bucket)
        if limiter is None or limiter.time_period != 1 / per_second:
            # One at a time: our own bursts would use up the platform's burst room.
            limiter = self._limiters[bucket] = AsyncLimiter(1, 1 / per_second)
        await limiter.acquire()


def pace_for(engine: AsyncEngine) -> Pace:
    """The pace for replicas of the database behind `engine`: shared on PostgreSQL, this
    process's own elsewhere (SQLite: one replica)."""
    return SharedPace(engine) if engine.dialect.name == "postgresql" else LocalPace()


def bucket_key(bucket: str) -> str:
    """`bucket` as stored: a name too long for the column is cut and given a digest."""
    if len(bucket) <= BUCKET_LENGTH:
        return bucket
    digest = hashlib.sha256(bucket.encode()).hexdigest()[:16]
    return f"{bucket[: BUCKET_LENGTH - 17]}~{digest}"
