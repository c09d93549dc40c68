"""The knowledge base: YAML files in, an immutable `Knowledge` out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import KnowledgeError
from bot.kb.knowledge import Knowledge
from bot.kb.problems import LeftOut, Problem, Severity

if TYPE_CHECKING:
    from bot.kb.loader import Loaded

__all__ = [
    "Knowledge",
    "LeftOut",
    "LoadResult",
    "Problem",
    "load_file",
    "load_knowledge",
    "require_knowledge",
    "serve_knowledge",
]

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    """The valid part of the knowledge, every problem, and what was left out (sorted)."""

    knowledge: Knowledge
    problems: list[Problem]
    files: int
    left_out: tuple[LeftOut, ...] = ()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def load_knowledge(root: Path, *, today: date) -> LoadResult:
    """Load and check everything below `root`; problems are sorted by file and line.

    An entity with an error is left out, and so is each entity that refers to one left
    out; the rest is the knowledge, consistent on its own.
    """
    # Imported here: the YAML, schema and cron parsers are for reading files, which
    # knowledge read back from the cache (`bot.kb.cache`) never needs.
    from bot.kb.loader import read_directory

    return _checked(read_directory(root), root, today)


def _checked(loaded: Loaded, root: Path, today: date, unresolved: Severity = "error") -> LoadResult:
    from bot.kb import checks

    entities, problems, left_out = checks.duplicates(loaded.entities, root)
    entities, found, dropped = checks.references(
        entities, loaded.ref_uses, loaded.failed, unresolved=unresolved
    )
    knowledge = Knowledge.of(entities)
    problems += loaded.problems + found
    problems += checks.warnings(knowledge, root, today)
    return LoadResult(
        knowledge=knowledge,
        problems=sorted(problems),
        files=loaded.files,
        left_out=tuple(sorted([*loaded.left_out, *left_out, *dropped])),
    )


def require_knowledge(root: Path, *, today: date) -> Knowledge:
    """The knowledge below `root`, or `KnowledgeError` listing every error."""
    result = load_knowledge(root, today=today)
    if result.errors:
        raise KnowledgeError([str(p) for p in result.errors])
    return result.knowledge


def serve_knowledge(root: Path, *, today: date, strict: bool) -> LoadResult:
    """What a running bot serves: the valid part of the knowledge below `root`.

    `strict` refuses any error, as `opsbot kb validate` does; otherwise only knowledge
    with errors and nothing valid at all is refused (`KnowledgeError` lists every error).
    """
    result = load_knowledge(root, today=today)
    errors = [str(p) for p in result.errors]
    if errors and strict:
        raise KnowledgeError(errors)
    if errors and len(result.knowledge) == 0:
        raise KnowledgeError([*errors, f"{root}: nothing valid to serve"])
    return result


def load_file(path: Path, *, today: date, root: Path | None = None) -> LoadResult:
    """Check the one knowledge file `path`.

    Inside the knowledge folder `root`, it is checked as part of it: its references are
    resolved against the whole folder, and only its own problems are kept. Anywhere
    else it is checked alone, and a reference to something it does not hold is a warning.
    """
    from bot.kb.loader import read_file

    relative = _inside(path, root) if root is not None else None
    if root is None or relative is None:
        return _checked(read_file(path), path.parent, today, unresolved="warning")
    shown = str(root / relative)
    if any(part.startswith(".") for part in relative.parts) or not path.name.endswith(_SUFFIXES):
        message = f"not read as knowledge: {root} loads only *.yaml and *.yml files, no hidden ones"
        problem = Problem(file=shown, line=1, severity="error", message=message)
        return LoadResult(knowledge=Knowledge.of([]), problems=[problem], files=0)
    whole = load_knowledge(root, today=today)
    mine = relative.as_posix()
    return LoadResult(
        knowledge=Knowledge.of(e for e in whole.knowledge if e.source.file == mine),
        problems=[p for p in whole.problems if p.file == shown],
        files=1,
        left_out=tuple(left for left in whole.left_out if left.file == shown),
    )


def _inside(path: Path, root: Path) -> Path | None:
    """Where `path` is below the folder `root`, or None when it is not below it."""
    real, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    if real_root not in real.parents:
        return None
    return real.relative_to(real_root)
