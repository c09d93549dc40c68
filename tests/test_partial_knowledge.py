"""A broken knowledge file does not take the bot down: `serve` and `chat` start with the
valid part, name what they left out (log, /readyz, an admin's App Home); strict mode and
`kb validate` refuse."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.errors import KnowledgeError
from tests.slack_env import running, slack_settings
from tests.slack_fake import FakeSlack, event_body

MINI = Path(__file__).parent / "data" / "mini"
ALICE = "U01ALICE01"  # alice's Slack ID in the mini knowledge

#: Four entities: one loads with a warning, three are left out (lines 17, 24 and 32).
BROKEN = """\
apiVersion: opsbot/v1
kind: Area
metadata:
  name: feature-store
spec:
  owner: team:ml-platform
  channel: #features
---
apiVersion: opsbot/v1
kind: Practice
metadata:
  name: pipelines
spec:
  owner: team:ml-platform
  how:
    - Automate the pipeline
    - Productionise models: feature pipelines
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: ghost
spec:
  owner: team:nobody
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: shadow
spec:
  owner: team:ml-platform
  part_of: area:ghost
"""
LEFT_OUT = [
    {
        "where": "broken.yaml:17",
        "problem": "Practice 'pipelines': spec.how.1: quote this item: it contains ': ', "
        "so YAML read it as a mapping",
    },
    {
        "where": "broken.yaml:24",
        "problem": "Area 'ghost': spec.owner: team:nobody does not exist",
    },
    {
        "where": "broken.yaml:32",
        "problem": "Area 'shadow': spec.part_of: refers to area:ghost, which was left out "
        "(see broken.yaml:24)",
    },
]


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(MINI, folder)
    (folder / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    return folder


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, knowledge: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("OPSBOT_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(knowledge))
    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'opsbot.db'}")


def texts(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


# -- serve -----------------------------------------------------------------------------


async def test_serve_starts_with_the_valid_part_and_readyz_names_what_is_left_out(
    tmp_path: Path, knowledge: Path, slack: FakeSlack
) -> None:
    """`serve` starts with a broken file; /readyz is 200 and lists each entity left out."""
    settings = slack_settings(tmp_path, slack, OPSBOT_KNOWLEDGE_DIR=str(knowledge))
    async with running(settings, slack) as bot:
        ready = await bot.client.get("/readyz")
        assert ready.status == 200
        body = await ready.json()
        assert body["status"] == "ready"
        assert body["knowledge"] == {"entities": 8, "left_out": LEFT_OUT, "left_out_count": 3}


async def test_strict_serve_refuses_to_start(
    tmp_path: Path, knowledge: Path, slack: FakeSlack
) -> None:
    """With OPSBOT_KNOWLEDGE_STRICT=true a single invalid entity stops `serve` at start."""
    settings = slack_settings(
        tmp_path, slack, OPSBOT_KNOWLEDGE_DIR=str(knowledge), OPSBOT_KNOWLEDGE_STRICT="true"
    )
    with pytest.raises(KnowledgeError) as raised:
        async with running(settings, slack):
            pass
    assert len(raised.value.problems) == 3
    assert f"{knowledge / 'broken.yaml'}:24: error:" in raised.value.problems[1]


async def test_app_home_shows_knowledge_problems_to_admins_only(
    tmp_path: Path, knowledge: Path, slack: FakeSlack
) -> None:
    """An admin's Home tab says how many entities were left out and where; others' do not."""
    settings = slack_settings(
        tmp_path, slack, OPSBOT_KNOWLEDGE_DIR=str(knowledge), OPSBOT_ADMINS=ALICE
    )
    async with running(settings, slack) as bot:
        for user, event_id in ((ALICE, "Ev1"), ("U0BOB00001", "Ev2")):
            event = {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}
            await bot.post(event_body(event, event_id=event_id), content_type="application/json")
        calls = await slack.wait_for("views.publish", count=2)
    views = {call.params["user_id"]: call.json("view") for call in calls}
    admin = texts(views[ALICE])
    assert "*Knowledge problems:* 3 entities left out" in admin
    assert "• `broken.yaml:24` Area 'ghost': spec.owner: team:nobody does not exist" in admin
    assert "refers to area:ghost, which was left out" in admin
    assert "Knowledge problems" not in texts(views["U0BOB00001"])


# -- chat ------------------------------------------------------------------------------


@pytest.mark.usefixtures("environment")
def test_chat_starts_with_the_valid_part_and_logs_what_is_left_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], knowledge: Path
) -> None:
    """Piped `opsbot chat` answers from the valid part; the log names each entity left out."""
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("who owns model monitoring?\nwho owns feature store?\n")
    )
    assert main(["chat"]) == 0
    captured = capsys.readouterr()
    answers = captured.out.splitlines()
    assert answers[0].startswith("Model monitoring is owned by ML Platform")
    assert answers[1].startswith("feature-store is owned by ML Platform")
    log = captured.err
    for item in LEFT_OUT:
        assert f"where={knowledge / item['where']}" in log
    assert "knowledge_partly_loaded" in log and "left_out=3" in log


@pytest.mark.usefixtures("environment")
def test_strict_chat_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], knowledge: Path
) -> None:
    """With OPSBOT_KNOWLEDGE_STRICT=true `opsbot chat` exits 1, naming every error."""
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_STRICT", "true")
    monkeypatch.setattr("sys.stdin", io.StringIO("who owns model monitoring?\n"))
    assert main(["chat"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{knowledge / 'broken.yaml'}:17: error: Practice 'pipelines'" in captured.err
    assert "the knowledge has 3 error(s)" in captured.err


@pytest.mark.usefixtures("environment")
def test_chat_refuses_knowledge_with_nothing_valid(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Knowledge whose every file is broken is refused even without strict mode."""
    folder = tmp_path / "only-broken"
    folder.mkdir()
    (folder / "a.yaml").write_text("kind: [\n", encoding="utf-8")
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(folder))
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    assert main(["chat"]) == 1
    assert f"{folder}: nothing valid to serve" in capsys.readouterr().err


# -- kb validate -----------------------------------------------------------------------


@pytest.mark.usefixtures("environment")
def test_validate_stays_strict(capsys: pytest.CaptureFixture[str], knowledge: Path) -> None:
    """`kb validate` on a folder with left-out entities still exits 1, naming each one."""
    assert main(["kb", "validate", str(knowledge)]) == 1
    out = capsys.readouterr().out
    assert f"{knowledge / 'broken.yaml'}:32: error: Area 'shadow'" in out
    assert out.strip().endswith("2 files, 8 entities, 3 errors, 1 warning")


@pytest.mark.usefixtures("environment")
def test_validate_a_file_in_the_knowledge_folder(
    capsys: pytest.CaptureFixture[str], knowledge: Path
) -> None:
    """`kb validate FILE` inside the knowledge folder resolves its references there and
    reports only that file's problems."""
    good = knowledge / "more.yaml"
    good.write_text(
        "apiVersion: opsbot/v1\nkind: Area\nmetadata: {name: lake}\n"
        "spec: {owner: team:ml-platform, backup: person:bob}\n",
        encoding="utf-8",
    )
    assert main(["kb", "validate", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: 1 files, 1 entities, 0 errors, 0 warnings"
    assert main(["kb", "validate", str(knowledge / "broken.yaml")]) == 1
    out = capsys.readouterr().out
    assert "broken.yaml:24: error:" in out
    assert "more.yaml" not in out and "org.yaml" not in out


@pytest.mark.usefixtures("environment")
def test_validate_a_file_outside_any_knowledge_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file outside the knowledge folder is checked alone: references it cannot resolve
    are warnings, its own errors still exit 1."""
    lone = tmp_path / "elsewhere" / "area.yaml"
    lone.parent.mkdir()
    lone.write_text(
        "apiVersion: opsbot/v1\nkind: Area\nmetadata: {name: lake}\nspec:\n  owner: team:data\n",
        encoding="utf-8",
    )
    assert main(["kb", "validate", str(lone)]) == 0
    out = capsys.readouterr().out
    assert f"{lone}:5: warning: Area 'lake': spec.owner: team:data is not in this file" in out
    lone.write_text(lone.read_text() + "  channel: #data\n  backup: [x]\n", encoding="utf-8")
    assert main(["kb", "validate", str(lone)]) == 1
    out = capsys.readouterr().out
    assert f"{lone}:7: error: Area 'lake': spec.backup: Input should be a valid string" in out
    assert f"{lone}:6: warning: Area 'lake': spec.channel is empty; `#data` starts" in out


@pytest.mark.usefixtures("environment")
def test_validate_a_file_the_folder_does_not_load(
    capsys: pytest.CaptureFixture[str], knowledge: Path
) -> None:
    """A hidden or non-YAML file inside the knowledge folder is an error, not a silent pass."""
    hidden = knowledge / ".draft.yaml"
    hidden.write_text("apiVersion: opsbot/v1\n", encoding="utf-8")
    assert main(["kb", "validate", str(hidden)]) == 1
    assert "not read as knowledge" in capsys.readouterr().out


def test_knowledge_problems_in_app_home_are_shown_as_text() -> None:
    """Problem text from the knowledge (a broadcast, a link) is escaped in App Home."""
    from bot.kb import Knowledge, LeftOut
    from bot.slack.blocks import SlackRenderer

    hostile = "bad cron '<!channel> <https://evil.example|click> @here'"
    items = [LeftOut(file="a.yaml", line=i, problem=hostile) for i in range(1, 8)]
    shown = texts(SlackRenderer(Knowledge.of([])).home("U1", (), items))
    assert "*Knowledge problems:* 7 entities left out" in shown
    assert "<!channel>" not in shown and "<https://" not in shown
    assert "&lt;!channel&gt;" in shown and "@\u2060here" in shown
    assert shown.count("• `a.yaml:") == 5 and "… and 2 more" in shown
