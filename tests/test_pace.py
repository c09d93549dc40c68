"""The `Pace` port: this process's turns (`LocalPace`) and the turns replicas share on
PostgreSQL (`SharedPace`): alone, as two replicas, behind the Slack and Teams clients, and
in two running bots delivering one round under the fake Slack's limit."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import serving
from bot.config import load_settings
from bot.errors import StorageError
from bot.kb import load_knowledge
from bot.model import CheckInSpec, Ref
from bot.ports import ChatAddress, NudgeMessage, Pace
from bot.slack.client import post_pacing, web_client
from bot.storage.checkins import SqlCheckinStore
from bot.storage.engine import create_engine, open_engine
from bot.storage.migrate import upgrade
from bot.storage.pace import LocalPace, SharedPace, pace_for
from bot.teams.cards import TeamsRenderer
from bot.teams.connector import Connector
from bot.teams.messenger import TeamsMessenger
from tests.conftest import fresh_postgres_database
from tests.fake_connector import CREATE, SEND, FakeConnector
from tests.fakes import T0, FakeClock, MemoryAddressBook
from tests.slack_fake import FakeSlack
from tests.tcp_proxy import TcpProxy

RATE = 40.0
#: Turns finished within this many seconds of each other count as bunched by the loop.
JITTER = 0.03
TEAMS_KNOWLEDGE = Path(__file__).parent / "data" / "teams"


# -- helpers ------------------------------------------------------------------------------


async def finish_times(takes: list[Callable[[], Awaitable[None]]]) -> list[float]:
    """Run `takes` at once; when each finished, in seconds from the first, sorted."""
    done: list[float] = []

    async def one(take: Callable[[], Awaitable[None]]) -> None:
        await take()
        done.append(time.monotonic())

    await asyncio.gather(*(one(t) for t in takes))
    done.sort()
    return [t - done[0] for t in done]


def most_within(times: list[float], window: float) -> int:
    """The most finish times inside any `window` seconds."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def takes(
    pace: Pace, bucket: str, n: int, rate: float = RATE
) -> list[Callable[[], Awaitable[None]]]:
    return [lambda: pace.take(bucket, rate) for _ in range(n)]


async def warm(*paces: Pace) -> None:
    """Open the database connections a shared pace needs, before anything is timed."""
    for pace in paces:
        await asyncio.gather(*(pace.take(f"warm-up-{i}", RATE) for i in range(8)))


@pytest.fixture
async def migrated(postgres_url: str) -> str:
    async with open_engine(postgres_url) as engine:
        await upgrade(engine)
    return postgres_url


@pytest.fixture
async def replicas(migrated: str) -> AsyncIterator[list[AsyncEngine]]:
    """Two engines on one PostgreSQL database, as two replicas have."""
    async with open_engine(migrated) as one, open_engine(migrated) as two:
        yield [one, two]


@pytest.fixture(params=("local", "shared"))
async def pace(request: pytest.FixtureRequest) -> AsyncIterator[Pace]:
    """Each implementation of the port: in the process, and shared on PostgreSQL."""
    if request.param == "local":
        yield LocalPace()
        return
    server = request.getfixturevalue("postgres_server")
    async with fresh_postgres_database(server) as url, open_engine(url) as engine:
        await upgrade(engine)
        shared = SharedPace(engine)
        await warm(shared)
        yield shared


async def buckets(url: str) -> dict[str, datetime]:
    async with open_engine(url) as engine, engine.connect() as conn:
        rows = await conn.execute(text("SELECT bucket, next_at FROM pace_buckets"))
        return {row.bucket: row.next_at for row in rows if not row.bucket.startswith("warm-up")}


# -- the port -----------------------------------------------------------------------------


async def test_turns_in_a_bucket_come_evenly_at_its_rate(pace: Pace) -> None:
    """21 turns taken at once at 40 a second span half a second, never bunched."""
    times = await finish_times(takes(pace, "slack:T1:chat.postMessage", 21))
    assert 0.5 * 0.95 <= times[-1] < 1.0
    assert most_within(times, 0.25) <= 0.25 * RATE + 1 + JITTER * RATE


async def test_buckets_keep_turns_of_their_own(pace: Pace) -> None:
    """Two workspaces' buckets each keep the rate: together twice as many turns a second."""
    times = await finish_times(takes(pace, "slack:T1:x", 10) + takes(pace, "slack:T2:x", 10))
    assert times[-1] < 0.35  # 9 gaps of 25 ms each, side by side; one bucket would take 0.475
    assert most_within(times, 0.1) >= 6


async def test_a_rate_of_zero_never_waits(pace: Pace) -> None:
    """Rate 0 means unpaced: 100 turns at once go without waiting."""
    started = time.monotonic()
    await asyncio.gather(*(pace.take("unpaced", 0) for _ in range(100)))
    assert time.monotonic() - started < 0.1


async def test_an_idle_bucket_keeps_no_credit(pace: Pace) -> None:
    """After a pause the turns are as evenly spaced as ever: no burst saved up."""
    await pace.take("idle", RATE)
    await asyncio.sleep(0.3)
    times = await finish_times(takes(pace, "idle", 6))
    assert times[-1] >= 5 / RATE * 0.9


async def test_two_replicas_on_postgresql_share_the_turns(replicas: list[AsyncEngine]) -> None:
    """Two shared paces on separate engines (two replicas) together keep one rate."""
    one, two = SharedPace(replicas[0]), SharedPace(replicas[1])
    await warm(one, two)
    times = await finish_times(takes(one, "slack:T1:m", 20) + takes(two, "slack:T1:m", 20))
    assert times[-1] >= 39 / RATE * 0.95
    assert most_within(times, 0.25) <= 0.25 * RATE + 1 + JITTER * RATE


async def test_two_in_process_paces_keep_a_rate_each() -> None:
    """In-process paces do not share (so SQLite runs one replica): two go twice as fast."""
    times = await finish_times(takes(LocalPace(), "m", 20) + takes(LocalPace(), "m", 20))
    assert times[-1] < 0.6  # 19 gaps of 25 ms, side by side; shared would take 0.975
    assert most_within(times, 0.25) >= 2 * 0.25 * RATE - 2


async def test_the_database_decides_which_pace(replicas: list[AsyncEngine], tmp_path: Path) -> None:
    """PostgreSQL gets the shared pace; SQLite this process's own, and no shared one."""
    assert isinstance(pace_for(replicas[0]), SharedPace)
    async with open_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.sqlite'}") as sqlite:
        assert isinstance(pace_for(sqlite), LocalPace)
        with pytest.raises(ValueError, match="needs PostgreSQL"):
            SharedPace(sqlite)


async def test_a_shared_pace_without_its_database_says_so_and_nothing_is_posted() -> None:
    """An unreachable database: StorageError (no password in it), and the post does not go."""
    engine = create_engine("postgresql+asyncpg://opsbot:s3cret-pw@127.0.0.1:1/opsbot")
    try:
        with pytest.raises(StorageError, match="taking a turn") as caught:
            await SharedPace(engine).take("slack:T1:chat.postMessage", RATE)
        assert "s3cret-pw" not in str(caught.value)
        async with FakeSlack() as slack:
            pacing = post_pacing(RATE, per_channel=0, pace=SharedPace(engine))
            client = web_client("xoxb-one", slack.api_url, pacing=pacing, bulk=True)
            with pytest.raises(StorageError):
                await client.chat_postMessage(channel="U1", text="hi")
            assert slack.calls_to("chat.postMessage") == []
    finally:
        await engine.dispose()


# -- behind the platforms' clients --------------------------------------------------------


async def test_slack_clients_of_two_replicas_stay_under_the_workspace_limit(
    replicas: list[AsyncEngine], migrated: str
) -> None:
    """Nudge clients of two replicas, each at the workspace's rate: no 429, each DM once."""
    users = [f"U{i:04d}" for i in range(30)]
    async with FakeSlack() as slack:
        slack.rate_limit("chat.postMessage", RATE * 1.1, burst=3, key=None, precise=True)
        clients = [
            web_client(
                "xoxb-one",
                slack.api_url,
                pacing=post_pacing(RATE, per_channel=0, pace=SharedPace(engine)),
                bulk=True,
            )
            for engine in replicas
        ]
        await asyncio.gather(
            *(clients[i % 2].chat_postMessage(channel=u, text="hi") for i, u in enumerate(users))
        )
        posts = slack.calls_to("chat.postMessage")
        assert Counter(c.status for c in posts) == {200: len(users)}
        assert all(len(slack.messages(u)) == 1 for u in users)
        (bucket,) = await buckets(migrated)
        assert bucket.startswith("slack:") and bucket.endswith(":chat.postMessage")
        workspace = bucket.split(":")[1]  # a digest of the token, never the token
        assert len(workspace) == 16 and int(workspace, 16) >= 0


async def test_each_slack_workspace_keeps_a_pace_of_its_own(migrated: str) -> None:
    """Two workspaces (bot tokens) on one replica: each at the rate, side by side."""
    async with FakeSlack() as slack, open_engine(migrated) as engine:
        pacing = post_pacing(RATE, per_channel=0, pace=SharedPace(engine))
        one, two = (
            web_client(token, slack.api_url, pacing=pacing, bulk=True)
            for token in ("xoxb-one", "xoxb-two")
        )
        await one.chat_postMessage(channel="U0", text="warm-up")
        started = time.monotonic()
        await asyncio.gather(
            *(one.chat_postMessage(channel=f"UA{i}", text="hi") for i in range(10)),
            *(two.chat_postMessage(channel=f"UB{i}", text="hi") for i in range(10)),
        )
        assert time.monotonic() - started < 0.4  # one bucket: 20 turns, 0.5 s at least
        assert len(await buckets(migrated)) == 2


async def test_teams_messengers_of_two_replicas_keep_the_bots_pace(
    replicas: list[AsyncEngine], migrated: str
) -> None:
    """Two replicas' nudges (each opening a chat, then posting) keep one pace: no 429."""
    knowledge = load_knowledge(TEAMS_KNOWLEDGE, today=date(2026, 11, 30)).knowledge
    checkin = knowledge.get(Ref(kind="checkin", name="weekly"))
    assert checkin is not None and isinstance(checkin.spec, CheckInSpec)
    people = 12
    async with FakeConnector() as bf, aiohttp.ClientSession() as session:
        bf.rate_limit(RATE * 1.1, burst=3, precise=True)
        book = MemoryAddressBook()
        for i in range(people):
            await book.remember(
                ChatAddress(platform="teams", key=f"aad-{i}", kind="person",
                            service_url=bf.service_url, tenant_id="tenant-1",
                            user_id=f"29:user-{i}", bot_id="28:bot", updated_at=T0)
            )  # fmt: skip
        renderer = TeamsRenderer(knowledge, lambda ref: None)
        messengers = [
            TeamsMessenger(
                connector=Connector(session, Tokens(), deadline=5),
                addresses=book,
                cards=lambda: renderer,
                bot_id="28:bot",
                clock=FakeClock(T0),
                posts_per_second=RATE,
                pace=SharedPace(engine),
            )
            for engine in replicas
        ]
        for messenger in messengers:
            await messenger.refresh()

        def nudge(i: int) -> NudgeMessage:
            return NudgeMessage(key=f"weekly|{i}|1", round_id=7, user=f"teams:aad-{i}",
                                title=checkin.title, questions=checkin.spec.questions)  # fmt: skip

        await asyncio.gather(*(messengers[i % 2].nudge(nudge(i)) for i in range(people)))
        calls = bf.calls_to(CREATE) + bf.calls_to(SEND)
        assert [c.status for c in calls if c.status >= 300] == []  # no 429 among them
        assert len(calls) == 2 * people
        times = sorted(c.at for c in calls)
        assert times[-1] - times[0] >= (2 * people - 1) / RATE * 0.9
        assert list(await buckets(migrated)) == ["teams:28:bot"]


class Tokens:
    async def token(self, *, force_refresh: bool = False) -> str:
        return "bot-token"


# -- two running bots ---------------------------------------------------------------------

MONDAY = datetime(2026, 11, 30, 10, tzinfo=UTC)


def write_round(root: Path, people: int) -> list[str]:
    """One weekly check-in for `people` people on Slack, due Monday 10:00 UTC."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "opsbot/v1", "kind": "Team",
         "metadata": {"name": "everyone", "title": "Everyone"},
         "spec": {"members": [f"person-{i}" for i in range(people)]}},
        {"apiVersion": "opsbot/v1", "kind": "CheckIn",
         "metadata": {"name": "weekly", "title": "Weekly practices"},
         "spec": {"schedule": "0 10 * * MON", "timezone": "UTC",
                  "audience": ["team:everyone"], "close_after": "1d",
                  "questions": [{"id": "drift", "text": "Drift reviewed?", "type": "choice",
                                 "options": ["Yes", "No"]}]}},
    ]  # fmt: skip
    docs += [
        {"apiVersion": "opsbot/v1", "kind": "Person",
         "metadata": {"name": f"person-{i}", "title": f"Person {i}"},
         "spec": {"slack": f"U{i:08d}", "timezone": "UTC"}}
        for i in range(people)
    ]  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    (root / "org.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return [f"U{i:08d}" for i in range(people)]


async def test_two_running_bots_on_postgresql_send_a_round_under_the_limit(
    migrated: str, tmp_path: Path
) -> None:
    """Two bots (as `opsbot serve` builds them) on one PostgreSQL database, the round falling
    due for both at once: every DM once, both send, and together no 429."""
    # One bot takes up to three times SENDERS at once: more people, so that both send.
    rate, people = 45.0, 90
    users = write_round(tmp_path / "knowledge", people)
    async with open_engine(migrated) as engine:
        await SqlCheckinStore(engine).plan_from(["weekly"], MONDAY - timedelta(days=1))
    clock = FakeClock(MONDAY - timedelta(minutes=5))
    async with FakeSlack() as slack, AsyncExitStack() as stack:
        # The fake shares the bots' event loop, so it sees their stalls as bunched posts: it
        # allows bursts of a quarter second, as the bench's fake does.
        slack.rate_limit("chat.postMessage", rate * 1.1, int(rate / 4), key=None, precise=True)
        hosts = []
        for n in range(2):
            # Each bot reaches the fake through a proxy of its own: its posts say whose they are.
            proxy = TcpProxy("127.0.0.1", slack.port)
            await proxy.start()
            stack.push_async_callback(proxy.stop)
            hosts.append(f"127.0.0.1:{proxy.port}")
            settings = load_settings(
                {
                    "OPSBOT_DATABASE_URL": migrated,
                    "OPSBOT_KNOWLEDGE_DIR": str(tmp_path / "knowledge"),
                    "OPSBOT_SPOOL_DIR": str(tmp_path / f"spool-{n}"),
                    "OPSBOT_TICK_SECONDS": "0.2",
                    "OPSBOT_SLACK_POSTS_PER_SECOND": str(rate),
                    "SLACK_BOT_TOKEN": "xoxb-one",
                    "SLACK_SIGNING_SECRET": "secret",
                    "SLACK_API_URL": f"http://{hosts[n]}/api/",
                }
            )
            await stack.enter_async_context(serving(settings, clock=clock))
        await asyncio.sleep(0.5)  # both tick, with nothing due
        clock.current = MONDAY + timedelta(seconds=1)
        deadline = time.monotonic() + people / rate * 3
        delivered = lambda: all(slack.messages(u) for u in users)  # noqa: E731
        while not delivered() and time.monotonic() < deadline:  # noqa: ASYNC110 (polls the fake)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a late duplicate would show now

        posts = slack.calls_to("chat.postMessage")
        assert Counter(c.status for c in posts) == {200: people}
        assert Counter(str(c.params["channel"]) for c in posts) == dict.fromkeys(users, 1)
        by_bot = Counter(c.headers.get("Host") for c in posts)
        assert set(by_bot) == set(hosts)  # both bots sent part of the round
        async with open_engine(migrated) as engine, engine.connect() as conn:
            states = (await conn.execute(text("SELECT state FROM checkin_nudges"))).scalars()
            assert set(states) == {"sent"}
