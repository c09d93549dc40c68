"""One writer for asked questions: queued by the handlers, written in batches.

Answering must not wait on the database, and many small transactions from many tasks
fight over SQLite's single write lock. Questions go on a queue; one task writes them
in batches (one transaction each), retries a failed batch with backoff, and flushes
what is left when the bot stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import structlog

from bot.errors import StorageError
from bot.ports import AskedQuestion, Gap, Vote
from bot.storage.store import SqlStore

log = structlog.get_logger(__name__)

BATCH = 500
RETRIES = 6
FIRST_PAUSE = 0.1
STOP_SECONDS = 30.0


class QuestionWriter:
    """The `QuestionLog` port over a `SqlStore`, with questions written in batches."""

    def __init__(self, store: SqlStore, *, capacity: int = 100_000) -> None:
        self.store = store
        self._queue: asyncio.Queue[AskedQuestion] = asyncio.Queue(maxsize=capacity)
        self.dropped = 0

    async def record_question(self, question: AskedQuestion) -> None:
        """Queue the question; it is written within moments (or at shutdown)."""
        try:
            self._queue.put_nowait(question)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("question_dropped", reason="queue full", dropped=self.dropped)

    async def record_vote(self, vote: Vote) -> None:
        await self.store.record_vote(vote)

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        await self.flush()
        return await self.store.gaps(limit=limit, since=since)

    async def flush(self) -> None:
        """Wait until every question queued so far is written (or given up on)."""
        await self._queue.join()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[QuestionWriter]:
        task = asyncio.get_running_loop().create_task(self._write_forever())
        try:
            yield self
        finally:
            try:
                await asyncio.wait_for(self.flush(), timeout=STOP_SECONDS)
            except TimeoutError:
                log.error("questions_not_flushed", left=self._queue.qsize())
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[AskedQuestion]) -> None:
        for attempt in range(RETRIES):
            try:
                await self.store.record_questions(batch)
                return
            except StorageError as exc:
                log.warning("questions_not_written", attempt=attempt + 1, error=str(exc))
                await asyncio.sleep(FIRST_PAUSE * 2**attempt)
            except ValueError as exc:  # a question the database can never take
                log.error("questions_refused", count=len(batch), error=str(exc))
                return
        log.error("questions_lost", count=len(batch))
