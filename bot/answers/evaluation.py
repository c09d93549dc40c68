"""Scoring the answer engine on a tagged question set (JSON Lines).

Each line: {"question": "...", "intent": "owner", "entity": "area:x" or null, "tags": [...]}.
A case is right when both the intent and the entity are (top-1).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.answers.engine import AnswerEngine
from bot.events import Answer


@dataclass(frozen=True, kw_only=True)
class Case:
    question: str
    intent: str
    entity: str | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Miss:
    case: Case
    answer: Answer


@dataclass(frozen=True, kw_only=True)
class Report:
    total: int
    right: int
    by_tag: dict[str, tuple[int, int]] = field(default_factory=dict)  # tag -> (right, total)
    misses: tuple[Miss, ...] = ()

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def load_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            cases.append(
                Case(
                    question=raw["question"],
                    intent=raw["intent"],
                    entity=raw.get("entity"),
                    tags=tuple(raw.get("tags", ())),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: bad case: {exc}") from None
    return cases


def is_right(case: Case, answer: Answer) -> bool:
    entity = None if answer.entity is None else str(answer.entity)
    return answer.intent == case.intent and entity == case.entity


def evaluate(engine: AnswerEngine, cases: Iterable[Case]) -> Report:
    tally: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    total = right = 0
    misses = []
    for case in cases:
        answer = engine.answer(case.question)
        ok = is_right(case, answer)
        total += 1
        right += ok
        for tag in ("all", *case.tags):
            tally[tag][0] += ok
            tally[tag][1] += 1
        if not ok:
            misses.append(Miss(case=case, answer=answer))
    by_tag = {tag: (r, t) for tag, (r, t) in sorted(tally.items())}
    return Report(total=total, right=right, by_tag=by_tag, misses=tuple(misses))
