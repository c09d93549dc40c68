"""Teams: a check-in round of 2,000 people through a rate-limited Bot Connector, then answer
latency at 200 activities/s, through a running opsbot.

    python bench/bench_teams.py [--people 2000] [--rate 50] [--burst 10]
        [--retry-after seconds|ms] [--seconds 10] [--rps 200] [--tick-seconds 0.2]
        [--timeout 600]

opsbot runs as `opsbot serve` does (`bot.app.serving` inside `bot.web.create_app`, here in
an aiohttp TestServer on 127.0.0.1) with Teams on: inbound tokens are real RS256 JWTs from
the local identity provider of tests/teams_idp.py, outbound calls go to the fake Bot
Connector of tests/fake_connector.py. The knowledge is generated: one team of --people
persons (each with `spec.teams`, an Entra object id), an opsbot admin, a few areas, and
one check-in (a choice question, audience the team, UTC, a schedule that never falls due
during the bench). The database is SQLite in a temporary directory, or a fresh database on
the PostgreSQL server of OPSBOT_BENCH_POSTGRES_URL when that is set (dropped afterwards).

1. The round. The app is installed in a team channel whose roster holds everyone (a
   conversationUpdate; the bot reads the roster), then the admin writes "checkin run
   weekly" in their 1:1 chat. The connector takes --rate calls per second (a token bucket
   of --burst over every call: opening a 1:1 chat and posting alike) and answers 429 with
   a Retry-After in whole seconds (or, --retry-after ms, in milliseconds). The bench waits
   until every nudge of the round is in a final state in the database and the admin got
   their reply. Printed: people nudged, 1:1 chats created, nudges per person (min/max: 1
   and 1 is "0 duplicates, 0 lost"), the 429s and whether the bot waited them out, wall
   time and nudges/s against what the limit allows, the nudges' states in the database.

2. Answer latency. Personal-chat questions ("who owns <area>?", varied, from the people
   of the round in their 1:1 chats) are POSTed to /api/messages with valid tokens at --rps
   for --seconds, open loop (by the clock, never waiting for an answer), from a process of
   its own so the load costs the bot's process nothing; replies go to a second fake
   connector without a rate limit. Printed: HTTP answer p50/p99, time until the reply
   card reaches the connector p50/p99, replies per activity, non-2xx answers, CPU seconds
   of the bot's process per activity (that process also runs the fake connector).

Goals (issue 10 point 8): the round with 0 duplicates and 0 lost, every nudge 'sent' in the
database; every activity answered 2xx and replied to exactly once (p99s reported). Exits 1
when a goal is missed, or when the whole run passes --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import contextlib
import hashlib
import json
import logging
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import structlog
import yaml
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench_checkins import database  # noqa: E402
from openloop import open_loop  # noqa: E402

from bot.app import serving  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.storage.engine import open_engine  # noqa: E402
from bot.web import SERVED, Served, create_app  # noqa: E402
from tests.fake_connector import CREATE, REPLY, SEND, ConnectorCall  # noqa: E402
from tests.fake_connector import FakeConnector as BaseConnector  # noqa: E402
from tests.teams_env import activity_body  # noqa: E402
from tests.teams_idp import APP_ID, APP_PASSWORD, TENANT_ID, FakeIdentityProvider  # noqa: E402

CHECKIN = "weekly"
QUESTION = "Did your team review the drift dashboards this week?"
#: Once a year: never due while the bench runs, so only the round started by hand is sent.
SCHEDULE = "0 3 1 1 *"
BOT = f"28:{APP_ID}"
CHANNEL = "19:0f1e2d3c4b5a69788796a5b4c3d2e1f0@thread.tacv2"
TEAM = "19:a1b2c3d4e5f60718293a4b5c6d7e8f90@thread.tacv2"
ADMIN_AAD = "adadadad-0000-4000-8000-00000000ad00"
AREAS = (
    ("payments-pipeline", "Payments pipeline"),
    ("fraud-model", "Fraud model"),
    ("search-ranking", "Search ranking"),
    ("feature-store", "Feature store"),
    ("model-registry", "Model registry"),
    ("drift-monitoring", "Drift monitoring"),
    ("training-cluster", "Training cluster"),
    ("labelling-service", "Labelling service"),
    ("embedding-index", "Embedding index"),
    ("batch-scoring", "Batch scoring"),
)
#: Tokens the load reuses round-robin (Teams, too, sends one token for many activities).
TOKEN_POOL = 32
#: Activities sent one by one before the load (the first fetch keys and a token).
WARMUP = 20
CONNECTIONS = 100
#: Teams gives up on an HTTP answer after 15 s.
HTTP_TIMEOUT = 15.0
#: A call that left before the bot read a 429 may arrive just after it: not counted early.
IN_FLIGHT = 0.1
FINAL = frozenset({"sent", "unreachable", "missed"})


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- who is who ----------------------------------------------------------------------------


def aad(i: int) -> str:
    """Person i's Entra object id."""
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def teams_id(seed: str) -> str:
    """A Teams user id as long as real ones ("29:1" and 80 more characters), so the 1:1
    conversation ids the connector makes for them are as long as real ones too."""
    digest = hashlib.sha512(seed.encode()).digest()
    return "29:1" + base64.urlsafe_b64encode(digest).decode()[:80]


def member(i: int) -> dict[str, str]:
    """Person i as the roster (GET .../members) gives them."""
    return {
        "id": teams_id(f"person-{i}"),
        "aadObjectId": aad(i),
        "name": f"Person {i}",
        "givenName": "Person",
        "surname": str(i),
        "email": f"person-{i}@example.com",
        "userPrincipalName": f"person-{i}@example.com",
        "tenantId": TENANT_ID,
    }


ADMIN = {"id": teams_id("admin"), "aadObjectId": ADMIN_AAD, "name": "Ada Admin"}
ADMIN_CHAT = "a:1" + base64.urlsafe_b64encode(hashlib.sha512(b"admin-chat").digest()).decode()


def write_knowledge(root: Path, people: int) -> None:
    """One team of `people` persons, an admin, some areas, one check-in for the team."""
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "opsbot/v1",
            "kind": "Team",
            "metadata": {"name": "everyone", "title": "Everyone"},
            "spec": {"members": [f"person-{i}" for i in range(people)], "channel": "#everyone"},
        },
        {
            "apiVersion": "opsbot/v1",
            "kind": "Role",
            "metadata": {"name": "opsbot-admin", "title": "opsbot admin"},
            "spec": {},
        },
        {
            "apiVersion": "opsbot/v1",
            "kind": "Person",
            "metadata": {"name": "admin", "title": "Ada Admin"},
            "spec": {"teams": ADMIN_AAD, "timezone": "UTC", "roles": ["opsbot-admin"]},
        },
        {
            "apiVersion": "opsbot/v1",
            "kind": "CheckIn",
            "metadata": {"name": CHECKIN, "title": "Weekly MLOps practices"},
            "spec": {
                "schedule": SCHEDULE,
                "timezone": "UTC",
                "audience": ["team:everyone"],
                "questions": [
                    {"id": "drift", "text": QUESTION, "type": "choice",
                     "options": ["Yes", "Partly", "No"]},
                ],
                "close_after": "1d",
            },
        },
    ]  # fmt: skip
    for k, (name, title) in enumerate(AREAS):
        spec: dict[str, Any] = {"owner": f"person:person-{owner(k, people)}"}
        if k % 2 == 0:
            spec["backup"] = "team:everyone"
            spec["channel"] = "#everyone"
        meta: dict[str, Any] = {"name": name, "title": title}
        if k % 3 == 0:
            meta["links"] = [
                {"title": "Runbook", "url": f"https://wiki.example.com/{name}", "type": "runbook"}
            ]
        docs.append({"apiVersion": "opsbot/v1", "kind": "Area", "metadata": meta, "spec": spec})
    docs += [
        {
            "apiVersion": "opsbot/v1",
            "kind": "Person",
            "metadata": {"name": f"person-{i}", "title": f"Person {i}"},
            "spec": {"teams": aad(i), "email": f"person-{i}@example.com", "timezone": "UTC"},
        }
        for i in range(people)
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "org.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


def owner(area: int, people: int) -> int:
    return (area * 7919) % people


def activity(
    service_url: str,
    *,
    sender: dict[str, str],
    conversation: str,
    kind: str = "message",
    text_: str | None = None,
    conversation_type: str = "personal",
    **more: Any,
) -> dict[str, Any]:
    """An activity as Teams sends it, with a fresh id and the time it was sent."""
    return activity_body(
        service_url,
        activity_id=f"f:{secrets.token_hex(8)}",
        sender=sender,
        conversation=conversation,
        kind=kind,
        text=text_,
        conversation_type=conversation_type,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        **more,
    )


# --- the fakes and the running bot ---------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A 429 the connector answered: when the call came, the Retry-After it was given."""

    at: float
    wait: float
    call: tuple[str, str]


def same_call(call: ConnectorCall) -> tuple[str, str]:
    """What a retry of `call` has in common with it: its kind and path, and for opening
    a 1:1 chat (one path for all) the person it is with."""
    if call.kind == CREATE and isinstance(call.json, dict):
        members = call.json.get("members") or [{}]
        return call.kind, str(members[0].get("id"))
    return call.kind, call.raw_path


class FakeConnector(BaseConnector):
    """The fake Bot Connector, also noting each 429 it answered and its Retry-After."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals: list[Refusal] = []

    def _answer(
        self, call: ConnectorCall, raw: bytes, content_type: str
    ) -> tuple[int, Any, dict[str, str], Any]:
        answer = super()._answer(call, raw, content_type)
        if answer[0] == 429:
            wait = float(answer[2].get("Retry-After", 0))
            self.refusals.append(Refusal(at=call.at, wait=wait, call=same_call(call)))
        return answer


@dataclass
class LogCounter:
    """Counts log events (warnings and up) by name instead of printing them; keeps the
    first of each as an example."""

    seen: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def __call__(self, _: Any, level: str, event: MutableMapping[str, Any]) -> Any:
        name = f"{level}:{event.get('event')}"
        self.seen[name] += 1
        if name not in self.examples:
            detail = {k: v for k, v in event.items() if k not in ("event", "level")}
            self.examples[name] = json.dumps(detail, default=str)[:400]
        raise structlog.DropEvent

    def handler(self) -> logging.Handler:
        """A logging handler counting records by logger and the start of the message."""
        seen, examples = self.seen, self.examples

        class Counting(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                message = record.getMessage()
                name = f"{record.levelname.lower()}:{record.name}: {message.split('(')[0][:60]}"
                seen[name] += 1
                examples.setdefault(name, message[:400])

        return Counting(logging.WARNING)


@dataclass
class Bench:
    """The running bot, its fakes, and a way to talk to it."""

    args: argparse.Namespace
    server: TestServer
    session: aiohttp.ClientSession
    idp: FakeIdentityProvider
    limited: FakeConnector  # rate limited: the round's
    engine: AsyncEngine

    @property
    def endpoint(self) -> str:
        return str(self.server.make_url("/api/messages"))

    @property
    def served(self) -> Served:
        return self.server.app[SERVED]

    async def post(self, body: dict[str, Any]) -> tuple[int, float]:
        """POST one activity with a fresh token; (status, seconds taken)."""
        headers = {"Authorization": f"Bearer {self.idp.mint()}"}
        started = time.perf_counter()
        async with self.session.post(self.endpoint, json=body, headers=headers) as response:
            await response.read()
            return response.status, time.perf_counter() - started

    async def settle(self) -> None:
        """Let replies under way finish, and the questions asked be recorded."""
        teams = self.served.teams
        if teams is not None:
            await teams.drain(5)
        if self.served.flush is not None:
            await self.served.flush()

    async def rows(self, sql: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())

    def platform_counters(self) -> dict[str, float]:
        """The bot's own Teams counters from /metrics' registry: retries by call and status,
        replies dropped, nudges assumed sent."""
        found: dict[str, float] = {}
        for family in self.served.metrics.registry.collect():
            for sample in family.samples:
                labels = sample.labels
                if not sample.name.endswith("_total") or labels.get("platform") != "teams":
                    continue
                what = ",".join(f"{v}" for k, v in sorted(labels.items()) if k != "platform")
                short = sample.name.removeprefix("opsbot_").removesuffix("_total")
                found[f"{short}[{what}]"] = sample.value
        return found


# --- 1. the round --------------------------------------------------------------------------


@dataclass
class RoundResult:
    people: int
    install_status: int
    install_seconds: float
    kept_seconds: float | None
    addresses: int
    run_status: int
    nudged: int  # people with at least one nudge
    lost: int
    duplicates: int
    per_person_min: int
    per_person_max: int
    chats_created: int
    chats_for_distinct_people: int
    create_calls: int
    send_calls: int
    calls_by_status: dict[str, int]
    refused_429: int
    retry_after: list[float]
    after_429: Honoured
    bot_counters: dict[str, float]
    seconds: float  # from "checkin run" to the last nudge delivered
    seconds_to_first: float
    admin_reply_seconds: float | None
    admin_reply: str
    states: dict[str, int]
    not_sent: list[tuple[str, str | None, int]]  # (state, error, how many)
    db_rows_matching: int
    cpu_seconds: float
    idle_cpu_per_second: float  # after the round, ticking
    finished: bool


@dataclass
class Honoured:
    """What followed each 429: the same call again no sooner than its Retry-After
    (honoured), sooner (early), or never (given up); and other calls that arrived while a
    Retry-After ran (the bot pauses every call to the service; IN_FLIGHT allowed for calls
    already under way)."""

    honoured: int = 0
    early: int = 0
    given_up: int = 0
    others_during_pause: int = 0
    shortest_gap: float = float("inf")  # seconds beyond the Retry-After, at least


def honoured(calls: list[ConnectorCall], refusals: list[Refusal]) -> Honoured:
    result = Honoured()
    arrivals: dict[tuple[str, str], list[float]] = {}
    for call in calls:
        arrivals.setdefault(same_call(call), []).append(call.at)
    for refusal in refusals:
        times = arrivals.get(refusal.call, [])
        i = bisect.bisect_right(times, refusal.at)
        if i >= len(times):
            result.given_up += 1
            continue
        gap = times[i] - refusal.at - refusal.wait
        result.shortest_gap = min(result.shortest_gap, gap)
        if gap >= 0:
            result.honoured += 1
        else:
            result.early += 1
    windows = sorted((r.at + IN_FLIGHT, r.at + r.wait) for r in refusals if r.wait > IN_FLIGHT)
    merged: list[list[float]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = [m[0] for m in merged]
    for call in calls:
        i = bisect.bisect_right(starts, call.at) - 1
        if i >= 0 and call.at < merged[i][1]:
            result.others_during_pause += 1
    return result


async def roster_kept(b: Bench, count: int, since: float, limit: float) -> float | None:
    """Seconds from `since` until `count` conversation references are kept (None: never)."""
    while time.perf_counter() - since < limit:
        (kept,) = (await b.rows("SELECT count(*) FROM chat_addresses"))[0]
        if kept >= count:
            return time.perf_counter() - since
        await asyncio.sleep(0.1)
    return None


async def round_states(b: Bench) -> Counter[str]:
    rows = await b.rows(
        "SELECT n.state, count(*) FROM checkin_nudges n JOIN checkin_rounds r "
        "ON r.id = n.round_id GROUP BY n.state"
    )
    return Counter({str(state): int(n) for state, n in rows})


def card_text(activity_: dict[str, Any]) -> str:
    return json.dumps(activity_.get("attachments", []))


async def checkin_round(b: Bench) -> RoundResult:
    args, bf = b.args, b.limited
    people = args.people
    members = [member(i) for i in range(people)]
    bf.add_members(CHANNEL, *members)
    install = activity(
        bf.service_url,
        kind="conversationUpdate",
        sender=members[0],
        conversation=CHANNEL,
        conversation_type="channel",
        membersAdded=[{"id": BOT}],
        channelData={
            "tenant": {"id": TENANT_ID},
            "channel": {"id": CHANNEL, "name": "General"},
            "team": {"id": TEAM, "name": "Everyone"},
            "eventType": "teamMemberAdded",
        },
    )
    install_sent = time.perf_counter()
    install_status, install_seconds = await b.post(install)
    kept_seconds = None
    if not args.at_once:
        # The bot keeps the roster after answering (it may take seconds): wait for it, and
        # for a tick or two so that the bot's view of who is reachable is read again.
        kept_seconds = await roster_kept(b, people + 1, install_sent, 120.0)
        await asyncio.sleep(args.settle_ticks * args.tick_seconds)
    (addresses,) = (await b.rows("SELECT count(*) FROM chat_addresses"))[0]
    print(
        f"  installed in the team channel: HTTP {install_status} in {install_seconds:.2f} s; "
        f"roster of {people} kept after {_seconds(kept_seconds)} "
        f"({addresses} conversation references)",
        flush=True,
    )
    cpu_start = time.process_time()
    started = time.time()
    run = activity(
        bf.service_url, sender=ADMIN, conversation=ADMIN_CHAT, text_=f"checkin run {CHECKIN}"
    )
    run_status, _ = await b.post(run)
    deadline = started + args.round_timeout
    next_report = started + 5
    finished = False

    def admin_replies() -> list[ConnectorCall]:
        return [
            c
            for c in bf.calls
            if c.kind == REPLY and c.conversation_id == ADMIN_CHAT and 200 <= c.status < 300
        ]

    while time.time() < deadline:
        states = await round_states(b)
        done = sum(n for s, n in states.items() if s in FINAL)
        if done >= people and states.total() == done and admin_replies():
            finished = True
            break
        if time.time() >= next_report:
            next_report += 5
            delivered = sum(1 for c in bf.calls_to(SEND) if 200 <= c.status < 300)
            print(
                f"  {time.time() - started:6.1f} s: {delivered:5d} nudges delivered, "
                f"states {dict(states)}, 429s {len(bf.refusals)}",
                flush=True,
            )
        await asyncio.sleep(0.25)
    # A few more ticks: anything sent twice would show now.
    await asyncio.sleep(max(1.0, 5 * args.tick_seconds))
    cpu = time.process_time() - cpu_start
    idle_start, idle_wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(2.0)
    idle = (time.process_time() - idle_start) / (time.perf_counter() - idle_wall)

    counts = []
    for m in members:
        conversation = bf.personal.get(m["id"])
        posted = bf.delivered(conversation) if conversation else []
        counts.append(sum(1 for a in posted if QUESTION in card_text(a)))
    per_person = Counter(counts)
    sends = [c for c in bf.calls_to(SEND) if 200 <= c.status < 300]
    statuses = Counter(f"{c.kind} {c.status}" for c in bf.calls)
    replies = admin_replies()
    reply_text = ""
    if replies:
        reply_text = str(replies[0].json.get("summary") or card_text(replies[0].json))[:160]
    # The database: each person's nudge sent, to the chat and as the activity delivered.
    expected = {}
    for i, m in enumerate(members):
        conversation = bf.personal.get(m["id"])
        posted = bf.delivered(conversation) if conversation else []
        if posted:
            expected[f"person:person-{i}"] = (conversation, posted[0]["id"])
    rows = await b.rows("SELECT person, channel, message_ts FROM checkin_nudges")
    matching = sum(1 for p, ch, ts in rows if expected.get(p) == (ch, ts))
    return RoundResult(
        people=people,
        install_status=install_status,
        install_seconds=install_seconds,
        kept_seconds=kept_seconds,
        addresses=int(addresses),
        run_status=run_status,
        nudged=sum(n for k, n in per_person.items() if k > 0),
        lost=per_person.get(0, 0),
        duplicates=sum((k - 1) * n for k, n in per_person.items() if k > 1),
        per_person_min=min(counts, default=0),
        per_person_max=max(counts, default=0),
        chats_created=len(bf.created),
        chats_for_distinct_people=len({c["members"][0]["id"] for c in bf.created}),
        create_calls=len(bf.calls_to(CREATE)),
        send_calls=len(bf.calls_to(SEND)),
        calls_by_status=dict(sorted(statuses.items())),
        refused_429=len(bf.refusals),
        retry_after=sorted(r.wait for r in bf.refusals),
        after_429=honoured(bf.calls, bf.refusals),
        bot_counters=b.platform_counters(),
        seconds=(max(c.at for c in sends) - started) if sends else float("nan"),
        seconds_to_first=(min(c.at for c in sends) - started) if sends else float("nan"),
        admin_reply_seconds=(replies[0].at - started) if replies else None,
        admin_reply=reply_text,
        states=dict(await round_states(b)),
        not_sent=[
            (str(state), error, int(n))
            for state, error, n in await b.rows(
                "SELECT state, error, count(*) FROM checkin_nudges WHERE state != 'sent' "
                "GROUP BY state, error ORDER BY count(*) DESC"
            )
        ],
        db_rows_matching=matching,
        cpu_seconds=cpu,
        idle_cpu_per_second=idle,
        finished=finished,
    )


def report_round(r: RoundResult, args: argparse.Namespace) -> list[str]:
    calls = 2 * r.people  # open the 1:1 chat, post the nudge
    minimum = max(calls - args.burst, 0) / args.rate
    rate = r.nudged / r.seconds if r.seconds > 0 else float("nan")
    waits = r.retry_after
    told = (
        f"Retry-After min {waits[0]:g} s, median {percentile(waits, 0.5):g} s, max {waits[-1]:g} s"
        if waits
        else "no Retry-After"
    )
    h = r.after_429
    ratio = r.seconds / minimum if minimum else float("nan")
    counters = json.dumps(r.bot_counters) if r.bot_counters else "none"
    lines = [
        f"round: {r.nudged}/{r.people} people nudged, 'checkin run' answered HTTP "
        f"{r.run_status}; {'finished' if r.finished else 'NOT FINISHED (timed out)'}",
        f"  1:1 chats created {r.chats_created} (for {r.chats_for_distinct_people} distinct "
        f"people; {r.create_calls} create calls), {r.send_calls} post calls",
        f"  nudges per person: min {r.per_person_min}, max {r.per_person_max} -> "
        f"{r.duplicates} duplicates, {r.lost} lost (goal: 0 duplicates, 0 lost)",
        f"  nudges in the database: {r.states} (goal: all 'sent'); rows naming the chat and "
        f"activity delivered: {r.db_rows_matching}/{r.people}",
        *(f"    {n} {state}: {error}" for state, error, n in r.not_sent[:5]),
        f"  429s seen: {r.refused_429} ({told}); honoured (the same call again no sooner): "
        f"{h.honoured}, retried early {h.early}, given up {h.given_up} (goal: all honoured)",
        f"    other calls arriving while a Retry-After ran: {h.others_during_pause} "
        f"({IN_FLIGHT:g} s allowed for calls already under way); shortest wait beyond a "
        f"Retry-After {h.shortest_gap * 1000 if h.shortest_gap != float('inf') else 0:.0f} ms",
        f"  the bot's Teams counters: {counters}",
        f"  connector answers: {json.dumps(r.calls_by_status)}",
        f"  wall time: {r.seconds:.1f} s from 'checkin run' to the last nudge (first after "
        f"{r.seconds_to_first:.2f} s); {rate:.1f} nudges/s = {2 * rate:.1f} calls/s against "
        f"a limit of {args.rate:g} calls/s (burst {args.burst})",
        f"  minimum the limit allows: (2 x {r.people} - {args.burst}) / {args.rate:g} = "
        f"{minimum:.1f} s; ratio {ratio:.2f}",
        f"  the admin's reply after {_seconds(r.admin_reply_seconds)}: {r.admin_reply!r}",
        f"  install answered HTTP {r.install_status} in {r.install_seconds:.2f} s, its roster of "
        f"{r.people} kept after {_seconds(r.kept_seconds)}"
        + (" ('checkin run' sent at once, not waiting)" if args.at_once else "")
        + f"; bench process CPU during the round {r.cpu_seconds:.1f} s",
        f"  idle after the round, ticking every {args.tick_seconds:g} s: "
        f"{r.idle_cpu_per_second:.2f} CPU s/s = "
        f"{r.idle_cpu_per_second * args.tick_seconds * 1000:.0f} ms per tick with "
        f"{r.people} people",
    ]
    print("\n".join(lines), flush=True)
    missed = []
    if r.duplicates or r.lost:
        missed.append(f"round: {r.duplicates} duplicates, {r.lost} lost")
    if set(r.states) != {"sent"} or r.states.get("sent") != r.people:
        missed.append(f"round: nudges not all 'sent' in the database ({r.states})")
    if not r.finished:
        missed.append("round: not finished in time")
    if r.after_429.early or r.after_429.given_up:
        missed.append(f"round: 429s not honoured ({r.after_429})")
    return missed


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


# --- 2. answer latency ---------------------------------------------------------------------


async def generator() -> None:
    """The load's own process: a fake Bot Connector for the replies (its service URL is the
    first line on stdout), then the job read from stdin, then the outcome on stdout."""
    async with BaseConnector(token=None) as bf:  # any bearer token: the bot's own are checked
        print(json.dumps({"service_url": bf.service_url}), flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        outcome = await load(json.loads(line), bf)
    print(json.dumps(outcome), flush=True)


async def load(job: dict[str, Any], bf: BaseConnector) -> dict[str, Any]:
    """POST job["bodies"] to job["url"] at job["rate"] per second, never waiting for an
    answer before the next; then wait for the replies at `bf`. Per activity: [id, sent at
    (time.time()), HTTP status (0: none), ms]; per activity replied to: [replies, first
    reply's arrival, whether it names job["owners"][id]]."""
    url, rate = str(job["url"]), float(job["rate"])
    tokens: list[str] = job["tokens"]
    owners: dict[str, str] = job["owners"]
    bodies: list[bytes] = [json.dumps(b).encode() for b in job["bodies"]]
    ids = [str(b["id"]) for b in job["bodies"]]
    results: list[list[Any]] = [[] for _ in bodies]
    errors: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            headers = {
                "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                "Content-Type": "application/json",
            }
            sent_at = time.time()
            started = time.perf_counter()
            status = 0
            try:
                async with session.post(url, data=bodies[i], headers=headers) as response:
                    await response.read()
                    status = response.status
            except TimeoutError:
                errors["timeout"] += 1
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] += 1
            results[i] = [ids[i], sent_at, status, (time.perf_counter() - started) * 1000]

        sending, lags = await open_loop(len(bodies), rate, one)

    def replied() -> list[ConnectorCall]:
        return [c for c in bf.calls_to(REPLY) if 200 <= c.status < 300]

    deadline = time.time() + 30
    while len({c.activity_id for c in replied()}) < len(ids) and time.time() < deadline:  # noqa: ASYNC110 (polls the fake)
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # a second reply to anything would show now
    replies: dict[str, list[Any]] = {}
    for call in replied():
        key = call.activity_id or ""
        if key in job["warmup"]:
            continue
        if key in replies:
            replies[key][0] += 1
        else:
            named = owners.get(key, "\0") in card_text(call.json)
            replies[key] = [1, call.at, named]
    return {
        "results": results,
        "replies": replies,
        "errors": dict(errors),
        "send_seconds": sending,
        "lag_p99_ms": percentile(lags, 0.99),
    }


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@dataclass
class LatencyResult:
    sent: int
    send_seconds: float
    lag_p99_ms: float
    http_p50_ms: float
    http_p99_ms: float
    http_max_ms: float
    statuses: dict[int, int]
    errors: dict[str, int]
    replied: int  # activities of the load with a reply
    replied_once: int
    replied_twice: int
    stray: int  # replies to no activity of the load
    naming_owner: int
    reply_p50_ms: float
    reply_p99_ms: float
    reply_max_ms: float
    questions_recorded: int
    cpu_seconds: float
    idle_cpu_per_second: float
    window_seconds: float

    @property
    def non_2xx(self) -> int:
        return sum(n for s, n in self.statuses.items() if not 200 <= s < 300)


def questions_of(args: argparse.Namespace, service_url: str, b: Bench) -> list[dict[str, Any]]:
    """Who owns one area or another, asked by the people of the round in their 1:1 chats."""
    count = max(1, round(args.rps * args.seconds))
    askers = min(args.people, count)
    bodies = []
    for i in range(count):
        who = i % askers
        m = member(who)
        conversation = b.limited.personal.get(m["id"]) or f"a:1personal-{who}"
        title = AREAS[(i * 7 + who) % len(AREAS)][1]
        question = f"who owns {title.lower()}?" if i % 2 else f"Who owns the {title}?"
        sender = {"id": m["id"], "aadObjectId": m["aadObjectId"], "name": m["name"]}
        bodies.append(
            activity(service_url, sender=sender, conversation=conversation, text_=question)
        )
    return bodies


async def answer_latency(b: Bench, logs: Path) -> LatencyResult:
    args = b.args
    with logs.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE),
            "generate",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
        )
    assert process.stdin is not None and process.stdout is not None
    try:
        service_url = str(json.loads(await process.stdout.readline())["service_url"])
        # Tokens name the service URL the activities come from: the generator's connector.
        b.idp.service_url = service_url
        tokens = [b.idp.mint() for _ in range(TOKEN_POOL)]
        bodies = questions_of(args, service_url, b)
        owners = {}
        for body in bodies:
            area = next(k for k, (_, t) in enumerate(AREAS) if t.lower() in body["text"].lower())
            owners[body["id"]] = f"Person {owner(area, args.people)}"
        # Warm up: the first activities fetch the signing keys and a Bot Connector token.
        warmup = questions_of(args, service_url, b)[:WARMUP]
        for body in warmup:
            await b.post(body)
        await b.settle()
        (questions_before,) = (await b.rows("SELECT count(*) FROM questions"))[0]
        # What the bot's process spends doing nothing (its ticks), for comparison.
        await asyncio.sleep(1.0)
        idle_start, idle_wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(2.0)
        idle_rate = (time.process_time() - idle_start) / (time.perf_counter() - idle_wall)

        job = {"url": b.endpoint, "rate": args.rps, "tokens": tokens, "bodies": bodies}
        job["owners"] = owners
        job["warmup"] = [body["id"] for body in warmup]
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        process.stdin.write(json.dumps(job).encode() + b"\n")
        await process.stdin.drain()
        process.stdin.close()
        out = await process.stdout.read()
        if await process.wait() != 0:
            raise RuntimeError(f"the load generator failed:\n{tail(logs)}")
        if b.served.flush is not None:
            await b.served.flush()  # the questions recorded: part of the work measured
        cpu = time.process_time() - cpu_start
        window = time.perf_counter() - wall_start
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    (questions_after,) = (await b.rows("SELECT count(*) FROM questions"))[0]
    outcome = json.loads(out)
    results = [r for r in outcome["results"] if r]
    sent_at = {r[0]: r[1] for r in results}
    replies: dict[str, list[Any]] = outcome["replies"]
    ours = {a: r for a, r in replies.items() if a in sent_at}
    delays = [(r[1] - sent_at[a]) * 1000 for a, r in ours.items()]
    http = [float(r[3]) for r in results if r[2]]
    return LatencyResult(
        sent=len(bodies),
        send_seconds=float(outcome["send_seconds"]),
        lag_p99_ms=float(outcome["lag_p99_ms"]),
        http_p50_ms=percentile(http, 0.50),
        http_p99_ms=percentile(http, 0.99),
        http_max_ms=max(http, default=float("nan")),
        statuses=dict(Counter(int(r[2]) for r in results)),
        errors=outcome["errors"],
        replied=len(ours),
        replied_once=sum(1 for r in ours.values() if r[0] == 1),
        replied_twice=sum(1 for r in ours.values() if r[0] > 1),
        stray=sum(r[0] for a, r in replies.items() if a not in sent_at),
        naming_owner=sum(1 for r in ours.values() if r[2]),
        reply_p50_ms=percentile(delays, 0.50),
        reply_p99_ms=percentile(delays, 0.99),
        reply_max_ms=max(delays, default=float("nan")),
        questions_recorded=int(questions_after) - int(questions_before),
        cpu_seconds=cpu,
        idle_cpu_per_second=idle_rate,
        window_seconds=window,
    )


def report_latency(r: LatencyResult, args: argparse.Namespace) -> list[str]:
    net = max(r.cpu_seconds - r.idle_cpu_per_second * r.window_seconds, 0.0)
    lines = [
        f"answers: {r.sent} personal-chat questions at {args.rps:g}/s over {r.send_seconds:.1f} "
        f"s (open loop; sender lag p99 {r.lag_p99_ms:.1f} ms); tick every "
        f"{args.answer_tick_seconds:g} s",
        f"  HTTP answer p50 {r.http_p50_ms:.1f} ms, p99 {r.http_p99_ms:.1f} ms, max "
        f"{r.http_max_ms:.1f} ms; statuses {json.dumps(r.statuses)}, non-2xx {r.non_2xx}"
        + (f", errors {json.dumps(r.errors)}" if r.errors else ""),
        f"  reply at the connector after p50 {r.reply_p50_ms:.1f} ms, p99 {r.reply_p99_ms:.1f} "
        f"ms, max {r.reply_max_ms:.1f} ms (from sending the activity)",
        f"  replies received / sent: {r.replied}/{r.sent}; exactly one {r.replied_once}, more "
        f"than one {r.replied_twice}, stray {r.stray} (goal: exactly one each); naming the "
        f"area's owner {r.naming_owner}",
        f"  questions recorded {r.questions_recorded}/{r.sent}",
        f"  CPU of the bot's process: {r.cpu_seconds:.2f} s over {r.window_seconds:.1f} s = "
        f"{r.cpu_seconds / r.sent * 1000:.2f} ms per activity "
        f"({r.cpu_seconds / r.window_seconds:.2f} CPU s/s; idle it spends "
        f"{r.idle_cpu_per_second:.3f} CPU s/s, so "
        f"{net / r.sent * 1000:.2f} ms per activity net)",
    ]
    print("\n".join(lines), flush=True)
    missed = []
    if r.non_2xx:
        missed.append(f"answers: {r.non_2xx} not 2xx")
    if r.replied_once != r.sent or r.stray:
        missed.append(f"answers: {r.sent - r.replied_once} activities without exactly one reply")
    return missed


# --- running it ----------------------------------------------------------------------------


def bot_settings(
    tmp: Path, url: str, idp: FakeIdentityProvider, tick: float, pace: float
) -> Settings:
    return load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(tmp / "knowledge"),
            "OPSBOT_DATABASE_URL": url,
            "OPSBOT_SPOOL_DIR": str(tmp / "spool"),
            "OPSBOT_CACHE_DIR": str(tmp / "cache"),
            "OPSBOT_TICK_SECONDS": str(tick),
            "OPSBOT_TEAMS_POSTS_PER_SECOND": str(pace),
            "TEAMS_APP_ID": APP_ID,
            "TEAMS_APP_PASSWORD": APP_PASSWORD,
            "TEAMS_TENANT_ID": TENANT_ID,
            "TEAMS_OPENID_METADATA_URL": idp.openid_url,
            "TEAMS_LOGIN_URL": idp.login_url,
        }
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[TestServer]:
    """opsbot as `opsbot serve` runs it, on 127.0.0.1."""
    server = TestServer(create_app(lambda: serving(settings)), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def run(args: argparse.Namespace) -> int:
    counter = LogCounter()
    structlog.configure(
        processors=[structlog.processors.add_log_level, counter],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    logging.basicConfig(level=logging.WARNING, handlers=[counter.handler()], force=True)
    missed: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="opsbot-bench-teams-") as tmp_name:
        tmp = Path(tmp_name)
        write_knowledge(tmp / "knowledge", args.people)
        try:
            async with asyncio.timeout(args.timeout):
                missed = await _run(args, tmp)
        except TimeoutError:
            missed.append(f"the run passed --timeout {args.timeout:g} s")
    logs = dict(counter.seen.most_common())
    print(f"warnings and errors logged: {json.dumps(logs) if logs else 'none'}")
    for name, example in counter.examples.items():
        print(f"  e.g. {name}: {example}")
    print(f"total {time.perf_counter() - started:.0f} s")
    print("goals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


async def _run(args: argparse.Namespace, tmp: Path) -> list[str]:
    missed: list[str] = []
    async with (
        database(tmp) as url,
        FakeIdentityProvider() as idp,
        FakeConnector() as limited,
        aiohttp.ClientSession() as session,
        open_engine(url) as engine,
    ):
        idp.service_url = limited.service_url
        limited.token = idp.valid_token  # only tokens the identity provider issued
        limited.rate_limit(args.rate, args.burst, precise=args.retry_after == "ms")
        print(
            f"Teams round of {args.people} people through a connector limited to "
            f"{args.rate:g} calls/s (burst {args.burst}, Retry-After in {args.retry_after}); "
            f"bot paced at {pace(args):g} calls/s; tick every {args.tick_seconds:g} s; "
            f"database {url.split(':')[0]}",
            flush=True,
        )
        async with running(bot_settings(tmp, url, idp, args.tick_seconds, pace(args))) as server:
            b = Bench(args, server, session, idp, limited, engine)
            result = await checkin_round(b)
        missed += report_round(result, args)
        if args.rps > 0 and args.seconds > 0:
            # The same database and knowledge; ticking as often as in production.
            async with running(
                bot_settings(tmp, url, idp, args.answer_tick_seconds, pace(args))
            ) as server:
                b = replace(b, server=server)
                latency = await answer_latency(b, tmp / "generator.log")
            missed += report_latency(latency, args)
    return missed


def pace(args: argparse.Namespace) -> float:
    """The bot's pace: --posts-per-second, else the connector's limit (as an operator who
    knows it would set it)."""
    return float(args.rate if args.posts_per_second is None else args.posts_per_second)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=2000, help="people in the round")
    parser.add_argument("--rate", type=float, default=50.0, help="connector calls per second")
    parser.add_argument("--burst", type=int, default=10, help="connector burst")
    parser.add_argument(
        "--retry-after",
        choices=("seconds", "ms"),
        default="ms",
        help="the connector's Retry-After: whole seconds (as HTTP says) or milliseconds",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="answer load duration")
    parser.add_argument("--rps", type=float, default=200.0, help="activities per second")
    parser.add_argument(
        "--tick-seconds", type=float, default=0.2, help="OPSBOT_TICK_SECONDS for the round"
    )
    parser.add_argument(
        "--answer-tick-seconds",
        type=float,
        default=30.0,
        help="OPSBOT_TICK_SECONDS while answering (30: the default)",
    )
    parser.add_argument(
        "--settle-ticks",
        type=float,
        default=2,
        help="ticks let pass after the roster is kept, before 'checkin run'",
    )
    parser.add_argument(
        "--at-once",
        action="store_true",
        help="send 'checkin run' as soon as the install is answered (roster not kept yet)",
    )
    parser.add_argument(
        "--posts-per-second",
        type=float,
        default=None,
        help="OPSBOT_TEAMS_POSTS_PER_SECOND, the bot's pace (default: --rate; 0: unpaced)",
    )
    parser.add_argument(
        "--round-timeout", type=float, default=420.0, help="give up waiting for the round after"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="give up the whole run after")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(arguments(argv)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["generate"]:
        asyncio.run(generator())
    else:
        sys.exit(main())
