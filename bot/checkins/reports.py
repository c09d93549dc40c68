"""Check-in reports, the pure part: round summaries turned into chat text, a chart, a CSV.

No I/O: the chart is rendered headless (Agg) into PNG bytes in memory with matplotlib's
object-oriented API (no pyplot, no global state, so safe in threads). Channel reports
never name people, whatever the check-in's anonymity; only the CSV export does, and only
for check-ins that are not anonymous.
"""

from __future__ import annotations

import csv
import io
import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.checkins.schedule import SKIP, QuestionSummary, RoundSummary, share
from bot.model import CheckInSpec
from bot.styled import Span, Styled, bold, italic

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Earlier rounds shown in the text trend and in the participation chart.
TEXT_TREND = 5
CHART_ROUNDS = 12
MAX_TEXTS = 10
TEXT_CHARS = 200
#: A round in a trend where nobody answered the question.
_GAP = "\N{EN DASH}"


def _pct(part: float) -> str:
    return f"{round(part * 100)}%"


def _find(summary: RoundSummary, question_id: str) -> QuestionSummary | None:
    return next((q for q in summary.questions if q.question.id == question_id), None)


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
    for question in summary.questions:
        lines += ["", (bold(question.question.text),), *_answers(question)]
        lines += _trend(question, summary, history)
    if anonymous:
        lines += ["", (italic("Answers are anonymous: no names are kept."),)]
    return Styled.of(*lines)


def _participation(summary: RoundSummary, history: Sequence[RoundSummary]) -> str:
    if not summary.nudged:
        return "Nobody was asked this round."
    line = f"{summary.responded}/{summary.nudged} answered ({_pct(summary.participation)})"
    if not history or not history[0].nudged:
        return line
    before = round(history[0].participation * 100)
    change = round(summary.participation * 100) - before
    if change == 0:
        return f"{line}, the same as last round"
    direction = "up" if change > 0 else "down"
    points = "point" if abs(change) == 1 else "points"
    return f"{line}, {direction} {abs(change)} {points} from {before}% last round"


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


def _trend(
    question: QuestionSummary, summary: RoundSummary, history: Sequence[RoundSummary]
) -> list[str]:
    """The first option's share (choice) or the mean (scale), oldest round first."""
    kind, qid = question.question.type, question.question.id
    if kind == "text" or (kind == "choice" and not question.question.options):
        return []
    rounds = [*reversed(history[:TEXT_TREND]), summary]
    found = [_find(r, qid) for r in rounds]
    if sum(q is not None and q.answered > 0 for q in found[:-1]) == 0:
        return []
    if kind == "choice":
        option = question.question.options[0]
        points = [_pct(share(q, option)) if q and q.answered else _GAP for q in found]
        return [f"{option}: {' → '.join(points)}"]
    means = [f"{q.mean:.1f}" if q and q.mean is not None else _GAP for q in found]
    return [f"Mean: {' → '.join(means)}"]


# -- chart ------------------------------------------------------------------------------


def report_chart(title: str, summary: RoundSummary, history: Sequence[RoundSummary]) -> bytes:
    """A PNG: a stacked bar of shares per choice or scale question, participation below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bars = [q for q in summary.questions if q.question.type != "text"]
    figure = Figure(figsize=(8, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    heading = f"{title}: round of {summary.label or summary.round_key}"
    if summary.nudged:
        heading += f" · {summary.responded}/{summary.nudged} answered"
    figure.suptitle(heading, fontsize=12, fontweight="bold")
    if bars:
        top, bottom = figure.subplots(2, 1, height_ratios=[max(len(bars), 2), 2])
        _bars(top, bars)
    else:
        bottom = figure.subplots()
    rounds = [*reversed(history[: CHART_ROUNDS - 1]), summary]
    _participation_line(bottom, rounds)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _bars(axes: Axes, questions: Sequence[QuestionSummary]) -> None:
    import matplotlib as mpl

    labels = []
    for row, question in enumerate(questions):
        total = question.answered
        mean = f", mean {question.mean:.1f}" if question.mean is not None else ""
        text = textwrap.shorten(question.question.text, 40, placeholder="…")
        labels.append(f"{text}\n(n={total}{mean})")
        if not total:
            axes.barh(row, 100, color="#eeeeee")
            axes.text(50, row, "no answers", ha="center", va="center", color="#666666")
            continue
        options = list(question.counts)
        if question.question.type == "scale":
            palette = mpl.colormaps["RdYlGn"]
            colours = [
                palette(0.1 + 0.8 * i / max(len(options) - 1, 1)) for i in range(len(options))
            ]
        else:
            colours = [mpl.colormaps["Set2"](i % 8) for i in range(len(options))]
        left = 0.0
        for option, colour in zip(options, colours, strict=True):
            width = share(question, option) * 100
            if width:
                axes.barh(row, width, left=left, color=colour, edgecolor="white")
                if width >= 9:
                    label = f"{option}\n{width:.0f}%" if len(option) <= 10 else f"{width:.0f}%"
                    axes.text(left + width / 2, row, label, ha="center", va="center", fontsize=8)
            left += width
    axes.set_yticks(range(len(questions)), labels, fontsize=9)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("share of answers (%)", fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)


def _participation_line(axes: Axes, rounds: Sequence[RoundSummary]) -> None:
    values = [r.participation * 100 if r.nudged else math.nan for r in rounds]  # nan: a gap
    positions = range(len(rounds))
    axes.plot(positions, values, marker="o", color="#1f77b4")
    for x, value in zip(positions, values, strict=True):
        if math.isnan(value):
            continue
        axes.annotate(
            f"{value:.0f}%",
            (x, value),
            textcoords="offset points",
            xytext=(0, 5),
            ha="center",
            fontsize=7,
        )
    axes.set_xticks(
        positions,
        [r.round_key[:10] for r in rounds],
        fontsize=7,
        rotation=30 if len(rounds) > 6 else 0,
    )
    axes.set_ylim(0, 115)
    axes.set_yticks([0, 50, 100], ["0%", "50%", "100%"], fontsize=8)
    axes.set_title("participation by round", fontsize=9, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)


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
