"""Ownership attestation through the composition root: owners asked once, in their own
morning, batched per person; answers stored; a "no" names the owner now and tells the
maintainers; answers then say who confirmed. Real SQLite and PostgreSQL; the messenger
records what it would deliver.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.app import Bot, open_bot
from bot.attestation.freshness import MAX_ASKED, NO, OPTIONS, YES, due, freshness, owners
from bot.attestation.service import changes
from bot.cli import main
from bot.config import load_settings
from bot.console import render
from bot.events import CheckinClick, Command, Message, Origin, OwnerNamed, parse_payload
from bot.kb import require_knowledge
from bot.kb.patch import Change, make_patch
from bot.model import Entity, OwnableSpec, Ref, Source
from bot.ports import AttestRecord, NudgeMessage
from tests.fakes import FakeClock, RecordingMessenger

DATA = Path(__file__).parent / "data" / "attest"
GIT = shutil.which("git") or "git"  # what a developer applies the patch with
ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
SUNDAY = datetime(2026, 11, 29, 12, tzinfo=UTC)
MONDAY_10_LONDON = datetime(2026, 11, 30, 10, tzinfo=UTC)  # and UTC: carol has no zone
MONDAY_10_NEW_YORK = datetime(2026, 11, 30, 15, tzinfo=UTC)
MONITORING = Ref(kind="area", name="model-monitoring")
INGESTION = Ref(kind="area", name="ingestion")


def origin(user: str) -> Origin:
    return Origin(platform="slack", user=user, channel=f"D-{user}")


@asynccontextmanager
async def replica(
    url: str, clock: FakeClock, messenger: RecordingMessenger, **extra: str
) -> AsyncIterator[Bot]:
    spool = Path(tempfile.mkdtemp(prefix="opsbot-spool-"))
    settings = load_settings(
        {
            "OPSBOT_KNOWLEDGE_DIR": str(DATA),
            "OPSBOT_DATABASE_URL": url,
            "OPSBOT_SPOOL_DIR": str(spool),
            **extra,
        }
    )
    async with open_bot(settings, clock=clock) as bot:
        bot.enable_checkins(messenger)
        yield bot


async def tick(bot: Bot, clock: FakeClock, when: datetime) -> None:
    clock.current = when
    assert bot.attestation is not None
    await bot.attestation.tick()
    assert bot.handlers is not None
    service = bot.handlers._checkins  # the check-ins' tick sends attestation nudges too
    assert service is not None
    await service.tick()


def firsts(messenger: RecordingMessenger, user: str) -> list[NudgeMessage]:
    return [n for n in messenger.nudges if n.user == user and not n.reminder]


async def test_owners_confirm_dispute_and_answers_say_who_confirmed(database_url: str) -> None:
    clock = FakeClock(SUNDAY)
    messenger = RecordingMessenger()
    async with (
        replica(database_url, clock, messenger) as bot,
        replica(database_url, clock, messenger) as other,
    ):
        await tick(bot, clock, SUNDAY)
        assert messenger.nudges == []  # first seen on Sunday; asked on weekday mornings
        for each in (bot, other, bot):  # two replicas, ticking twice: each asked once
            await tick(each, clock, MONDAY_10_LONDON)
        (alices,) = firsts(messenger, ALICE)
        (carols,) = firsts(messenger, CAROL)
        assert firsts(messenger, BOB) == []  # 05:00 in New York
        assert alices.title == "Ownership check: Ingestion, Model monitoring"
        assert await bot.handlers.open_checkins(ALICE) == [
            ("Ownership check: Ingestion, Model monitoring", "2026-11-30T10:00")
        ]  # what the App Home lists
        assert [q.text for q in alices.questions] == [
            "Your team Data Engineering is listed as owner of Ingestion. Still right?",
            "You're listed as owner of Model monitoring (backup: Bob Okafor,"
            " channel: #ml-monitoring). Still right?",
        ]
        assert all(q.options == OPTIONS for q in alices.questions)
        assert [q.text for q in carols.questions] == [alices.questions[0].text]

        # A "yes": stored with who and when; answers then say so.
        yes = CheckinClick(
            origin=origin(ALICE),
            round_id=alices.round_id,
            action="answer",
            question="q2",
            value=YES,
        )
        reply = await bot.handlers.handle(yes)
        assert reply.text.startswith("Thanks! Recorded Yes for: You're listed as owner of")
        at_once = await bot.handlers.handle(  # this replica knows at once; others next tick
            Message(origin=origin(BOB), text="who owns model monitoring?")
        )
        assert at_once.confirmed is not None and at_once.confirmed.by == "Alice Chen"
        await tick(other, clock, MONDAY_10_LONDON + timedelta(minutes=1))
        answer = await other.handlers.handle(
            Message(origin=origin(BOB), text="who owns model monitoring?")
        )
        assert answer.confirmed is not None
        assert (answer.confirmed.by, answer.confirmed.on) == ("Alice Chen", date(2026, 11, 30))
        assert "(Ownership confirmed by @Alice Chen on 2026-11-30.)" in render(
            answer, one_line=False
        )

        # A "no": asked who owns it now; the answer goes to the maintainers (the admins).
        no = CheckinClick(
            origin=origin(CAROL),
            round_id=carols.round_id,
            action="answer",
            question="q1",
            value=NO,
        )
        asked = await bot.handlers.handle(no)
        assert "Who owns Ingestion now?" in asked.text
        assert f"/ops attest owner {carols.round_id} q1 NAME" in asked.text
        named = await bot.handlers.handle(
            Command(origin=origin(CAROL), text=f"attest owner {carols.round_id} q1 ML Platform")
        )
        assert named.text == (
            "Thanks! Noted that Ingestion is now owned by ML Platform (team:ml-platform)."
        )
        ((to, notice, _),) = messenger.reports
        assert to == ALICE  # no knowledge channel: the admin (role opsbot-admin), by DM
        assert "Ingestion (area:ingestion) is disputed: Carol Diaz says" in notice
        stranger = await bot.handlers.handle(
            Command(origin=origin(BOB), text=f"attest owner {carols.round_id} q1 bob")
        )
        assert "only they can answer it" in stranger.text

        # Bob, in New York, gets his own morning; his team's entity names the team.
        await tick(bot, clock, MONDAY_10_NEW_YORK)
        (bobs,) = firsts(messenger, BOB)
        assert [q.text for q in bobs.questions] == [
            "Your team ML Platform is listed as owner of Training pipeline. Still right?"
        ]

        # One reminder, at the schedule's first occurrence two days on, to those who have not
        # answered (as for check-ins: any answer counts); not again.
        for when in (datetime(2026, 12, 2, 10, tzinfo=UTC), datetime(2026, 12, 2, 15, tzinfo=UTC)):
            await tick(bot, clock, when)
            await tick(other, clock, when + timedelta(minutes=5))
        reminded = sorted(n.user for n in messenger.nudges if n.reminder)
        assert reminded == [BOB]  # alice and carol answered

        assert bot.attestation is not None
        states = {f.entity.ref.name: f.state for f in await bot.attestation.status()}
        assert states == {
            "model-monitoring": "confirmed",
            "feature-store": "confirmed",  # reviewed in the file this month
            "ingestion": "disputed",
            "training-pipeline": "pending",
        }

        # Within the period nobody is asked about the same entity again.
        before = len([n for n in messenger.nudges if not n.reminder])
        await tick(bot, clock, datetime(2026, 12, 14, 10, tzinfo=UTC))
        await tick(bot, clock, datetime(2026, 12, 14, 15, tzinfo=UTC))
        assert len([n for n in messenger.nudges if not n.reminder]) == before


async def test_attest_run_is_for_admins(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 29, 22, tzinfo=UTC))
    messenger = RecordingMessenger()
    async with replica(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, messenger) as bot:
        refused = await bot.handlers.handle(Command(origin=origin(CAROL), text="attest run"))
        assert refused.text.startswith("Sorry, only opsbot admins")
        assert messenger.nudges == []
        started = await bot.handlers.handle(Command(origin=origin(ALICE), text="attest run"))
        assert started.text == (
            "Asked 3 people to confirm the owners of 3 entities (those confirmed longest ago)."
        )  # every one of them has a chat account
        assert sorted(n.user for n in messenger.nudges) == [ALICE, BOB, CAROL]
        again = await bot.handlers.handle(Command(origin=origin(ALICE), text="attest run"))
        assert again.text.startswith("Nothing to confirm")
        assert len(messenger.nudges) == 3
        status = await bot.handlers.handle(Command(origin=origin(CAROL), text="attest status"))
        assert status.text.startswith("Ownership of 4 entities: 1 confirmed, 3 pending")


KNOWLEDGE = require_knowledge(DATA, today=date(2026, 11, 29))


def test_who_answers_for_an_entity() -> None:
    """The owning person; a team's lead; else every member of the team."""

    def names(ref: Ref) -> list[str]:
        return [p.ref.name for p in owners(KNOWLEDGE, KNOWLEDGE.entities[ref])]

    assert names(MONITORING) == ["alice"]
    assert names(Ref(kind="area", name="training-pipeline")) == ["bob"]  # the lead
    assert names(INGESTION) == ["alice", "carol"]  # no lead: every member


def record(
    entity: Ref, *, asked: datetime, answer: str | None = None, sent: bool = True
) -> AttestRecord:
    return AttestRecord(
        round_id=1,
        person="person:alice",
        question="q1",
        entity=str(entity),
        asked_at=asked,
        closes_at=asked + timedelta(days=7),
        sent=sent,
        answer=answer,
        answered_at=None if answer is None else asked + timedelta(hours=1),
    )


@pytest.mark.parametrize(
    ("records", "asked"),
    [
        ([], True),  # never confirmed
        ([record(MONITORING, asked=MONDAY_10_LONDON - timedelta(days=30), answer=YES)], False),
        ([record(MONITORING, asked=MONDAY_10_LONDON - timedelta(days=100), answer=YES)], True),
        ([record(MONITORING, asked=MONDAY_10_LONDON - timedelta(days=30))], False),  # unanswered
        # Claimed but never delivered (no chat account), and closed: asked again.
        ([record(MONITORING, asked=MONDAY_10_LONDON - timedelta(days=30), sent=False)], True),
        ([record(MONITORING, asked=MONDAY_10_LONDON - timedelta(days=100), answer=NO)], True),
    ],
)
def test_an_entity_is_asked_about_at_most_once_a_period(
    records: list[AttestRecord], asked: bool
) -> None:
    found = due(KNOWLEDGE, records, MONDAY_10_LONDON, timedelta(days=90))
    alices = [e.ref for e in found.get(Ref(kind="person", name="alice"), [])]
    assert (MONITORING in alices) is asked


def test_one_message_asks_about_a_bounded_number_of_entities(tmp_path: Path) -> None:
    """Someone owning many overdue entities is asked about the MAX_ASKED named first."""
    docs = [
        {"apiVersion": "opsbot/v1", "kind": "Person", "metadata": {"name": "dana"}, "spec": {}}
    ] + [
        {
            "apiVersion": "opsbot/v1",
            "kind": "Area",
            "metadata": {"name": f"area-{i:02d}"},
            "spec": {"owner": "person:dana"},
        }
        for i in range(MAX_ASKED + 5)
    ]
    (tmp_path / "many.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    knowledge = require_knowledge(tmp_path, today=date(2026, 11, 29))
    (asked,) = due(knowledge, [], MONDAY_10_LONDON, timedelta(days=90)).values()
    assert [e.ref.name for e in asked] == [f"area-{i:02d}" for i in range(MAX_ASKED)]


async def answer_in(bot: Bot, user: str, round_id: int, question: str, value: str) -> str:
    click = CheckinClick(
        origin=origin(user), round_id=round_id, action="answer", question=question, value=value
    )
    return (await bot.handlers.handle(click)).text


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [GIT, "-C", str(repo), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603


async def answered(url: str) -> None:
    """Alice and Bob confirm one each; Carol says Ingestion is ML Platform's now."""
    clock = FakeClock(MONDAY_10_LONDON)
    messenger = RecordingMessenger()
    async with replica(url, clock, messenger) as bot:
        await bot.handlers.handle(Command(origin=origin(ALICE), text="attest run"))
        (alices,) = firsts(messenger, ALICE)
        (bobs,) = firsts(messenger, BOB)
        (carols,) = firsts(messenger, CAROL)
        await answer_in(bot, ALICE, alices.round_id, "q2", YES)  # model monitoring
        await answer_in(bot, BOB, bobs.round_id, "q1", YES)  # training pipeline
        await answer_in(bot, CAROL, carols.round_id, "q1", NO)  # ingestion
        await bot.handlers.handle(
            Command(origin=origin(CAROL), text=f"attest owner {carols.round_id} q1 ml-platform")
        )


def test_attest_patch_is_a_diff_git_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every "yes" bumps `reviewed`, an answered "no" changes `owner`; comments, flow style
    and the rest of the files are kept, and the result is valid knowledge."""
    repo = tmp_path / "repo"
    shutil.copytree(DATA, repo / "knowledge")
    git(repo, "init", "-q")
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    asyncio.run(answered(url))
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(repo / "knowledge"))
    monkeypatch.setenv("OPSBOT_DATABASE_URL", url)
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert main(["attest", "status"]) == 0
    status = capsys.readouterr().out.splitlines()
    assert status[0].startswith("disputed   area:ingestion  confirmed 2024-06-01 by the file")
    assert status[0].endswith("proposed owner: team:ml-platform")
    assert "confirmed  area:model-monitoring  confirmed 2026-11-30 by person:alice" in status
    assert main(["attest", "patch"]) == 0
    printed = capsys.readouterr()
    diff = printed.out
    assert "note:" not in printed.err  # everything could be patched
    (repo / "fix.patch").write_text(diff, encoding="utf-8")
    git(repo, "apply", "--check", "fix.patch")
    git(repo, "apply", "fix.patch")
    patched = (repo / "knowledge" / "org.yaml").read_text(encoding="utf-8")
    original = (DATA / "org.yaml").read_text(encoding="utf-8")
    assert (
        "  owner: person:alice   # the person who answers for it\n  reviewed: 2026-11-30\n"
        in patched
    )
    assert "spec: {owner: team:ml-platform, reviewed: 2026-11-30}" in patched  # training
    today = datetime.now(UTC).date().isoformat()  # the maintainers' review: the patch's day
    assert f"spec:\n  owner: team:ml-platform\n  reviewed: {today}\n" in patched  # ingestion
    assert "spec: {owner: team:ml-platform, reviewed: 2026-11-01}" in patched  # untouched
    assert len(patched.splitlines()) == len(original.splitlines()) + 1
    assert main(["kb", "validate", str(repo / "knowledge")]) == 0


BACKSTAGE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: artist-web
  # who to call
spec:
  type: website
  lifecycle: production
  owner: 'group:team-a'  # pager
  system: artist-engagement-portal
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: wide}
spec: {type: service,
  owner: x}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: flat}
spec: owner
"""


def component(name: str, line: int) -> Entity:
    return Entity(
        ref=Ref(kind="component", name=name),
        title=name,
        spec=OwnableSpec(owner=Ref(kind="group", name="team-a")),
        source=Source(file="c.yaml", line=line),
    )


def test_a_patch_keeps_backstage_layout_and_notes_what_it_cannot_edit() -> None:
    changes = [
        Change(entity=component("artist-web", 4), reviewed=date(2026, 11, 30)),
        Change(entity=component("wide", 15), owner=Ref(kind="group", name="team-b")),
        Change(entity=component("flat", 21), reviewed=date(2026, 11, 30)),
        Change(entity=component("elsewhere", 1), reviewed=date(2026, 11, 30)),
    ]
    changes[3] = Change(
        entity=replace(changes[3].entity, source=Source(file="gone.yaml", line=1)),
        reviewed=date(2026, 11, 30),
    )
    patch = make_patch(changes, {"c.yaml": BACKSTAGE}, {"c.yaml": "catalog/c.yaml"})
    assert patch.diff.splitlines()[:2] == ["--- a/catalog/c.yaml", "+++ b/catalog/c.yaml"]
    added = [line for line in patch.diff.splitlines() if line.startswith("+ ")]
    assert added == ["+  reviewed: 2026-11-30"]  # after the owner, comments kept
    assert "   owner: 'group:team-a'  # pager\n+  reviewed: 2026-11-30\n" in patch.diff
    assert patch.notes == [
        "c.yaml:21: component:flat: its spec is written in a way this cannot edit",
        "c.yaml:15: component:wide: its spec spans several lines in flow style; edit by hand",
        "gone.yaml:1: file not found; edit component:elsewhere by hand",
    ]


def test_changes_from_answers_and_what_needs_a_human() -> None:
    asked = MONDAY_10_LONDON
    records = [
        record(MONITORING, asked=asked, answer=YES),
        replace(record(INGESTION, asked=asked, answer=NO), proposed_owner="the data folks"),
        replace(
            record(Ref(kind="area", name="training-pipeline"), asked=asked, answer=NO),
            proposed_owner="team:data",
        ),
    ]
    found, notes = changes(KNOWLEDGE, records, date(2026, 12, 2))
    assert {(c.entity.ref.name, c.reviewed, c.owner) for c in found} == {
        ("model-monitoring", date(2026, 11, 30), None),
        ("training-pipeline", date(2026, 12, 2), Ref(kind="team", name="data")),
    }
    assert notes == ["area:ingestion: person:alice says the owner changed (the data folks)"]


def test_an_owner_confirms_and_disputes_in_opsbot_chat(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The local chat plays Alice: the check arrives there; "yes" and "no" are typed."""
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(DATA))
    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("OPSBOT_CHAT_AS", "alice")
    typed = "/ops attest run\nanswer q2 yes\nanswer q1 no\n/ops attest owner 1 q1 ml-platform\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert main(["chat"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        "Asked 1 person to confirm the owners of 3 entities (those confirmed longest ago)."
        " 2 more can't be reached here yet (bob, carol): they are asked once they can be."
    ) in out
    assert "opsbot> [check-in] Ownership check: Ingestion, Model monitoring" in out
    assert (
        "  q1: Your team Data Engineering is listed as owner of Ingestion. Still right?"
        " (Yes / No, it's someone else / Not sure)"
    ) in out
    assert any(line.startswith("Thanks! Recorded Yes for: You're listed") for line in out)
    (no,) = [line for line in out if "Who owns Ingestion now?" in line]
    assert no.startswith("Thanks! Recorded No, it's someone else for: Your team Data")
    assert no.endswith("/ops attest owner 1 q1 NAME")
    assert "Thanks! Noted that Ingestion is now owned by ML Platform (team:ml-platform)." in out
    # No knowledge channel, no admin id: Alice, the admin at this terminal, is told.
    assert any("[report to" in line and "is disputed" in line for line in out)


async def test_a_disputed_owner_is_told_to_each_admin_on_their_platform(tmp_path: Path) -> None:
    """Without a knowledge channel: the admins of OPSBOT_ADMINS (a bare Entra object id is a
    Teams user) and the people with the admin role, each once."""
    clock = FakeClock(MONDAY_10_LONDON)
    messenger = RecordingMessenger()
    entra = "0a0a0a0a-0000-4000-8000-00000000a11c"
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    admins = f"{entra},{ALICE},UOTHER01"
    async with replica(url, clock, messenger, OPSBOT_ADMINS=admins) as bot:
        await bot.handlers.handle(Command(origin=origin(ALICE), text="attest run"))
        (carols,) = firsts(messenger, CAROL)
        await answer_in(bot, CAROL, carols.round_id, "q1", NO)
        await bot.handlers.handle(
            Command(origin=origin(CAROL), text=f"attest owner {carols.round_id} q1 bob")
        )
    assert [to for to, _, _ in messenger.reports] == [f"teams:{entra}", ALICE, "UOTHER01"]


async def test_the_knowledge_channel_hears_of_a_disputed_owner(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_10_LONDON)
    messenger = RecordingMessenger()
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    async with replica(url, clock, messenger, OPSBOT_KNOWLEDGE_CHANNEL="C0KNOW") as bot:
        await bot.handlers.handle(Command(origin=origin(ALICE), text="attest run"))
        (carols,) = firsts(messenger, CAROL)
        await answer_in(bot, CAROL, carols.round_id, "q1", NO)
        empty = await bot.handlers.handle(
            Command(origin=origin(CAROL), text=f"attest owner {carols.round_id} q9 bob")
        )
        assert empty.text == "That ownership check has no question q9."
        await bot.handlers.handle(
            Command(origin=origin(CAROL), text=f"attest owner {carols.round_id} q1 the data folks")
        )
    ((to, notice, _),) = messenger.reports
    assert to == "C0KNOW"
    assert "says it is now the data folks." in notice


@pytest.mark.parametrize(
    ("payload", "parsed"),
    [
        ("owner|12|q1", (12, "q1")),
        ("owner|12|", None),
        ("owner|x|q1", None),
        ("owner|12|q1|more", None),
        ("owner|12|" + "q" * 64, None),
        ("owner|99999999999999999999999|q1", None),
    ],
)
def test_the_owner_forms_payload_is_bounded(payload: str, parsed: tuple[int, str] | None) -> None:
    event = parse_payload(payload, origin(ALICE))
    if parsed is None:
        assert event is None
    else:
        assert isinstance(event, OwnerNamed)
        assert (event.round_id, event.question, event.owner) == (*parsed, "")


async def test_an_owner_without_a_zone_is_asked_in_their_chat_profiles_morning(
    tmp_path: Path,
) -> None:
    """Carol has no `timezone` in the knowledge; Slack says Tokyo: 10:00 there (01:00 UTC)."""
    clock = FakeClock(SUNDAY)
    messenger = RecordingMessenger(zones={CAROL: "Asia/Tokyo"})
    async with replica(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", clock, messenger) as bot:
        await tick(bot, clock, SUNDAY)
        await tick(bot, clock, datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
        (carols,) = firsts(messenger, CAROL)
        assert carols.title == "Ownership check: Ingestion"
        assert [n.user for n in messenger.nudges] == [CAROL]  # London is still asleep


@pytest.mark.parametrize(
    ("reviewed", "state"),
    [(None, "disputed"), (date(2026, 11, 29), "disputed"), (date(2026, 11, 30), "confirmed")],
)
def test_a_no_stands_until_the_file_is_reviewed_on_its_day_or_later(
    reviewed: date | None, state: str
) -> None:
    """Applying `attest patch` reviews the file: the dispute it settled is over."""
    entity = KNOWLEDGE.entities[MONITORING]
    assert isinstance(entity.spec, OwnableSpec)
    entity = replace(entity, spec=replace(entity.spec, reviewed=reviewed))
    said_no = record(MONITORING, asked=MONDAY_10_LONDON, answer=NO)  # answered that day
    now = MONDAY_10_LONDON + timedelta(days=3)
    assert freshness(entity, [said_no], now, timedelta(days=90)).state == state
