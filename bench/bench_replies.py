"""Questions asked at once in one busy channel, answered through a running opsbot.

    python bench/bench_replies.py [--questions 4] [--channel-rate 1] [--per-channel 1]
        [--refuse 0] [--deadline 60] [--rounds 3]

--questions @mentions arrive at once in one channel (signed, to /slack/events of opsbot
running as `opsbot serve` does). The fake Slack of tests/slack_fake.py holds
chat.postMessage to Slack's own limit of --channel-rate posts a second per channel
(bursts of 1, Retry-After in whole seconds, as Slack sends it), and with --refuse N
also answers the first N posts with 429 Retry-After: 1. The bot spaces its posts to a
channel at --per-channel a second (OPSBOT_SLACK_CHANNEL_POSTS_PER_SECOND; 0: not
spaced, living on 429s alone) and retries a reply until --deadline seconds
(OPSBOT_SLACK_REPLY_DEADLINE_SECONDS).

Printed per round: answers delivered (goal: every question, once, in its thread), the
429s Slack answered, seconds from the questions to the last answer against the minimum
the channel allows ((questions - 1) / channel rate), and the replies opsbot dropped
(/metrics). Exits 1 when an answer is lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import serving  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.logs import configure  # noqa: E402
from bot.web import SERVED, create_app  # noqa: E402
from tests.slack_fake import FakeSlack, event_body, sign  # noqa: E402

# Made-up credentials: everything stays on 127.0.0.1 with a fake Slack.
SECRET = "bench-signing-secret"  # noqa: S105
TOKEN = "xoxb-bench-token"  # noqa: S105
KNOWLEDGE = ROOT / "tests" / "data" / "mini"
QUESTIONS = ("who owns model monitoring", "what is data drift", "who is on mlp?")


async def one_round(args: argparse.Namespace, number: int, tmp: Path) -> bool:
    async with FakeSlack() as slack:
        slack.rate_limit("chat.postMessage", per_second=args.channel_rate, burst=1)
        if args.refuse:
            slack.fail("chat.postMessage", status=429, retry_after=1, times=args.refuse)
        settings = load_settings(
            {
                "OPSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / f'round{number}.db'}",
                "OPSBOT_KNOWLEDGE_DIR": str(KNOWLEDGE),
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
                "OPSBOT_SLACK_CHANNEL_POSTS_PER_SECOND": str(args.per_channel),
                "OPSBOT_SLACK_REPLY_DEADLINE_SECONDS": str(args.deadline),
            }
        )
        async with TestClient(TestServer(create_app(lambda: serving(settings)))) as client:
            stamps = [f"17000000{i:02d}.000100" for i in range(args.questions)]
            bodies = [
                event_body(
                    {"type": "app_mention", "user": f"U{i}", "channel": "C1", "ts": ts,
                     "text": f"<@UBOT> {QUESTIONS[i % len(QUESTIONS)]}"},
                    event_id=f"Ev{i}",
                )
                for i, ts in enumerate(stamps)
            ]  # fmt: skip
            started = time.time()
            await asyncio.gather(*(post(client, body) for body in bodies))
            adapter = client.app[SERVED].slack
            assert adapter is not None
            await adapter.drain(args.deadline + 30)  # every reply delivered or given up
            metrics = await (await client.get("/metrics")).text()
        posts = slack.calls_to("chat.postMessage")
        answered = [str(c.params.get("thread_ts")) for c in posts if c.status == 200]
        refused = sum(1 for c in posts if c.status == 429)
        last = max((c.at for c in posts if c.status == 200), default=started) - started
        dropped = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("opsbot_replies_dropped_total{")
        )
        minimum = (args.questions - 1) / args.channel_rate
        print(
            f"round {number}: {len(set(answered))}/{args.questions} answered "
            f"({len(answered) - len(set(answered))} duplicates), {refused} posts refused 429, "
            f"last answer after {last:.1f} s (channel minimum {minimum:.1f} s), "
            f"{dropped:g} dropped",
            flush=True,
        )
        return sorted(answered) == sorted(stamps)


async def post(client: TestClient, body: bytes) -> None:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json", **sign(body, SECRET)}
    response = await client.post("/slack/events", data=body, headers=headers)
    assert response.status == 200, response.status


async def run(args: argparse.Namespace) -> int:
    configure(level="error")
    print(
        f"{args.questions} questions at once in one channel; Slack allows "
        f"{args.channel_rate:g} post/s per channel, refuses the first {args.refuse} with 429; "
        f"bot spaces {args.per_channel:g}/s per channel, reply deadline {args.deadline:g} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="opsbot-bench-") as tmp:
        results = [await one_round(args, n + 1, Path(tmp)) for n in range(args.rounds)]
    ok = all(results)
    print("goal (every question answered once): " + ("met" if ok else "MISSED"))
    return 0 if ok else 1


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--channel-rate", type=float, default=1.0)
    parser.add_argument("--per-channel", type=float, default=1.0)
    parser.add_argument("--refuse", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(arguments(argv)))


if __name__ == "__main__":
    sys.exit(main())
