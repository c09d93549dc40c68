"""Check-in reports: chat text with trends, a PNG chart, and CSV exports that keep anonymity."""

from __future__ import annotations

import csv
import io
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.image import imread

from bot.checkins.reports import ExportRow, export_csv, report_chart, report_text
from bot.checkins.schedule import SKIP, Answered, RoundSummary, summarise
from bot.model import CheckInQuestion, CheckInSpec, Ref
from bot.styled import Span

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PEOPLE = [f"U0PERSON{i:02d}" for i in range(10)]
DRIFT = CheckInQuestion(
    id="drift", text="Did you check model drift?", type="choice", options=("Yes", "Partly", "No")
)
CONFIDENCE = CheckInQuestion(id="confidence", text="How confident are you?", type="scale")
NOTES = CheckInQuestion(id="notes", text="Anything else?", type="text", required=False)


def spec(*, anonymous: bool = False) -> CheckInSpec:
    return CheckInSpec(
        schedule="0 10 * * MON",
        timezone="Europe/London",
        audience=(Ref(kind="team", name="mlops"),),
        questions=(DRIFT, CONFIDENCE, NOTES),
        anonymous=anonymous,
    )


def round_of(
    key: str,
    drift: Sequence[str],
    *,
    nudged: int = 10,
    confidence: Sequence[int] = (),
    notes: Sequence[str] = (),
    anonymous: bool = False,
) -> RoundSummary:
    """A summarised round where person i gave the i-th answer to each question."""
    answers = [Answered(person=PEOPLE[i], question="drift", value=v) for i, v in enumerate(drift)]
    answers += [
        Answered(person=PEOPLE[i], question="confidence", value=str(v))
        for i, v in enumerate(confidence)
    ]
    answers += [Answered(person=PEOPLE[i], question="notes", value=v) for i, v in enumerate(notes)]
    return summarise(spec(anonymous=anonymous), key, PEOPLE[:nudged], answers)


def this_round(*, anonymous: bool = False) -> RoundSummary:
    return round_of(
        "2026-11-30T10:00",
        ["Yes"] * 4 + ["Partly"] * 2 + ["No"],
        confidence=[4, 4, 3, 5, 2, 4, 3],
        notes=["Retraining is slow", "Dashboards\nhelp a lot", "x" * 500],
        anonymous=anonymous,
    )


def test_text_gives_participation_and_distributions() -> None:
    """The text shows participation, each option's count and share, and the mean."""
    text = report_text("MLOps check-in", this_round(), [], anonymous=False).plain
    assert "round of 2026-11-30 10:00 Europe/London" in text  # the time, with its zone
    assert "7/10 answered (70%)" in text
    assert "Yes 4 (57%) · Partly 2 (29%) · No 1 (14%)" in text
    assert "1 0 (0%) · 2 1 (14%) · 3 2 (29%) · 4 3 (43%) · 5 1 (14%) · mean 3.6" in text
    assert "3 answers" in text
    assert "• Dashboards help a lot" in text
    assert "x" * 199 + "…" in text and "x" * 200 not in text
    assert "last round" not in text and "→" not in text


def test_text_shows_trends_against_earlier_rounds() -> None:
    """Participation change and the first option's share run from the oldest round to this one."""
    older = round_of("2026-11-16T10:00", ["Yes"] * 2 + ["No"] * 3, confidence=[2, 3])
    last = round_of("2026-11-23T10:00", ["Yes"] * 3 + ["Partly"] * 2 + ["No"], confidence=[3, 4])
    text = report_text("MLOps check-in", this_round(), [last, older], anonymous=False).plain
    assert "7/10 answered (70%), up 10 points from 60% last round" in text
    assert "Yes: 40% → 50% → 57%" in text
    assert "Mean: 2.5 → 3.5 → 3.6" in text


def test_text_marks_rounds_where_a_question_had_no_answers() -> None:
    """A round in which nobody answered shows a dash in the trend and a drop in participation."""
    empty = round_of("2026-11-23T10:00", [], nudged=10)
    full = round_of("2026-11-16T10:00", ["Yes"] * 10)
    text = report_text("MLOps check-in", empty, [full], anonymous=False).plain
    assert "0/10 answered (0%), down 100 points from 100% last round" in text
    assert "Yes: 100% → \N{EN DASH}" in text
    assert text.count("No answers.") == 3


def test_text_handles_no_recipients_and_no_history() -> None:
    """A round nobody was asked in says so instead of dividing by zero."""
    text = report_text(
        "MLOps check-in", round_of("2026-11-30T10:00", [], nudged=0), [], anonymous=True
    ).plain
    assert "Nobody was asked this round." in text
    assert "No answers." in text


@pytest.mark.parametrize("anonymous", [True, False])
def test_text_never_names_people(anonymous: bool) -> None:
    """Neither anonymous nor named check-ins put a person id into the channel report."""
    current = this_round(anonymous=anonymous)
    assert current.who or anonymous  # named rounds do carry names the report must not use
    text = report_text("MLOps check-in", current, [this_round()], anonymous=anonymous).plain
    assert not [person for person in PEOPLE if person in text]
    assert ("anonymous" in text) is anonymous


def test_text_marks_headings_as_data_and_keeps_typed_text_plain() -> None:
    """Titles and questions are bold spans; answers full of markup stay plain text."""
    hostile = "*<!channel>* `x`"
    current = round_of("2026-11-30T10:00", ["Yes"], notes=[hostile])
    text = report_text("*Pulse*", current, [], anonymous=True)
    spans = [span for line in text.lines for span in line]
    assert Span(text="*Pulse*", style="bold") in spans
    assert Span(text=DRIFT.text, style="bold") in spans
    assert Span(text=f"• {hostile}") in spans
    assert Span(text="Answers are anonymous: no names are kept.", style="italic") in spans
    assert "*" not in text.plain.replace(hostile, "").replace("*Pulse*", "")


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chart_is_a_png_that_decodes() -> None:
    """The chart is an 800x500 PNG that matplotlib can read back."""
    history = [round_of(f"2026-11-{d:02d}T10:00", ["Yes"] * (d % 7)) for d in range(23, 0, -1)]
    data = report_chart("MLOps check-in", this_round(), history)
    assert png_size(data) == (800, 500)
    assert imread(io.BytesIO(data), format="png").shape[:2] == (500, 800)
    for person in PEOPLE:
        assert person.encode() not in data


def test_chart_works_for_an_empty_round() -> None:
    """A round with no recipients and no answers still renders."""
    data = report_chart("MLOps check-in", round_of("2026-11-30T10:00", [], nudged=0), [])
    assert png_size(data) == (800, 500)


def test_chart_works_with_text_questions_only() -> None:
    """A check-in with only text questions gets the participation line alone."""
    only_notes = CheckInSpec(
        schedule="0 10 * * MON", timezone="UTC", audience=(), questions=(NOTES,)
    )
    summary = summarise(only_notes, "2026-11-30T10:00", PEOPLE[:2], [])
    assert png_size(report_chart("Notes", summary, [])) == (800, 500)


MONDAY = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)


def export_rows() -> list[ExportRow]:
    answers = [
        ("alice", "drift", "Yes"),
        ("bob", "drift", SKIP),
        ("alice", "notes", '=HYPERLINK("http://evil")'),
        ("carol", "drift", "No"),
        ("carol", "notes", "fine, thanks"),
        ("bob", "notes", "-2"),
    ]
    return [
        ExportRow(
            round_key="2026-11-30T10:00",
            person=person,
            question=question,
            value=value,
            answered_at=MONDAY + timedelta(minutes=i),
        )
        for i, (person, question, value) in enumerate(answers)
    ]


def test_csv_with_names_has_every_row_and_utc_times() -> None:
    """A named export lists person and time per answer, with skips written as skipped."""
    rows = list(csv.reader(io.StringIO(export_csv(spec(), export_rows(), anonymous=False))))
    assert rows[0] == ["round", "person", "question", "answer", "answered_at"]
    assert rows[1] == ["2026-11-30T10:00", "alice", "drift", "Yes", "2026-11-30T10:05:00Z"]
    assert rows[2][1:4] == ["bob", "drift", "skipped"]
    assert rows[5][1:4] == ["carol", "notes", "fine, thanks"]
    assert len(rows) == 7


def test_csv_anonymous_drops_people_times_skips_and_order() -> None:
    """An anonymous export has no person or time column, no skips, and a content-only order."""
    text = export_csv(spec(anonymous=True), export_rows(), anonymous=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["round", "question", "answer"],
        ["2026-11-30T10:00", "drift", "No"],
        ["2026-11-30T10:00", "drift", "Yes"],
        ["2026-11-30T10:00", "notes", "-2"],
        ["2026-11-30T10:00", "notes", '\'=HYPERLINK("http://evil")'],
        ["2026-11-30T10:00", "notes", "fine, thanks"],
    ]
    assert not [name for name in ("alice", "bob", "carol", "2026-11-30T10:05") if name in text]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=x", "'\t=x"),
        ("-3", "-3"),
        ("a=b", "a=b"),
    ],
)
def test_csv_escapes_formulas(value: str, cell: str) -> None:
    """Cells that a spreadsheet would run as a formula get a leading quote; numbers do not."""
    row = ExportRow(
        round_key="r", person="@alice", question="notes", value=value, answered_at=MONDAY
    )
    ((_, person, _, answer, _),) = list(
        csv.reader(io.StringIO(export_csv(spec(), [row], anonymous=False)))
    )[1:]
    assert (person, answer) == ("'@alice", cell)


def test_a_rounds_label_states_its_zone() -> None:
    """A scheduled round is its wall-clock time in the check-in's zone, or everyone's own
    local time; a round started by hand is its UTC time."""
    from bot.checkins.schedule import round_label

    assert round_label("2026-11-30T10:00", "Europe/London") == "2026-11-30 10:00 Europe/London"
    assert round_label("2026-11-30T10:00", "recipient") == (
        "2026-11-30 10:00 in each recipient's own time zone"
    )
    assert round_label("manual 2026-11-30T16:46:05", "Asia/Tokyo") == "started 2026-11-30 16:46 UTC"
