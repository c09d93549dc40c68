"""Running check-ins: due nudges sent once, reminders, closing, reports, clicks, commands.

Time is a FakeClock; the store is the real SQL store on SQLite (PostgreSQL in the
replica tests); the messenger records what it would deliver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.checkins.clicks import ANSWER_NOT_SAVED
from bot.checkins.commands import checkin_command
from bot.checkins.sending import LEASE
from bot.checkins.service import CheckinService
from bot.events import Origin
from bot.kb import require_knowledge
from bot.kb.knowledge import Knowledge
from bot.model import CheckInSpec, Entity, PersonSpec, Ref
from bot.ports import Delivered, NewNudge, NudgeMessage
from bot.storage.checkins import SqlCheckinStore
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from tests.fakes import FakeClock, RecordingMessenger, _Crash

DATA = Path(__file__).parent / "data" / "checkins"
KNOWLEDGE = require_knowledge(DATA, today=date(2026, 11, 29))
ALICE, BOB, CAROL = "U0ALICE01", "U0BOB0001", "U0CAROL01"
SUNDAY = datetime(2026, 11, 29, 12, tzinfo=UTC)
MONDAY_10_LONDON = datetime(2026, 11, 30, 10, tzinfo=UTC)
MONDAY_10_NEW_YORK = datetime(2026, 11, 30, 15, tzinfo=UTC)
MONDAY_10_LISBON = datetime(2026, 11, 30, 10, tzinfo=UTC)  # carol: platform zone, same as UTC
WEEKLY = KNOWLEDGE.entities[Ref(kind="checkin", name="weekly")]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlCheckinStore]:
    async with open_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}") as engine:
        await upgrade(engine)
        yield SqlCheckinStore(engine)


def service(
    store: SqlCheckinStore,
    messenger: RecordingMessenger,
    clock: FakeClock,
    *,
    knowledge: Knowledge = KNOWLEDGE,
    owner: str = "replica-1",
) -> CheckinService:
    return CheckinService(
        knowledge=lambda: knowledge,
        store=store,
        messenger=messenger,
        clock=clock,
        owner=owner,
        admins=frozenset({"UADMIN"}),
        save_pause=0.0,
    )


@pytest.fixture
def messenger() -> RecordingMessenger:
    return RecordingMessenger(zones={CAROL: "Europe/Lisbon"})


async def seen_on_sunday(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> tuple[CheckinService, FakeClock]:
    """A service whose first tick, on Sunday, finds nothing due yet."""
    clock = FakeClock(SUNDAY)
    svc = service(store, messenger, clock)
    await svc.tick()
    return svc, clock


async def at(svc: CheckinService, clock: FakeClock, when: datetime) -> None:
    clock.current = when
    await svc.tick()


async def test_a_weekly_round_from_nudge_to_report(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """Each person is nudged at 10:00 their time, reminded once, and the round reports."""
    clock = FakeClock(SUNDAY)
    svc = service(store, messenger, clock)
    await svc.tick()  # first seen on Sunday: nothing is due yet
    assert messenger.nudges == []
    await at(svc, clock, MONDAY_10_LONDON)
    assert sorted(n.user for n in messenger.firsts) == [ALICE, CAROL]
    nudge = messenger.sent_to(ALICE)[0]
    assert nudge.title == "Weekly MLOps practices"
    assert [q.id for q in nudge.questions] == ["drift", "confidence", "blockers"]
    first = await svc.answer(ALICE, nudge.round_id, "drift", "yes")
    assert first == "Thanks! Recorded Yes for: Did your team review the drift dashboards?"
    await svc.answer(ALICE, nudge.round_id, "confidence", "4")

    await at(svc, clock, MONDAY_10_LONDON + timedelta(hours=4))
    assert [n.user for n in messenger.nudges if n.reminder] == [CAROL]  # alice answered
    await at(svc, clock, MONDAY_10_NEW_YORK)
    (bobs,) = messenger.sent_to(BOB)
    assert bobs.round_id == nudge.round_id  # one round: the same wall-clock time
    await svc.answer(BOB, nudge.round_id, "drift", "No")
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(hours=4))
    assert [n.user for n in messenger.nudges if n.reminder] == [CAROL]  # bob answered too

    await at(svc, clock, MONDAY_10_LONDON + timedelta(days=2))
    assert messenger.reports == []  # bob's window (New York) is still open
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(days=2))
    ((channel, text, chart),) = messenger.reports
    assert channel == "#mlops-practices"
    assert "2/3" in text
    assert chart is not None and chart.startswith(b"\x89PNG")
    late = await svc.answer(CAROL, nudge.round_id, "drift", "Yes")
    assert late == "This round is closed, so answers can no longer change. Thanks anyway!"


async def test_two_replicas_send_each_nudge_once(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """Replicas ticking at the same moment send every nudge exactly once."""
    clock = FakeClock(SUNDAY)
    one, two = (service(store, messenger, clock, owner=o) for o in ("r1", "r2"))
    await one.tick()
    clock.current = MONDAY_10_NEW_YORK
    await asyncio.gather(one.tick(), two.tick(), one.tick())
    assert sorted(n.user for n in messenger.firsts) == [ALICE, BOB, CAROL]


class HoldingMessenger(RecordingMessenger):
    """Holds one person's nudge until everyone else's has gone out."""

    def __init__(self, held: str, others: int) -> None:
        super().__init__(zones={CAROL: "Europe/Lisbon"})
        self.held, self.others = held, others
        self.released = asyncio.Event()

    async def nudge(self, message: NudgeMessage) -> Delivered:
        if message.user == self.held:
            await self.released.wait()
        delivered = await super().nudge(message)
        if len(self.firsts) == self.others:
            self.released.set()
        return delivered


async def test_a_slow_send_holds_up_nothing_but_itself(
    store: SqlCheckinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Senders take the next nudge as they free up, not when a whole batch is done."""
    monkeypatch.setattr("bot.checkins.sending.SENDERS", 2)
    slow = HoldingMessenger(held=ALICE, others=2)
    clock = FakeClock(SUNDAY)
    await service(store, slow, clock).tick()
    clock.current = MONDAY_10_NEW_YORK  # alice, bob and carol are all due
    result = await asyncio.wait_for(service(store, slow, clock).tick(), timeout=5)
    assert result.sent == 3
    assert [n.user for n in slow.firsts][-1] == ALICE  # taken first, sent last
    assert sorted(n.user for n in slow.firsts) == [ALICE, BOB, CAROL]


class WaitingMessenger(RecordingMessenger):
    """Keeps every nudge waiting (as a shared pace turn far off would) until released."""

    def __init__(self) -> None:
        super().__init__(zones={CAROL: "Europe/Lisbon"})
        self.waiting = 0
        self.all_waiting = asyncio.Event()
        self.released = asyncio.Event()

    async def nudge(self, message: NudgeMessage) -> Delivered:
        self.waiting += 1
        if self.waiting == 2:
            self.all_waiting.set()
        await self.released.wait()
        return await super().nudge(message)


async def test_a_nudge_waiting_longer_than_its_lease_is_not_taken_over(
    store: SqlCheckinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a send waits (for its pace turn) its lease is renewed, so another replica
    ticking after the lease would have run out does not send it a second time."""
    monkeypatch.setattr("bot.checkins.sending.HEARTBEAT", 0.01)
    slow = WaitingMessenger()
    clock = FakeClock(SUNDAY)
    one, two = (service(store, slow, clock, owner=o) for o in ("r1", "r2"))
    await one.tick()
    clock.current = MONDAY_10_LONDON  # alice and carol are due
    sending = asyncio.create_task(one.tick())  # plans them, and sends
    await asyncio.wait_for(slow.all_waiting.wait(), timeout=5)
    for _ in range(3):  # three leases' time passes while they wait
        clock.current += LEASE
        await asyncio.sleep(0.1)  # a few heartbeats
        taken = await asyncio.wait_for(two.send(clock.now()), timeout=5)
        assert taken == (0, 0)  # nothing to take over
    slow.released.set()
    assert (await asyncio.wait_for(sending, timeout=5)).sent == 2
    assert sorted(n.user for n in slow.firsts) == [ALICE, CAROL]


async def test_a_crash_after_delivery_sends_no_duplicate(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """A sender killed after Slack took the message: the restart finds it and does not resend."""
    clock = FakeClock(SUNDAY)
    await service(store, messenger, clock).tick()
    clock.current = MONDAY_10_LONDON
    messenger.crash_after_delivery = True
    with pytest.raises(BaseExceptionGroup) as died:  # the senders are a task group
        await service(store, messenger, clock).tick()
    assert died.group_contains(_Crash)
    messenger.crash_after_delivery = False
    delivered = len(messenger.firsts)
    clock.current = MONDAY_10_LONDON + timedelta(minutes=5)  # the lease has run out
    await service(store, messenger, clock, owner="restarted").tick()
    assert sorted(n.user for n in messenger.firsts) == [ALICE, CAROL]
    assert len(messenger.firsts) == delivered + 1  # only the one that never went out


async def test_occurrences_missed_while_down(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """Down at 10:00: nudges go late while the round is open, and are only recorded after."""
    clock = FakeClock(SUNDAY)
    await service(store, messenger, clock).tick()
    await service(store, messenger, clock).tick()
    clock.current = MONDAY_10_LONDON + timedelta(hours=6)
    await service(store, messenger, clock).tick()
    assert sorted(n.user for n in messenger.firsts) == [ALICE, BOB, CAROL]  # sent late

    other = RecordingMessenger(zones={CAROL: "Europe/Lisbon"})
    clock.current = datetime(2026, 12, 7, 9, tzinfo=UTC) + timedelta(days=3)  # round closed
    fresh = service(store, other, clock)
    await fresh.tick()
    assert other.firsts == []  # the week that passed unseen is recorded, not sent
    rounds = await store.rounds("weekly", 10)
    assert [r.round_key for r in rounds] == ["2026-12-07T10:00", "2026-11-30T10:00"]
    assert await store.recipients(rounds[0].id) == []  # nobody was sent the missed round


async def test_failed_sends_retry_and_unreachable_people_stop(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """A transient failure is retried with backoff; an unreachable person is not retried."""
    svc, clock = await seen_on_sunday(store, messenger)
    messenger.failing[ALICE] = 1
    messenger.unreachable.add(CAROL)
    await at(svc, clock, MONDAY_10_LONDON)
    assert messenger.nudges == []
    await at(svc, clock, MONDAY_10_LONDON + timedelta(seconds=10))
    assert messenger.nudges == []  # backoff: not yet
    await at(svc, clock, MONDAY_10_LONDON + timedelta(seconds=30))
    assert [n.user for n in messenger.firsts] == [ALICE]
    await at(svc, clock, MONDAY_10_LONDON + timedelta(hours=1))
    assert messenger.sent_to(CAROL) == []


async def test_clicks_only_count_from_the_recipient_and_once(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """Double clicks keep one answer, a wrong clicker is refused, answers can change."""
    svc, clock = await seen_on_sunday(store, messenger)
    await at(svc, clock, MONDAY_10_LONDON)
    round_id = messenger.sent_to(ALICE)[0].round_id
    for _ in range(2):
        await svc.answer(ALICE, round_id, "drift", "Partly")
    await svc.answer(ALICE, round_id, "drift", "Yes")
    refused = await svc.answer("U0MALLORY", round_id, "drift", "No")
    assert refused == "This check-in was sent to someone else; only they can answer it."
    bad = await svc.answer(ALICE, round_id, "confidence", "9")
    assert bad == "Sorry, that answer does not fit: give a whole number from 1 to 5."
    assert [(a.person, a.question, a.value) for a in await store.answers(round_id)] == [
        ("person:alice", "drift", "Yes")
    ]


async def test_later_and_skip(store: SqlCheckinStore, messenger: RecordingMessenger) -> None:
    """ "Remind me in an hour" brings a reminder then; "skip" stops reminders for the round."""
    svc, clock = await seen_on_sunday(store, messenger)
    await at(svc, clock, MONDAY_10_LONDON)
    round_id = messenger.sent_to(ALICE)[0].round_id
    assert await svc.later(ALICE, round_id) == "OK, I'll remind you in an hour."
    assert await svc.skip(CAROL, round_id) == "Skipped this round. See you next time!"
    await at(svc, clock, MONDAY_10_LONDON + timedelta(hours=1))
    assert [n.user for n in messenger.nudges if n.reminder] == [ALICE]
    await at(svc, clock, MONDAY_10_LONDON + timedelta(hours=5))
    assert [n.user for n in messenger.nudges if n.reminder] == [ALICE]


async def test_answers_survive_a_brief_database_outage(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """A write that fails once is retried; one that keeps failing is reported to the user
    (with no outbox to keep it: "click again")."""
    from bot.errors import StorageError

    svc, clock = await seen_on_sunday(store, messenger)
    await at(svc, clock, MONDAY_10_LONDON)
    round_id = messenger.sent_to(ALICE)[0].round_id
    real = store.answer
    failures = {"left": 1}

    async def flaky(*args: object, **kwargs: object) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise StorageError("database unavailable")
        await real(*args, **kwargs)  # type: ignore[arg-type]

    store.answer = flaky  # type: ignore[method-assign]
    assert (await svc.answer(ALICE, round_id, "drift", "Yes")).startswith("Thanks!")
    failures["left"] = 99
    lost = await svc.answer(ALICE, round_id, "drift", "No")
    assert lost == ANSWER_NOT_SAVED
    store.answer = real  # type: ignore[method-assign]
    assert [a.value for a in await store.answers(round_id)] == ["Yes"]


async def test_anonymous_reports_and_exports_name_nobody(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """An anonymous check-in's report and export never say who answered what."""
    clock = FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
    svc = service(store, messenger, clock)
    await svc.tick()
    await at(svc, clock, datetime(2026, 12, 4, 9, tzinfo=UTC))
    pulse = [n for n in messenger.nudges if n.title == "Anonymous pulse"]
    assert sorted(n.user for n in pulse) == [ALICE, BOB]
    await svc.answer(ALICE, pulse[0].round_id, "mood", "3")
    await at(svc, clock, datetime(2026, 12, 5, 9, tzinfo=UTC))
    (channel, text, _) = messenger.reports[-1]
    assert channel == "#pulse"
    for name in ("alice", "Alice", ALICE, "bob", BOB):
        assert name not in text
    admin = Origin(platform="slack", user="UADMIN")
    export = await checkin_command(svc, admin, "export pulse")
    assert export.attachment is not None
    csv_text = export.attachment.content.decode()
    assert "alice" not in csv_text and "person" not in csv_text.splitlines()[0]


async def test_commands_and_admin_rights(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """List for all; run, pause and export for admins (by ID or role), refusals audited."""
    clock = FakeClock(SUNDAY)
    svc = service(store, messenger, clock)
    someone = Origin(platform="slack", user=BOB)
    listing = await checkin_command(svc, someone, "list")
    assert "weekly: Weekly MLOps practices, 0 10 * * MON in each recipient's time" in listing.text
    refused = await checkin_command(svc, someone, "run weekly")
    assert (
        refused.text == "Sorry, only opsbot admins can start check-ins. Ask your enablement team."
    )
    assert messenger.nudges == []
    by_role = await checkin_command(svc, Origin(platform="slack", user=ALICE), "run weekly")
    assert by_role.text == "Started a round of Weekly MLOps practices: 3 people nudged."
    assert sorted(n.user for n in messenger.firsts) == [ALICE, BOB, CAROL]
    await checkin_command(svc, Origin(platform="slack", user="UADMIN"), "pause weekly")
    assert "(paused)" in (await checkin_command(svc, someone, "list")).text
    clock.current = MONDAY_10_NEW_YORK
    before = len(messenger.firsts)
    await svc.tick()
    assert len(messenger.firsts) == before  # paused: the schedule starts no round
    report = await checkin_command(svc, someone, "report weekly")
    assert report.attachment is not None and report.attachment.filename == "weekly.png"
    unknown = await checkin_command(svc, someone, "run nope")
    assert unknown.text.startswith("There is no check-in called 'nope'")
    usage = await checkin_command(svc, someone, "frobnicate")
    assert usage.text.startswith("Usage: /ops checkin")


async def test_knowledge_reloads_change_schedules(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """A check-in removed from the knowledge stops; an added one starts, without restart."""
    clock = FakeClock(SUNDAY)
    current = {"knowledge": KNOWLEDGE}
    svc = CheckinService(
        knowledge=lambda: current["knowledge"],
        store=store,
        messenger=messenger,
        clock=clock,
        owner="r1",
    )
    await svc.tick()
    without = Knowledge.of(e for e in KNOWLEDGE if e.ref != Ref(kind="checkin", name="weekly"))
    current["knowledge"] = without
    await at(svc, clock, MONDAY_10_NEW_YORK)
    assert messenger.nudges == []
    daily = replace(WEEKLY, ref=Ref(kind="checkin", name="daily"))
    assert isinstance(WEEKLY.spec, CheckInSpec)
    spec = replace(WEEKLY.spec, schedule="0 10 * * *")
    current["knowledge"] = Knowledge.of([*without, replace(daily, spec=spec)])
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(minutes=1))
    await at(svc, clock, datetime(2026, 12, 1, 15, tzinfo=UTC))
    assert sorted(n.user for n in messenger.firsts) == [ALICE, BOB, CAROL]


class CountingStore(SqlCheckinStore):
    """The SQL store, counting the nudges each tick offers to claim."""

    offered: list[int]

    async def claim(self, nudges: list[NewNudge], at: datetime) -> int:
        self.offered.append(len(nudges))
        return await super().claim(nudges, at)


async def test_each_window_is_planned_once(tmp_path: Path, messenger: RecordingMessenger) -> None:
    """A tick offers only what fell due since the last one, not the whole look-back."""
    async with open_engine(f"sqlite+aiosqlite:///{tmp_path / 'n.db'}") as engine:
        await upgrade(engine)
        counting = CountingStore(engine)
        counting.offered = []
        await plan_twice(counting, messenger)


async def plan_twice(counting: CountingStore, messenger: RecordingMessenger) -> None:
    svc, clock = await seen_on_sunday(counting, messenger)
    await at(svc, clock, MONDAY_10_LONDON)
    assert sum(counting.offered) == 2  # alice and carol
    counting.offered.clear()
    await at(svc, clock, MONDAY_10_LONDON + timedelta(minutes=1))
    await at(svc, clock, MONDAY_10_LONDON + timedelta(minutes=2))
    assert sum(counting.offered) == 0
    await at(svc, clock, MONDAY_10_NEW_YORK)
    assert sum(counting.offered) == 1  # bob
    assert sorted(n.user for n in messenger.firsts) == [ALICE, BOB, CAROL]


async def test_resuming_sends_nothing_that_fell_due_while_paused(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    svc, clock = await seen_on_sunday(store, messenger)
    await svc.pause(WEEKLY, True)
    await at(svc, clock, MONDAY_10_NEW_YORK)
    await svc.pause(WEEKLY, False)
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(hours=1))  # the round is still open
    assert messenger.firsts == []
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(days=7))
    assert sorted(n.user for n in messenger.firsts) == [ALICE, BOB, CAROL]


async def test_a_zone_change_mid_round_does_not_nudge_twice(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """Alice moves from London to New York between her 10:00 and New York's: one nudge."""
    clock = FakeClock(SUNDAY)
    current = {"knowledge": KNOWLEDGE}
    svc = service(store, messenger, clock)
    svc.knowledge = lambda: current["knowledge"]
    await svc.tick()
    await at(svc, clock, MONDAY_10_LONDON)
    alice = KNOWLEDGE.entities[Ref(kind="person", name="alice")]
    assert isinstance(alice.spec, PersonSpec)
    moved = replace(alice, spec=replace(alice.spec, timezone="America/New_York"))
    current["knowledge"] = Knowledge.of([moved if e.ref == alice.ref else e for e in KNOWLEDGE])
    await at(svc, clock, MONDAY_10_NEW_YORK)
    assert len(messenger.sent_to(ALICE)) == 1
    assert sorted(n.user for n in messenger.firsts) == [ALICE, BOB, CAROL]


async def test_a_zone_from_the_platform_is_asked_again_after_a_while(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """Carol's Slack profile moves to New York: her next week's nudge follows it."""
    svc, clock = await seen_on_sunday(store, messenger)
    await at(svc, clock, MONDAY_10_LISBON)
    assert len(messenger.sent_to(CAROL)) == 1
    messenger.zones[CAROL] = "America/New_York"
    await at(svc, clock, MONDAY_10_LISBON + timedelta(hours=1))  # still trusted: Lisbon
    next_week = MONDAY_10_LISBON + timedelta(days=7)
    await at(svc, clock, next_week)
    assert len(messenger.sent_to(CAROL)) == 1  # 10:00 in New York is later
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(days=7))
    assert len(messenger.sent_to(CAROL)) == 2


async def test_pausing_mid_round_stops_retries_and_reminders(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    svc, clock = await seen_on_sunday(store, messenger)
    messenger.failing[CAROL] = 1
    await at(svc, clock, MONDAY_10_LONDON)
    assert [n.user for n in messenger.firsts] == [ALICE]  # carol's send failed: retried later
    await svc.pause(WEEKLY, True)
    await at(svc, clock, MONDAY_10_LONDON + timedelta(hours=4))  # retry and reminder time
    await at(svc, clock, MONDAY_10_NEW_YORK)  # bob's time passes while paused
    assert [n.user for n in messenger.nudges] == [ALICE]
    await svc.pause(WEEKLY, False)
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(hours=1))
    assert [n.user for n in messenger.nudges] == [ALICE]


async def test_a_repeated_run_joins_the_open_manual_round(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """`checkin run` while a manual round is open says so and nudges nobody again."""
    clock = FakeClock(SUNDAY)
    admin = Origin(platform="slack", user="UADMIN")
    first = service(store, messenger, clock)
    started = await checkin_command(first, admin, "run weekly")
    assert started.text == "Started a round of Weekly MLOps practices: 3 people nudged."
    clock.current = SUNDAY + timedelta(seconds=2)
    # Another replica, a second later: the round is in the database, so it agrees.
    again = await checkin_command(service(store, messenger, clock, owner="r2"), admin, "run weekly")
    assert again.text.startswith("Weekly MLOps practices is already running since")
    assert "not starting another" in again.text
    assert len(messenger.firsts) == 3
    clock.current = SUNDAY + timedelta(days=8)
    await first.tick()  # the round closes
    later = await checkin_command(first, admin, "run weekly")
    assert later.text == "Started a round of Weekly MLOps practices: 3 people nudged."
    assert len(messenger.firsts) == 6


class LateMessenger(RecordingMessenger):
    """Reaches Bob only once he is in `met` (he installed the app later)."""

    def __init__(self) -> None:
        super().__init__(zones={CAROL: "Europe/Lisbon"})
        self.met: dict[str, str] = {}

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        if person.ref.name == "bob":
            return self.met.get("bob")
        return super().address(person, prefer)


async def test_someone_reachable_only_later_is_nudged_while_the_round_is_open(
    store: SqlCheckinStore,
) -> None:
    """Bob has no chat account the bot can reach when the round starts; he meets the bot
    (installs the app) an hour later: the next tries find him, he is nudged once, and
    nobody is marked unreachable while the round is open."""
    messenger = LateMessenger()
    svc, clock = await seen_on_sunday(store, messenger)
    await at(svc, clock, MONDAY_10_NEW_YORK)  # everyone's 10:00 has passed
    assert "U0BOB0LATE" not in [n.user for n in messenger.firsts]
    messenger.met["bob"] = "U0BOB0LATE"
    for minutes in range(1, 120, 5):
        await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(minutes=minutes))
    assert [n.user for n in messenger.firsts].count("U0BOB0LATE") == 1


async def test_a_round_nobody_was_asked_in_gets_no_report(
    store: SqlCheckinStore, messenger: RecordingMessenger
) -> None:
    """Everyone in the audience unreachable: the round closes without a report saying
    "Nobody was asked"; a round someone got does report."""
    svc, clock = await seen_on_sunday(store, messenger)
    messenger.unreachable.update({ALICE, BOB, CAROL})
    await at(svc, clock, MONDAY_10_NEW_YORK)
    await at(svc, clock, MONDAY_10_NEW_YORK + timedelta(days=3))  # closed
    assert messenger.reports == []
