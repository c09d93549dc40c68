"""Check-in logic: cron in each recipient's zone, DST days, rounds, answers, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.checkins.schedule import (
    SKIP,
    Answered,
    AnswerError,
    check_answer,
    due,
    occurrences,
    summarise,
    wall_time,
    zone,
)
from bot.events import CheckinClick, Origin, parse_payload
from bot.model import CheckInQuestion, CheckInSpec, Entity, PersonSpec, Ref, Source

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekly_cron_in_several_zones() -> None:
    """Monday 10:00 is 10:00 on each recipient's own clock."""
    week = (utc(2026, 11, 29), utc(2026, 12, 6))
    assert occurrences("0 10 * * MON", LONDON, *week) == [utc(2026, 11, 30, 10)]
    assert occurrences("0 10 * * MON", NEW_YORK, *week) == [utc(2026, 11, 30, 15)]
    assert occurrences("0 10 * * MON", KOLKATA, *week) == [utc(2026, 11, 30, 4, 30)]
    assert occurrences("0 10 * * MON", SYDNEY, *week) == [utc(2026, 11, 29, 23)]


def test_spring_forward_loses_no_nudge() -> None:
    """A wall time skipped by the clock change fires once, an hour later by the clock."""
    day = (utc(2026, 3, 28, 12), utc(2026, 3, 30))  # Europe: clocks go forward 29 March
    assert occurrences("30 1 * * *", LONDON, *day) == [utc(2026, 3, 29, 1, 30)]
    hourly = occurrences("0 * * * *", LONDON, utc(2026, 3, 29, 0), utc(2026, 3, 29, 3))
    assert hourly == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)]


def test_fall_back_doubles_no_nudge() -> None:
    """A wall time that happens twice fires once, at its first instant."""
    day = (utc(2026, 10, 24, 12), utc(2026, 10, 26))  # Europe: clocks go back 25 October
    assert occurrences("30 1 * * *", LONDON, *day) == [utc(2026, 10, 25, 0, 30)]
    us = occurrences("30 1 * * *", NEW_YORK, utc(2026, 10, 31, 12), utc(2026, 11, 2))
    assert us == [utc(2026, 11, 1, 5, 30)]  # 01:30 EDT, not again at 01:30 EST


def test_window_is_half_open_and_never_fires_is_empty() -> None:
    """[start, end): an occurrence at `end` belongs to the next window."""
    at = utc(2026, 11, 30, 10)
    assert occurrences("0 10 * * MON", LONDON, at, at + timedelta(minutes=1)) == [at]
    assert occurrences("0 10 * * MON", LONDON, at - timedelta(days=1), at) == []
    assert occurrences("0 0 30 2 *", LONDON, utc(2026, 1, 1), utc(2027, 1, 1)) == []


def entity(ref: Ref, spec: CheckInSpec | PersonSpec) -> Entity:
    return Entity(ref=ref, title=ref.name, spec=spec, source=Source(file="t.yaml", line=1))


def test_due_gives_each_person_the_occurrences_of_their_zone() -> None:
    """Many people, few zones: each gets their own zone's instants, one round per wall time."""
    spec = CheckInSpec(schedule="0 10 * * MON", timezone="recipient", audience=(), questions=())
    checkin = entity(Ref(kind="checkin", name="weekly"), spec)
    people = [entity(Ref(kind="person", name=f"p{i:02d}"), PersonSpec()) for i in range(30)]
    zones = {p.ref: (LONDON, NEW_YORK, KOLKATA)[i % 3] for i, p in enumerate(people)}
    found = due(checkin, people, zones, utc(2026, 11, 29), utc(2026, 12, 6))
    assert len(found) == 30
    expected = {LONDON: utc(2026, 11, 30, 10), NEW_YORK: utc(2026, 11, 30, 15)}
    expected[KOLKATA] = utc(2026, 11, 30, 4, 30)
    assert all(d.occurrence == expected[zones[d.person]] for d in found)
    assert {d.round_key for d in found} == {"2026-11-30T10:00"}
    assert [d.occurrence for d in found] == sorted(d.occurrence for d in found)
    assert len({d.key for d in found}) == 30


def test_one_instant_in_several_zones_is_one_round() -> None:
    """A cron that fires in every zone at the same instant (every 30 minutes) makes one
    round per instant, not one per zone's wall time; a daily cron still shares the round
    of the same wall time across zones."""
    people = [entity(Ref(kind="person", name=n), PersonSpec()) for n in ("a", "b", "c")]
    zones = dict(zip((p.ref for p in people), (LONDON, NEW_YORK, SYDNEY), strict=True))
    spec = CheckInSpec(schedule="*/30 * * * *", timezone="recipient", audience=(), questions=())
    checkin = entity(Ref(kind="checkin", name="often"), spec)
    at = utc(2026, 11, 30, 16, 30)
    found = due(checkin, people, zones, at, at + timedelta(minutes=1))
    assert [d.occurrence for d in found] == [at] * 3
    assert {d.round_key for d in found} == {"2026-11-30T11:30"}  # New York's, the earliest
    later = due(checkin, people, zones, at, at + timedelta(hours=1, minutes=1))
    assert len({d.round_key for d in later}) == 3  # 16:30, 17:00 and 17:30: three rounds


def test_round_key_is_the_wall_time() -> None:
    """Recipients in different zones share the round of the same wall time."""
    assert wall_time(utc(2026, 11, 30, 10), LONDON) == "2026-11-30T10:00"
    assert wall_time(utc(2026, 11, 30, 15), NEW_YORK) == "2026-11-30T10:00"
    assert zone("Not/AZone") == ZoneInfo("UTC")
    assert zone(None) == ZoneInfo("UTC")


CHOICE = CheckInQuestion(id="drift", text="Reviewed drift?", type="choice",
                         options=("Yes", "Partly", "No"))  # fmt: skip
SCALE = CheckInQuestion(id="confidence", text="How sure?", type="scale", min=1, max=5)
TEXT = CheckInQuestion(id="blockers", text="Blockers?", type="text", required=False)


@pytest.mark.parametrize(
    ("question", "value", "stored"),
    [(CHOICE, "yes", "Yes"), (CHOICE, " Partly ", "Partly"), (SCALE, "4", "4"),
     (SCALE, "05", "5"), (TEXT, "none", "none"), (TEXT, "", "")],
)  # fmt: skip
def test_answers_are_normalised(question: CheckInQuestion, value: str, stored: str) -> None:
    """Answers are stored in their canonical form."""
    assert check_answer(question, value) == stored


@pytest.mark.parametrize(
    ("question", "value", "message"),
    [(CHOICE, "Maybe", "choose one of: Yes, Partly, No"), (SCALE, "6", "from 1 to 5"),
     (SCALE, "three", "from 1 to 5"), (SCALE, "0", "from 1 to 5"), (SCALE, "²", "from 1 to 5"),
     (SCALE, "9" * 5000, "from 1 to 5"), (SCALE, "\uff13", "from 1 to 5"),
     (SCALE, "-", "from 1 to 5"), (SCALE, "+3", "from 1 to 5")],
)  # fmt: skip
def test_bad_answers_are_refused(question: CheckInQuestion, value: str, message: str) -> None:
    """An answer that does not fit its question says what would."""
    with pytest.raises(AnswerError, match=message):
        check_answer(question, value)


def spec(anonymous: bool = False) -> CheckInSpec:
    return CheckInSpec(schedule="0 10 * * MON", timezone="recipient",
                       audience=(Ref(kind="team", name="t"),), questions=(CHOICE, SCALE, TEXT),
                       anonymous=anonymous)  # fmt: skip


def test_summary_counts_participation_and_distribution() -> None:
    """Participation counts people who answered; each question gets its distribution."""
    answers = [
        Answered(person="a", question="drift", value="Yes"),
        Answered(person="a", question="confidence", value="4"),
        Answered(person="b", question="drift", value="No"),
        Answered(person="b", question="confidence", value="2"),
        Answered(person="b", question="blockers", value="flaky GPUs"),
        Answered(person="c", question="drift", value=SKIP),
    ]
    summary = summarise(spec(), "2026-11-30T10:00", ["a", "b", "c", "d"], answers)
    assert (summary.nudged, summary.responded, summary.participation) == (4, 2, 0.5)
    drift, confidence, blockers = summary.questions
    assert drift.counts == {"Yes": 1, "Partly": 0, "No": 1}
    assert confidence.counts == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}
    assert confidence.mean == 3.0
    assert blockers.texts == ("flaky GPUs",)
    assert summary.who["b"]["blockers"] == "flaky GPUs"


def test_anonymous_summary_names_nobody() -> None:
    """An anonymous check-in's summary keeps the counts and drops who answered what."""
    answers = [Answered(person="alice", question="drift", value="Yes")]
    summary = summarise(spec(anonymous=True), "r", ["alice"], answers)
    assert summary.who == {}
    assert "alice" not in repr(summary)
    assert summary.questions[0].counts["Yes"] == 1


@pytest.mark.parametrize(
    "value",
    ["checkin|²|q|v", "checkin|" + "1" * 5000 + "|q|v", f"checkin|{2**31}|q|v", "checkin|0|q|v",
     "checkin|-3|q|v", "checkin-skip|\uff11", f"checkin-later|{10**30}"],
)  # fmt: skip
def test_button_round_ids_are_bounded(value: str) -> None:
    """A round id that no database row can have makes the payload none of ours."""
    assert parse_payload(value, Origin(platform="slack")) is None


def test_the_largest_round_id_is_read() -> None:
    """The largest id a PostgreSQL integer holds is still a round id."""
    click = parse_payload(f"checkin-skip|{2**31 - 1}", Origin(platform="slack"))
    assert isinstance(click, CheckinClick) and click.round_id == 2**31 - 1
