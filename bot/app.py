"""The composition root: the one place that builds concrete classes and wires them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date

import structlog

from bot.answers import DEFAULT_THRESHOLD, AnswerEngine
from bot.config import Settings
from bot.errors import BotError
from bot.handlers import Handlers
from bot.kb import Knowledge, require_knowledge
from bot.ports import Clock, SystemClock
from bot.storage.engine import open_engine, safe_url
from bot.storage.migrate import upgrade
from bot.storage.store import SqlStore

log = structlog.get_logger(__name__)


def answer_engine(knowledge: Knowledge, settings: Settings) -> AnswerEngine:
    threshold = settings.answer_threshold
    return AnswerEngine(knowledge, threshold=DEFAULT_THRESHOLD if threshold is None else threshold)


def load_engine(settings: Settings, clock: Clock) -> AnswerEngine:
    today = clock.now().date()
    return answer_engine(require_knowledge(settings.knowledge_dir, today=today), settings)


@dataclass
class Bot:
    """Everything a running bot holds; `answers` is swapped whole on a knowledge reload."""

    settings: Settings
    answers: AnswerEngine
    store: SqlStore
    clock: Clock
    handlers: Handlers = field(init=False)

    def __post_init__(self) -> None:
        self.handlers = Handlers(
            answers=lambda: self.answers, questions=self.store, clock=self.clock
        )

    def reload(self) -> None:
        """Load the knowledge again; on any error keep answering from the old one."""
        self.answers = load_engine(self.settings, self.clock)

    async def readiness(self) -> str | None:
        """None when the database answers and knowledge is loaded, else why not."""
        if len(self.answers.knowledge) == 0:
            return "no knowledge loaded"
        try:
            await self.store.ping()
        except BotError as exc:
            return str(exc)
        return None


@asynccontextmanager
async def open_bot(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Bot]:
    """Load knowledge, migrate the database, and hand out a ready `Bot`."""
    clock = clock or SystemClock()
    answers = load_engine(settings, clock)
    async with open_engine(settings.database_url) as engine:
        await upgrade(engine)
        log.info(
            "bot_ready",
            entities=len(answers.knowledge),
            knowledge=str(settings.knowledge_dir),
            database=safe_url(engine.url),
        )
        yield Bot(settings=settings, answers=answers, store=SqlStore(engine), clock=clock)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Callable[[], Awaitable[str | None]]]:
    """What `opsbot serve` runs on: an open bot, seen by the web layer as its readiness probe."""
    async with open_bot(settings) as bot:
        yield bot.readiness


def today(clock: Clock | None = None) -> date:
    return (clock or SystemClock()).now().date()
