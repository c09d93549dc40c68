"""One opsbot replica running check-in ticks, as a process of its own (for the process tests).

    python tests/checkin_worker.py --database URL --knowledge DIR --slack-api URL \
        --now ISO --ticks N [--owner NAME] [--migrate] [--start-at EPOCH] \
        [--posts-per-second R] [--attest]

Builds the real pieces (SqlCheckinStore on the database, SlackMessenger on the retrying
Web API client) with a clock stopped at --now, runs `tick()` N times, prints one JSON
line per tick (what it claimed, sent, failed...) and exits 0. The database must be
migrated already unless --migrate is given (safe on PostgreSQL: an advisory lock).
--start-at (a `time.time()` value) holds the first tick until then, after start-up and
a first database connection, so that replicas started together really tick together.
--posts-per-second paces the nudges as `opsbot serve` does (OPSBOT_SLACK_POSTS_PER_SECOND:
the workspace's rate, shared by the replicas on PostgreSQL); 0, the default: unpaced.
--attest runs ownership attestation ticks too (weekday 10:00 in each owner's zone).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.attestation.freshness import ATTEST
from bot.attestation.service import AttestationService
from bot.checkins.service import CheckinService
from bot.kb import require_knowledge
from bot.metrics import Metrics
from bot.slack.client import post_pacing, web_client
from bot.slack.messenger import SlackMessenger
from bot.storage.attestations import SqlAttestStore
from bot.storage.checkins import SqlCheckinStore
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.storage.pace import pace_for


class StoppedClock:
    """A clock that always says `at`."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--knowledge", required=True, type=Path)
    parser.add_argument("--slack-api", required=True)
    parser.add_argument("--now", required=True, type=datetime.fromisoformat)
    parser.add_argument("--ticks", type=int, default=1)
    parser.add_argument("--owner", default=f"worker-{os.getpid()}")
    parser.add_argument("--migrate", action="store_true")
    parser.add_argument("--start-at", type=float, default=None)
    parser.add_argument("--posts-per-second", type=float, default=0.0)
    parser.add_argument("--attest", action="store_true", help="ownership checks too")
    args = parser.parse_args(argv)
    if args.now.tzinfo is None:
        args.now = args.now.replace(tzinfo=UTC)
    return args


async def run(args: argparse.Namespace) -> None:
    clock = StoppedClock(args.now)
    knowledge = require_knowledge(args.knowledge, today=args.now.date())
    async with open_engine(args.database) as engine:
        if args.migrate:
            await upgrade(engine)
        pacing = post_pacing(args.posts_per_second, pace=pace_for(engine))
        client = web_client("xoxb-test", args.slack_api, pacing=pacing, bulk=True)
        store = SqlCheckinStore(engine)
        messenger = SlackMessenger(client, Metrics())
        attestation = AttestationService(
            knowledge=lambda: knowledge,
            store=SqlAttestStore(engine),
            checkins=store,
            messenger=messenger,
            clock=clock,
            after=timedelta(days=90),
            schedule="0 10 * * 1-5",
            send=lambda now: service.send(now),
            maintainers=lambda: (),
        )
        service = CheckinService(
            knowledge=lambda: knowledge,
            store=store,
            messenger=messenger,
            clock=clock,
            owner=args.owner,
            others={ATTEST: attestation.letters},
        )
        if args.start_at is not None:
            async with engine.connect():  # the pool's first connection, made before the start
                pass
            await asyncio.sleep(max(0.0, args.start_at - time.time()))
        for _ in range(args.ticks):
            attested = await attestation.tick() if args.attest else 0
            result = await service.tick()
            shown = {"owner": args.owner, **dataclasses.asdict(result)}
            print(json.dumps(shown | ({"attest_claimed": attested} if args.attest else {})))


def main(argv: list[str] | None = None) -> int:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),  # stdout carries the results
    )
    asyncio.run(run(arguments(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
