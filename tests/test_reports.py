"""Check-in reports: chat text with trends, a PNG chart, and CSV exports that keep anonymity."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import math
import struct
import time as time_module
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import imread

from bot.checkins.reports import (
    ExportRow,
    export_csv,
    report_chart,
    report_figure,
    report_text,
    round_labels,
)
from bot.checkins.schedule import SKIP, Answered, RoundSummary, audience, spec_of, summarise
from bot.checkins.service import CheckinService
from bot.kb import require_knowledge
from bot.metrics import Metrics
from bot.model import CheckInQuestion, CheckInSpec, PersonSpec, Ref
from bot.ports import ChatAddress
from bot.slack.adapter import SlackAdapter
from bot.slack.client import post_pacing, web_client
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.styled import Span, Styled
from bot.teams.cards import TeamsRenderer
from bot.teams.connector import Connector
from bot.teams.messenger import TeamsMessenger
from bot.web import Served, create_app
from tests.fake_connector import FakeConnector
from tests.fakes import T0, FakeClock, MemoryAddressBook
from tests.slack_env import BOT_TOKEN as SLACK_TOKEN
from tests.slack_env import SECRET as SLACK_SECRET
from tests.slack_env import checkin_adapter
from tests.slack_fake import FakeSlack, action_body, sign, slash_command_body, view_submission_body

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
    assert "Rounds in the trends: Nov 16 → Nov 23 → Nov 30" in text
    assert "Yes: 40% → 50% → 57%" in text
    assert "Mean: 2.5 → 3.5 → 3.6" in text


def test_text_marks_rounds_where_a_question_had_no_answers() -> None:
    """A round in which nobody answered shows a dash in the trend and a drop in participation."""
    empty = round_of("2026-11-23T10:00", [], nudged=10)
    full = round_of("2026-11-16T10:00", ["Yes"] * 10)
    text = report_text("MLOps check-in", empty, [full], anonymous=False).plain
    assert "0/10 answered (0%), down 100 points from 100% last round" in text
    assert "Rounds in the trends: Nov 16 → Nov 23" in text
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


def figure_size(figure: Figure) -> tuple[int, int]:
    width, height = figure.get_size_inches() * figure.dpi
    return round(width), round(height)


def test_chart_is_a_png_that_decodes() -> None:
    """The chart is a 1000 pixels wide PNG, as tall as its rows, that decodes again."""
    history = [round_of(f"2026-11-{d:02d}T10:00", ["Yes"] * (d % 7)) for d in range(23, 0, -1)]
    data = report_chart("MLOps check-in", this_round(), history)
    width, height = png_size(data)
    assert width == 1000 and 500 <= height <= 800
    assert figure_size(report_figure("MLOps check-in", this_round(), history)) == (width, height)
    assert imread(io.BytesIO(data), format="png").shape[:2] == (height, width)
    for person in PEOPLE:
        assert person.encode() not in data


def test_chart_works_for_an_empty_round() -> None:
    """A round with no recipients and no answers still renders, its points left out."""
    empty = round_of("2026-11-30T10:00", [], nudged=0)
    figure = report_figure("MLOps check-in", empty, [])
    assert math.isnan(values(figure, "trend:participation")[0])
    assert png_size(report_chart("MLOps check-in", empty, []))[0] == 1000


def test_chart_works_with_text_questions_only() -> None:
    """A check-in with only text questions gets the participation row alone, rounds named
    under it, and a note that the text answers are in the message."""
    only_notes = CheckInSpec(
        schedule="0 10 * * MON", timezone="UTC", audience=(), questions=(NOTES,)
    )
    summary = summarise(only_notes, "2026-11-30T10:00", PEOPLE[:2], [])
    figure = report_figure("Notes", summary, [])
    assert [a.get_label() for a in figure.axes] == ["now:participation", "trend:participation"]
    assert tick_texts(figure) == ["Nov 30"]
    assert "“Anything else?”: 0 answers this round, in the message" in figure_texts(figure)
    assert png_size(report_chart("Notes", summary, []))[0] == 1000


def axes_named(figure: Figure, label: str) -> Axes:
    (found,) = [axes for axes in figure.axes if axes.get_label() == label]
    return found


def values(figure: Figure, label: str) -> list[float]:
    """The trend line's values in the axes labelled `label` (nan where none)."""
    (line,) = [ln for ln in axes_named(figure, label).get_lines() if ln.get_label() == "values"]
    return [float(v) for v in np.asarray(line.get_ydata(), dtype=float)]


def hollow_points(figure: Figure, label: str) -> list[float]:
    """The x positions drawn as rounds started by hand."""
    lines = axes_named(figure, label).get_lines()
    (line,) = [ln for ln in lines if ln.get_label() == "manual"]
    return [float(x) for x in np.asarray(line.get_xdata(), dtype=float)]


def lowest_trend(figure: Figure) -> Axes:
    """The trend whose ticks name the rounds: the lowest, and the only one."""
    trends = [a for a in figure.axes if str(a.get_label()).startswith("trend:")]
    named = [a for a in trends if any(t.get_text() for t in a.get_xticklabels())]
    assert named == trends[-1:]
    return named[0]


def tick_texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in lowest_trend(figure).get_xticklabels()]


def figure_texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.texts]


def overlaps(figure: Figure) -> list[tuple[str, str]]:
    """Pairs of neighbouring round names whose drawn boxes touch."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    labels = lowest_trend(figure).get_xticklabels()
    boxes = [label.get_window_extent(renderer) for label in labels]
    inside = figure.bbox
    for label, box in zip(labels, boxes, strict=True):
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1, f"{label.get_text()!r} is cut off"
        assert inside.y0 <= box.y0, f"{label.get_text()!r} is cut off"
    return [
        (a.get_text(), b.get_text())
        for (a, box_a), (b, box_b) in itertools.pairwise(zip(labels, boxes, strict=True))
        if box_a.x1 + 2 > box_b.x0
    ]


def test_round_names_are_dates_in_the_zone_with_time_year_and_mark_when_needed() -> None:
    """Rounds are named by their date in the check-in's zone; a shared date adds the time,
    a shared day of another year adds the year, and a round started by hand is marked."""
    keys = [
        "2025-11-30T10:00",
        "2026-11-23T10:00",
        "2026-11-30T10:00",
        "manual 2026-11-30T16:33:40",  # 01:33 on Dec 1 in Tokyo
        "manual 2026-12-01T05:00:00",  # 14:00 on Dec 1 in Tokyo
        "not a round key at all",
    ]
    tokyo = CheckInSpec(
        schedule="0 10 * * MON", timezone="Asia/Tokyo", audience=(), questions=(DRIFT,)
    )
    rounds = [summarise(tokyo, key, PEOPLE, []) for key in keys]
    assert round_labels(rounds) == [
        ("Nov 30", "2025"),
        ("Nov 23",),
        ("Nov 30", "2026"),
        ("Dec 1", "01:33", "manual"),
        ("Dec 1", "14:00", "manual"),
        ("not a", "round key", "at all"),
    ]
    london = replace(tokyo, timezone="Europe/London")
    london_rounds = [summarise(london, key, PEOPLE, []) for key in keys[1:4]]
    assert round_labels(london_rounds) == [
        ("Nov 23",),
        ("Nov 30", "10:00"),
        ("Nov 30", "16:33", "manual"),
    ]
    figure = report_figure("Pulse", london_rounds[-1], london_rounds[1::-1])
    assert figure_texts(figure)[0] == "Pulse \N{EN DASH} Nov 30 16:33 (manual)"
    assert "Round of 2026-11-30 16:33 Europe/London, started by hand" in figure_texts(figure)[1]


def twelve_rounds() -> list[RoundSummary]:
    """Twelve rounds, oldest first: two on one day (one by hand), one nobody answered."""
    keys = [f"2026-{m:02d}-{d:02d}T10:00" for m, d in ((9, 14), (9, 21), (9, 28), (10, 5))]
    keys += [f"2026-10-{d:02d}T10:00" for d in (12, 19, 26)]
    keys += ["2026-11-02T10:00", "manual 2026-11-02T16:33:40", "2026-11-09T10:00"]
    keys += ["2026-11-16T10:00", "2026-11-23T10:00"]
    rounds = []
    for i, key in enumerate(keys):
        yes = (i * 3) % 8
        drift = ["Yes"] * yes + ["Partly", "No"] * ((8 - yes) // 2)
        if i == 4:
            rounds.append(round_of(key, []))
        else:
            rounds.append(round_of(key, drift, confidence=[1 + (i + j) % 5 for j in range(6)]))
    return rounds


def test_chart_names_twelve_rounds_readably_with_a_trend_per_question() -> None:
    """Twelve rounds: every name under the trends, none cut off or touching; one trend
    per choice or scale question beside participation, with the first option's share or
    the mean per round; rounds started by hand drawn hollow."""
    rounds = twelve_rounds()
    figure = report_figure("MLOps check-in", rounds[-1], rounds[-2::-1])
    assert tick_texts(figure) == [
        "Sep 14", "Sep 21", "Sep 28", "Oct 5", "Oct 12", "Oct 19", "Oct 26",
        "Nov 2\n10:00", "Nov 2\n16:33\nmanual", "Nov 9", "Nov 16", "Nov 23",
    ]  # fmt: skip
    assert overlaps(figure) == []
    trends = [a.get_label() for a in figure.axes if str(a.get_label()).startswith("trend:")]
    assert trends == ["trend:participation", "trend:drift", "trend:confidence"]
    assert values(figure, "trend:participation") == [r.participation * 100 for r in rounds]
    yes = [(i * 3) % 8 for i in range(12)]
    shares = [y / (y + 2 * ((8 - y) // 2)) * 100 for y in yes]
    means = [sum(1 + (i + j) % 5 for j in range(6)) / 6 for i in range(12)]
    drift, confidence = values(figure, "trend:drift"), values(figure, "trend:confidence")
    assert math.isnan(drift[4]) and math.isnan(confidence[4])  # nobody answered
    assert drift[:4] + drift[5:] == pytest.approx(shares[:4] + shares[5:])
    assert confidence[:4] + confidence[5:] == pytest.approx(means[:4] + means[5:])
    assert hollow_points(figure, "trend:drift") == [8.0]
    assert "round started by hand (manual)" in [
        t.get_text() for legend in figure.legends for t in legend.get_texts()
    ]
    assert "Dates in Europe/London; rounds started by hand in UTC" not in figure_texts(figure)
    assert "Dates in Europe/London" in figure_texts(figure)


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
    local time; a round started by hand is its time in the check-in's zone (UTC when each
    recipient has their own), marked as started by hand."""
    from bot.checkins.schedule import round_label

    assert round_label("2026-11-30T10:00", "Europe/London") == "2026-11-30 10:00 Europe/London"
    assert round_label("2026-11-30T10:00", "recipient") == (
        "2026-11-30 10:00 in each recipient's own time zone"
    )
    assert round_label("manual 2026-11-30T16:46:05", "Asia/Tokyo") == (
        "2026-12-01 01:46 Asia/Tokyo, started by hand"
    )
    assert round_label("manual 2026-11-30T16:46:05", "recipient") == (
        "2026-11-30 16:46 UTC, started by hand"
    )


# -- the sample check-in's report, round after round, through the routes and the fakes ---------

ROOT = Path(__file__).parent.parent
ARTIFACT = Path(__file__).parent / "artifacts" / "checkin-report.png"
SAMPLE = require_knowledge(ROOT / "knowledge", today=date(2026, 11, 30))
SAMPLE_CHECKIN = SAMPLE.entities[Ref(kind="checkin", name="weekly-mlops-practices")]
ADMIN_SLACK_ID = "U03AK2M6TGE"  # aisha-khan, role:opsbot-admin in the sample
FORM = "application/x-www-form-urlencoded"
#: Mondays of the sample's weekly rounds; the round started by hand comes on the 8th.
MONDAYS = [date(2026, 10, 5) + timedelta(weeks=w) for w in range(9)]
BY_HAND = datetime(2026, 11, 23, 18, 45, 10, tzinfo=UTC)
#: Per round, oldest first (the one started by hand is the 9th): how many people answer,
#: how many of them answer "Yes" on drift reviews, and how many skip the round.
PLAN = [(5, 1, 1), (6, 2, 0), (6, 2, 1), (7, 3, 0), (5, 3, 2), (7, 4, 1), (8, 5, 0),
        (8, 6, 1), (4, 3, 0), (8, 7, 0)]  # fmt: skip


def confidence_of(person: int, round_no: int) -> int:
    """How confident person `person` says they are in round `round_no`: rising over time."""
    return min(5, 1 + (person + round_no) // 3)


@dataclass
class Season:
    """The sample's check-in served over HTTP, with its Slack a fake one."""

    slack: FakeSlack
    clock: FakeClock
    service: CheckinService
    adapter: SlackAdapter
    http: TestClient[Any, Any]
    people: list[str]  # Slack ids of the audience, in the order the plan counts them

    async def post(self, body: bytes) -> None:
        headers = {"Content-Type": FORM, **sign(body, SLACK_SECRET)}
        response = await self.http.post("/slack/events", data=body, headers=headers)
        assert response.status == 200, await response.text()
        await self.adapter.drain(5)

    async def answer(self, round_no: int, since: int) -> None:
        """Everyone does what the plan says with the nudge they got after call `since`."""
        answering, yes, skipping = PLAN[round_no]
        for i, person in enumerate(self.people):
            (nudge,) = [
                c
                for c in self.slack.calls[since:]
                if c.method == "chat.postMessage"
                and c.params["channel"] == person
                and not c.params["text"].startswith("Reminder")  # late nudges come reminded
            ]
            clicks = nudge_buttons(nudge.json("blocks"))
            if i < answering:
                drift = "Yes" if i < yes else ("Partly" if i % 2 else "No")
                for choice in (drift, str(confidence_of(i, round_no))):
                    await self.click(*clicks[choice], person)
                if i == 0:
                    _, value = clicks["Answer"]
                    text = {"answer": {"value": {"type": "plain_text_input", "value": "GPUs"}}}
                    body = view_submission_body(
                        "checkin_text", text, person, private_metadata=value
                    )
                    await self.post(body)
            elif i < answering + skipping:
                await self.click(*clicks["Skip this round"], person)

    async def click(self, action_id: str, value: str, person: str) -> None:
        url = self.slack.response_url(f"click{len(self.slack.calls)}")
        await self.post(action_body(action_id, value, person, response_url=url))


def nudge_buttons(blocks: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Button text -> (action id, value), over every actions block of a nudge."""
    return {
        element["text"]["text"]: (element["action_id"], element["value"])
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("type") == "button"
    }


@pytest.fixture
async def season(tmp_path: Path) -> AsyncIterator[Season]:
    async with (
        FakeSlack() as slack,
        open_engine(f"sqlite+aiosqlite:///{tmp_path / 'season.db'}") as engine,
    ):
        await upgrade(engine)
        clock = FakeClock(datetime(2026, 10, 4, 12, tzinfo=UTC))
        client = web_client(SLACK_TOKEN, slack.api_url, pacing=post_pacing(0, per_channel=0))
        service, adapter = checkin_adapter(engine, SAMPLE, client, clock)

        async def ready() -> str | None:
            return None

        @asynccontextmanager
        async def serving() -> AsyncIterator[Served]:
            yield Served(ready=ready, metrics=Metrics(), slack=adapter)

        people = [
            p.spec.slack
            for p in audience(SAMPLE, spec_of(SAMPLE_CHECKIN))
            if isinstance(p.spec, PersonSpec) and p.spec.slack
        ]
        assert len(people) == 9
        async with TestClient(TestServer(create_app(serving))) as http:
            yield Season(slack, clock, service, adapter, http, people)
        await service.tick()  # nothing left half done


def reports_in_channel(slack: FakeSlack) -> list[str]:
    return [
        c.params["text"]
        for c in slack.calls_to("chat.postMessage")
        if c.params["channel"] == "#mlops-practices"
    ]


async def test_the_sample_check_ins_report_after_ten_rounds(season: Season) -> None:
    """Nine weekly rounds of the sample check-in and one started by hand, answered by
    clicks on the real Slack route: the last report names each round by its date (the
    two on one day with their times, the one by hand marked), shows participation and a
    trend per question, fits Teams' picture limits, and is kept in tests/artifacts."""
    slack, service, clock = season.slack, season.service, season.clock
    await service.tick()
    for round_no, monday in enumerate(MONDAYS):
        plan_no = round_no + (round_no >= 8)  # the round by hand is the 9th of the plan
        clock.current = datetime.combine(monday, time(18, 30), UTC)  # 10:00 everywhere
        since = len(slack.calls)
        await service.tick()
        await season.answer(plan_no, since)
        if clock.current.date() == BY_HAND.date():
            clock.current = BY_HAND
            since = len(slack.calls)
            await season.post(
                slash_command_body(
                    "checkin run weekly-mlops-practices",
                    ADMIN_SLACK_ID,
                    response_url=slack.response_url("run"),
                )
            )
            (started,) = slack.calls_to("response_url:run")
            assert started.params["text"].startswith("Started a round of Weekly MLOps")
            await season.answer(8, since)
        clock.current = datetime.combine(monday + timedelta(days=2), time(20, 30), UTC)
        await service.tick()
    reports = reports_in_channel(slack)
    assert len(reports) == 10
    by_hand = "Weekly MLOps practices*: round of 2026-11-23 18:45 UTC, started by hand"
    assert by_hand in reports[-2]
    last = reports[-1]
    assert "round of 2026-11-30 10:00 in each recipient's own time zone" in last
    assert "8/9 answered (89%), up 45 points from 44% last round" in last
    assert (
        "Rounds in the trends: Nov 2 → Nov 9 → Nov 16 → Nov 23 10:00 → "
        "Nov 23 18:45 (manual) → Nov 30" in last
    )
    assert "Yes: 60% → 57% → 62% → 75% → 75% → 88%" in last

    png = list(slack.uploads.values())[-1]
    (name,) = {f["filename"] for f in slack.files.values()}
    assert name == "report.png"

    rounds = await service.store.rounds(SAMPLE_CHECKIN.ref.name, 12)
    summaries = [await service.summary(SAMPLE_CHECKIN, r) for r in rounds]
    current, history = summaries[0], summaries[1:]
    before = time_module.perf_counter()
    again = report_chart(SAMPLE_CHECKIN.title, current, history)
    seconds = time_module.perf_counter() - before
    assert again == png  # what Slack got is this report
    figure = report_figure(SAMPLE_CHECKIN.title, current, history)
    assert figure_size(figure) == png_size(png)
    width, height = png_size(png)
    assert width <= 1024 and height <= 1024 and len(png) < 1024 * 1024  # Teams' picture limits
    assert imread(io.BytesIO(png), format="png").shape[:2] == (height, width)

    assert figure_texts(figure)[0] == "Weekly MLOps practices \N{EN DASH} Nov 30"
    assert tick_texts(figure) == [
        "Oct 5", "Oct 12", "Oct 19", "Oct 26", "Nov 2", "Nov 9", "Nov 16",
        "Nov 23\n10:00", "Nov 23\n18:45\nmanual", "Nov 30",
    ]  # fmt: skip
    assert overlaps(figure) == []
    trends = [a.get_label() for a in figure.axes if str(a.get_label()).startswith("trend:")]
    assert trends == ["trend:participation", "trend:drift-review", "trend:reproducibility"]
    assert values(figure, "trend:participation") == pytest.approx(
        [answering / 9 * 100 for answering, _, _ in PLAN]
    )
    assert values(figure, "trend:drift-review") == pytest.approx(
        [yes / answering * 100 for answering, yes, _ in PLAN]
    )
    means = [
        sum(confidence_of(i, r) for i in range(answering)) / answering
        for r, (answering, _, _) in enumerate(PLAN)
    ]
    assert values(figure, "trend:reproducibility") == pytest.approx(means)
    assert hollow_points(figure, "trend:participation") == [8.0]
    assert (
        "“Anything blocking good MLOps practice this week?”: 1 answer this round, in the message"
        in figure_texts(figure)
    )
    assert "Dates in each recipient's own time zone; rounds started by hand in UTC" in (
        figure_texts(figure)
    )

    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_bytes(png)
    print(f"\n{ARTIFACT}: {width}x{height}, {len(png) / 1024:.0f} KiB, rendered in {seconds:.2f} s")
    assert seconds < 2.0  # about 0.3 s here; generous for slow machines

    await teams_gets_the_same_chart(png)


async def teams_gets_the_same_chart(png: bytes) -> None:
    """The chart goes to a Teams channel as an inline picture within the Bot Connector's
    256 KB request limit, and decodes to the same PNG."""
    channel = "19:reports@thread.tacv2"
    book = MemoryAddressBook()
    async with (
        FakeConnector(token=None, max_activity_bytes=256 * 1024) as bf,
        aiohttp.ClientSession() as session,
    ):
        await book.remember(
            ChatAddress(
                platform="teams",
                key=channel,
                kind="channel",
                service_url=bf.service_url,
                tenant_id="tenant-1",
                conversation_id=channel,
                bot_id="28:bot",
            )
        )

        async def no_wait(_: float) -> None:
            return None

        renderer = TeamsRenderer(SAMPLE, lambda ref: None)
        messenger = TeamsMessenger(
            connector=Connector(session, StaticTokens(), deadline=5, sleep=no_wait),
            addresses=book,
            cards=lambda: renderer,
            bot_id="28:bot",
            clock=FakeClock(T0),
            counter=NoCount(),
        )
        await messenger.refresh()
        await messenger.report(channel, Styled.of("8/9 answered"), png, SAMPLE_CHECKIN.title)
        (activity,) = bf.delivered(channel)
        (image,) = [a for a in activity["attachments"] if a["contentType"] == "image/png"]
        prefix = "data:image/png;base64,"
        assert image["contentUrl"].startswith(prefix)
        assert base64.b64decode(image["contentUrl"].removeprefix(prefix)) == png


class StaticTokens:
    async def token(self, *, force_refresh: bool = False) -> str:
        return "bot-token"


class NoCount:
    def ambiguous_send(self, platform: str) -> None:
        raise AssertionError(f"no {platform} nudge is sent here")
