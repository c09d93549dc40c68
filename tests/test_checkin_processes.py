"""Check-ins run by real replica processes on PostgreSQL, against the fake Slack.

Each replica is `tests/checkin_worker.py` in a process of its own, ticking with a clock
stopped at a given moment; the fake Slack runs here and counts the DMs each person got.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.checkins.sending import LEASE
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from tests.slack_fake import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "checkin_worker.py"
PEOPLE = 50
#: Zones from Sydney to Los Angeles; None: the knowledge has none, Slack's users.info says.
ZONES = (
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Europe/Berlin",
    "Asia/Kolkata",
    None,
)
PLATFORM_ZONE = "America/Sao_Paulo"
SATURDAY = datetime(2026, 11, 28, 12, tzinfo=UTC)  # first seen: nothing due yet
#: Monday 10:00 has come everywhere: Sydney (Sun 23:00 UTC) to Los Angeles (Mon 18:00 UTC).
MONDAY_EVENING = datetime(2026, 11, 30, 19, tzinfo=UTC)
WORKER_SECONDS = 20
START_SECONDS = 4.0  # enough for a worker process to import and connect


def user(i: int) -> str:
    return f"U{i:08d}"


def write_knowledge(root: Path, people: int = PEOPLE, *, areas: bool = False) -> list[str]:
    """A team of `people` in many zones and one weekly check-in (and with `areas`, an area
    each person owns, never confirmed); returns their Slack IDs."""
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "opsbot/v1",
            "kind": "Team",
            "metadata": {"name": "everyone", "title": "Everyone"},
            "spec": {"members": [f"person-{i}" for i in range(people)]},
        },
        {
            "apiVersion": "opsbot/v1",
            "kind": "CheckIn",
            "metadata": {"name": "weekly", "title": "Weekly practices"},
            "spec": {
                "schedule": "0 10 * * MON",
                "timezone": "recipient",
                "audience": ["team:everyone"],
                "questions": [
                    {"id": "drift", "text": "Drift reviewed?", "type": "choice",
                     "options": ["Yes", "No"]},
                    {"id": "confidence", "text": "Confidence?", "type": "scale"},
                ],
                "close_after": "2d",
            },
        },
    ]  # fmt: skip
    for i in range(people):
        spec: dict[str, Any] = {"slack": user(i)}
        if (zone := ZONES[i % len(ZONES)]) is not None:
            spec["timezone"] = zone
        docs.append(
            {
                "apiVersion": "opsbot/v1",
                "kind": "Person",
                "metadata": {"name": f"person-{i}", "title": f"Person {i}"},
                "spec": spec,
            }
        )
        if areas:
            docs.append(
                {
                    "apiVersion": "opsbot/v1",
                    "kind": "Area",
                    "metadata": {"name": f"area-{i}", "title": f"Area {i}"},
                    "spec": {"owner": f"person:person-{i}"},
                }
            )
    root.mkdir(parents=True, exist_ok=True)
    (root / "org.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return [user(i) for i in range(people)]


async def start_worker(
    database: str,
    knowledge: Path,
    slack: FakeSlack,
    now: datetime,
    owner: str,
    ticks: int = 1,
    start_at: float | None = None,
    posts_per_second: float = 0.0,
    *more: str,
) -> asyncio.subprocess.Process:
    together = () if start_at is None else ("--start-at", str(start_at))
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        *("--database", database, "--knowledge", str(knowledge)),
        *("--slack-api", slack.api_url, "--now", now.isoformat()),
        *("--ticks", str(ticks), "--owner", owner, *together),
        *("--posts-per-second", str(posts_per_second)),
        *more,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finished(proc: asyncio.subprocess.Process) -> list[dict[str, Any]]:
    """The tick results a worker printed; fails unless it exited 0 in time."""
    try:
        async with asyncio.timeout(WORKER_SECONDS):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"worker {proc.pid} still running after {WORKER_SECONDS}s") from None
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


async def run_worker(
    database: str, knowledge: Path, slack: FakeSlack, now: datetime, owner: str, ticks: int = 1
) -> list[dict[str, Any]]:
    return await finished(await start_worker(database, knowledge, slack, now, owner, ticks))


async def nudge_states(database: str) -> dict[str, str]:
    """Slack user -> the state of their nudge, as the database has it."""
    async with open_engine(database) as engine, engine.connect() as conn:
        rows = await conn.execute(text("SELECT user_id, state FROM checkin_nudges"))
        return {row.user_id: row.state for row in rows}


def posts_per_user(slack: FakeSlack) -> Counter[str]:
    return Counter(str(c.params["channel"]) for c in slack.calls_to("chat.postMessage"))


@pytest.fixture
async def database(postgres_url: str) -> str:
    """The fresh PostgreSQL database, migrated before any worker starts."""
    async with open_engine(postgres_url) as engine:
        await upgrade(engine)
    return postgres_url


class SlowSlack(FakeSlack):
    """Takes each chat.postMessage at once, then waits `delay` before answering.

    A sender killed in that pause leaves a message Slack has but the bot never heard of.
    """

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        if request.match_info["method"] == "chat.postMessage":
            await asyncio.sleep(self.delay)
        return response


def with_platform_zones(slack: FakeSlack, users: list[str]) -> None:
    """Slack profiles for the people whose zone the knowledge leaves out."""
    for i, uid in enumerate(users):
        if ZONES[i % len(ZONES)] is None:
            slack.add_user(uid, tz=PLATFORM_ZONE)


async def test_replica_processes_send_each_recipient_one_nudge(
    database: str, tmp_path: Path
) -> None:
    """Several processes run the same schedules at once; each recipient gets exactly one nudge."""
    knowledge = tmp_path / "knowledge"
    users = write_knowledge(knowledge)
    async with FakeSlack() as slack:
        with_platform_zones(slack, users)
        first = await run_worker(database, knowledge, slack, SATURDAY, "first")
        assert first == [{"owner": "first", "claimed": 0, "sent": 0, "failed": 0,
                          "reminded": 0, "closed": 0}]  # fmt: skip
        start_at = time.time() + START_SECONDS  # all four tick together, once started up
        workers = [
            await start_worker(
                database, knowledge, slack, MONDAY_EVENING, f"replica-{n}", 2, start_at
            )
            for n in range(4)
        ]
        results = [r for rs in await asyncio.gather(*map(finished, workers)) for r in rs]

        assert posts_per_user(slack) == Counter(dict.fromkeys(users, 1))
        assert sum(r["claimed"] for r in results) == PEOPLE  # each key inserted once
        assert sum(r["sent"] for r in results) == PEOPLE
        assert sum(r["failed"] for r in results) == 0
        assert set((await nudge_states(database)).values()) == {"sent"}


async def test_replica_processes_ask_each_owner_once(database: str, tmp_path: Path) -> None:
    """Ownership checks ride the same rounds: four processes ticking together on Monday
    evening ask each owner once (one message about their area) beside their check-in."""
    knowledge = tmp_path / "knowledge"
    users = write_knowledge(knowledge, areas=True)
    async with FakeSlack() as slack:
        with_platform_zones(slack, users)
        await finished(
            await start_worker(
                database, knowledge, slack, SATURDAY, "first", 1, None, 0.0, "--attest"
            )
        )
        start_at = time.time() + START_SECONDS
        workers = [
            await start_worker(
                database,
                knowledge,
                slack,
                MONDAY_EVENING,
                f"replica-{n}",
                2,
                start_at,
                0.0,
                "--attest",
            )
            for n in range(4)
        ]
        results = [r for rs in await asyncio.gather(*map(finished, workers)) for r in rs]

        assert posts_per_user(slack) == Counter(dict.fromkeys(users, 2))  # check-in + check
        checks = [m for u in users for m in slack.messages(u) if "Ownership check" in json.dumps(m)]
        assert len(checks) == PEOPLE
        assert sum(r["attest_claimed"] for r in results) == PEOPLE
    engine = create_async_engine(database)
    try:
        async with engine.connect() as conn:
            asks = (await conn.execute(text("SELECT count(*) FROM attest_items"))).scalar()
    finally:
        await engine.dispose()
    assert asks == PEOPLE


async def test_a_killed_process_and_its_restart_send_no_duplicate(
    database: str, tmp_path: Path
) -> None:
    """A process killed mid-round and restarted sends no duplicate and misses nobody."""
    knowledge = tmp_path / "knowledge"
    users = write_knowledge(knowledge)
    async with SlowSlack(delay=0.25) as slack:
        with_platform_zones(slack, users)
        await run_worker(database, knowledge, slack, SATURDAY, "first")
        doomed = await start_worker(database, knowledge, slack, MONDAY_EVENING, "doomed")
        try:
            # Twenty senders at a time: once the second wave is posting, the first is stored
            # as sent, the second is at Slack but unanswered, and the rest were never posted.
            await slack.wait_for("chat.postMessage", 21, timeout=WORKER_SECONDS)
        finally:
            doomed.kill()  # SIGKILL: no cleanup, no goodbye to the database
            await doomed.wait()

        states = await nudge_states(database)
        at_slack = {uid for uid in users if slack.messages(uid)}
        sending = {uid for uid, state in states.items() if state == "sending"}
        assert 0 < len(at_slack) < PEOPLE
        assert sending & at_slack, "no nudge was left at Slack but unrecorded"
        assert sending - at_slack, "no nudge was left taken but never posted"
        assert {uid for uid, state in states.items() if state == "sent"} <= at_slack

        later = MONDAY_EVENING + LEASE + timedelta(minutes=1)
        (restarted,) = await run_worker(database, knowledge, slack, later, "restarted")

        assert posts_per_user(slack) == Counter(dict.fromkeys(users, 1))
        assert all(len(slack.messages(uid)) == 1 for uid in users)
        looked = {
            str(c.params["channel"])
            for c in slack.calls_to("conversations.history")
            if c.params.get("include_all_metadata") in ("1", "true", True)
        }
        assert len(looked) == len(sending)  # every abandoned nudge was looked up first
        assert restarted["sent"] == len(sending)  # found at Slack, or posted now
        assert set((await nudge_states(database)).values()) == {"sent"}


async def test_replica_processes_retry_failed_nudges_once(database: str, tmp_path: Path) -> None:
    """Processes that retry the same failed nudges at once send each exactly once."""
    knowledge = tmp_path / "knowledge"
    users = write_knowledge(knowledge)
    async with FakeSlack() as slack:
        with_platform_zones(slack, users)
        await run_worker(database, knowledge, slack, SATURDAY, "first")
        slack.fail("chat.postMessage", error="fatal_error", times=PEOPLE)
        (failing,) = await run_worker(database, knowledge, slack, MONDAY_EVENING, "failing")
        assert (failing["claimed"], failing["failed"]) == (PEOPLE, PEOPLE)
        assert set((await nudge_states(database)).values()) == {"failed"}
        # Nothing new falls due (no lock on the round to queue on): the four go straight
        # to taking the same failed nudges, at the same moment.

        start_at = time.time() + START_SECONDS
        later = MONDAY_EVENING + timedelta(minutes=5)  # past the first retry's backoff
        workers = [
            await start_worker(database, knowledge, slack, later, f"replica-{n}", 2, start_at)
            for n in range(4)
        ]
        results = [r for rs in await asyncio.gather(*map(finished, workers)) for r in rs]

        delivered = Counter(
            str(c.params["channel"]) for c in slack.calls_to("chat.postMessage") if not c.error
        )
        assert delivered == Counter(dict.fromkeys(users, 1))
        assert sum(r["sent"] for r in results) == PEOPLE
        assert set((await nudge_states(database)).values()) == {"sent"}


async def test_replica_processes_keep_one_pace_for_the_workspace(
    database: str, tmp_path: Path
) -> None:
    """Three processes sending one round, each paced at the workspace's rate, keep it
    together: no 429 from the fake's limit, each recipient nudged exactly once."""
    people, rate, burst = 80, 40.0, 4
    knowledge = tmp_path / "knowledge"
    users = write_knowledge(knowledge, people)
    async with FakeSlack() as slack:
        with_platform_zones(slack, users)
        await run_worker(database, knowledge, slack, SATURDAY, "first")
        # The workspace's limit on chat.postMessage: a little over the rate the bot is told.
        slack.rate_limit("chat.postMessage", rate * 1.1, burst, key=None, precise=True)
        start_at = time.time() + START_SECONDS
        workers = [
            await start_worker(
                database, knowledge, slack, MONDAY_EVENING, f"replica-{n}", 1, start_at, rate
            )
            for n in range(3)
        ]
        results = [r for rs in await asyncio.gather(*map(finished, workers)) for r in rs]

        posts = slack.calls_to("chat.postMessage")
        assert [c.status for c in posts] == [200] * people  # not one 429
        assert posts_per_user(slack) == Counter(dict.fromkeys(users, 1))
        assert sum(r["sent"] for r in results) == people
        assert sum(1 for r in results if r["sent"]) >= 2  # the replicas shared the round
        assert set((await nudge_states(database)).values()) == {"sent"}
        span = max(c.at for c in posts) - min(c.at for c in posts)
        assert span >= (people - burst) / (rate * 1.1)  # all the replicas together, one pace
