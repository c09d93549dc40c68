"""The package, its console script and the container image agree with pyproject."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_wheel_ships_the_migrations(tmp_path: Path) -> None:
    """An installed opsbot can migrate its database: the wheel carries the Alembic set."""
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(  # noqa: S603 - fixed arguments
        [*build, "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("opsbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bot/_migrations/env.py" in names
    assert "bot/_migrations/script.py.mako" in names
    assert any(n.startswith("bot/_migrations/versions/0001") for n in names)
    assert "bot/cli.py" in names
    assert not any(n.startswith(("tests/", "bench/", "knowledge/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "opsbot = bot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_dockerfile_matches_the_project() -> None:
    """The image uses pyproject's Python, runs `opsbot serve` as non-root, with a healthcheck."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    minimum = re.search(r">=(\d+\.\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum is not None
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert bases and all(b.startswith(f"python:{minimum.group(1)}-slim") for b in bases)
    assert re.search(r'^CMD \["opsbot", "serve"\]$', dockerfile, re.M)
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", dockerfile, re.M)
    assert "[dev]" not in dockerfile  # runtime dependencies only
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    ignored = (ROOT / ".dockerignore").read_text()
    for needed in ("pyproject.toml", "README.md", "bot/", "migrations/", "knowledge/"):
        assert f"!{needed}" in ignored


def test_python_m_bot_is_the_cli() -> None:
    """`python -m bot --help` is the opsbot command line."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("usage: opsbot")
    for command in ("ask", "kb", "db", "gaps", "chat", "serve", "run"):
        assert command in done.stdout


def test_slack_manifest_matches_the_app() -> None:
    """The manifest asks for the scopes the OAuth flow asks for, and points at our routes."""
    import yaml

    from bot.app import SLACK_SCOPES

    manifest = yaml.safe_load((ROOT / "slack-manifest.yaml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SLACK_SCOPES)
    assert manifest["features"]["slash_commands"][0]["command"] == "/ops"
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_mention",
        "message.im",
    }
    assert manifest["oauth_config"]["redirect_urls"][0].endswith("/slack/oauth_redirect")
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
