"""Check-in delivery under Slack's rate limits, then answer clicks, through a running opsbot.

    python bench/bench_checkins.py [--recipients 2000] [--cap 80] [--burst 20]
        [--clicks 500] [--click-seconds 60] [--posts-per-second R] [--senders N]
        [--tick-seconds 1] [--replicas N]

One round of a check-in falls due for every recipient at once. opsbot runs as `opsbot
serve` does (`bot.app.serving` inside `bot.web.create_app`, its scheduler ticking every
--tick-seconds) on 127.0.0.1, with a clock that is real time shifted so that the round
falls due a moment after start-up. It sends through the real `SlackMessenger` and Web
API client (bot.slack.client: paced, paused together on 429 + Retry-After) to the fake Slack of
tests/slack_fake.py, which enforces a workspace-wide cap (token bucket: --burst at once,
then --cap per second) and a per-channel limit on chat.postMessage (--channel-rate per
second, bursts of --channel-burst). Printed: wall time from the round falling due to the
last delivered DM, against the minimum the limits allow, (recipients - burst) / cap;
duplicates and lost DMs (goal 0 and 0); what the 429s cost.

Then --clicks signed button clicks (block_actions, answering the nudge's buttons) are
POSTed to /slack/events of the same running app, spread evenly over --click-seconds;
every click must be acked 200, answered once through its response_url, and stored once
in checkin_answers (none lost, none duplicated).

The database is SQLite in a temporary directory, or a fresh database on the PostgreSQL
server of OPSBOT_BENCH_POSTGRES_URL when that is set (dropped afterwards).

--replicas N (PostgreSQL only) runs N bots, each `opsbot serve` in a process of its own
(this script, started with --serve-replica) with its own engine and owner, all ticking
on the one database and posting to the one fake Slack; the clicks are spread over them.
With one replica (the default) the bot runs inside this process.

Goals (issue): wall time within 1.2x of the rate-limit minimum, 0 duplicates, 0 lost,
no 429 while paced, every click stored once. Exits 1 when a goal is missed.

The bot paces chat.postMessage at OPSBOT_SLACK_POSTS_PER_SECOND, which the bench sets
to --posts-per-second: by default the fake's --cap, as an operator who knows the
workspace's limit would (the workspace's total: replicas on PostgreSQL share it);
--posts-per-second 0 shows the bot unpaced, living on 429s alone. --senders N overrides
bot.checkins.sending.SENDERS (in every replica).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import structlog
import yaml
from aiohttp import web
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))

import bot.checkins.sending  # noqa: E402
from bot.app import serving  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.storage.checkins import SqlCheckinStore  # noqa: E402
from bot.storage.engine import open_engine  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from bot.web import create_app  # noqa: E402
from tests.slack_fake import FakeSlack, action_body, sign  # noqa: E402

# Made-up credentials: everything stays on 127.0.0.1 with a fake Slack.
SECRET = "bench-signing-secret"  # noqa: S105
TOKEN = "xoxb-bench"  # noqa: S105
POSTGRES_ENV = "OPSBOT_BENCH_POSTGRES_URL"
CHECKIN = "weekly"
#: The occurrence of "0 10 * * MON" (UTC) the round is for; the clock is shifted onto it.
OCCURRENCE = datetime(2026, 11, 30, 10, tzinfo=UTC)
QUESTIONS = (("drift", ("Yes", "Partly", "No")), ("confidence", ("1", "2", "3", "4", "5")))
FORM = "application/x-www-form-urlencoded"
GOAL_RATIO = 1.2


def user(i: int) -> str:
    return f"U{i:09d}"


class ShiftedClock:
    """Real time, shifted: the bot sees the round fall due when the bench says so."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def align(self, instant: datetime, real: float) -> None:
        """From now on, the real time `real` (a `time.time()`) reads as `instant`."""
        self.offset = instant - datetime.fromtimestamp(real, UTC)


def write_knowledge(root: Path, recipients: int) -> None:
    """One team of `recipients` people and one weekly check-in for the team, in UTC."""
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "opsbot/v1",
            "kind": "Team",
            "metadata": {"name": "everyone", "title": "Everyone"},
            "spec": {"members": [f"person-{i}" for i in range(recipients)]},
        },
        {
            "apiVersion": "opsbot/v1",
            "kind": "CheckIn",
            "metadata": {"name": CHECKIN, "title": "Weekly practices"},
            "spec": {
                "schedule": "0 10 * * MON",
                "timezone": "UTC",
                "audience": ["team:everyone"],
                "questions": [
                    {"id": "drift", "text": "Did your team review the drift dashboards?",
                     "type": "choice", "options": list(QUESTIONS[0][1])},
                    {"id": "confidence", "text": "How confident are you in retraining?",
                     "type": "scale"},
                ],
                "close_after": "1d",
            },
        },
    ]  # fmt: skip
    docs += [
        {
            "apiVersion": "opsbot/v1",
            "kind": "Person",
            "metadata": {"name": f"person-{i}", "title": f"Person {i}"},
            "spec": {"slack": user(i), "timezone": "Europe/London"},
        }
        for i in range(recipients)
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "org.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


@contextlib.asynccontextmanager
async def database(tmp: Path) -> AsyncIterator[str]:
    """SQLite in `tmp`, or a fresh PostgreSQL database when OPSBOT_BENCH_POSTGRES_URL is set."""
    server_url = os.environ.get(POSTGRES_ENV)
    if not server_url:
        yield f"sqlite+aiosqlite:///{tmp / 'bench.sqlite'}"
        return
    server = make_url(server_url)
    name = f"opsbot_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@dataclass
class LogCounter:
    """Counts log events by name (warnings and up) instead of printing them."""

    seen: Counter[str] = field(default_factory=Counter)

    def __call__(self, _: Any, level: str, event: MutableMapping[str, Any]) -> Any:
        self.seen[f"{level}:{event.get('event')}"] += 1
        raise structlog.DropEvent

    def handler(self) -> logging.Handler:
        """A logging handler counting records by logger and the start of the message."""
        seen = self.seen

        class Counting(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                message = record.getMessage().split("(", 1)[0].strip()[:60]
                seen[f"{record.levelname.lower()}:{record.name}: {message}"] += 1

        return Counting(logging.WARNING)


@dataclass
class Delivery:
    seconds_from_due: float
    seconds_sending: float
    minimum: float
    delivered: int
    duplicates: int
    lost: int
    not_sent_in_db: Counter[str]
    posts: int
    refused_429: int
    other_errors: int
    cpu_seconds: float

    @property
    def ratio(self) -> float:
        return self.seconds_from_due / self.minimum if self.minimum > 0 else float("nan")


async def nudge_states(url: str) -> Counter[str]:
    async with open_engine(url) as engine, engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT state, count(*) AS n FROM checkin_nudges GROUP BY state")
        )
        return Counter({row.state: row.n for row in rows})


class Replicas:
    """The running bots: where each listens, and how the round is made to fall due."""

    def __init__(self, ports: list[int], clock: ShiftedClock | None = None) -> None:
        self.ports = ports
        self._clock = clock
        self._processes: list[asyncio.subprocess.Process] = []
        self.warnings: Counter[str] = Counter()

    async def due(self, at: float) -> None:
        """From now on, the real time `at` (a `time.time()`) reads as the round's occurrence."""
        if self._clock is not None:
            self._clock.align(OCCURRENCE, at)
        for proc in self._processes:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"due_at": at}).encode() + b"\n")
            await proc.stdin.drain()

    @classmethod
    @contextlib.asynccontextmanager
    async def in_processes(
        cls, args: argparse.Namespace, env: Mapping[str, str], tmp: Path
    ) -> AsyncIterator[Replicas]:
        """`args.replicas` bots, each `opsbot serve` in a process of its own."""
        replicas = cls([])
        try:
            for n in range(args.replicas):
                senders = () if args.senders is None else ("--senders", str(args.senders))
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(SCRIPT),
                    "--serve-replica",
                    *senders,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                replicas._processes.append(proc)
                # Its settings, on stdin: not in its environment, where bolt would read them too.
                own = {**env, "OPSBOT_SPOOL_DIR": str(tmp / f"spool-{n}")}
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"settings": own}).encode() + b"\n")
            for proc in replicas._processes:
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
                if not line:
                    raise SystemExit(f"replica {proc.pid} exited while starting")
                replicas.ports.append(int(json.loads(line)["port"]))
            yield replicas
        finally:
            for proc in replicas._processes:
                if proc.stdin is not None:
                    proc.stdin.close()  # the replica's cue to stop
            for proc in replicas._processes:
                out, _ = await proc.communicate()
                for line in out.decode().splitlines():
                    if line.startswith("{"):
                        replicas.warnings.update(json.loads(line).get("warnings", {}))


async def serve_replica(args: argparse.Namespace) -> int:
    """One replica of the bench (--serve-replica): `opsbot serve` until its stdin closes.

    The bench writes on stdin, a JSON object a line: first {"settings": {...}}, the
    environment `opsbot serve` would read; then {"due_at": t} when the round falls due.
    """
    counter = count_logs()
    if args.senders is not None:
        bot.checkins.sending.SENDERS = args.senders
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    settings = load_settings(json.loads(await commands.readline())["settings"])
    clock = ShiftedClock(OCCURRENCE - timedelta(hours=1) - datetime.now(UTC))
    runner = web.AppRunner(create_app(lambda: serving(settings, clock=clock)))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
        while line := await commands.readline():
            clock.align(OCCURRENCE, float(json.loads(line)["due_at"]))
    finally:
        await runner.cleanup()
        print(json.dumps({"warnings": dict(counter.seen)}), flush=True)
    return 0


async def deliver(
    args: argparse.Namespace, slack: FakeSlack, replicas: Replicas, url: str
) -> Delivery:
    """Let the round fall due now and wait until every DM is at Slack (or time runs out)."""
    users = [user(i) for i in range(args.recipients)]
    cpu_start = time.process_time()
    due_at = time.time() + 0.2
    await replicas.due(due_at)
    minimum = max(args.recipients - args.burst, 0) / args.cap
    deadline = due_at + args.timeout
    next_report = time.time() + 5

    def delivered() -> int:
        return sum(1 for uid in users if slack.messages(uid))

    while delivered() < args.recipients and time.time() < deadline:
        await asyncio.sleep(0.1)
        if time.time() >= next_report:
            next_report += 5
            refused = sum(1 for c in slack.calls_to("chat.postMessage") if c.status == 429)
            print(
                f"  {time.time() - due_at:6.1f} s: {delivered():5d} delivered, "
                f"{refused:6d} refused (429)",
                flush=True,
            )
    # Let the bot record the last deliveries (and anything it would still send twice).
    settle = time.time() + 3
    while time.time() < settle:
        states = await nudge_states(url)
        if states.get("sent", 0) >= args.recipients:
            break
        await asyncio.sleep(0.2)
    cpu = time.process_time() - cpu_start
    posts = slack.calls_to("chat.postMessage")
    ok = [c for c in posts if c.status == 200 and c.error is None]
    first = min((c.at for c in posts), default=due_at)
    last = max((c.at for c in ok), default=time.time())
    counts = Counter(len(slack.messages(uid)) for uid in users)
    states = await nudge_states(url)
    return Delivery(
        seconds_from_due=last - due_at,
        seconds_sending=last - first,
        minimum=minimum,
        delivered=sum(n for k, n in counts.items() if k > 0),
        duplicates=sum((k - 1) * n for k, n in counts.items() if k > 1),
        lost=counts.get(0, 0),
        not_sent_in_db=Counter({s: n for s, n in states.items() if s != "sent"}),
        posts=len(posts),
        refused_429=sum(1 for c in posts if c.status == 429),
        other_errors=sum(1 for c in posts if c.status != 429 and c.error is not None),
        cpu_seconds=cpu,
    )


@dataclass
class Clicks:
    sent: int
    acked: int
    ack_p50_ms: float
    ack_p99_ms: float
    replies: int
    replied_twice: int
    thanked: int
    expected_rows: int
    stored_rows: int
    lost: int
    wrong: int
    duplicated: int
    spread_seconds: float


def button_values(blocks: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(question, option) -> the button's value, from a nudge's blocks."""
    found: dict[tuple[str, str], str] = {}
    for block in blocks:
        for element in block.get("elements", []):
            value = str(element.get("value", ""))
            parts = value.split("|")
            if element.get("type") == "button" and parts[0] == "checkin" and len(parts) == 4:
                found[(parts[2], parts[3])] = value
    return found


async def click(args: argparse.Namespace, slack: FakeSlack, ports: list[int], url: str) -> Clicks:
    """Signed button clicks on the nudges, spread evenly (and over the replicas, in turn);
    then check what was stored."""
    endpoints = itertools.cycle([f"http://127.0.0.1:{port}/slack/events" for port in ports])
    plan: list[tuple[str, str, str, str]] = []  # (user, question, value, button value)
    expected: dict[tuple[str, str], str] = {}
    reachable = [user(i) for i in range(args.recipients) if slack.messages(user(i))]
    for i in range(args.clicks if reachable else 0):
        uid = reachable[i % len(reachable)]
        question, options = QUESTIONS[(i // len(reachable)) % len(QUESTIONS)]
        option = options[i % len(options)]
        buttons = button_values(slack.messages(uid)[0]["blocks"])
        plan.append((uid, question, option, buttons[(question, option)]))
        expected[(f"person:person-{int(uid[1:])}", question)] = option
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=100)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, uid: str, question: str, value: str) -> None:
            action = f"checkin_{question}_0"
            body = action_body(action, value, uid, response_url=slack.response_url(f"c{i}"))
            begun = time.perf_counter()
            headers = {"Content-Type": FORM, **sign(body, SECRET)}
            try:
                async with session.post(next(endpoints), data=body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1
            except aiohttp.ClientError:
                statuses[0] += 1
            latencies.append((time.perf_counter() - begun) * 1000)

        tasks = []
        for i, (uid, question, _, value) in enumerate(plan):
            at = started + i * args.click_seconds / max(args.clicks, 1)
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i, uid, question, value)))
        spread = time.perf_counter() - started
        await asyncio.gather(*tasks)

    def replied() -> int:
        return len({c.method for c in slack.calls if c.method.startswith("response_url:c")})

    deadline = time.time() + 30
    while replied() < args.clicks and time.time() < deadline:  # noqa: ASYNC110 (polls the fake)
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a late second reply would show now
    replies = [c for c in slack.calls if c.method.startswith("response_url:c")]
    per_click = Counter(c.method for c in replies)
    async with open_engine(url) as engine, engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT person, question, value FROM checkin_answers"))
        ).all()
    stored = Counter((r.person, r.question) for r in rows)
    values = {(r.person, r.question): r.value for r in rows}
    ordered = sorted(latencies)
    return Clicks(
        sent=len(plan),
        acked=statuses.get(200, 0),
        ack_p50_ms=ordered[len(ordered) // 2] if ordered else float("nan"),
        ack_p99_ms=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        if ordered
        else float("nan"),
        replies=len(per_click),
        replied_twice=sum(1 for n in per_click.values() if n > 1),
        thanked=sum(1 for c in replies if str(c.params.get("text", "")).startswith("Thanks!")),
        expected_rows=len(expected),
        stored_rows=len(rows),
        lost=sum(1 for key in expected if key not in values),
        wrong=sum(1 for key, v in expected.items() if key in values and values[key] != v),
        duplicated=sum(n - 1 for n in stored.values() if n > 1) + len(set(values) - set(expected)),
        spread_seconds=spread,
    )


def count_logs() -> LogCounter:
    """Count warnings and errors (structlog's, and the standard library's: APScheduler's)
    instead of printing them."""
    counter = LogCounter()
    structlog.configure(
        processors=[structlog.processors.add_log_level, counter],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    logging.basicConfig(level=logging.WARNING, handlers=[counter.handler()], force=True)
    return counter


@contextlib.asynccontextmanager
async def in_this_process(
    settings: Mapping[str, str], clock: ShiftedClock
) -> AsyncIterator[Replicas]:
    """One bot, `opsbot serve` inside this process."""
    runner = web.AppRunner(create_app(lambda: serving(load_settings(settings), clock=clock)))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield Replicas([runner.addresses[0][1]], clock)
    finally:
        await runner.cleanup()


async def run(args: argparse.Namespace) -> int:
    if args.serve_replica:
        return await serve_replica(args)
    if args.replicas > 1 and not os.environ.get(POSTGRES_ENV):
        print(
            f"--replicas {args.replicas} needs PostgreSQL: set {POSTGRES_ENV} to a server "
            "(postgresql+asyncpg://user@host:5432/postgres). Replicas share one database; "
            "SQLite serves one.",
            file=sys.stderr,
        )
        return 2
    counter = count_logs()
    if args.senders is not None:
        bot.checkins.sending.SENDERS = args.senders
    with tempfile.TemporaryDirectory(prefix="opsbot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        knowledge = tmp / "knowledge"
        write_knowledge(knowledge, args.recipients)
        async with database(tmp) as url, FakeSlack() as slack:
            async with open_engine(url) as engine:
                await upgrade(engine)
                # Seen a day before: the bot plans the occurrence when its clock reaches it.
                await SqlCheckinStore(engine).plan_from([CHECKIN], OCCURRENCE - timedelta(days=1))
            slack.workspace_cap(per_second=args.cap, burst=args.burst)
            slack.rate_limit(
                "chat.postMessage", per_second=args.channel_rate, burst=args.channel_burst
            )
            clock = ShiftedClock(OCCURRENCE - timedelta(hours=1) - datetime.now(UTC))
            env = {
                "OPSBOT_DATABASE_URL": url,
                "OPSBOT_KNOWLEDGE_DIR": str(knowledge),
                "OPSBOT_SPOOL_DIR": str(tmp / "spool"),
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
                "OPSBOT_TICK_SECONDS": str(args.tick_seconds),
                "OPSBOT_SLACK_POSTS_PER_SECOND": str(posts_per_second(args)),
            }
            bots = (
                Replicas.in_processes(args, env, tmp)
                if args.replicas > 1
                else in_this_process(env, clock)
            )
            async with bots as replicas:
                await asyncio.sleep(max(1.0, 2 * args.tick_seconds))  # a tick or two, idle
                where = f"{args.replicas} replica processes" if args.replicas > 1 else "1 replica"
                print(
                    f"round of {args.recipients} DMs; workspace cap {args.cap}/s "
                    f"(burst {args.burst}), chat.postMessage {args.channel_rate}/s per channel "
                    f"(burst {args.channel_burst}); bot paced at "
                    f"{posts_per_second(args):g}/s (the workspace's total), "
                    f"SENDERS={bot.checkins.sending.SENDERS}, tick every {args.tick_seconds} s; "
                    f"{where}; database {url.split(':')[0]}",
                    flush=True,
                )
                sent = await deliver(args, slack, replicas, url)
                report_delivery(sent, args)
                clicks = await click(args, slack, replicas.ports, url) if args.clicks else None
                if clicks is not None:
                    report_clicks(clicks, args)
            counter.seen.update(replicas.warnings)
    logs = dict(counter.seen.most_common())
    print(f"warnings logged: {json.dumps(logs) if logs else 'none'}")
    missed = [
        sent.ratio > GOAL_RATIO and f"ratio {sent.ratio:.2f} > {GOAL_RATIO}",
        sent.duplicates and f"{sent.duplicates} duplicates",
        sent.lost and f"{sent.lost} lost",
        posts_per_second(args) > 0 and sent.refused_429 and f"{sent.refused_429} 429s",
        clicks is not None
        and (clicks.lost or clicks.duplicated or clicks.wrong or clicks.acked != clicks.sent)
        and "clicks lost, duplicated or refused",
    ]
    problems = [m for m in missed if m]
    print("goals: " + ("all met" if not problems else "MISSED: " + "; ".join(problems)))
    return 1 if problems else 0


def posts_per_second(args: argparse.Namespace) -> float:
    return args.cap if args.posts_per_second is None else args.posts_per_second


def report_delivery(sent: Delivery, args: argparse.Namespace) -> None:
    rate = sent.delivered / sent.seconds_from_due if sent.seconds_from_due > 0 else 0
    print(
        f"delivery: {sent.delivered}/{args.recipients} DMs in {sent.seconds_from_due:.1f} s "
        f"from due ({sent.seconds_sending:.1f} s from the first post), {rate:.1f}/s\n"
        f"  minimum the limits allow: ({args.recipients} - {args.burst}) / {args.cap:g} = "
        f"{sent.minimum:.1f} s; ratio {sent.ratio:.2f} (goal <= {GOAL_RATIO})\n"
        f"  duplicates {sent.duplicates} (goal 0), lost {sent.lost} (goal 0), "
        f"nudges not 'sent' in the database: {dict(sent.not_sent_in_db) or 'none'}\n"
        f"  chat.postMessage calls {sent.posts}: 429 {sent.refused_429}, "
        f"other errors {sent.other_errors}; "
        f"{sent.posts / max(sent.delivered, 1):.2f} calls per DM; "
        f"bench process CPU {sent.cpu_seconds:.1f} s",
        flush=True,
    )


def report_clicks(clicks: Clicks, args: argparse.Namespace) -> None:
    print(
        f"clicks: {clicks.sent} over {clicks.spread_seconds:.1f} s, acked 200: {clicks.acked}, "
        f"ack p50 {clicks.ack_p50_ms:.1f} ms p99 {clicks.ack_p99_ms:.1f} ms\n"
        f"  replies {clicks.replies} ('Thanks!' {clicks.thanked}), clicks replied twice "
        f"{clicks.replied_twice}\n"
        f"  answers stored {clicks.stored_rows}/{clicks.expected_rows}: lost {clicks.lost}, "
        f"duplicated {clicks.duplicated}, wrong value {clicks.wrong}",
        flush=True,
    )


def replica_count(value: str) -> int:
    """--replicas: a whole number from 1 to 16."""
    if not value.strip().isdigit() or not 1 <= int(value) <= 16:
        raise argparse.ArgumentTypeError(f"use a whole number from 1 to 16, not {value!r}")
    return int(value)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--cap", type=float, default=80.0, help="workspace calls per second")
    parser.add_argument("--burst", type=int, default=20, help="workspace burst")
    parser.add_argument("--channel-rate", type=float, default=1.0)
    parser.add_argument("--channel-burst", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=500)
    parser.add_argument("--click-seconds", type=float, default=60.0)
    parser.add_argument("--tick-seconds", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up delivering after")
    parser.add_argument(
        "--senders", type=int, default=None, help="override bot.checkins.sending.SENDERS"
    )
    parser.add_argument(
        "--posts-per-second", type=float, default=None, help="the bot's pace (default: --cap)"
    )
    parser.add_argument(
        "--replicas",
        type=replica_count,
        default=1,
        metavar="N",
        help="bots on the one database, each a process of its own (PostgreSQL only; 1-16)",
    )
    parser.add_argument("--serve-replica", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(arguments(argv)))


if __name__ == "__main__":
    sys.exit(main())
