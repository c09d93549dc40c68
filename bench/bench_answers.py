"""Answer engine benchmark: accuracy per tag, latency p50/p99, index build time.

    python bench/bench_answers.py [--rounds N] [--entities N]

Targets (issue 2): p99 < 2 ms on the sample knowledge, p99 < 20 ms at 10,000
entities, index for 10,000 entities built in < 2 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate_kb import write as write_kb  # noqa: E402

from bot.answers import AnswerEngine  # noqa: E402
from bot.answers.evaluation import evaluate, load_cases  # noqa: E402
from bot.kb import Knowledge, load_knowledge  # noqa: E402
from bot.model import OwnableSpec  # noqa: E402

TODAY = date(2026, 11, 29)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(engine: AnswerEngine, questions: list[str], rounds: int) -> tuple[float, float, int]:
    for question in questions:  # warm caches once, as a running bot would have
        engine.answer(question)
    timings = []
    for _ in range(rounds):
        for question in questions:
            start = time.perf_counter()
            engine.answer(question)
            timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings), percentile(timings, 0.99), len(timings)


def typo(text: str, rng: random.Random) -> str:
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) > 4]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # swap two letters
    return " ".join(words)


def generated_questions(knowledge: Knowledge, count: int, seed: int) -> list[tuple[str, str]]:
    """(question, expected ref) pairs over a generated knowledge base."""
    rng = random.Random(seed)
    areas = [e for e in knowledge.ownables() if isinstance(e.spec, OwnableSpec)]
    teams = knowledge.of_kind("team")
    terms = knowledge.of_kind("term")
    out: list[tuple[str, str]] = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.5:
            area = rng.choice(areas)
            name = area.title if rng.random() < 0.7 else area.aliases[0]
            template = rng.choice(
                ["who owns the {}?", "who do I ping about {}", "{} owner?", "runbook for {}"]
            )
            question = template.format(typo(name, rng) if rng.random() < 0.3 else name)
            out.append((question, str(area.ref)))
        elif pick < 0.7:
            team = rng.choice(teams)
            out.append((f"who is on the {team.title} team?", str(team.ref)))
        elif pick < 0.9:
            term = rng.choice(terms)
            out.append((f"what is {term.ref.name.replace('-', ' ')}?", str(term.ref)))
        else:
            out.append((rng.choice(["who owns the coffee machine?", "what's the weather"]), ""))
    return out


def sample(rounds: int) -> None:
    result = load_knowledge(ROOT / "knowledge", today=TODAY)
    engine = AnswerEngine(result.knowledge, cache_size=0)  # measure real work
    cases = load_cases(ROOT / "tests" / "data" / "questions.jsonl")
    report = evaluate(engine, cases)
    print(f"== sample knowledge: {len(result.knowledge)} entities, {report.total} questions")
    print(f"top-1 accuracy (intent and entity): {report.accuracy:.1%}")
    for tag, (right, total) in report.by_tag.items():
        print(f"  {tag:14s} {right:4d}/{total:<4d} {right / total:6.1%}")
    for miss in report.misses:
        got = f"{miss.answer.intent} {miss.answer.entity} {miss.answer.confidence:.2f}"
        print(
            f"  miss: {miss.case.question!r}: want {miss.case.intent} {miss.case.entity}, got {got}"
        )
    holdout = evaluate(engine, load_cases(ROOT / "tests" / "data" / "questions-holdout.jsonl"))
    print(
        f"held-out set (never tuned on): {holdout.right}/{holdout.total} "
        f"{holdout.accuracy:.1%}; misses by tag:"
    )
    for tag, (right, total) in holdout.by_tag.items():
        if right < total:
            print(f"  {tag:14s} {right:4d}/{total:<4d}")
    p50, p99, n = latency(engine, [c.question for c in cases], rounds)
    print(f"latency over {n} answers: p50 {p50:.3f} ms, p99 {p99:.3f} ms (target p99 < 2 ms)")
    print("abstention threshold calibration (accuracy on the evaluation set):")
    for step in range(8, 17):
        threshold = step * 0.05
        scored = evaluate(AnswerEngine(result.knowledge, threshold=threshold), cases)
        print(f"  threshold {threshold:.2f}: {scored.accuracy:.1%}")


def blind(rounds: int) -> None:
    """The blind set: scored as a whole and by tag, its misses never printed (it would
    stop being blind once someone tunes on them)."""
    result = load_knowledge(ROOT / "tests" / "data" / "blind", today=TODAY)
    engine = AnswerEngine(result.knowledge, cache_size=0)
    cases = load_cases(ROOT / "tests" / "data" / "blind-questions.jsonl")
    report = evaluate(engine, cases)
    groups: dict[str, list[int]] = {"in scope": [0, 0], "out-of-scope": [0, 0], "ambiguous": [0, 0]}
    for case in cases:
        group = next((t for t in ("out-of-scope", "ambiguous") if t in case.tags), "in scope")
        groups[group][1] += 1
    for miss in report.misses:
        group = next((t for t in ("out-of-scope", "ambiguous") if t in miss.case.tags), "in scope")
        groups[group][0] += 1
    print(f"== blind set: {len(result.knowledge)} entities, {report.total} questions")
    for group, (missed, total) in groups.items():
        right = total - missed
        print(f"{group:14s} {right:4d}/{total:<4d} {right / max(total, 1):6.1%}")
    for tag, (right, total) in report.by_tag.items():
        print(f"  {tag:14s} {right:4d}/{total:<4d} {right / total:6.1%}")
    p50, p99, n = latency(engine, [c.question for c in cases], rounds)
    print(f"latency over {n} answers: p50 {p50:.3f} ms, p99 {p99:.3f} ms")


def large(entities: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        written = write_kb(Path(tmp), entities)
        start = time.perf_counter()
        result = load_knowledge(Path(tmp), today=TODAY)
        loaded = time.perf_counter()
        engine = AnswerEngine(result.knowledge, cache_size=0)
        built = time.perf_counter()
    print(f"== generated knowledge: {written} entities, {len(result.errors)} errors")
    print(f"load and validate YAML: {loaded - start:.2f} s")
    print(f"build the index: {built - loaded:.3f} s (target < 2 s)")
    questions = generated_questions(result.knowledge, 300, seed=3)
    right = sum(
        (str(engine.answer(q).entity) if engine.answer(q).entity else "") == want
        for q, want in questions
    )
    print(f"entity accuracy on {len(questions)} generated questions: {right / len(questions):.1%}")
    p50, p99, n = latency(engine, [q for q, _ in questions], rounds)
    print(f"latency over {n} answers: p50 {p50:.3f} ms, p99 {p99:.3f} ms (target p99 < 20 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--entities", type=int, default=10_000)
    args = parser.parse_args()
    sample(args.rounds)
    blind(args.rounds)
    large(args.entities, max(1, args.rounds // 2))


if __name__ == "__main__":
    main()
