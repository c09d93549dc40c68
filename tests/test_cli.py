"""The `opsbot` command line: validate, ask (the JSON contract), chat, db, gaps."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

DATA = Path(__file__).parent / "data"
MINI = DATA / "mini"
ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("OPSBOT_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(MINI))
    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'opsbot.db'}")
    monkeypatch.setenv("OPSBOT_CACHE_DIR", str(tmp_path / "cache"))


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    """`kb validate` on good knowledge exits 0 and summarises what it read."""
    assert main(["kb", "validate", str(MINI)]) == 0
    assert capsys.readouterr().out.strip() == f"{MINI}: 1 files, 7 entities, 0 errors, 0 warnings"


def test_validate_errors_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Errors are printed as file:line and the exit status is 1."""
    bad = tmp_path / "k"
    bad.mkdir()
    (bad / "a.yaml").write_text(
        "apiVersion: opsbot/v1\nkind: Area\nmetadata: {name: x}\nspec: {owner: team:nope}\n"
    )
    assert main(["kb", "validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad / 'a.yaml'}:4: error: Area 'x': spec.owner: team:nope does not exist" in out


def test_validate_warnings_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Warnings alone leave the exit status at 0."""
    (tmp_path / "t.yaml").write_text(
        "apiVersion: opsbot/v1\nkind: Team\nmetadata: {name: ghosts}\n"
    )
    assert main(["kb", "validate", str(tmp_path)]) == 0
    assert "warning: team:ghosts has no members" in capsys.readouterr().out


def test_validate_backstage_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    """Backstage's example catalog validates with exit status 0."""
    assert main(["kb", "validate", str(DATA / "backstage")]) == 0


def test_ask_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    """`ask --json` prints one JSON object with exactly the contract's fields."""
    assert (
        main(["ask", "--knowledge", str(MINI), "--json", "who", "owns", "drift", "detection?"]) == 0
    )
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"intent", "entity", "confidence", "text", "suggestions", "detail"}
    assert answer["intent"] == "owner"
    assert answer["entity"] == "area:model-monitoring"
    assert 0.0 <= answer["confidence"] <= 1.0
    assert "ML Platform" in answer["text"] and "#ml-platform" in answer["text"]
    assert "Bob Okafor" in answer["text"]  # the backup
    assert "https://wiki.example.com/runbooks/monitoring" in answer["text"]
    assert answer["suggestions"] == []
    assert answer["detail"] is None  # a general owner question, no one fact


def test_ask_batch_keeps_input_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--batch FILE` answers one JSON line per question, in input order; blank lines skipped."""
    questions = tmp_path / "q.txt"
    questions.write_text("what is data drift\n\nwho owns the coffee machine?\nteam mlp members\n")
    assert main(["ask", "--json", "--batch", str(questions)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(a["intent"], a["entity"]) for a in lines] == [
        ("definition", "term:data-drift"),
        ("unknown", None),
        ("members", "team:ml-platform"),
    ]


def test_ask_batch_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--batch -` reads the questions from standard input; plain text without --json."""
    monkeypatch.setattr("sys.stdin", io.StringIO("who is on mlp\nwhat is data drift\n"))
    assert main(["ask", "--batch", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ML Platform has 2 members")
    assert lines[1].startswith("Data drift (term): A change in the distribution")


def test_ask_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """Neither a question nor --batch, or a threshold outside [0, 1], is a usage error (2)."""
    assert main(["ask"]) == 2
    assert main(["ask", "--threshold", "3", "hi"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_ask_refuses_broken_knowledge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Broken knowledge gives its errors on stderr and exit status 1, not a traceback."""
    (tmp_path / "a.yaml").write_text("kind: [\n")
    assert main(["ask", "--knowledge", str(tmp_path), "hi"]) == 1
    err = capsys.readouterr().err
    assert "a.yaml:2: error: malformed YAML" in err
    assert "Traceback" not in err


def test_bad_setting_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad environment variable stops the command with its name, exit status 2."""
    monkeypatch.setenv("OPSBOT_PORT", "eighty")
    assert main(["kb", "validate"]) == 2
    assert "OPSBOT_PORT" in capsys.readouterr().err


def test_db_upgrade_then_gaps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`db upgrade` migrates; questions asked in the chat show up in `gaps`, most asked first."""
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setattr(
        "sys.stdin",
        io.StringIO(
            "who owns the coffee machine\nwho owns the coffee machine?\nwhat's the weather\n"
            "who owns model monitoring\n"
        ),
    )
    assert main(["chat"]) == 0
    capsys.readouterr()
    assert main(["gaps", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["question"], r["count"]) for r in rows] == [
        ("who owns the coffee machine?", 2),
        ("what's the weather", 1),
    ]


def test_console_script_chat_end_to_end(tmp_path: Path) -> None:
    """The installed `python -m bot chat` answers piped lines, one line each, on defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSBOT_", "SLACK_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="who owns model monitoring?\n/ops team ml platform\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env | {"OPSBOT_KNOWLEDGE_DIR": str(MINI)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Model monitoring is owned by ML Platform")
    assert lines[1].startswith("ML Platform has 2 members")
    assert (tmp_path / "opsbot.db").exists()  # the embedded default database


def test_chat_check_in_round_and_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """In the local chat an admin starts a round, gets the nudge, answers; `report` shows it."""
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(DATA / "checkins"))
    monkeypatch.setenv("OPSBOT_CHAT_AS", "alice")
    monkeypatch.setattr(
        "sys.stdin",
        io.StringIO(
            "/ops checkin list\n/ops checkin run weekly\nanswer drift partly\n"
            "answer confidence 7\nanswer confidence 4\nlater\n"
        ),
    )
    assert main(["chat"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Check-ins: • weekly: Weekly MLOps practices")
    assert "opsbot> [check-in] Weekly MLOps practices" in out
    assert "  drift: Did your team review the drift dashboards? (Yes / Partly / No)" in out
    # Only Alice is at this terminal: the others are said to be waiting, not "nudged".
    (started,) = [line for line in out if line.startswith("Started a round")]
    assert started.startswith("Started a round of Weekly MLOps practices: 1 person nudged.")
    assert "2 more can't be reached here yet (bob, carol)" in started
    assert "Thanks! Recorded Partly for: Did your team review the drift dashboards?" in out
    assert "Sorry, that answer does not fit: give a whole number from 1 to 5." in out
    assert "OK, I'll remind you in an hour." in out

    assert main(["report", "weekly", "--format", "csv"]) == 0
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0] == "round,person,question,answer,answered_at"
    assert sorted(line.split(",")[2:4] for line in csv_lines[1:]) == [
        ["confidence", "4"],
        ["drift", "Partly"],
    ]
    png = tmp_path / "weekly.png"
    assert main(["report", "weekly", "--format", "png", "--output", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()
    assert main(["report", "weekly"]) == 0
    text = capsys.readouterr().out
    assert "1/1 answered (100%)" in text  # only alice is reachable on this console
    assert main(["report", "nope"]) == 1


@pytest.mark.parametrize("word", ["help", "HELP", "?"])
def test_ask_help_prints_help(word: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`opsbot ask help` explains itself instead of answering "help" from the knowledge."""
    assert main(["ask", "--knowledge", str(MINI), word]) == 0
    out = capsys.readouterr().out
    assert out.startswith("opsbot ask answers one question")
    assert 'opsbot ask --json "who is on the ML Platform team?"' in out


def test_chat_as_an_unknown_person_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPSBOT_CHAT_AS naming nobody in the knowledge: exit 2, naming who there is."""
    monkeypatch.setenv("OPSBOT_CHAT_AS", "nobody")
    monkeypatch.setenv("OPSBOT_KNOWLEDGE_DIR", str(MINI))
    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("OPSBOT_SPOOL_DIR", str(tmp_path / "spool"))
    assert main(["chat"]) == 2
    err = capsys.readouterr().err
    assert "OPSBOT_CHAT_AS='nobody' is no person in the knowledge" in err
    assert "alice" in err
