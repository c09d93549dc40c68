"""The knowledge base: YAML files in, an immutable `Knowledge` out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.errors import KnowledgeError
from bot.kb.knowledge import Knowledge
from bot.kb.problems import Problem

__all__ = ["Knowledge", "LoadResult", "Problem", "load_knowledge", "require_knowledge"]


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    knowledge: Knowledge
    problems: list[Problem]
    files: int

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def load_knowledge(root: Path, *, today: date) -> LoadResult:
    """Load and check everything below `root`; problems are sorted by file and line."""
    # Imported here: the YAML, schema and cron parsers are for reading files, which
    # knowledge read back from the cache (`bot.kb.cache`) never needs.
    from bot.kb import checks
    from bot.kb.loader import read_directory

    loaded = read_directory(root)
    entities, problems = checks.duplicates(loaded.entities, root)
    knowledge = Knowledge.of(entities)
    problems += loaded.problems
    problems += checks.references(knowledge, loaded.ref_uses)
    problems += checks.warnings(knowledge, root, today)
    return LoadResult(knowledge=knowledge, problems=sorted(problems), files=loaded.files)


def require_knowledge(root: Path, *, today: date) -> Knowledge:
    """The knowledge below `root`, or `KnowledgeError` listing every error."""
    result = load_knowledge(root, today=today)
    if result.errors:
        raise KnowledgeError([str(p) for p in result.errors])
    return result.knowledge
