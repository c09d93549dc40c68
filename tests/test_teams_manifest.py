"""The Teams app package: what `opsbot teams manifest` writes, and that Teams would take it."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot import __version__
from bot.cli import main
from bot.errors import ConfigError
from bot.handlers import HELP, SUB_COMMANDS
from bot.teams import manifest as package
from bot.teams.manifest import Developer, app_version, write_package

ROOT = Path(__file__).parent.parent
APP_ID = "0b1f6a1e-1234-4abc-9def-0123456789ab"
#: What Settings needs besides TEAMS_APP_ID (all three or none); the package uses neither.
REST_OF_TEAMS = {
    "TEAMS_APP_PASSWORD": "not-used-by-the-package",
    "TEAMS_TENANT_ID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
}
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("OPSBOT_", "SLACK_", "TEAMS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'opsbot.db'}")


def read(path: Path) -> tuple[list[str], dict[str, Any], Image.Image, Image.Image]:
    """The zip's member names, its manifest and its two icons."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        found = json.loads(archive.read("manifest.json"))
        color = Image.open(io.BytesIO(archive.read("color.png")))
        outline = Image.open(io.BytesIO(archive.read("outline.png")))
    color.load()
    outline.load()
    return names, found, color, outline


def test_package_holds_exactly_the_manifest_and_its_icons(tmp_path: Path) -> None:
    """One zip, three files at its root: manifest.json and the two icons it names."""
    path = write_package(tmp_path / "dist", app_id=APP_ID, version="1.2.3")
    assert path == tmp_path / "dist" / "opsbot-teams.zip"
    assert sorted(p.name for p in path.parent.iterdir()) == ["opsbot-teams.zip"]
    names, found, _, _ = read(path)
    assert sorted(names) == ["color.png", "manifest.json", "outline.png"]
    assert found["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_manifest_fields(tmp_path: Path) -> None:
    """Schema 1.17 or later; id, bot id, version, scopes, developer, names as set."""
    developer = Developer(
        name="Platform Enablement",
        website_url="https://ops.example.org",
        privacy_url="https://ops.example.org/privacy",
        terms_url="https://ops.example.org/terms",
    )
    path = write_package(tmp_path, app_id=APP_ID, version="2.0.1", name="ops", developer=developer)
    _, found, _, _ = read(path)
    major, minor = (int(p) for p in found["manifestVersion"].split("."))
    assert (major, minor) >= (1, 17)
    assert found["$schema"] == (
        "https://developer.microsoft.com/json-schemas/teams/"
        f"v{found['manifestVersion']}/MicrosoftTeams.schema.json"
    )
    assert found["id"] == APP_ID
    assert found["version"] == "2.0.1"
    assert "packageName" not in found  # not in the schema since 1.17 (no extra properties)
    assert found["developer"] == {
        "name": "Platform Enablement",
        "websiteUrl": "https://ops.example.org",
        "privacyUrl": "https://ops.example.org/privacy",
        "termsOfUseUrl": "https://ops.example.org/terms",
    }
    assert found["name"]["short"] == "ops"
    assert found["name"]["full"] != found["name"]["short"]
    assert found["description"]["full"].startswith("ops answers")
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", found["accentColor"])
    (bot,) = found["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is False
    assert bot["isNotificationOnly"] is False
    (commands,) = bot["commandLists"]
    assert commands["scopes"] == ["personal", "team", "groupChat"]
    assert "webApplicationInfo" not in found
    assert found["validDomains"] == []


def test_default_developer_is_a_placeholder_over_https(tmp_path: Path) -> None:
    """Without a developer the manifest still validates: https placeholders."""
    _, found, _, _ = read(write_package(tmp_path, app_id=APP_ID, version="0.1.0"))
    developer = found["developer"]
    assert set(developer) == {"name", "websiteUrl", "privacyUrl", "termsOfUseUrl"}
    assert all(developer[k].startswith("https://") for k in set(developer) - {"name"})


def test_commands_are_the_handlers_commands() -> None:
    """The command list is what the handlers answer: help, their sub-commands and checkin."""
    titles = [title for title, _ in package.COMMANDS]
    assert titles == ["help", *SUB_COMMANDS, "checkin", "attest", "digest"]
    for title in titles:
        assert f"/ops {title} " in HELP


def test_manifest_limits(tmp_path: Path) -> None:
    """Every text is inside the manifest's limits, the strictest since 1.17."""
    _, found, _, _ = read(write_package(tmp_path, app_id=APP_ID, version="0.1.0"))
    assert len(found["name"]["short"]) <= 30
    assert len(found["name"]["full"]) <= 100
    assert len(found["description"]["short"]) <= 80
    assert len(found["description"]["full"]) <= 4000
    assert len(found["developer"]["name"]) <= 32
    for command_list in found["bots"][0]["commandLists"]:
        commands = command_list["commands"]
        assert 0 < len(commands) <= 10
        assert len({c["title"] for c in commands}) == len(commands)
        for command in commands:
            assert set(command) == {"title", "description"}
            assert 0 < len(command["title"]) <= 32
            assert 0 < len(command["description"]) <= 128


def test_icons_have_teams_sizes_and_outline_is_white_on_transparent(tmp_path: Path) -> None:
    """color.png 192x192 opaque; outline.png 32x32 with only white pixels over transparency."""
    _, _, color, outline = read(write_package(tmp_path, app_id=APP_ID, version="0.1.0"))
    assert (color.format, color.size) == ("PNG", (192, 192))
    assert color.convert("RGBA").getextrema()[3] == (255, 255)  # opaque
    assert len(color.getcolors(192 * 192) or []) > 2  # the mark on the accent colour
    assert (outline.format, outline.size, outline.mode) == ("PNG", (32, 32), "RGBA")
    pixels = [outline.getpixel((x, y)) for y in range(32) for x in range(32)]
    assert {p[:3] for p in pixels} == {(255, 255, 255)}
    alphas = [p[3] for p in pixels]
    assert min(alphas) == 0 and max(alphas) == 255
    assert outline.getpixel((0, 0)) == (255, 255, 255, 0)  # the corners are transparent
    assert sum(a == 0 for a in alphas) > len(alphas) // 3


def test_same_input_same_bytes(tmp_path: Path) -> None:
    """The package is deterministic: building twice gives identical zips."""
    first = write_package(tmp_path / "a", app_id=APP_ID, version="0.1.0").read_bytes()
    second = write_package(tmp_path / "b", app_id=APP_ID, version="0.1.0").read_bytes()
    assert first == second


@pytest.mark.parametrize(
    "bad",
    ["", "opsbot", "0b1f6a1e12344abc9def0123456789ab", f"{APP_ID}x", "{" + APP_ID + "}"],
)
def test_bad_app_id_is_refused_naming_the_variable(tmp_path: Path, bad: str) -> None:
    """An app ID that is not a GUID is refused with a message naming TEAMS_APP_ID."""
    with pytest.raises(ConfigError, match="TEAMS_APP_ID"):
        write_package(tmp_path, app_id=bad, version="0.1.0")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": "1.0"}, "MAJOR.MINOR.PATCH"),
        ({"version": "1.0.0-beta"}, "MAJOR.MINOR.PATCH"),
        ({"name": "x" * 31}, "app name"),
        ({"developer": Developer(website_url="http://ops.example.org")}, "website URL"),
        ({"developer": Developer(name="")}, "developer name"),
        ({"accent_color": "blue"}, "accent colour"),
    ],
)
def test_other_bad_values_are_refused(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    """A value Teams would reject stops the build with a message saying which."""
    arguments: dict[str, Any] = {"app_id": APP_ID, "version": "0.1.0"} | changes
    with pytest.raises(ConfigError, match=message):
        write_package(tmp_path, **arguments)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0.1.0", "0.1.0"),
        ("1.2", "1.2.0"),
        ("3", "3.0.0"),
        ("1.2.3rc1", "1.2.3"),
        ("01.2.3.dev4", "1.2.3"),
    ],
)
def test_app_version_from_the_package_version(given: str, expected: str) -> None:
    """Teams wants MAJOR.MINOR.PATCH; the package's version is cut to that."""
    assert app_version(given) == expected
    assert SEMVER.fullmatch(app_version())


def test_cli_writes_the_package_from_teams_app_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opsbot teams manifest --out DIR` takes TEAMS_APP_ID and prints the zip's path."""
    for name, value in (REST_OF_TEAMS | {"TEAMS_APP_ID": APP_ID}).items():
        monkeypatch.setenv(name, value)
    assert main(["teams", "manifest", "--out", str(tmp_path / "dist")]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "dist" / "opsbot-teams.zip")
    _, found, _, _ = read(Path(printed))
    assert found["id"] == found["bots"][0]["botId"] == APP_ID
    assert found["version"] == app_version(__version__)


def test_cli_app_id_option_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--app-id overrides TEAMS_APP_ID; the developer and version options reach the manifest."""
    for name, value in (
        REST_OF_TEAMS | {"TEAMS_APP_ID": "1" * 8 + "-1111" * 3 + "-" + "1" * 12}
    ).items():
        monkeypatch.setenv(name, value)
    argv = [
        "teams", "manifest", "--out", str(tmp_path), "--app-id", APP_ID,
        "--app-version", "4.5.6", "--developer", "Enablement",
        "--privacy-url", "https://ops.example.org/privacy",
    ]  # fmt: skip
    assert main(argv) == 0
    _, found, _, _ = read(Path(capsys.readouterr().out.strip()))
    assert found["id"] == APP_ID
    assert found["version"] == "4.5.6"
    assert found["developer"]["name"] == "Enablement"
    assert found["developer"]["privacyUrl"] == "https://ops.example.org/privacy"
    assert found["developer"]["websiteUrl"] == Developer().website_url


def test_cli_without_app_id_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither --app-id nor TEAMS_APP_ID: exit status 2, a message, nothing written."""
    assert main(["teams", "manifest", "--out", str(tmp_path / "dist")]) == 2
    captured = capsys.readouterr()
    assert "TEAMS_APP_ID" in captured.err and "--app-id" in captured.err
    assert captured.out == ""
    assert not (tmp_path / "dist").exists()


def test_cli_bad_app_id_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An app ID that is not a GUID, given or set: exit status 2 and a message naming
    TEAMS_APP_ID, nothing written."""
    assert main(["teams", "manifest", "--out", str(tmp_path), "--app-id", "not-a-guid"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("opsbot: TEAMS_APP_ID")
    for name, value in (REST_OF_TEAMS | {"TEAMS_APP_ID": "not-a-guid"}).items():
        monkeypatch.setenv(name, value)
    assert main(["teams", "manifest", "--out", str(tmp_path)]) == 2
    err += capsys.readouterr().err
    assert err.count("TEAMS_APP_ID") >= 2
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_python_m_bot_teams_manifest(tmp_path: Path) -> None:
    """The real entry point, in a fresh process: `python -m bot teams manifest`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSBOT_", "SLACK_", "TEAMS_"))}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "bot", "teams", "manifest", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env | REST_OF_TEAMS | {"TEAMS_APP_ID": APP_ID.upper()},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names, found, _, _ = read(Path(done.stdout.strip()))
    assert sorted(names) == ["color.png", "manifest.json", "outline.png"]
    assert found["id"] == APP_ID.upper()


def test_the_cli_imports_teams_code_only_for_teams() -> None:
    """Loading the command line (as `opsbot ask` does) does not import bot.teams."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, bot.cli; print('bot.teams' in sys.modules)"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, "chat"),
        (
            {
                "TEAMS_APP_ID": "11111111-2222-3333-4444-555555555555",
                "TEAMS_APP_PASSWORD": "pw",
                "TEAMS_TENANT_ID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            },
            "serve",
        ),
    ],
)
def test_run_serves_when_teams_is_configured(
    env: dict[str, str], want: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`opsbot run` (./scripts/run): Teams credentials alone start the server."""
    import argparse

    from bot import cli
    from bot.config import load_settings

    ran: list[str] = []
    monkeypatch.setattr(cli, "_serve", lambda args, settings: ran.append("serve") or 0)
    monkeypatch.setattr(cli, "_chat", lambda args, settings: ran.append("chat") or 0)
    assert cli._run(argparse.Namespace(), load_settings(env)) == 0
    assert ran == [want]
