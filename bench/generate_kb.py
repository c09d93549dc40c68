"""Write a synthetic, valid knowledge base of N entities (default 10,000) for benchmarks.

    python bench/generate_kb.py OUT_DIR [--entities N] [--seed S]

The mix mirrors a large organisation: many areas, people and teams, some roles,
practices, terms and FAQs. Names are built from realistic words so fuzzy matching
has to work as hard as it would on a real catalogue.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import yaml

DOMAINS = (
    "payments fraud search ranking recommendations checkout catalog pricing ads identity "
    "messaging notifications logistics inventory billing growth onboarding support risk "
    "compliance analytics forecasting routing maps reviews loyalty media video audio "
    "translation moderation trust safety marketplace shipping returns tax lending "
    "insurance"
).split()
NOUNS = (
    "service pipeline model dataset dashboard gateway cluster registry store scheduler "
    "warehouse lake stream index cache api worker job feature-set embeddings classifier "
    "ranker scorer detector forecaster monitor exporter ingestion backfill replica"
).split()
QUALIFIERS = (
    "realtime batch online offline streaming legacy next-gen core edge internal external "
    "regional global shadow canary primary secondary v2 v3 experimental"
).split()
FIRST = (
    "alex sam jordan taylor morgan casey riley jamie avery quinn priya arjun mei wei olga "
    "ivan fatima omar lucia mateo sofia liam noah emma ava yuki hiro amara kofi"
).split()
LAST = (
    "smith chen patel garcia kim nguyen rossi silva okafor ivanova tanaka kowalski dubois "
    "haddad novak larsen andersen moreau costa mueller"
).split()
DISCIPLINES = ("MLOps", "DevOps", "DataOps", "DevSecOps", "GitOps", "ChatOps")


def _doc(kind: str, name: str, spec: dict[str, object], **meta: object) -> dict[str, object]:
    return {
        "apiVersion": "opsbot/v1",
        "kind": kind,
        "metadata": {"name": name, **meta},
        "spec": spec,
    }


def generate(total: int, seed: int) -> dict[str, list[dict[str, object]]]:
    rng = random.Random(seed)
    n_teams = max(total // 50, 2)
    n_people = total // 5
    n_roles = max(total // 100, 1)
    n_practices = max(total // 40, 1)
    n_terms = max(total // 12, 1)
    n_faqs = max(total // 20, 1)
    n_areas = total - n_teams - n_people - n_roles - n_practices - n_terms - n_faqs

    def unique(make: object, count: int) -> list[str]:
        seen: set[str] = set()
        while len(seen) < count:
            seen.add(make())  # type: ignore[operator]
        return sorted(seen)

    teams = unique(
        lambda: f"{rng.choice(DOMAINS)}-{rng.choice(NOUNS)}-team-{rng.randrange(100)}", n_teams
    )
    people = unique(
        lambda: f"{rng.choice(FIRST)}-{rng.choice(LAST)}-{rng.randrange(1000)}", n_people
    )
    areas = unique(
        lambda: (
            f"{rng.choice(QUALIFIERS)}-{rng.choice(DOMAINS)}-{rng.choice(NOUNS)}-{rng.randrange(50)}"
        ),
        n_areas,
    )
    files: dict[str, list[dict[str, object]]] = {
        "teams": [],
        "people": [],
        "areas": [],
        "other": [],
    }
    for i, team in enumerate(teams):
        files["teams"].append(
            _doc(
                "Team",
                team,
                {"channel": f"#{team}", "lead": people[i % n_people]},
                title=team.replace("-", " ").title(),
            )
        )
    for i, person in enumerate(people):
        first, last, _ = person.split("-")
        files["people"].append(
            _doc(
                "Person",
                person,
                {
                    "member_of": [f"team:{teams[i % n_teams]}"],
                    "timezone": "Europe/London",
                    "slack": f"U{i:09d}",
                },
                title=f"{first.title()} {last.title()}",
            )
        )
    for i, area in enumerate(areas):
        words = area.split("-")
        files["areas"].append(
            _doc(
                "Area",
                area,
                {
                    "owner": f"team:{teams[i % n_teams]}",
                    "backup": f"person:{people[(i * 7) % n_people]}",
                    "reviewed": "2026-10-01",
                },
                title=" ".join(words[:-1]).capitalize() + f" {words[-1]}",
                description=f"The {' '.join(words[:-1])} owned by {teams[i % n_teams]}.",
                aliases=[f"{words[1]} {words[2]} {words[-1]} {words[0]}"],
                links=[
                    {
                        "title": "Runbook",
                        "url": f"https://wiki.example.com/{area}",
                        "type": "runbook",
                    }
                ],
            )
        )
    for i in range(n_roles):
        files["other"].append(
            _doc(
                "Role",
                f"role-{i}-{rng.choice(DOMAINS)}-engineer",
                {"responsibilities": ["build things"], "contact": f"team:{teams[i % n_teams]}"},
            )
        )
    for i in range(n_practices):
        files["other"].append(
            _doc(
                "Practice",
                f"practice-{i}-{rng.choice(DOMAINS)}-review",
                {
                    "discipline": DISCIPLINES[i % len(DISCIPLINES)],
                    "owner": f"team:{teams[i % n_teams]}",
                },
            )
        )
    for i in range(n_terms):
        files["other"].append(
            _doc(
                "Term",
                f"term-{i}-{rng.choice(DOMAINS)}-{rng.choice(NOUNS)}",
                {},
                description="A glossary term.",
            )
        )
    for i in range(n_faqs):
        domain, noun = rng.choice(DOMAINS), rng.choice(NOUNS)
        files["other"].append(
            _doc(
                "FAQ",
                f"faq-{i}",
                {
                    "questions": [f"How do I get access to the {domain} {noun} number {i}?"],
                    "answer": "Ask in the owning team's channel.",
                },
            )
        )
    return files


#: Entities per generated file (about 250 kB each).
PER_FILE = 1_000


def write(out: Path, total: int = 10_000, seed: int = 7) -> int:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, docs in generate(total, seed).items():
        # Files of at most PER_FILE entities stay well under the loader's size cap.
        for part, start in enumerate(range(0, len(docs), PER_FILE)):
            chunk = docs[start : start + PER_FILE]
            (out / f"{name}-{part:03d}.yaml").write_text(
                yaml.safe_dump_all(chunk, sort_keys=False), encoding="utf-8"
            )
            count += len(chunk)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"wrote {write(args.out, args.entities, args.seed)} entities to {args.out}")


if __name__ == "__main__":
    main()
