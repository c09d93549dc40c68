"""One writer for what the bot records on the side: questions, votes, check-in answers.

Answering must not wait on the database, and many small transactions from many tasks
fight over SQLite's single write lock. Records go on one queue, in order; one task
writes them (questions in batches, one transaction each), so a vote is written after
the question it is about.

Nothing is dropped while the database is away: a write that fails with `StorageError`
is tried again, forever, with a backoff capped at `max_pause`. Only a record the
database refuses as invalid (`StorageRefused`, a vote on an unknown answer, a check-in
answer its round no longer takes) is dropped, logged once and counted. The queue in
memory is bounded; past `capacity`, and for whatever is left when the bot stops,
records go to the spool (JSON lines on local disk, `bot.storage.spool`), which is
written first on the next start. Writes are idempotent (a question uid is stored once,
a vote and an answer replace themselves), so a spool replayed after a crash duplicates
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Protocol

import structlog

from bot.errors import StorageError, StorageRefused
from bot.ports import AskedQuestion, Gap, PendingAnswer, Telemetry, Vote, VoteOutcome
from bot.storage.spool import Record, Spool, kind_of

log = structlog.get_logger(__name__)

BATCH = 500
CAPACITY = 10_000
FIRST_PAUSE = 0.1
MAX_PAUSE = 5.0
#: How long a stopping bot waits for a working database to take what is queued.
STOP_SECONDS = 5.0
#: How long a small batch of questions waits for company: one transaction of fifty rows
#: costs about what two of one row cost (SQLite and PostgreSQL alike).
LINGER = 0.1


class Destination(Protocol):
    """What the writer writes to: `SqlStore` (or a fake of it)."""

    async def record_questions(self, questions: list[AskedQuestion]) -> None: ...

    async def record_vote(self, vote: Vote) -> VoteOutcome: ...

    async def has_question(self, uid: str) -> bool: ...

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]: ...


#: Applies a check-in answer kept through an outage: True if saved, False if its round
#: refuses it now (logged by the callee); `StorageError` if the database is still away.
Settle = Callable[[PendingAnswer], Awaitable[bool]]


class QuestionWriter:
    """The `QuestionLog` and `AnswerOutbox` ports over a `SqlStore`: one ordered outbox."""

    def __init__(
        self,
        store: Destination,
        *,
        spool_dir: Path | None = None,
        telemetry: Telemetry | None = None,
        capacity: int = CAPACITY,
        batch: int = BATCH,
        first_pause: float = FIRST_PAUSE,
        max_pause: float = MAX_PAUSE,
        stop_seconds: float = STOP_SECONDS,
        linger: float = LINGER,
    ) -> None:
        self.store = store
        self._linger = linger
        self._hurry = asyncio.Event()  # set while someone waits in `flush`: no linger
        self._telemetry = telemetry
        self._capacity = capacity
        self._batch = batch
        self._first_pause = first_pause
        self._max_pause = max_pause
        self._stop_seconds = stop_seconds
        self._spool = None if spool_dir is None else Spool(spool_dir, segment_records=capacity)
        self._memory: deque[Record] = deque()
        self._uids: Counter[str] = Counter()  # questions in `_memory`, by uid
        self._loaded: int | None = None  # the segment `_memory` was read from, if any
        self._loaded_size = 0  # its lines on disk
        self._settle: Settle | None = None
        self._settler = asyncio.Event()
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._accepted = 0
        self._done = 0
        self._failing = False  # the database is away
        self._waiting = False  # a check-in answer waits for `settle_answers_with`
        self.refused = 0

    # -- the ports -------------------------------------------------------------------

    async def record_question(self, question: AskedQuestion) -> None:
        """Queue the question; it is written within moments (or once the database is back)."""
        _require_aware(question.asked_at, "asked_at")
        self._accept(question)

    async def record_vote(self, vote: Vote) -> VoteOutcome:
        """Queue a vote on a known answer, behind its question if that is still queued.

        With the database away (or questions still spooled), the vote is kept "pending":
        written if its question exists by then, else refused.
        """
        _require_aware(vote.voted_at, "voted_at")
        uid = vote.question_uid
        if not self._uids[uid]:
            try:
                known = await self.store.has_question(uid)
            except StorageError:
                self._accept(vote)
                return "pending"
            if not known and not self._uids[uid]:
                if self._spooled_unread() == 0:
                    return "unknown"
                self._accept(vote)
                return "pending"
        self._accept(vote)
        return "counted"

    async def keep_answer(self, answer: PendingAnswer) -> None:
        """Keep a check-in answer to apply once the database is back (`AnswerOutbox`)."""
        _require_aware(answer.clicked_at, "clicked_at")
        self._accept(answer)

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        await self.flush()
        return await self.store.gaps(limit=limit, since=since)

    # -- running ---------------------------------------------------------------------

    def settle_answers_with(self, settle: Settle) -> None:
        """How kept check-in answers are applied; until this is set, they wait."""
        self._settle = settle
        self._settler.set()

    @property
    def backlog(self) -> int:
        """Records not written yet: queued in memory and spooled."""
        return len(self._memory) + self._spooled_unread()

    async def flush(self) -> None:
        """Wait until every record accepted so far is written (or refused)."""
        target = self._accepted
        self._hurry.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._done >= target)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[QuestionWriter]:
        """Write in the background: spooled records first; on exit, spool what is left."""
        self._open_spool()
        task = asyncio.get_running_loop().create_task(self._write_forever())
        try:
            yield self
        finally:
            await self._stop(task)

    def _open_spool(self) -> None:
        if self._spool is None:
            return
        try:
            opened = self._spool.open()
        except OSError as exc:
            raise StorageError(
                f"cannot use the spool directory {self._spool.directory} (OPSBOT_SPOOL_DIR):"
                f" {exc.strerror or exc}"
            ) from exc
        if not opened:
            log.warning(
                "spool_in_use",
                directory=str(self._spool.directory),
                meaning="another opsbot process holds it: records wait in memory only",
            )
            self._spool = None
            return
        found = self._spool.records
        self._accepted += found
        if found:
            log.info("spool_found", records=found, directory=str(self._spool.directory))
        self._report_backlog()

    async def _stop(self, task: asyncio.Task[None]) -> None:
        target = self._accepted
        async with self._progress:
            with suppress(TimeoutError):
                await asyncio.wait_for(
                    self._progress.wait_for(
                        lambda: self._done >= target or self._failing or self._waiting
                    ),
                    timeout=self._stop_seconds,
                )
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self._keep_the_rest()
        if self._spool is not None:
            self._spool.close()

    def _keep_the_rest(self) -> None:
        """Records not written yet go to the spool, before everything spooled already."""
        if self._loaded is not None or not self._memory:
            return  # what `_memory` holds is still in its segment
        left = list(self._memory)
        if self._spool is None:
            log.error("records_lost", count=len(left), reason="no spool directory")
            return
        try:
            self._spool.prepend(left)
        except OSError as exc:
            log.error("records_lost", count=len(left), reason=str(exc))
            return
        self._memory.clear()
        log.warning("records_spooled_at_stop", count=len(left))
        if self._telemetry is not None:
            self._telemetry.spooled(len(left))

    # -- queueing --------------------------------------------------------------------

    def _accept(self, record: Record) -> None:
        """Queue `record` after every other one: in memory, or past capacity on disk."""
        if self._spool or len(self._memory) >= self._capacity:
            self._to_spool(record)
        else:
            self._memory.append(record)
            if isinstance(record, AskedQuestion):
                self._uids[record.uid] += 1
        self._accepted += 1
        self._wake.set()
        self._report_backlog()

    def _to_spool(self, record: Record) -> None:
        if self._spool is None:
            raise StorageError(
                f"cannot keep a {kind_of(record)}: {len(self._memory)} records wait for the"
                " database and there is no spool"
            )
        try:
            self._spool.append(record)
        except OSError as exc:
            raise StorageError(f"cannot spool a {kind_of(record)}: {exc}") from exc
        if self._telemetry is not None:
            self._telemetry.spooled(1)

    def _spooled_unread(self) -> int:
        if self._spool is None:
            return 0
        return self._spool.records - (0 if self._loaded is None else self._loaded_size)

    def _report_backlog(self) -> None:
        if self._telemetry is not None:
            self._telemetry.backlog(self.backlog)

    # -- writing ---------------------------------------------------------------------

    async def _write_forever(self) -> None:
        while True:
            try:
                batch = await self._next_batch()
            except OSError as exc:  # the spool cannot be read now: try again later
                log.error("spool_unreadable", error=str(exc))
                await asyncio.sleep(self._max_pause)
                continue
            if not batch:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._linger and self._may_grow(batch):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), self._linger)
                batch = await self._next_batch()
            await self._write(batch)
            if self._done + len(batch) >= self._accepted:
                self._hurry.clear()  # everything asked for is written with this batch
            await self._finish(len(batch))

    def _may_grow(self, batch: list[Record]) -> bool:
        """A short run of questions, and nobody waiting in `flush`: worth a linger."""
        small = len(batch) < self._batch and isinstance(batch[0], AskedQuestion)
        return small and not self._hurry.is_set()

    async def _next_batch(self) -> list[Record]:
        """The records to write next, from the front: a run of questions, or one other."""
        while not self._memory:
            self._forget_loaded()
            if not self._spool:
                return []
            assert self._spool is not None
            segment = self._spool.oldest()
            assert segment is not None
            self._loaded = segment.number
            self._loaded_size = len(segment.records) + segment.unreadable
            self._memory.extend(segment.records)
            self._uids.update(r.uid for r in segment.records if isinstance(r, AskedQuestion))
            if segment.unreadable:
                self._count_refused("unreadable", segment.unreadable)
                await self._done_with(segment.unreadable)
        first = self._memory[0]
        if not isinstance(first, AskedQuestion):
            return [first]
        batch: list[Record] = []
        for record in self._memory:
            if not isinstance(record, AskedQuestion) or len(batch) == self._batch:
                break
            batch.append(record)
        return batch

    async def _finish(self, count: int) -> None:
        for _ in range(count):
            record = self._memory.popleft()
            if isinstance(record, AskedQuestion):
                self._uids[record.uid] -= 1
                if not self._uids[record.uid]:
                    del self._uids[record.uid]
        if not self._memory:
            self._forget_loaded()
        await self._done_with(count)

    def _forget_loaded(self) -> None:
        """The segment in memory is all written: remove it from disk."""
        if self._loaded is not None:
            assert self._spool is not None
            self._spool.remove(self._loaded)
            self._loaded = None

    async def _done_with(self, count: int) -> None:
        self._done += count
        self._report_backlog()
        async with self._progress:
            self._progress.notify_all()

    async def _write(self, batch: list[Record]) -> None:
        """Write `batch`, retrying while the database is away; drop what it refuses."""
        attempt = 0
        while True:
            try:
                await self._write_once(batch)
            except StorageRefused as exc:
                if len(batch) > 1:  # find the culprit: the others are fine
                    for record in batch:
                        await self._write([record])
                else:
                    self._refuse(batch[0], str(exc))
                break
            except StorageError as exc:
                await self._failed(attempt, exc)
                attempt += 1
                continue
            except ValueError as exc:  # a record no database can take
                self._refuse(batch[0], str(exc))
                break
            except Exception as exc:  # a bug must not stop every later write: log it, go on
                log.exception("record_write_failed", error=repr(exc))
                for record in batch:
                    self._refuse(record, repr(exc))
                break
            break
        if self._failing:
            log.info("database_writes_resumed", after_attempts=attempt)
            self._failing = False

    async def _write_once(self, batch: list[Record]) -> None:
        first = batch[0]
        if isinstance(first, AskedQuestion):
            await self.store.record_questions([r for r in batch if isinstance(r, AskedQuestion)])
        elif isinstance(first, Vote):
            if await self.store.record_vote(first) == "unknown":
                self._refuse(first, "no question has this uid")
        else:
            if self._settle is None:
                log.info("answers_wait_for_checkins")
                self._waiting = True
                async with self._progress:
                    self._progress.notify_all()
                await self._settler.wait()
                self._waiting = False
            assert self._settle is not None
            if not await self._settle(first):
                self._refuse(first, "its round does not take it")

    async def _failed(self, attempt: int, exc: StorageError) -> None:
        if not self._failing:
            self._failing = True
            log.warning("database_writes_held", error=str(exc), backlog=self.backlog)
            async with self._progress:
                self._progress.notify_all()
        else:
            log.debug("database_writes_still_held", attempt=attempt + 1, error=str(exc))
        await asyncio.sleep(min(self._first_pause * 2**attempt, self._max_pause))

    def _refuse(self, record: Record, reason: str) -> None:
        kind = kind_of(record)
        log.error("record_refused", kind=kind, id=_identify(record), reason=reason)
        self._count_refused(kind, 1)

    def _count_refused(self, kind: str, count: int) -> None:
        self.refused += count
        if self._telemetry is not None:
            for _ in range(count):
                self._telemetry.refused(kind)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _identify(record: Record) -> str:
    """What names a record in logs (never its text)."""
    if isinstance(record, AskedQuestion):
        return record.uid
    if isinstance(record, Vote):
        return record.question_uid
    return f"round {record.round_id} question {record.question}"
