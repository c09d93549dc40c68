"""Editing knowledge files in place (`bot.kb.patch`): aliases added under `metadata` in
every layout the format allows, hostile text kept a plain YAML scalar, the rest untouched."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.kb import require_knowledge
from bot.kb.patch import Change, make_patch
from bot.model import Ref

KNOWLEDGE = """\
apiVersion: opsbot/v1
kind: Team
metadata: {name: x, title: X}
spec: {members: []}
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: a1
  title: A one   # a comment that stays
  aliases:
    - first
    - "second: x"
spec: {owner: team:x}
---
apiVersion: opsbot/v1
kind: Area
metadata: {name: a2, title: A two}
spec: {owner: team:x}
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: a3
  aliases: [one, two]
  links:
    - {title: Runbook, url: "https://wiki.example.com/a3"}
spec:
  owner: team:x
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: a4
  links:
    - {title: Runbook, url: "https://wiki.example.com/a4"}
spec: {owner: team:x}
"""


def patched(tmp_path: Path, aliases: tuple[str, ...]) -> tuple[str, Path]:
    """The knowledge after adding `aliases` to every area, applied with `git apply`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "k.yaml").write_text(KNOWLEDGE, encoding="utf-8")
    knowledge = require_knowledge(repo, today=date(2026, 11, 29))
    changes = [
        Change(entity=knowledge.entities[Ref(kind="area", name=n)], aliases=aliases)
        for n in ("a1", "a2", "a3", "a4")
    ]
    changes[3] = Change(entity=changes[3].entity, aliases=aliases, reviewed=date(2026, 12, 1))
    patch = make_patch(changes, {"k.yaml": KNOWLEDGE}, {"k.yaml": "k.yaml"})
    assert patch.notes == []
    (tmp_path / "p.diff").write_text(patch.diff, encoding="utf-8")
    git = shutil.which("git") or "git"
    subprocess.run([git, "init", "-q"], cwd=repo, check=True)  # noqa: S603
    subprocess.run([git, "apply", str(tmp_path / "p.diff")], cwd=repo, check=True)  # noqa: S603
    return (repo / "k.yaml").read_text(encoding="utf-8"), repo


def test_aliases_are_added_in_every_layout(tmp_path: Path) -> None:
    text, out = patched(tmp_path, ("new one",))
    assert '    - "second: x"\n    - "new one"\n' in text  # a block list grows
    assert 'metadata: {name: a2, title: A two, aliases: ["new one"]}' in text  # flow mapping
    assert '  aliases: [one, two, "new one"]\n' in text  # a flow list grows
    assert '  aliases: ["new one"]\nspec: {owner: team:x, reviewed: 2026-12-01}' in text
    assert "title: A one   # a comment that stays" in text
    knowledge = require_knowledge(out, today=date(2026, 11, 29))
    for name in ("a1", "a2", "a3", "a4"):
        assert "new one" in knowledge.entities[Ref(kind="area", name=name)].aliases


@pytest.mark.parametrize(
    "alias",
    ['say "hi"', "a: b # c", "- dash", "[list]", "{map}", "!!python/object x", "${x}", "naïve ✓"],
)
def test_hostile_aliases_stay_plain_scalars(tmp_path: Path, alias: str) -> None:
    text, out = patched(tmp_path, (alias,))
    docs = list(yaml.safe_load_all(text))
    assert all(alias in d["metadata"]["aliases"] for d in docs if d["kind"] == "Area")
    knowledge = require_knowledge(out, today=date(2026, 11, 29))
    assert alias in knowledge.entities[Ref(kind="area", name="a2")].aliases
