"""The writer as an outbox: questions, votes and check-in answers survive a database outage.

Unit tests put the writer in front of a store that fails like a lost database until
told otherwise (or for a while); the PostgreSQL test takes a real server away mid-stream
through a TCP proxy (tests/tcp_proxy.py) and gives it back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import distinct, func, make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.answers import AnswerEngine
from bot.checkins.clicks import ANSWER_KEPT, LATER_NOT_SAVED
from bot.checkins.service import CheckinService
from bot.errors import StorageError, StorageRefused
from bot.events import Feedback, Message, Origin
from bot.handlers import THANKS, UNKNOWN_ANSWER, VOTE_KEPT, Handlers
from bot.kb import require_knowledge
from bot.metrics import Metrics
from bot.ports import AskedQuestion, Gap, Nudge, Round, Vote, VoteOutcome
from bot.storage.checkins import SqlCheckinStore
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Question
from bot.storage.spool import decode
from bot.storage.store import SqlStore
from bot.storage.writer import CAPACITY, Destination, QuestionWriter
from tests.fakes import T0, FakeClock, MemoryQuestionLog, RecordingMessenger, asked
from tests.tcp_proxy import TcpProxy

DATA = Path(__file__).parent / "data"
CHECKINS = require_knowledge(DATA / "checkins", today=date(2026, 11, 29))
ALICE, CAROL = "U0ALICE01", "U0CAROL01"
SUNDAY = datetime(2026, 11, 29, 12, tzinfo=UTC)
MONDAY_10_LONDON = datetime(2026, 11, 30, 10, tzinfo=UTC)
ORIGIN = Origin(platform="slack", user="U1", workspace="T1", channel="C1")


class Outage:
    """The writer's destination in front of a real one, failing like a lost database while
    down (for `fail_for` seconds, or until `restore`); `refuse` holds question uids the
    database refuses as invalid."""

    def __init__(self, store: SqlStore | MemoryQuestionLog) -> None:
        self.store = store
        self.back_at = 0.0
        self.refuse: set[str] = set()
        self.failures = 0

    def fail_for(self, seconds: float) -> None:
        self.back_at = time.monotonic() + seconds

    def restore(self) -> None:
        self.back_at = 0.0

    def _reach(self) -> None:
        if time.monotonic() < self.back_at:
            self.failures += 1
            raise StorageError("recording questions failed: ConnectionRefusedError")

    async def record_questions(self, questions: list[AskedQuestion]) -> None:
        self._reach()
        if any(q.uid in self.refuse for q in questions):
            raise StorageRefused("CharacterNotInRepertoireError: invalid byte sequence")
        await self.store.record_questions(questions)

    async def record_vote(self, vote: Vote) -> VoteOutcome:
        self._reach()
        return await self.store.record_vote(vote)

    async def has_question(self, uid: str) -> bool:
        self._reach()
        return await self.store.has_question(uid)

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        self._reach()
        return await self.store.gaps(limit=limit, since=since)


class DownCheckinStore(SqlCheckinStore):
    """The check-in store, whose reads and writes of a click fail while `down`."""

    down = False

    def _reach(self) -> None:
        if self.down:
            raise StorageError("reading a round failed: ConnectionRefusedError")

    async def round(self, round_id: int) -> Round | None:
        self._reach()
        return await super().round(round_id)

    async def nudge_for(self, round_id: int, user: str) -> Nudge | None:
        self._reach()
        return await super().nudge_for(round_id, user)

    async def snooze(self, round_id: int, person: str, until: datetime) -> bool:
        self._reach()
        return await super().snooze(round_id, person, until)

    async def answer(
        self, round_id: int, person: str, question: str, value: str, at: datetime
    ) -> None:
        self._reach()
        await super().answer(round_id, person, question, value, at)


def fast_writer(
    store: Destination,
    *,
    spool_dir: Path | None = None,
    telemetry: Metrics | None = None,
    capacity: int = CAPACITY,
) -> QuestionWriter:
    """A writer whose backoff suits tests: it tries every few milliseconds, never waits
    20 ms, and gives a working database half a second at stop."""
    return QuestionWriter(
        store,
        spool_dir=spool_dir,
        telemetry=telemetry,
        capacity=capacity,
        first_pause=0.002,
        max_pause=0.02,
        stop_seconds=0.5,
    )


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def segments(spool: Path) -> list[Path]:
    found = spool.glob("outbox.*.jsonl")
    return sorted(found, key=lambda p: int(p.name.split(".")[1]))


async def test_an_outage_loses_nothing_and_keeps_the_order(tmp_path: Path) -> None:
    """Records taken while the database is away are all written once it is back, in order;
    the backlog gauge goes up, then back to 0."""
    memory = MemoryQuestionLog()
    database = Outage(memory)
    metrics = Metrics()
    questions = [asked(f"q{i}") for i in range(40)]
    vote = Vote(question_uid=questions[3].uid, user="U1", helpful=False, voted_at=T0)
    writer = fast_writer(database, spool_dir=tmp_path / "spool", telemetry=metrics)
    database.fail_for(0.25)
    async with writer.running():
        for question in questions[:20]:
            await writer.record_question(question)
        assert await writer.record_vote(vote) == "counted"  # its question is still queued
        assert sample(metrics, "opsbot_write_backlog") == 21
        for question in questions[20:]:
            await writer.record_question(question)
            await asyncio.sleep(0.005)
        await writer.flush()
        assert sample(metrics, "opsbot_write_backlog") == 0
    assert database.failures > 6  # the old writer gave up after six tries
    assert [q.uid for q in memory.questions] == [q.uid for q in questions]
    assert list(memory.votes.values()) == [vote]
    assert sample(metrics, "opsbot_records_spooled_total") == 0


async def test_a_full_queue_spills_to_disk_and_a_restart_writes_it_once(
    store: SqlStore, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Past capacity records go to the spool, a stop mid-outage spools the rest ahead of
    them, and the next start writes each once, even when a crash makes it replay."""
    database = Outage(store)
    spool = tmp_path / "spool"
    metrics = Metrics()
    questions = [asked(f"k{i}", answered=True) for i in range(10)]
    vote = Vote(question_uid=questions[9].uid, user="U1", helpful=False, voted_at=T0)
    database.fail_for(3600)
    writer = fast_writer(database, spool_dir=spool, telemetry=metrics, capacity=4)
    async with writer.running():
        for question in questions:
            await writer.record_question(question)
        assert await writer.record_vote(vote) == "pending"  # cannot be checked now
        assert sample(metrics, "opsbot_records_spooled_total") == 7
        assert sample(metrics, "opsbot_write_backlog") == 11
    assert sample(metrics, "opsbot_records_spooled_total") == 11
    lines = [line for path in segments(spool) for line in path.read_text().splitlines()]
    spooled = [decode(line) for line in lines]
    assert spooled == [*questions, vote]
    kept = {path.name: path.read_bytes() for path in segments(spool)}

    database.restore()
    async with fast_writer(database, spool_dir=spool).running() as writer:
        await writer.flush()
        assert writer.backlog == 0
    assert segments(spool) == []
    for name, content in kept.items():  # as if the bot died before removing them
        (spool / name).write_bytes(content)
    async with fast_writer(database, spool_dir=spool).running() as writer:
        await writer.flush()
    assert segments(spool) == []
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count(), func.count(distinct(Question.uid))))).one()
    assert tuple(rows) == (10, 10)
    assert [(g.key, g.count) for g in await store.gaps()] == [("k9", 1)]


async def test_a_refused_record_is_dropped_and_counted_the_rest_written(tmp_path: Path) -> None:
    """A question the database refuses as invalid is dropped, not the batch around it; a
    vote kept while its answer could not be checked is refused if the answer is unknown."""
    memory = MemoryQuestionLog()
    database = Outage(memory)
    metrics = Metrics()
    bad = asked("bad")
    database.refuse.add(bad.uid)
    ghost = Vote(question_uid=uuid.uuid4().hex, user="U1", helpful=False, voted_at=T0)
    database.fail_for(3600)
    writer = fast_writer(database, spool_dir=tmp_path / "spool", telemetry=metrics)
    async with writer.running():
        for question in (asked("a"), bad, asked("b")):
            await writer.record_question(question)
        assert await writer.record_vote(ghost) == "pending"
        database.restore()
        await writer.flush()
    assert [q.key for q in memory.questions] == ["a", "b"]
    assert memory.votes == {}
    assert sample(metrics, "opsbot_records_refused_total", kind="question") == 1
    assert sample(metrics, "opsbot_records_refused_total", kind="vote") == 1
    assert "opsbot_write_backlog 0.0" in metrics.render().decode()


async def test_postgresql_refuses_a_question_and_takes_the_rest(postgres_url: str) -> None:
    """A question PostgreSQL cannot store (a NUL in its text) is refused alone; the rest of
    its batch is written."""
    async with open_engine(postgres_url) as engine:
        await upgrade(engine)
        store = SqlStore(engine)
        async with fast_writer(store).running() as writer:
            for question in (asked("a"), asked("nul", text="who\x00owns"), asked("b")):
                await writer.record_question(question)
            await writer.flush()
            assert writer.refused == 1
        assert sorted(g.key for g in await store.gaps()) == ["a", "b"]


async def test_votes_on_unknown_answers_are_refused_and_on_queued_ones_counted(
    tmp_path: Path,
) -> None:
    """A vote on an answer still queued counts; one on a uid nobody knows is refused, and
    one that cannot be checked (database away) is kept, then refused if still unknown."""
    memory = MemoryQuestionLog()
    database = Outage(memory)
    answers = AnswerEngine(require_knowledge(DATA / "mini", today=date(2026, 11, 29)))
    writer = fast_writer(database, spool_dir=tmp_path / "spool")
    async with writer.running():
        handlers = Handlers(answers=lambda: answers, questions=writer, clock=FakeClock())
        database.fail_for(3600)
        reply = await handlers.handle(Message(origin=ORIGIN, text="who owns model monitoring"))
        assert reply.question_uid is not None
        queued = Feedback(origin=ORIGIN, question_uid=reply.question_uid, helpful=False)
        assert (await handlers.handle(queued)).text == THANKS
        ghost = Feedback(origin=ORIGIN, question_uid=uuid.uuid4().hex, helpful=False)
        assert (await handlers.handle(ghost)).text == VOTE_KEPT
        database.restore()
        await writer.flush()
        refused = await handlers.handle(ghost)
        assert (refused.kind, refused.text) == ("error", UNKNOWN_ANSWER)
        await writer.flush()
    assert [(uid, user) for uid, user in memory.votes] == [(reply.question_uid, "U1")]
    assert writer.refused == 1


async def test_a_click_while_the_database_is_away_is_kept_then_saved_or_refused(
    tmp_path: Path,
) -> None:
    """A check-in answer clicked during an outage is "not saved yet", then saved once the
    database is back; one whose round closed meanwhile is refused, never recorded."""
    async with open_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}") as engine:
        await upgrade(engine)
        store = DownCheckinStore(engine)
        messenger = RecordingMessenger(zones={CAROL: "Europe/Lisbon"})
        clock = FakeClock(SUNDAY)
        database = Outage(MemoryQuestionLog())
        async with fast_writer(database, spool_dir=tmp_path / "spool").running() as w:
            svc = CheckinService(
                knowledge=lambda: CHECKINS,
                store=store,
                messenger=messenger,
                clock=clock,
                owner="replica-1",
                save_pause=0.0,
                outbox=w,
            )
            w.settle_answers_with(svc.settle)
            await svc.tick()
            clock.current = MONDAY_10_LONDON
            await svc.tick()
            round_id = messenger.sent_to(ALICE)[0].round_id
            store.down = True
            assert await svc.answer(ALICE, round_id, "drift", "partly") == ANSWER_KEPT
            assert await svc.later(ALICE, round_id) == LATER_NOT_SAVED
            await asyncio.sleep(0.02)  # the writer tries, and tries again
            assert w.backlog == 1
            store.down = False
            await w.flush()
            assert [(a.person, a.value) for a in await store.answers(round_id)] == [
                ("person:alice", "Partly")
            ]
            # An answer given earlier than the one stored (a replay) does not replace it.
            earlier = MONDAY_10_LONDON - timedelta(minutes=1)
            await store.answer(round_id, "person:alice", "drift", "No", earlier)
            assert [a.value for a in await store.answers(round_id)] == ["Partly"]

            store.down = True
            assert await svc.skip(CAROL, round_id) == ANSWER_KEPT
            clock.current = MONDAY_10_LONDON + timedelta(days=3)
            await svc.tick()  # the round closes and reports before the database is back
            store.down = False
            await w.flush()
            assert w.refused == 1
        assert [a.person for a in await store.answers(round_id)] == ["person:alice"]


async def test_a_second_process_on_the_same_spool_runs_without_it(tmp_path: Path) -> None:
    """One process holds a spool directory; another one there keeps records in memory only
    and says so when even that is full."""
    database = Outage(MemoryQuestionLog())
    database.fail_for(3600)
    spool = tmp_path / "spool"
    async with fast_writer(database, spool_dir=spool, capacity=1).running() as first:
        await first.record_question(asked("a"))
        await first.record_question(asked("b"))  # spooled
        second = fast_writer(database, spool_dir=spool, capacity=1)
        async with second.running():
            await second.record_question(asked("c"))
            with pytest.raises(StorageError, match="no spool"):
                await second.record_question(asked("d"))
        assert len(segments(spool)) == 1  # the second never touched the first's spool
    kept = [decode(line) for path in segments(spool) for line in path.read_text().splitlines()]
    assert [q.key for q in kept if isinstance(q, AskedQuestion)] == ["a", "b"]  # "c" was lost


async def test_a_postgresql_outage_mid_stream_loses_no_question(
    postgres_url: str, tmp_path: Path
) -> None:
    """With PostgreSQL cut off mid-stream, every question asked is stored exactly once when
    it is back, a vote and a check-in click made meanwhile are kept and then saved."""
    async with open_engine(postgres_url) as direct:
        await upgrade(direct)
    server = make_url(postgres_url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await proxy.start()
    proxied = server.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    metrics = Metrics()
    questions = [asked(f"k{i % 7}", answered=True) for i in range(300)]
    try:
        async with open_engine(proxied) as engine:
            store, checkins = SqlStore(engine), SqlCheckinStore(engine)
            clock = FakeClock(SUNDAY)
            messenger = RecordingMessenger(zones={CAROL: "Europe/Lisbon"})
            writer = fast_writer(
                store, spool_dir=tmp_path / "spool", telemetry=metrics, capacity=50
            )
            async with writer.running():
                svc = CheckinService(
                    knowledge=lambda: CHECKINS,
                    store=checkins,
                    messenger=messenger,
                    clock=clock,
                    owner="replica-1",
                    save_pause=0.0,
                    outbox=writer,
                )
                writer.settle_answers_with(svc.settle)
                await svc.tick()
                clock.current = MONDAY_10_LONDON
                await svc.tick()
                round_id = messenger.sent_to(ALICE)[0].round_id
                for i, question in enumerate(questions):
                    if i == 100:
                        await proxy.cut()
                        click = await svc.answer(ALICE, round_id, "drift", "no")
                        vote = Vote(
                            question_uid=questions[50].uid, user="U1", helpful=False, voted_at=T0
                        )
                        voted = await writer.record_vote(vote)
                    if i == 200:
                        assert sample(metrics, "opsbot_write_backlog") > 50
                        await proxy.restore()
                    await writer.record_question(question)
                    await asyncio.sleep(0.001)
                await writer.flush()
        assert click == ANSWER_KEPT
        assert voted in ("counted", "pending")  # its question may not be written yet
        assert sample(metrics, "opsbot_records_spooled_total") > 0
        assert sample(metrics, "opsbot_write_backlog") == 0
        async with open_engine(postgres_url) as direct:
            async with direct.connect() as conn:
                counted = select(func.count(), func.count(distinct(Question.uid)))
                assert tuple((await conn.execute(counted)).one()) == (300, 300)
            answers = await SqlCheckinStore(direct).answers(round_id)
            assert [(a.person, a.question, a.value) for a in answers] == [
                ("person:alice", "drift", "No")
            ]
            assert [(g.key, g.count) for g in await SqlStore(direct).gaps()] == [("k1", 1)]
    finally:
        await proxy.stop()


class CountingStore(MemoryQuestionLog):
    """The in-memory log, counting the batches of questions it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    async def record_questions(self, questions: list[AskedQuestion]) -> None:
        self.batches.append(len(questions))
        await super().record_questions(questions)


async def written_in_batches(linger: float) -> list[int]:
    """The batch sizes in which 40 questions, queued 1 ms apart, reach the database."""
    store = CountingStore()
    writer = QuestionWriter(store, linger=linger)
    async with writer.running():
        for i in range(40):
            await writer.record_question(asked(f"k{i}"))
            await asyncio.sleep(0.001)
        await writer.flush()
    assert sum(store.batches) == 40
    return store.batches


async def test_questions_arriving_one_by_one_are_written_together() -> None:
    """A trickle of questions waits a moment for company: a few transactions, not forty."""
    assert len(await written_in_batches(0.2)) <= 2
    assert len(await written_in_batches(0.0)) > 2  # without the linger, the trickle is many


async def test_a_flush_does_not_wait_for_the_linger() -> None:
    """`flush` writes at once, however long a batch would otherwise linger."""
    store = CountingStore()
    writer = QuestionWriter(store, linger=30.0)
    async with writer.running():
        await writer.record_question(asked("now"))
        await asyncio.wait_for(writer.flush(), 2.0)
    assert store.batches == [1]
