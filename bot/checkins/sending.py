"""Sending a round of messages to people exactly once, however many replicas tick.

A round's messages are claimed in the store first (one row per person and round); each is
then taken under a lease, sent, and recorded sent, failed (retried with backoff) or
missed. A sender that died mid-send leaves a lapsed lease: the next one looks for the
message in the chat before sending it again. What a message says is not known here: a
`Letters` composes and delivers it, so check-ins and attestation share this one path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from bot.errors import DeliveryFailed, StorageError, Unreachable
from bot.ports import CheckinStore, Clock, Delivered, Messenger, Nudge, NudgeMessage, Round

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=2)
#: While a message is on its way (waiting for its pace turn, or for a slow platform), its
#: lease is renewed this often (seconds), so no other replica takes it over meanwhile.
HEARTBEAT = LEASE.total_seconds() / 4
#: Messages in flight at once per replica (the client's pacing sets the rate).
SENDERS = 20
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
NOT_REACHABLE = "not reachable on any chat platform yet"


class Letters(Protocol):
    """What the messages of some rounds say, and where they go."""

    async def current(self, nudge: Nudge) -> bool:
        """Whether what `nudge` asks about still exists (a check-in may have been removed)."""
        ...

    async def message(self, nudge: Nudge, *, reminder: bool = False) -> NudgeMessage | None:
        """What `nudge` (with its `user`) says; None when what it asks about is gone."""
        ...

    def address(self, nudge: Nudge) -> str | None:
        """Where the person of `nudge` can be reached now; None: nowhere yet."""
        ...

    async def deliver(self, nudge: Nudge, *, reminder: bool = False) -> Delivered:
        """Send `nudge` (to `nudge.user`); `Unreachable` or `DeliveryFailed` when it
        could not go."""
        ...


class ByRound:
    """The letters of rounds of several kinds, told apart by their check-in name."""

    def __init__(self, default: Letters, special: Mapping[str, Letters]) -> None:
        self._default = default
        self._special = dict(special)

    def _of(self, nudge: Nudge) -> Letters:
        return self._special.get(nudge.checkin, self._default)

    async def current(self, nudge: Nudge) -> bool:
        return await self._of(nudge).current(nudge)

    async def message(self, nudge: Nudge, *, reminder: bool = False) -> NudgeMessage | None:
        return await self._of(nudge).message(nudge, reminder=reminder)

    def address(self, nudge: Nudge) -> str | None:
        return self._of(nudge).address(nudge)

    async def deliver(self, nudge: Nudge, *, reminder: bool = False) -> Delivered:
        return await self._of(nudge).deliver(nudge, reminder=reminder)


async def deliver(
    letters: Letters, messenger: Messenger, nudge: Nudge, *, reminder: bool
) -> Delivered:
    """Send what `letters` says `nudge` is; `Unreachable` when its subject went away since
    `current()` looked (a knowledge reload)."""
    shown = await letters.message(nudge, reminder=reminder)
    if shown is None:
        raise Unreachable(f"{nudge.checkin}: what this asks about is no longer in the knowledge")
    return await messenger.nudge(shown)


def backoff(attempts: int) -> timedelta:
    factor: int = 2 ** max(attempts - 1, 0)
    return min(FIRST_RETRY * factor, LAST_RETRY)


class Sender:
    """Sends what is due, SENDERS at a time, each message once."""

    def __init__(
        self,
        *,
        store: CheckinStore,
        messenger: Messenger,
        letters: Letters,
        clock: Clock,
        owner: str,
    ) -> None:
        self._store = store
        self._messenger = messenger
        self._letters = letters
        self._clock = clock
        self._owner = owner

    async def send(self, now: datetime) -> tuple[int, int]:
        """Send what this replica can take; (sent, failed).

        Messages are taken a few at a time as senders free up, so one slow or rate-limited
        send holds up nothing but itself, and a message waits in memory only briefly
        under its lease.
        """
        queue: asyncio.Queue[Nudge] = asyncio.Queue(maxsize=SENDERS)
        rounds: dict[int, Round | None] = {}
        counts = {True: 0, False: 0}
        paused: set[str] = set()  # read again before each take: a pause stops a pass

        async def sender() -> None:
            while True:
                nudge = await queue.get()
                try:
                    if nudge.round_id not in rounds:
                        rounds[nudge.round_id] = await self._store.round(nudge.round_id)
                    round_ = rounds[nudge.round_id]
                    stopped = nudge.checkin in paused
                    counts[await self._send_one(nudge, round_, now, paused=stopped)] += 1
                except StorageError as exc:  # its lease runs out; a later pass looks first
                    counts[False] += 1
                    log.warning("nudge_not_recorded", checkin=nudge.checkin, error=str(exc))
                finally:
                    queue.task_done()

        async with asyncio.TaskGroup() as group:
            senders = [group.create_task(sender()) for _ in range(SENDERS)]
            try:
                while True:
                    paused = await self._store.paused()
                    batch = await self._store.take_due(now, self._owner, LEASE, SENDERS)
                    if not batch:
                        break
                    for nudge in batch:
                        await queue.put(nudge)
            except StorageError as exc:  # what was taken is still sent
                log.warning("nudges_not_taken", error=str(exc))
            await queue.join()
            for task in senders:
                task.cancel()
        return counts[True], counts[False]

    async def _send_one(
        self, nudge: Nudge, round_: Round | None, now: datetime, *, paused: bool
    ) -> bool:
        """Send one message; one whose round closed or is paused is recorded missed, and so
        is one whose subject is gone."""
        closed = round_ is None or round_.closed_at is not None
        if closed or paused or not await self._letters.current(nudge):
            await self._store.missed(nudge.id)
            return False
        assert round_ is not None
        if nudge.user is None:
            addressed = await self._readdress(nudge, round_, now)
            if addressed is None:
                return False
            nudge = addressed
        # A batch can outlive its lease while it waits for a free sender: take the lease
        # again now, so a replica that took this message over in the meantime sends it alone.
        if not await self._store.renew(nudge.id, self._owner, self._clock.now() + LEASE):
            return False
        if nudge.lease_expired:
            # Its sender vanished mid-send: the message may have gone out. Look first;
            # if we cannot look, the lease runs out again and a later pass looks.
            assert nudge.user is not None
            try:
                found = await self._messenger.find_nudge(nudge.user, nudge.key)
            except DeliveryFailed as exc:
                log.warning("nudge_not_checked", checkin=nudge.checkin, error=str(exc))
                return False
            if found is not None:
                await self._store.sent(nudge.id, found.channel, found.ts, now)
                return True
        try:
            delivered = await self._holding(nudge, self._letters.deliver(nudge))
        except Unreachable as exc:
            await self._store.failed(nudge.id, str(exc), None, owner=self._owner)
            log.info("nudge_unreachable", checkin=nudge.checkin, error=str(exc))
            return False
        except DeliveryFailed as exc:
            retry = None if nudge.attempts >= MAX_ATTEMPTS else now + backoff(nudge.attempts)
            await self._store.failed(nudge.id, str(exc), retry, owner=self._owner)
            log.warning("nudge_failed", checkin=nudge.checkin, attempts=nudge.attempts)
            return False
        await self._store.sent(nudge.id, delivered.channel, delivered.ts, self._clock.now())
        return True

    async def _holding(self, nudge: Nudge, sending: Awaitable[Delivered]) -> Delivered:
        """`sending`, with the message's lease renewed every HEARTBEAT seconds until it is
        done: a shared pace can keep a message waiting longer than a lease."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT)
                try:
                    await self._store.renew(nudge.id, self._owner, self._clock.now() + LEASE)
                except StorageError as exc:  # tried again next beat
                    log.warning("lease_not_renewed", checkin=nudge.checkin, error=str(exc))

        heart = asyncio.create_task(beat())
        try:
            return await sending
        finally:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart

    async def _readdress(self, nudge: Nudge, round_: Round, now: datetime) -> Nudge | None:
        """A message claimed for someone the bot could not reach then: their address now
        (they may have installed the app since), else tried again later while the round
        is open, else unreachable."""
        user = self._letters.address(nudge)
        if user is not None and await self._store.readdress(nudge.id, user, owner=self._owner):
            return replace(nudge, user=user)
        later = now + backoff(nudge.attempts + 1)
        hopeless = user is not None or later >= round_.closes_at or nudge.attempts >= MAX_ATTEMPTS
        await self._store.failed(
            nudge.id, NOT_REACHABLE, None if hopeless else later, owner=self._owner
        )
        return None
