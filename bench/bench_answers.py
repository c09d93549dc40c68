"""Answer engine benchmark: accuracy per tag, latency p50/p99, index build time, and
the cold start of a real `opsbot ask` process.

    python bench/bench_answers.py [--rounds N] [--entities N]

Goals (issue 9): p99 <= 1 ms a question on the sample knowledge, p99 <= 10 ms at 10,000
entities; a whole `opsbot ask` on the sample <= 0.5 s; at 10,000 entities <= 1.5 s
(load, validate, index: from the knowledge cache once the files were read), memory
reported.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
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
SAMPLE_P99_MS, LARGE_P99_MS = 1.0, 10.0
SAMPLE_START_S, LARGE_START_S = 0.5, 1.5


def goal(met: bool) -> str:
    return "yes" if met else "NO"


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


#: Real-world words no generated entity uses, for names the knowledge does not hold.
FOREIGN = (
    "kubernetes operator terraform jenkins printer coffee payroll snacks parking badge "
    "wifi laptop helpdesk vpn calendar expenses travel canteen gym lockers newsletter "
    "quantum blockchain metaverse hologram drone satellite"
).split()
_SYLLABLES = "zor bla qui vex nym tal dro fen gli mox par ul ka tri sno wem".split()


def invented(rng: random.Random, known: set[str]) -> str:
    """A made-up word the knowledge does not use ("zorvex")."""
    while True:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        if word not in known:
            return word


def out_of_scope_questions(knowledge: Knowledge, count: int, seed: int) -> list[str]:
    """Questions about things the knowledge does not hold, sharing words with things it
    does: a real word with an invented or foreign one ("who owns the fraud zorvex"),
    "kubernetes-operator-xyz" names, an unknown product with one real word, and real
    words combined as no entity is named ("legacy tax scheduler" when there are legacy
    tax warehouses and batch tax schedulers, but no legacy tax scheduler)."""
    rng = random.Random(seed)
    areas = [e for e in knowledge.ownables() if isinstance(e.spec, OwnableSpec)]
    names = [e.ref.name.split("-") for e in areas]  # qualifier, domain, noun, number
    known = {w for e in knowledge for w in e.ref.name.split("-")}
    combos = {tuple(n[:3]) for n in names}
    named = {tuple(n) for n in names}
    slots = [sorted({n[i] for n in names}) for i in range(3)]
    templates = [
        "who owns the {}?",
        "who do I ping about {}",
        "{} owner?",
        "runbook for {}",
        "who maintains the {}",
        "what is {}?",
    ]
    out: list[str] = []
    while len(out) < count:
        words = rng.choice(names)
        real = rng.choice(words[:3])
        match len(out) % 7:
            case 0:  # one real word, one invented
                name = f"{real} {invented(rng, known)}"
            case 1:  # a hyphenated name: a foreign word, a real one, an invented suffix
                name = f"{rng.choice(FOREIGN)}-{real}-{invented(rng, known)[:3]}"
            case 2:  # an unknown product named with one real word
                name = f"{invented(rng, known).title()} {real}"
            case 3:  # two real words of an area, the third foreign
                name = f"{words[0]} {words[1]} {rng.choice(FOREIGN)}"
            case 4:  # a foreign thing with a real word
                name = f"{rng.choice(FOREIGN)} {real}"
            case 5:  # three real words that name no area together
                triple = tuple(rng.choice(slot) for slot in slots)
                if triple in combos:
                    continue
                name = " ".join(triple)
            case _:  # a real name with one word swapped, and its number
                swapped = list(words)
                slot = rng.randrange(3)
                swapped[slot] = rng.choice(slots[slot])
                if tuple(swapped) in named or tuple(swapped[:3]) in combos:
                    continue
                name = " ".join(swapped)
        out.append(rng.choice(templates).format(name))
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
    print(
        f"latency over {n} answers: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
        f"(goal p99 <= {SAMPLE_P99_MS:g} ms: {goal(p99 <= SAMPLE_P99_MS)})"
    )
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


def faq_dev() -> None:
    """The FAQ paraphrase development set (tests/data/faqdev): written for issue 9 by a
    helper who had not read the engine, and looked at while tuning, so not blind."""
    result = load_knowledge(ROOT / "tests" / "data" / "faqdev", today=TODAY)
    engine = AnswerEngine(result.knowledge, cache_size=0)
    report = evaluate(engine, load_cases(ROOT / "tests" / "data" / "faqdev-questions.jsonl"))
    print(f"== FAQ paraphrase dev set: {len(result.knowledge)} entities, {report.total} questions")
    for tag, (right, total) in report.by_tag.items():
        print(f"  {tag:14s} {right:4d}/{total:<4d} {right / total:6.1%}")


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
    in_scope = [(q, want) for q, want in questions if want]
    found = sum(str(engine.answer(q).entity) == want for q, want in in_scope)
    print(f"in scope right: {found}/{len(in_scope)} {found / len(in_scope):.1%} (goal >= 95%)")
    strangers = out_of_scope_questions(result.knowledge, 300, seed=5)
    refused = sum(engine.answer(q).intent == "unknown" for q in strangers)
    print(
        f"out-of-scope refused (sharing words with real entities): {refused}/{len(strangers)} "
        f"{refused / len(strangers):.1%} (goal >= 90%)"
    )
    p50, p99, n = latency(engine, [q for q, _ in questions], rounds)
    print(
        f"latency over {n} answers: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
        f"(goal p99 <= {LARGE_P99_MS:g} ms: {goal(p99 <= LARGE_P99_MS)})"
    )


#: Runs a command and prints its wall time, peak RSS (KiB) and exit status. The bench
#: itself is large by then, and Linux counts the parent's memory in a child's peak RSS
#: up to its exec: a small process in between measures `opsbot ask` alone.
_MEASURE = """
import os, sys, time
out = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=out)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def ask_process(knowledge: Path, cache: Path, question: str) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of one real `opsbot ask` process."""
    script = Path(sys.executable).with_name("opsbot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSBOT_", "SLACK_"))}
    env |= {"OPSBOT_CACHE_DIR": str(cache), "OPSBOT_LOG_LEVEL": "warning"}
    asked = ["ask", "--knowledge", str(knowledge), question]
    measured = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _MEASURE, *command, *asked],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    elapsed, rss, status = measured.stdout.split()
    if status != "0":
        raise SystemExit(f"opsbot ask failed on {knowledge} (exit {status})")
    return float(elapsed), int(rss) / 1024  # ru_maxrss is in KiB on Linux


def cold_starts(name: str, knowledge: Path, question: str, limit: float) -> None:
    """A first run (nothing cached: YAML read, checked and indexed), then three more
    (the knowledge cache hit), each a fresh process."""
    with tempfile.TemporaryDirectory() as cache:
        miss, miss_rss = ask_process(knowledge, Path(cache), question)
        hits = [ask_process(knowledge, Path(cache), question) for _ in range(3)]
    hit = statistics.median(t for t, _ in hits)
    each = ", ".join(f"{t:.2f}" for t, _ in hits)
    print(f"{name}: first run {miss:.2f} s, peak RSS {miss_rss:.0f} MiB")
    print(
        f"{name}: cached runs {each} s, peak RSS {max(r for _, r in hits):.0f} MiB "
        f"(goal median <= {limit:g} s: {goal(hit <= limit)})"
    )


def startup(entities: int) -> None:
    """`opsbot ask` as a script runs it: a new process each time."""
    print("== cold start of `opsbot ask` (a new process each run)")
    cold_starts("sample knowledge", ROOT / "knowledge", "who owns model monitoring", SAMPLE_START_S)
    with tempfile.TemporaryDirectory() as tmp:
        written = write_kb(Path(tmp), entities)
        # Files written in the last 2 s are never cached (a coarse clock could hide an
        # edit): age them, as knowledge on disk is.
        old = time.time_ns() - 60 * 10**9
        for path in Path(tmp).iterdir():
            os.utime(path, ns=(old, old))
        cold_starts(f"{written} entities", Path(tmp), "who owns the fraud detector", LARGE_START_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--entities", type=int, default=10_000)
    args = parser.parse_args()
    sample(args.rounds)
    blind(args.rounds)
    faq_dev()
    large(args.entities, max(1, args.rounds // 2))
    startup(args.entities)


if __name__ == "__main__":
    main()
