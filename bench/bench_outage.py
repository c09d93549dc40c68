"""Questions asked through a PostgreSQL outage: how many rows are there afterwards?

    python bench/bench_outage.py [--rate 50] [--seconds 45] [--outage-at 15]
        [--outage 10] [--capacity 10000]

The issue's scenario: questions at --rate a second for --seconds, PostgreSQL out of
reach for --outage seconds from --outage-at on. Each question goes through the bot's
handlers (answered from ./knowledge, then recorded through the writer, as every
platform does) to a fresh database on the server of OPSBOT_BENCH_POSTGRES_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres), reached through a TCP proxy on
127.0.0.1 that the bench cuts (live connections broken, new ones refused) and restores.
--capacity is the writer's queue in memory; past it records go to the spool (a small
value shows the spool at work).

Printed: questions asked, rows stored, duplicates and lost ones (goal: 0 and 0), the
largest backlog, records spooled, and how long the backlog took to drain once the
database was back. Exits 1 when a question is lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import structlog
from sqlalchemy import distinct, func, make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answers import AnswerEngine
from bot.events import Message, Origin
from bot.handlers import Handlers
from bot.kb import require_knowledge
from bot.metrics import Metrics
from bot.ports import SystemClock
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Question
from bot.storage.store import SqlStore
from bot.storage.writer import QuestionWriter
from tests.tcp_proxy import TcpProxy

POSTGRES_ENV = "OPSBOT_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "who owns model monitoring?",
    "runbook for the feature store",
    "what is data drift",
    "who do I ping about the inference gateway?",
    "how do I rotate the vault token",
)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="questions a second")
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--outage-at", type=float, default=15.0)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--capacity", type=int, default=10_000)
    return parser.parse_args()


async def fresh_database(server_url: str) -> str:
    server = make_url(server_url)
    name = f"opsbot_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    database = make_url(url)
    admin = create_async_engine(
        database.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def run(args: argparse.Namespace, url: str, spool: Path) -> int:
    async with open_engine(url) as direct:
        await upgrade(direct)
    server = make_url(url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await proxy.start()
    proxied = server.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    answers = AnswerEngine(require_knowledge(ROOT / "knowledge", today=date.today()))
    metrics = Metrics()
    origin = Origin(platform="slack", user="U0BENCH", workspace="T0BENCH", channel="C0BENCH")
    asked, peak, restored_at = 0, 0.0, 0.0
    try:
        async with open_engine(proxied) as engine:
            writer = QuestionWriter(
                SqlStore(engine), spool_dir=spool, telemetry=metrics, capacity=args.capacity
            )
            drained_at = 0.0

            async def watch() -> None:
                """When the backlog is first back to (next to) nothing after the outage."""
                nonlocal peak, drained_at
                while True:
                    peak = max(peak, writer.backlog)
                    if restored_at and not drained_at and writer.backlog <= 1:
                        drained_at = time.monotonic()
                    await asyncio.sleep(0.005)

            async with writer.running():
                watcher = asyncio.create_task(watch())
                handlers = Handlers(answers=lambda: answers, questions=writer, clock=SystemClock())
                started = time.monotonic()
                cut = False
                while (elapsed := time.monotonic() - started) < args.seconds:
                    if not cut and args.outage_at <= elapsed < args.outage_at + args.outage:
                        await proxy.cut()
                        cut = True
                    elif cut and elapsed >= args.outage_at + args.outage and not restored_at:
                        await proxy.restore()
                        restored_at = time.monotonic()
                    text_ = QUESTIONS[asked % len(QUESTIONS)]
                    await handlers.handle(Message(origin=origin, text=text_))
                    asked += 1
                    await asyncio.sleep(max(0.0, started + asked / args.rate - time.monotonic()))
                if cut and not restored_at:
                    await proxy.restore()
                    restored_at = time.monotonic()
                await writer.flush()
                watcher.cancel()
                drained = (drained_at or time.monotonic()) - restored_at
    finally:
        await proxy.stop()
    async with open_engine(url) as direct, direct.connect() as conn:
        rows, uids = (
            await conn.execute(select(func.count(), func.count(distinct(Question.uid))))
        ).one()
    spooled = metrics.registry.get_sample_value("opsbot_records_spooled_total") or 0
    print(
        f"{asked} questions at {args.rate:g}/s for {args.seconds:g} s; PostgreSQL away for"
        f" {args.outage:g} s from {args.outage_at:g} s; queue capacity {args.capacity}"
    )
    print(f"rows stored: {rows} ({uids} distinct): lost {asked - uids}, duplicated {rows - uids}")
    print(
        f"largest backlog {peak:.0f}, spooled {spooled:.0f};"
        f" drained {drained:.2f} s after the database came back"
    )
    return 0 if rows == uids == asked else 1


def main() -> int:
    args = arguments()
    logging.basicConfig(level=logging.ERROR)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    url = asyncio.run(fresh_database(os.environ.get(POSTGRES_ENV, DEFAULT_SERVER)))
    try:
        with tempfile.TemporaryDirectory(prefix="opsbot-spool-") as spool:
            return asyncio.run(run(args, url, Path(spool)))
    finally:
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    sys.exit(main())
