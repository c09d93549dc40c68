"""The gaps digest in the local chat (`opsbot chat`): printed with numbered questions, and
`suggest N about ENTITY` / `suggest N answer TEXT` keep suggestions that
`opsbot gaps --format yaml` then writes as knowledge."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.console import to_event
from bot.events import Message, Origin, Suggest
from tests.test_gaps_yaml import validated

MINI = Path(__file__).parent / "data" / "mini"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("OPSBOT_", "SLACK_", "TEAMS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(MINI))
    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'opsbot.db'}")
    monkeypatch.setenv("OPSBOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPSBOT_CHAT_AS", "alice")
    monkeypatch.setenv("OPSBOT_ADMINS", "alice")
    monkeypatch.setenv("OPSBOT_DIGEST_CRON", "off")


def chat(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *lines: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    assert main(["chat"]) == 0
    return capsys.readouterr().out


def test_the_digest_and_suggestions_in_the_local_chat(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Questions asked in one session appear in the digest an admin asks for in the next;
    a suggestion is kept (a bad one refused with a reason) and comes out as valid YAML."""
    asked = (
        "who owns the unicorn farm?",
        "Who owns the unicorn farm",
        "how do I feed the unicorns?",
    )
    chat(monkeypatch, capsys, *asked)
    out = chat(
        monkeypatch,
        capsys,
        "/ops digest",
        "suggest 1 about the moon",
        "suggest 1 about model monitoring",
        "suggest 2 answer Twice a day: hay, and `carrots`.",
        "suggest 99 answer x",
    )
    assert "opsbot> [digest] Knowledge gaps: the week to" in out
    assert "[1] “Who owns the unicorn farm” (asked twice)" in out
    assert "[2] “how do I feed the unicorns?” (asked once)" in out
    assert "suggest <number> about <entity>" in out
    replies = out.splitlines()[-5:]
    assert replies[0] == "Posted the knowledge gaps digest to the admins, by DM."
    assert replies[1].startswith("No entity “the moon” in the knowledge.")
    assert replies[2].startswith("Thanks! Noted “unicorn farm” as another name for Model")
    assert replies[3].startswith("Thanks! Noted your answer to “how do I feed the unicorns?”")
    assert replies[4].startswith("That question is in no digest I know")

    assert main(["gaps", "--format", "yaml"]) == 0
    text = capsys.readouterr().out
    loaded = validated(tmp_path, text)
    (faq,) = [e for e in loaded.of_kind("faq") if e.ref.name != "gpu-quota"]
    assert faq.ref.name == "how-do-i-feed-the-unicorns"
    assert "opsbot/suggested-by: person:alice (console:alice)" in text
    assert "#   aliases: [drift detection, unicorn farm]" in text

    # The aliases as a patch of a copy of the knowledge, applied as a maintainer would.
    repo = tmp_path / "repo"
    shutil.copytree(MINI, repo / "knowledge")
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(repo / "knowledge"))
    monkeypatch.chdir(repo)
    assert main(["gaps", "--format", "patch"]) == 0
    printed = capsys.readouterr()
    assert "note:" not in printed.err
    assert '+  aliases: [drift detection, "unicorn farm"]' in printed.out
    (repo / "aliases.patch").write_text(printed.out, encoding="utf-8")
    git = shutil.which("git") or "git"
    subprocess.run([git, "init", "-q"], cwd=repo, check=True)  # noqa: S603
    subprocess.run([git, "apply", "aliases.patch"], cwd=repo, check=True)  # noqa: S603
    assert main(["kb", "validate", str(repo / "knowledge")]) == 0
    assert main(["ask", "--json", "who owns the unicorn farm?"]) == 0
    answer = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (answer["intent"], answer["entity"]) == ("owner", "area:model-monitoring")


def test_suggest_lines_become_suggestions_and_other_lines_stay_questions() -> None:
    """`suggest N ...` is a suggestion only with a question number; anything else is a
    question like any other."""
    origin = Origin(platform="console", user="alice")
    assert to_event("suggest 3 about mlp", origin) == Suggest(
        origin=origin, item=3, kind="alias", entity="mlp"
    )
    assert to_event("Suggest 3 answer Use  the  form", origin) == Suggest(
        origin=origin, item=3, kind="faq", answer="Use  the  form"
    )
    assert to_event("suggest 3", origin) == Suggest(origin=origin, item=3)
    assert isinstance(to_event("suggest a name for the team", origin), Message)
