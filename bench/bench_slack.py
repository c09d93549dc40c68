"""Slack ack latency: `opsbot serve` against a bare slack-bolt app, at fixed request rates.

    python bench/bench_slack.py [--rates 50,200,500] [--seconds 10] [--warmup 3]

Signed `/ops who owns <area>` slash commands (area titles of the sample knowledge) are
sent open-loop at each rate to three servers, each its own process on 127.0.0.1,
taking turns per rate so machine noise hits all alike:

    opsbot        `python -m bot serve` (answers in the ack, records the question after)
    bare-default  bench/bare_bolt_app.py, bolt's default mode (ack polled every 10 ms)
    bare-pbr      bench/bare_bolt_app.py --process-before-response

The bare app acks a constant text. A fake Slack Web API (tests/slack_fake.py) answers
the auth.test each bolt app makes once. The load comes from a process of its own, so
client and server do not share an event loop; latency is send to full response.

Goals (issues): p50 opsbot/bare-default <= 0.5, p50 opsbot/bare-pbr <= 2, no errors at
500/s, every question recorded, and at the top rate p99 <= 4 ms and CPU per request (user
+ system of the server process) <= 1.5x bare-pbr's. Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openloop import open_loop  # noqa: E402

from tests.slack_fake import FakeSlack, sign, slash_command_body  # noqa: E402

# Made-up credentials: everything stays on 127.0.0.1 with a fake Slack.
SECRET = "bench-signing-secret"  # noqa: S105
TOKEN = "xoxb-bench"  # noqa: S105
HOST = "127.0.0.1"
OPSBOT_ANSWER = "is owned by"
BARE_ANSWER = "constant answer"
TIMEOUT = 3.0  # Slack gives up on an ack after 3 s
CONNECTIONS = 100
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
P99_GOAL_MS = 4.0
CPU_GOAL = 1.5


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the load generator (runs in a process of its own: `bench_slack.py generate`) -------------


async def generate(
    url: str, rate: float, seconds: float, expect: str, areas: list[str]
) -> dict[str, Any]:
    """Send rate*seconds signed slash commands at fixed intervals, never waiting for answers."""
    count = max(1, round(rate * seconds))
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            body = slash_command_body(f"who owns {areas[i % len(areas)]}", user_id=f"U{i % 97}")
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, SECRET)}
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    text = await response.text()
                    elapsed = time.perf_counter() - started
            except TimeoutError:
                errors["timeout"] += 1
                return
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] += 1
                return
            if response.status != 200:
                errors[f"HTTP {response.status}"] += 1
            elif expect not in text:
                errors["wrong body"] += 1
            else:
                latencies.append(elapsed * 1000)

        sent, lags = await open_loop(count, rate, one)
    return {
        "sent": count,
        "send_seconds": sent,
        "latencies": latencies,
        "errors": dict(errors),
        "lag_p99": percentile(lags, 0.99),
    }


def generate_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_slack.py generate")
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--expect", required=True)
    args = parser.parse_args(argv)
    areas = json.loads(sys.stdin.read())
    result = asyncio.run(generate(args.url, args.rate, args.seconds, args.expect, areas))
    print(json.dumps(result))


# --- servers -----------------------------------------------------------------------------------


@dataclass
class Run:
    server: str
    rate: float
    sent: int
    errors: dict[str, int]
    latencies: list[float]
    cpu_ms: float
    lag_p99: float
    recorded: int | None = None  # questions stored (opsbot only)
    behind: float = 0.0  # seconds the storing took after the last answer

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_ms / max(self.sent, 1)

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    expect: str
    port: int
    log: Path
    database: Path | None = None
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/slack/events"

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    async def wait_healthy(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        url = f"http://{HOST}:{self.port}/healthz"
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process is None or self.process.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name} did not come up on port {self.port}:\n{tail}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICK

    def questions(self) -> int:
        assert self.database is not None
        with contextlib.closing(sqlite3.connect(self.database, timeout=5)) as db:
            return int(db.execute("SELECT count(*) FROM questions").fetchone()[0])

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def base_env() -> dict[str, str]:
    """This environment without any opsbot or Slack setting that could leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSBOT_", "SLACK_"))}
    return env | {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}


def servers(tmp: Path, api_url: str) -> list[Server]:
    python = sys.executable
    database = tmp / "opsbot.db"
    opsbot_port = free_port()
    opsbot = Server(
        name="opsbot",
        argv=[python, "-m", "bot", "serve"],
        env=base_env()
        | {
            "OPSBOT_HOST": HOST,
            "OPSBOT_PORT": str(opsbot_port),
            "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "OPSBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
            "OPSBOT_LOG_LEVEL": "warning",
            "SLACK_API_URL": api_url,
        },
        expect=OPSBOT_ANSWER,
        port=opsbot_port,
        log=tmp / "opsbot.log",
        database=database,
    )
    out = [opsbot]
    for name, flags in (("bare-default", []), ("bare-pbr", ["--process-before-response"])):
        port = free_port()
        argv = [python, str(ROOT / "bench" / "bare_bolt_app.py"), "--port", str(port)]
        out.append(
            Server(
                name=name,
                argv=[*argv, "--api-url", api_url, *flags],
                env=base_env(),
                expect=BARE_ANSWER,
                port=port,
                log=tmp / f"{name}.log",
            )
        )
    return out


def area_titles() -> list[str]:
    from bot.kb import load_knowledge
    from bot.model import OwnableSpec

    knowledge = load_knowledge(ROOT / "knowledge", today=date.today()).knowledge
    titles = [
        e.title
        for e in knowledge.ownables()
        if isinstance(e.spec, OwnableSpec) and e.ref.kind == "area"
    ]
    if not titles:
        raise RuntimeError("the sample knowledge has no areas")
    return titles


async def load(server: Server, rate: float, seconds: float, areas: list[str]) -> dict[str, Any]:
    """One open-loop run against `server`, from a generator process of its own."""
    argv = [sys.executable, __file__, "generate", "--url", server.url]
    argv += ["--rate", str(rate), "--seconds", str(seconds), "--expect", server.expect]
    generator = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            generator.communicate(json.dumps(areas).encode()), seconds + TIMEOUT + 30
        )
    except TimeoutError:
        raise RuntimeError(f"the load generator against {server.name} hung") from None
    finally:
        if generator.returncode is None:  # timed out, or the bench was interrupted
            with contextlib.suppress(ProcessLookupError):
                generator.kill()
            await generator.wait()
    if generator.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{err.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(out)
    return result


async def settle(server: Server, want: int) -> tuple[int, float]:
    """Rows in opsbot's questions table once `want` are there or no more arrive; how long."""
    started = last_change = time.monotonic()
    found = server.questions()
    while found < want and time.monotonic() - last_change < 5 and time.monotonic() - started < 60:
        await asyncio.sleep(0.1)
        now = server.questions()
        if now != found:
            found, last_change = now, time.monotonic()
    return found, time.monotonic() - started


async def measure(server: Server, rate: float, seconds: float, areas: list[str]) -> Run:
    before_rows = server.questions() if server.database else 0
    before_cpu = server.cpu_seconds()
    result = await load(server, rate, seconds, areas)
    recorded, behind = None, 0.0
    if server.database is not None:  # the recording happens after the ack: wait for it
        rows, behind = await settle(server, before_rows + result["sent"])
        recorded = rows - before_rows
    cpu_ms = (server.cpu_seconds() - before_cpu) * 1000
    return Run(
        server=server.name,
        rate=rate,
        sent=result["sent"],
        errors=result["errors"],
        latencies=result["latencies"],
        cpu_ms=cpu_ms,
        lag_p99=result["lag_p99"],
        recorded=recorded,
        behind=behind,
    )


# --- the report --------------------------------------------------------------------------------


def print_runs(runs: list[Run]) -> None:
    print(
        f"{'server':13s} {'rate/s':>6s} {'sent':>6s} {'errors':>6s} {'p50 ms':>7s} "
        f"{'p99 ms':>7s} {'max ms':>7s} {'cpu ms/req':>10s} {'gen lag p99':>11s}  recorded"
    )
    for run in runs:
        recorded = "" if run.recorded is None else f"{run.recorded}/{run.sent} +{run.behind:.1f}s"
        worst = max(run.latencies, default=float("nan"))
        print(
            f"{run.server:13s} {run.rate:6.0f} {run.sent:6d} {run.error_count:6d} "
            f"{run.p50:7.2f} {run.p99:7.2f} {worst:7.2f} {run.cpu_ms / run.sent:10.3f} "
            f"{run.lag_p99:9.2f}ms  {recorded}"
        )
        if run.errors:
            print(f"{'':13s} errors: {run.errors}")


def print_ratios(runs: list[Run], rates: list[float]) -> bool:
    by = {(r.server, r.rate): r for r in runs}
    print()
    print(
        f"{'rate/s':>6s}  {'p50 ops/default':>15s} {'p99 ops/default':>15s}  "
        f"{'p50 ops/pbr':>11s} {'p99 ops/pbr':>11s}  {'cpu ops/pbr':>11s} {'cpu ops/default':>15s}"
    )
    faster, close = True, True
    for rate in rates:
        ops, default, pbr = (by[(name, rate)] for name in ("opsbot", "bare-default", "bare-pbr"))
        d50, d99 = ops.p50 / default.p50, ops.p99 / default.p99
        p50, p99 = ops.p50 / pbr.p50, ops.p99 / pbr.p99
        cpu = ops.cpu_per_request / pbr.cpu_per_request
        cpu_default = ops.cpu_per_request / default.cpu_per_request
        print(
            f"{rate:6.0f}  {d50:15.2f} {d99:15.2f}  {p50:11.2f} {p99:11.2f}  "
            f"{cpu:11.2f} {cpu_default:15.2f}"
        )
        faster = faster and d50 <= 0.5
        close = close and p50 <= 2.0
    top = max(rates)
    clean = all(r.error_count == 0 for r in runs if r.rate == top)
    busiest = by[("opsbot", top)]
    cpu_ratio = busiest.cpu_per_request / by[("bare-pbr", top)].cpu_per_request
    stored = [r for r in runs if r.recorded is not None]
    recorded = all(r.recorded == r.sent for r in stored)
    print()
    total = sum(r.recorded or 0 for r in stored)
    print(f"recorded: {total}/{sum(r.sent for r in stored)} questions in opsbot's database")
    goals = [
        ("p50 opsbot/bare-default <= 0.5 at every rate", faster),
        ("p50 opsbot/bare-pbr <= 2 at every rate", close),
        (f"0 errors at {top:.0f}/s", clean),
        (f"p99 <= {P99_GOAL_MS:g} ms at {top:.0f}/s", busiest.p99 <= P99_GOAL_MS),
        (f"CPU per request <= {CPU_GOAL:g}x bare-pbr's at {top:.0f}/s", cpu_ratio <= CPU_GOAL),
        ("every question recorded", recorded),
    ]
    for goal, held in goals:
        print(f"goal: {goal}: {'yes' if held else 'NO'}")
    return all(held for _, held in goals)


def print_log(server: Server, most: int = 5) -> None:
    """What a server logged (warnings and worse): how many lines, and the first few."""
    lines = [line for line in server.log.read_text(errors="replace").splitlines() if line]
    if lines:
        print(f"{server.name} logged {len(lines)} line(s), first ones:")
        for line in lines[:most]:
            print(f"  {line[:300]}")


# --- main --------------------------------------------------------------------------------------


async def bench(rates: list[float], seconds: float, warmup: float) -> bool:
    areas = area_titles()
    with tempfile.TemporaryDirectory(prefix="bench-slack-") as tmp:
        async with FakeSlack() as fake:
            running = servers(Path(tmp), fake.api_url)
            try:
                for server in running:
                    await server.start()
                for server in running:
                    await server.wait_healthy()
                print(
                    f"== {len(areas)} areas, rates {', '.join(f'{r:g}' for r in rates)}/s, "
                    f"{seconds:g} s each, {os.cpu_count()} CPUs"
                )
                for server in running:  # auth.test, imports, caches, the database file
                    warm = await measure(server, 100, warmup, areas)
                    if warm.error_count:
                        print(f"warm-up of {server.name}: {warm.errors}")
                runs = []
                for rate in rates:
                    for server in running:
                        runs.append(await measure(server, rate, seconds, areas))
                auth = len(fake.calls_to("auth.test"))
                print(f"auth.test calls to the fake Slack: {auth} (one per server)")
                print()
                print_runs(runs)
                held = print_ratios(runs, rates)
                for server in running:
                    print_log(server)
                return held
            finally:
                for server in running:
                    await server.stop()


def main() -> None:
    if sys.argv[1:2] == ["generate"]:
        generate_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="50,200,500", help="requests/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="per server and rate")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at 100/s per server")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    ok = asyncio.run(bench(rates, args.seconds, args.warmup))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
