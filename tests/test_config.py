"""Settings come from the environment, typed, and fail loudly naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, load_settings
from bot.errors import ConfigError


def test_defaults_are_the_embedded_ones() -> None:
    """With nothing set: SQLite, ./knowledge, port 3000, no Slack."""
    settings = load_settings({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.knowledge_dir == Path("knowledge")
    assert settings.port == 3000
    assert settings.admins == ()
    assert settings.slack_enabled is False


def test_values_are_read_and_typed() -> None:
    """Every documented variable is read; admins are a comma-separated list."""
    settings = load_settings(
        {
            "OPSBOT_DATABASE_URL": "postgresql+asyncpg://bot@db/opsbot",
            "OPSBOT_KNOWLEDGE_DIR": "/srv/knowledge",
            "OPSBOT_HOST": "127.0.0.1",
            "OPSBOT_PORT": "8080",
            "OPSBOT_ADMINS": "U01AAA, U02BBB,,",
            "OPSBOT_LOG_FORMAT": "JSON",
            "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
            "SLACK_SIGNING_SECRET": "shh",
            "SLACK_API_URL": "http://127.0.0.1:9999/api/",
            "UNRELATED": "ignored",
        }
    )
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.knowledge_dir == Path("/srv/knowledge")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.admins == ("U01AAA", "U02BBB")
    assert settings.log_format == "json"
    assert settings.slack_enabled is True
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPSBOT_PORT", "http"),
        ("OPSBOT_PORT", "70000"),
        ("OPSBOT_LOG_FORMAT", "xml"),
        ("OPSBOT_DATABASE_URL", "mysql://root@localhost/db"),
        ("SLACK_BOT_TOKEN", "not-a-token"),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind"),
        ("OPSBOT_ANSWER_THRESHOLD", "1.5"),
        ("TEAMS_APP_ID", "my-bot"),
        ("TEAMS_TENANT_ID", "contoso.onmicrosoft.com"),
        ("TEAMS_LOGIN_URL", "login.microsoftonline.com"),
        ("TEAMS_OPENID_METADATA_URL", "https://"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    """A bad value fails at start with a message naming the variable."""
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert name in str(caught.value)


def test_secrets_never_show() -> None:
    """Secrets are not in the settings' repr, nor in an error about them."""
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-super-secret", "SLACK_SIGNING_SECRET": "s3"})
    assert "super-secret" not in repr(settings)
    assert "s3" not in str(settings)
    with pytest.raises(ConfigError) as caught:
        load_settings({"SLACK_APP_TOKEN": "xoxb-leaky-value"})
    assert "leaky" not in str(caught.value)


def test_empty_variable_means_unset() -> None:
    """`SLACK_BOT_TOKEN=` (empty) is treated as not set."""
    assert load_settings({"SLACK_BOT_TOKEN": "", "OPSBOT_PORT": ""}).port == 3000


@pytest.mark.parametrize(
    ("environ", "spool"),
    [
        ({}, Path("spool")),
        ({"OPSBOT_DATABASE_URL": "sqlite+aiosqlite:////data/opsbot.db"}, Path("/data/spool")),
        ({"OPSBOT_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}, Path("spool")),
        ({"OPSBOT_DATABASE_URL": "postgresql+asyncpg://bot@db/opsbot"}, Path("spool")),
        (
            {"OPSBOT_DATABASE_URL": "sqlite+aiosqlite:////data/o.db", "OPSBOT_SPOOL_DIR": "/s"},
            Path("/s"),
        ),
    ],
)
def test_the_spool_is_beside_the_sqlite_file_unless_set(
    environ: dict[str, str], spool: Path
) -> None:
    """Records wait for the database in OPSBOT_SPOOL_DIR, else beside SQLite, else ./spool."""
    assert load_settings(environ).spool_path == spool


APP_ID = "11111111-2222-3333-4444-555555555555"
TENANT = "66666666-7777-8888-9999-000000000000"


def test_teams_is_on_with_app_id_password_and_tenant() -> None:
    """All three Teams settings switch it on; the identity URLs default to Microsoft's."""
    assert load_settings({}).teams_enabled is False
    settings = load_settings(
        {"TEAMS_APP_ID": APP_ID, "TEAMS_APP_PASSWORD": "pw-secret", "TEAMS_TENANT_ID": TENANT}
    )
    assert settings.teams_enabled is True
    assert settings.teams_login_url == "https://login.microsoftonline.com"
    assert settings.teams_openid_metadata_url.endswith("/.well-known/openidconfiguration")
    assert "pw-secret" not in repr(settings)
    assert settings.teams_allow_anonymous is False


def test_part_of_the_teams_settings_names_what_is_missing() -> None:
    """Two of the three Teams settings fail at start, naming the third."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"TEAMS_APP_ID": APP_ID, "TEAMS_APP_PASSWORD": "pw-secret"})
    assert "TEAMS_TENANT_ID" in str(caught.value)
    assert "pw-secret" not in str(caught.value)
