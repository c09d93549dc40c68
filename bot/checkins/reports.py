"""Check-in reports, the pure part: round summaries turned into chat text, a chart, a CSV.

No I/O: the chart is rendered headless (Agg) into PNG bytes in memory with matplotlib's
object-oriented API (no pyplot, no global state, so safe in threads). Channel reports
never name people, whatever the check-in's anonymity; only the CSV export does, and only
for check-ins that are not anonymous.

A round is named by its date where the check-in runs ("Nov 30"), with its time when two
rounds shown share a date, and "manual" when it was started by hand. A choice question's
trend follows its first option (the one the check-in lists first, "Yes" in
[Yes, Partly, No]); a scale question's follows its mean.
"""

from __future__ import annotations

import csv
import io
import math
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.checkins.schedule import RECIPIENT, SKIP, QuestionSummary, RoundSummary, share
from bot.model import CheckInSpec
from bot.styled import Span, Styled, bold, italic

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Earlier rounds shown in the text trend; rounds shown in the chart, this one included.
TEXT_TREND = 5
CHART_ROUNDS = 12
MAX_TEXTS = 10
TEXT_CHARS = 200
#: A round in a trend where nobody answered the question.
_GAP = "\N{EN DASH}"
#: The mark of a round started by hand, in labels.
MANUAL_MARK = "manual"
#: Month names as labels show them, whatever the process's locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _pct(part: float) -> str:
    return f"{round(part * 100)}%"


def _find(summary: RoundSummary, question_id: str) -> QuestionSummary | None:
    return next((q for q in summary.questions if q.question.id == question_id), None)


# -- round labels -----------------------------------------------------------------------


def round_labels(rounds: Sequence[RoundSummary]) -> list[tuple[str, ...]]:
    """Each round's name as lines, for rounds shown side by side: its date ("Nov 30") in
    the check-in's zone; the year under it when another round has the same day of another
    year; the time when another round has the same date; "manual" when started by hand."""
    times = [r.time for r in rounds]
    dates = Counter(t.at.date() for t in times if t is not None)
    days = Counter((t.at.month, t.at.day) for t in times if t is not None)
    labels: list[tuple[str, ...]] = []
    for summary, time in zip(rounds, times, strict=True):
        if time is None:  # not a round key this code wrote: shown whole, never cut
            labels.append(tuple(textwrap.wrap(summary.round_key, 10) or [""]))
            continue
        at = time.at
        lines = [f"{_MONTHS[at.month - 1]} {at.day}"]
        if days[(at.month, at.day)] > dates[at.date()]:
            lines.append(str(at.year))
        if dates[at.date()] > 1:
            lines.append(f"{at:%H:%M}")
        if time.manual:
            lines.append(MANUAL_MARK)
        labels.append(tuple(lines))
    return labels


def _inline(label: tuple[str, ...]) -> str:
    """A label on one line: "Nov 30 16:33 (manual)"."""
    if label[-1] == MANUAL_MARK:
        return " ".join(label[:-1]) + f" ({MANUAL_MARK})"
    return " ".join(label)


def _dates_note(rounds: Sequence[RoundSummary]) -> str:
    """Where the dates of `rounds` are read: "Dates in Europe/London" and the like."""
    scheduled = {r.time.where for r in rounds if r.time is not None and not r.time.manual}
    by_hand = {r.time.where for r in rounds if r.time is not None and r.time.manual}

    def where(zone: str) -> str:
        return "each recipient's own time zone" if zone == RECIPIENT else zone

    if not scheduled and not by_hand:
        return ""
    if not scheduled or by_hand <= scheduled:
        return f"Dates in {', '.join(where(z) for z in sorted(scheduled | by_hand))}"
    return (
        f"Dates in {', '.join(where(z) for z in sorted(scheduled))}; "
        f"rounds started by hand in {', '.join(sorted(by_hand))}"
    )


# -- text -------------------------------------------------------------------------------


def report_text(
    title: str, summary: RoundSummary, history: Sequence[RoundSummary], *, anonymous: bool
) -> Styled:
    """The round for chat: participation, each question's answers, the trend; no names.

    `history` holds the earlier rounds, newest first. `summary.who` is never read, so
    the text is the same whether or not the check-in is anonymous, bar a closing note.
    Titles and answers stay plain text: the headings are marked bold as data.
    """
    lines: list[str | tuple[str | Span, ...]] = [
        (bold(title), f": round of {summary.label or summary.round_key}"),
        _participation(summary, history),
    ]
    window = [*reversed(history[:TEXT_TREND]), summary]
    trends = [_trend(question, window) for question in summary.questions]
    if any(trends):
        names = [_inline(label) for label in round_labels(window)]
        lines.append(f"Rounds in the trends: {' → '.join(names)}")
    for question, trend in zip(summary.questions, trends, strict=True):
        lines += ["", (bold(question.question.text),), *_answers(question), *trend]
    if anonymous:
        lines += ["", (italic("Answers are anonymous: no names are kept."),)]
    return Styled.of(*lines)


def _participation(summary: RoundSummary, history: Sequence[RoundSummary]) -> str:
    if not summary.nudged:
        return "Nobody was asked this round."
    line = f"{summary.responded}/{summary.nudged} answered ({_pct(summary.participation)})"
    change = _change(summary, history)
    if change is None:
        return line
    before = round(history[0].participation * 100)
    if change == 0:
        return f"{line}, the same as last round"
    direction = "up" if change > 0 else "down"
    points = "point" if abs(change) == 1 else "points"
    return f"{line}, {direction} {abs(change)} {points} from {before}% last round"


def _change(summary: RoundSummary, history: Sequence[RoundSummary]) -> int | None:
    """Participation points gained since the last round; None without a last round."""
    if not summary.nudged or not history or not history[0].nudged:
        return None
    return round(summary.participation * 100) - round(history[0].participation * 100)


def _answers(question: QuestionSummary) -> list[str]:
    total = question.answered
    if not total:
        return ["No answers."]
    if question.question.type == "text":
        answers = "answer" if total == 1 else "answers"
        shown = [f"• {_clip(text)}" for text in question.texts[:MAX_TEXTS]]
        more = [f"… and {total - MAX_TEXTS} more"] if total > MAX_TEXTS else []
        return [f"{total} {answers}", *shown, *more]
    counts = [
        f"{option} {count} ({_pct(share(question, option))})"
        for option, count in question.counts.items()
    ]
    if question.question.type == "scale" and question.mean is not None:
        counts.append(f"mean {question.mean:.1f}")
    return [" · ".join(counts)]


def _clip(text: str) -> str:
    flat = " ".join(text.split())  # one line per answer, whatever was typed
    return flat if len(flat) <= TEXT_CHARS else flat[: TEXT_CHARS - 1].rstrip() + "…"


def _trend(question: QuestionSummary, rounds: Sequence[RoundSummary]) -> list[str]:
    """The first option's share (choice) or the mean (scale) over `rounds`, oldest first;
    nothing when no earlier round had an answer."""
    if not _has_trend(question):
        return []
    values = _trend_values(question, rounds)
    if all(math.isnan(v) for v in values[:-1]):
        return []
    if question.question.type == "choice":
        points = [_GAP if math.isnan(v) else _pct(v) for v in values]
        return [f"{question.question.options[0]}: {' → '.join(points)}"]
    return [f"Mean: {' → '.join(_GAP if math.isnan(v) else f'{v:.1f}' for v in values)}"]


def _has_trend(question: QuestionSummary) -> bool:
    kind = question.question.type
    return kind == "scale" or (kind == "choice" and bool(question.question.options))


def _trend_values(question: QuestionSummary, rounds: Sequence[RoundSummary]) -> list[float]:
    """Per round: the share choosing the first option, or the mean; nan with no answers."""
    qid = question.question.id
    values = []
    for found in (_find(r, qid) for r in rounds):
        if found is None or not found.answered:
            values.append(math.nan)
        elif question.question.type == "choice":
            values.append(share(found, question.question.options[0]))
        else:
            values.append(math.nan if found.mean is None else found.mean)
    return values


# -- chart ------------------------------------------------------------------------------

#: The chart's frame, in inches: the figure is WIDTH wide, rows are stacked as needed up
#: to MAX_HEIGHT (Teams shows a picture of up to 1024x1024 pixels; Slack has no limit).
WIDTH = 10.0
DPI = 100
MAX_HEIGHT = 1024 / DPI
_TOP = 0.85
_EDGE = 0.35
_NOW_WIDTH = 2.9  # this round's answers, on the left
_TREND_LEFT = 4.0  # the trend over the rounds, on the right
_TREND_RIGHT = WIDTH - 0.4
_PANEL = 0.85
_ROW_GAP = 0.22
_TITLES = 0.2  # the panels' own small titles
_HEADING_LINE = 0.18
_TICK_LINE = 0.14
_NOTE_LINE = 0.19

_BEST = "#1b9e77"  # the first option, and its trend
_OTHERS = ("#9a9a9a", "#c2c2c2", "#dcdcdc", "#b0b0b0", "#d0d0d0")
_PARTICIPATION = "#2c6fbb"
_MEAN = "#7a5195"
_CURRENT = "#f1f1f1"
_INK = "#333333"
_MUTED = "#666666"


@dataclass(frozen=True, kw_only=True)
class _Row:
    heading: tuple[str, ...]
    question: QuestionSummary | None  # None: participation


def report_chart(title: str, summary: RoundSummary, history: Sequence[RoundSummary]) -> bytes:
    """The report as a PNG (see `report_figure`)."""
    figure = report_figure(title, summary, history)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def report_figure(title: str, summary: RoundSummary, history: Sequence[RoundSummary]) -> Figure:
    """The report as a figure, one row per thing measured: participation, then each
    choice and scale question, as many as fit in MAX_HEIGHT (a note counts the rest).
    Each row shows this round on the left and its trend over the last CHART_ROUNDS
    rounds on the right; the rounds are named once, under the lowest trend.

    `history` holds the earlier rounds, newest first. Axes are labelled for inspection:
    "now:<id>" and "trend:<id>", with "participation" as the id of the participation row.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rounds = [*reversed(history[: CHART_ROUNDS - 1]), summary]
    labels = round_labels(rounds)
    tick_lines = max(len(label) for label in labels)
    rows, notes, height = _plan(summary, tick_lines)
    figure = Figure(figsize=(WIDTH, height), dpi=DPI)
    FigureCanvasAgg(figure)

    def at(x: float, y: float) -> tuple[float, float]:
        """Inches from the figure's top left to figure coordinates."""
        return x / WIDTH, 1 - y / height

    heading = f"{textwrap.shorten(title, 58, placeholder='…')} \N{EN DASH} {_inline(labels[-1])}"
    figure.text(*at(_EDGE, 0.42), heading, fontsize=14, fontweight="bold", color=_INK)
    figure.text(*at(_EDGE, 0.68), _subtitle(summary), fontsize=9.5, color=_MUTED)
    trends: list[Axes] = []
    y = _TOP
    for row in rows:
        for line in row.heading:
            y += _HEADING_LINE
            figure.text(*at(_EDGE, y - 0.03), line, fontsize=9.5, fontweight="bold", color=_INK)
        y += _TITLES + _PANEL
        bottom, panel = at(0, y)[1], _PANEL / height
        now = figure.add_axes((_EDGE / WIDTH, bottom, _NOW_WIDTH / WIDTH, panel))
        trend = figure.add_axes(
            (_TREND_LEFT / WIDTH, bottom, (_TREND_RIGHT - _TREND_LEFT) / WIDTH, panel)
        )
        _draw_row(now, trend, row.question, rounds, history)
        trends.append(trend)
        y += _ROW_GAP
    _name_rounds(trends, labels)
    y += tick_lines * _TICK_LINE + 0.12 - _ROW_GAP
    for note in [_dates_note(rounds), *notes]:
        y += _NOTE_LINE
        if note:
            figure.text(*at(_EDGE, y), note, fontsize=8, color=_MUTED)
    if any(r.time is not None and r.time.manual for r in rounds):
        _manual_key(figure, at(_TREND_RIGHT, y - _NOTE_LINE * len(notes)))
    return figure


def _draw_row(
    now: Axes,
    trend: Axes,
    question: QuestionSummary | None,
    rounds: Sequence[RoundSummary],
    history: Sequence[RoundSummary],
) -> None:
    """One row: this round's answers (or participation) and their trend."""
    if question is None:
        now.set_label("now:participation")
        trend.set_label("trend:participation")
        _participation_now(now, rounds[-1], history)
        values = [r.participation * 100 if r.nudged else math.nan for r in rounds]
        _trend_line(trend, values, rounds, colour=_PARTICIPATION, percent=True)
        _small_title(trend, "answered, by round")
        return
    now.set_label(f"now:{question.question.id}")
    trend.set_label(f"trend:{question.question.id}")
    _distribution(now, question)
    _question_trend(trend, question, rounds)


def _small_title(axes: Axes, text: str) -> None:
    axes.set_title(text, loc="left", fontsize=8, color=_MUTED, pad=4)


def _wrapped(text: str, width: int, lines: int) -> tuple[str, ...]:
    flat = " ".join(text.split())
    return tuple(textwrap.wrap(flat, width, max_lines=lines, placeholder="…") or [""])


def _subtitle(summary: RoundSummary) -> str:
    when = f"Round of {summary.label or summary.round_key}"
    if not summary.nudged:
        return f"{when} · nobody was asked"
    return f"{when} · {summary.responded} of {summary.nudged} answered"


def _plan(summary: RoundSummary, tick_lines: int) -> tuple[list[_Row], list[str], float]:
    """The rows that fit in MAX_HEIGHT (participation, then questions in order), the
    footnotes, and the figure's height in inches."""
    rows = [_Row(heading=("Participation",), question=None)]
    notes = _notes(summary, [])
    height = _height(rows, notes, tick_lines)
    for question in (q for q in summary.questions if _has_trend(q)):
        row = _Row(heading=_wrapped(question.question.text, 95, 2), question=question)
        more_notes = _notes(summary, [r.question for r in rows[1:] if r.question] + [question])
        more_height = _height([*rows, row], more_notes, tick_lines)
        if more_height > MAX_HEIGHT:
            break
        rows, notes, height = [*rows, row], more_notes, more_height
    return rows, notes, height


def _height(rows: Sequence[_Row], notes: Sequence[str], tick_lines: int) -> float:
    middle = sum(len(r.heading) * _HEADING_LINE + _TITLES + _PANEL + _ROW_GAP for r in rows)
    bottom = tick_lines * _TICK_LINE + 0.12 + (len(notes) + 1) * _NOTE_LINE + 0.1
    return _TOP + middle + bottom


def _notes(summary: RoundSummary, charted: Sequence[QuestionSummary]) -> list[str]:
    """Footnotes: free-text questions and questions left out, found in the message."""
    texts = [q for q in summary.questions if q.question.type == "text"]
    notes = []
    if len(texts) > 2:
        total = sum(q.answered for q in texts)
        notes.append(f"{len(texts)} free-text questions: {_answers_count(total)}, in the message")
    else:
        for question in texts:
            text = textwrap.shorten(question.question.text, 70, placeholder="…")
            notes.append(f"“{text}”: {_answers_count(question.answered)}, in the message")
    left_out = sum(_has_trend(q) for q in summary.questions) - len(charted)
    if left_out == 1:
        notes.append("1 more question is in the message")
    elif left_out > 1:
        notes.append(f"{left_out} more questions are in the message")
    return notes


def _answers_count(count: int) -> str:
    return f"{count} answer{'' if count == 1 else 's'} this round"


def _participation_now(axes: Axes, summary: RoundSummary, history: Sequence[RoundSummary]) -> None:
    axes.set_axis_off()
    _small_title(axes, "this round")
    if not summary.nudged:
        axes.text(0, 0.5, "Nobody was asked", fontsize=12, color=_INK, va="center")
        return
    axes.text(
        0,
        0.92,
        _pct(summary.participation),
        fontsize=24,
        fontweight="bold",
        color=_PARTICIPATION,
        va="top",
    )
    axes.text(
        0,
        0.3,
        f"{summary.responded} of {summary.nudged} answered",
        fontsize=9,
        color=_INK,
        va="center",
    )
    change = _change(summary, history)
    if change is not None:
        points = "point" if abs(change) == 1 else "points"
        since = (
            "same as last round"
            if change == 0
            else f"{'up' if change > 0 else 'down'} {abs(change)} {points} since last round"
        )
        axes.text(0, 0.06, since, fontsize=8, color=_MUTED, va="center")


def _distribution(axes: Axes, question: QuestionSummary) -> None:
    """This round's answers as one bar of shares, with the counts written under it."""
    total = question.answered
    mean = f", mean {question.mean:.1f}" if question.mean is not None else ""
    _small_title(axes, f"this round (n={total}{mean})")
    axes.set_xlim(0, 100)
    axes.set_ylim(-1.25, 0.45)
    axes.set_axis_off()
    if not total:
        axes.barh(0, 100, height=0.8, color="#eeeeee")
        axes.text(50, 0, "no answers", ha="center", va="center", fontsize=8, color=_MUTED)
        return
    options = list(question.counts)
    colours = _colours(question, len(options))
    left = 0.0
    for option, colour in zip(options, colours, strict=True):
        width = share(question, option) * 100
        if width:
            axes.barh(0, width, left=left, height=0.8, color=colour, edgecolor="white")
            inches = width / 100 * _NOW_WIDTH
            text = f"{width:.0f}%"
            if len(option) * 0.065 + 0.08 <= inches:
                text = f"{option}\n{text}"
            if len(text.split("\n")[-1]) * 0.065 + 0.06 <= inches:
                ink = "white" if colour == _BEST else _INK
                axes.text(
                    left + width / 2,
                    0,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color=ink,
                    linespacing=1.1,
                )
        left += width
    counts = " · ".join(f"{option}: {count}" for option, count in question.counts.items())
    axes.text(
        0,
        -0.55,
        "\n".join(_wrapped(counts, 60, 2)),
        fontsize=7.5,
        color=_MUTED,
        va="top",
        linespacing=1.3,
    )


def _colours(question: QuestionSummary, count: int) -> list[object]:
    if question.question.type == "scale":
        import matplotlib as mpl

        palette = mpl.colormaps["RdYlGn"]
        return [palette(0.1 + 0.8 * i / max(count - 1, 1)) for i in range(count)]
    return [_BEST, *(_OTHERS[i % len(_OTHERS)] for i in range(count - 1))]


def _question_trend(axes: Axes, question: QuestionSummary, rounds: Sequence[RoundSummary]) -> None:
    values = _trend_values(question, rounds)
    spec = question.question
    if spec.type == "choice":
        _small_title(axes, f"share answering “{spec.options[0]}”, by round")
        _trend_line(axes, [v * 100 for v in values], rounds, colour=_BEST, percent=True)
    else:
        _small_title(axes, f"mean answer ({spec.min} to {spec.max}), by round")
        _trend_line(axes, values, rounds, colour=_MEAN, percent=False)
        span = spec.max - spec.min
        axes.set_ylim(spec.min - 0.05 * span, spec.max + 0.3 * span)
        middle = (spec.min + spec.max) / 2
        ticks = [spec.min, middle, spec.max]
        axes.set_yticks(ticks, [f"{t:g}" for t in ticks], fontsize=7.5)


def _trend_line(
    axes: Axes,
    values: Sequence[float],
    rounds: Sequence[RoundSummary],
    *,
    colour: str,
    percent: bool,
) -> None:
    """`values` by round (nan: a gap), each written over its point; hand-started rounds
    drawn hollow; the current round shaded."""
    from matplotlib.patheffects import withStroke

    halo = withStroke(linewidth=2.5, foreground="white")  # values stay legible over lines
    positions = list(range(len(rounds)))
    last = len(rounds) - 1
    axes.axvspan(last - 0.5, last + 0.5, color=_CURRENT, zorder=0, linewidth=0)
    axes.plot(positions, values, color=colour, linewidth=1.8, zorder=2, label="values")
    manual = [r.time is not None and r.time.manual for r in rounds]
    for hollow in (False, True):
        xs = [x for x in positions if manual[x] is hollow and not math.isnan(values[x])]
        axes.plot(
            xs,
            [values[x] for x in xs],
            linestyle="none",
            marker="D" if hollow else "o",
            markersize=5.5 if hollow else 5,
            markerfacecolor="white" if hollow else colour,
            markeredgecolor=colour,
            markeredgewidth=1.4,
            zorder=3,
            label="manual" if hollow else "scheduled",
        )
    for x, value in zip(positions, values, strict=True):
        if not math.isnan(value):
            text = f"{value:.0f}%" if percent else f"{value:.1f}"
            axes.annotate(
                text,
                (x, value),
                textcoords="offset points",
                xytext=(0, 5),
                ha="center",
                fontsize=7,
                color=_INK,
                path_effects=[halo],
            )
    axes.set_xlim(-0.5, max(last, 1) + 0.5)
    if percent:
        axes.set_ylim(0, 122)
        axes.set_yticks([0, 50, 100], ["0%", "50%", "100%"], fontsize=7.5)
    axes.spines[["top", "right"]].set_visible(False)
    axes.spines[["left", "bottom"]].set_color("#bbbbbb")
    axes.tick_params(colors=_MUTED, length=2)
    axes.grid(axis="y", alpha=0.3)


def _name_rounds(trends: Sequence[Axes], labels: Sequence[tuple[str, ...]]) -> None:
    """Every trend has a tick per round; the lowest one names them, the current in bold."""
    positions = list(range(len(labels)))
    for axes in trends:
        axes.set_xticks(positions, [""] * len(labels))
    lowest = trends[-1]
    size = 8 if len(labels) <= 9 else 7.5
    lowest.set_xticks(positions, ["\n".join(label) for label in labels], fontsize=size)
    lowest.tick_params(axis="x", colors=_INK)
    tick_labels = lowest.get_xticklabels()
    tick_labels[-1].set_fontweight("bold")


def _manual_key(figure: Figure, anchor: tuple[float, float]) -> None:
    from matplotlib.lines import Line2D

    hollow = Line2D(
        [],
        [],
        linestyle="none",
        marker="D",
        markersize=5.5,
        markerfacecolor="white",
        markeredgecolor=_MUTED,
        markeredgewidth=1.4,
    )
    figure.legend(
        [hollow],
        ["round started by hand (manual)"],
        loc="upper right",
        bbox_to_anchor=anchor,
        frameon=False,
        fontsize=8,
        handletextpad=0.3,
        borderaxespad=0,
        borderpad=0,
        labelcolor=_MUTED,
    )


# -- export -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ExportRow:
    """One stored answer as the CSV export sees it."""

    round_key: str
    person: str
    question: str
    value: str
    answered_at: datetime


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """`text` safe for spreadsheets: a leading formula character gets a quote in front."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _utc(instant: datetime) -> str:
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_csv(spec: CheckInSpec, rows: Sequence[ExportRow], *, anonymous: bool) -> str:
    """Answers as CSV; anonymous exports have no person or time and a content-only order.

    Not anonymous: every row in the given order, skips written as "skipped". Anonymous:
    skips left out, rows sorted by round, question and answer so that nobody can be
    followed from one question to the next by position.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    if not anonymous:
        writer.writerow(["round", "person", "question", "answer", "answered_at"])
        for row in rows:
            value = "skipped" if row.value == SKIP else row.value
            cells = [row.round_key, row.person, row.question, value]
            writer.writerow([*map(_cell, cells), _utc(row.answered_at)])
        return out.getvalue()
    order = {q.id: i for i, q in enumerate(spec.questions)}
    kept = sorted(
        (r.round_key, order.get(r.question, len(order)), r.question, r.value)
        for r in rows
        if r.value != SKIP
    )
    writer.writerow(["round", "question", "answer"])
    writer.writerows([_cell(key), _cell(qid), _cell(value)] for key, _, qid, value in kept)
    return out.getvalue()
