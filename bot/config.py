"""Settings: read once from the environment into one typed, frozen object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///opsbot.db"
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_TOKEN_PREFIXES = {
    "slack_bot_token": ("xoxb-", "a Slack bot token"),
    "slack_app_token": ("xapp-", "a Slack app-level token"),
}


def _is_cron(text: str) -> bool:
    """A 5-field cron expression (the parser is loaded only when a schedule is set: the
    defaults are not validated, so `opsbot ask` loads no cron parser)."""
    from croniter import croniter

    return len(text.split()) == 5 and bool(croniter.is_valid(text))


class Settings(BaseSettings):
    """Every setting opsbot reads; secrets are `SecretStr` and never printed."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, validation_alias=AliasChoices("OPSBOT_DATABASE_URL")
    )
    knowledge_dir: Path = Field(
        default=Path("knowledge"), validation_alias=AliasChoices("OPSBOT_KNOWLEDGE_DIR")
    )
    host: str = Field(default="0.0.0.0", validation_alias=AliasChoices("OPSBOT_HOST"))  # noqa: S104
    port: int = Field(default=3000, ge=1, le=65535, validation_alias=AliasChoices("OPSBOT_PORT"))
    admins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias=AliasChoices("OPSBOT_ADMINS")
    )
    #: Where knowledge maintainers hear about proposed changes and the weekly gaps digest:
    #: a Slack channel id, or `teams:<conversation id>`; unset: the admins, by DM.
    knowledge_channel: str | None = Field(
        default=None, min_length=1, validation_alias=AliasChoices("OPSBOT_KNOWLEDGE_CHANNEL")
    )
    #: When the weekly gaps digest is posted (5-field cron; "off": never), and in which zone.
    digest_cron: str | None = Field(
        default="0 9 * * 1",
        validate_default=False,
        validation_alias=AliasChoices("OPSBOT_DIGEST_CRON"),
    )
    digest_timezone: str = Field(
        default="UTC", validation_alias=AliasChoices("OPSBOT_DIGEST_TIMEZONE")
    )
    log_format: Literal["console", "json"] = Field(
        default="console", validation_alias=AliasChoices("OPSBOT_LOG_FORMAT")
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", validation_alias=AliasChoices("OPSBOT_LOG_LEVEL")
    )
    #: Refuse to start on any knowledge error (else the valid part is served).
    knowledge_strict: bool = Field(
        default=False, validation_alias=AliasChoices("OPSBOT_KNOWLEDGE_STRICT")
    )
    answer_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, validation_alias=AliasChoices("OPSBOT_ANSWER_THRESHOLD")
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN")
    )
    slack_api_url: str | None = Field(default=None, validation_alias=AliasChoices("SLACK_API_URL"))
    chat_as: str | None = Field(default=None, validation_alias=AliasChoices("OPSBOT_CHAT_AS"))
    #: Owners confirm what they own when it was last confirmed longer ago (0: never asked).
    attest_after_days: int = Field(
        default=90, ge=0, le=3650, validation_alias=AliasChoices("OPSBOT_ATTEST_AFTER_DAYS")
    )
    #: When owners are asked, in each owner's own time zone (5-field cron).
    attest_schedule: str = Field(
        default="0 10 * * 1-5",
        validate_default=False,
        validation_alias=AliasChoices("OPSBOT_ATTEST_SCHEDULE"),
    )
    tick_seconds: float = Field(
        default=30.0, gt=0, le=3600, validation_alias=AliasChoices("OPSBOT_TICK_SECONDS")
    )
    spool_dir: Path | None = Field(default=None, validation_alias=AliasChoices("OPSBOT_SPOOL_DIR"))
    #: Where loaded knowledge is cached (default: $XDG_CACHE_HOME/opsbot or ~/.cache/opsbot).
    cache_dir: Path | None = Field(default=None, validation_alias=AliasChoices("OPSBOT_CACHE_DIR"))
    #: chat.postMessage a second for a round of nudges, per workspace: the workspace's total,
    #: shared by the replicas on PostgreSQL (0: unpaced, 429s only).
    slack_posts_per_second: float = Field(
        default=5.0, ge=0, le=1000, validation_alias=AliasChoices("OPSBOT_SLACK_POSTS_PER_SECOND")
    )
    slack_channel_posts_per_second: float = Field(
        default=1.0,
        ge=0,
        le=100,
        validation_alias=AliasChoices("OPSBOT_SLACK_CHANNEL_POSTS_PER_SECOND"),
    )
    slack_reply_deadline_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        validation_alias=AliasChoices("OPSBOT_SLACK_REPLY_DEADLINE_SECONDS"),
    )
    slack_client_id: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_CLIENT_ID")
    )
    slack_client_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_CLIENT_SECRET")
    )

    teams_app_id: str | None = Field(default=None, validation_alias=AliasChoices("TEAMS_APP_ID"))
    teams_app_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TEAMS_APP_PASSWORD")
    )
    teams_tenant_id: str | None = Field(
        default=None, validation_alias=AliasChoices("TEAMS_TENANT_ID")
    )
    teams_openid_metadata_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        validation_alias=AliasChoices("TEAMS_OPENID_METADATA_URL"),
    )
    teams_login_url: str = Field(
        default="https://login.microsoftonline.com",
        validation_alias=AliasChoices("TEAMS_LOGIN_URL"),
    )
    #: Local development only: Teams activities without a token (warned at every start).
    teams_allow_anonymous: bool = Field(
        default=False, validation_alias=AliasChoices("TEAMS_ALLOW_ANONYMOUS")
    )
    #: Bot Connector calls a second for a round of nudges, the bot's total: shared by the
    #: replicas on PostgreSQL (0: unpaced, 429s only).
    teams_posts_per_second: float = Field(
        default=20.0, ge=0, le=1000, validation_alias=AliasChoices("OPSBOT_TEAMS_POSTS_PER_SECOND")
    )
    teams_reply_deadline_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        validation_alias=AliasChoices("OPSBOT_TEAMS_REPLY_DEADLINE_SECONDS"),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what `load_settings` is given: the caller passes the environment explicitly."""
        return (init_settings,)

    @field_validator("attest_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not _is_cron(value):
            raise ValueError(f"{value!r} is not a 5-field cron expression")
        return value

    @field_validator("digest_cron")
    @classmethod
    def _digest_cron(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("off", "never", "none"):
            return None
        text = " ".join(value.split())
        if not _is_cron(text):
            raise ValueError(f"{value!r} is not a 5-field cron expression (or off)")
        return text

    @field_validator("digest_timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        name = value.strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/London)") from None
        return name

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///path/to/opsbot.db or postgresql+asyncpg://user@host/db"
            )
        return value

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        prefix, what = _TOKEN_PREFIXES[str(info.field_name)]
        if value is not None and not value.get_secret_value().startswith(prefix):
            raise ValueError(f"{what} starts with {prefix}")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("use an http(s) URL such as https://slack.com/api/")
        return value if value is None or value.endswith("/") else value + "/"

    @field_validator("teams_openid_metadata_url", "teams_login_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not value.startswith(("http://", "https://")) or len(value.split("/")[2:3][0]) == 0:
            raise ValueError("use an http(s) URL")
        return value.rstrip("/") if info.field_name == "teams_login_url" else value

    @field_validator("teams_app_id", "teams_tenant_id")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.fullmatch(value.strip()):
            raise ValueError("use the GUID from the Azure portal (8-4-4-4-12 hex digits)")
        return None if value is None else value.strip()

    @model_validator(mode="after")
    def _teams_complete(self) -> Settings:
        given = {
            "TEAMS_APP_ID": self.teams_app_id,
            "TEAMS_APP_PASSWORD": self.teams_app_password,
            "TEAMS_TENANT_ID": self.teams_tenant_id,
        }
        missing = [name for name, value in given.items() if value is None]
        if 0 < len(missing) < len(given):
            raise ValueError(f"Teams needs {', '.join(missing)} too (or none of the three)")
        return self

    @property
    def teams_enabled(self) -> bool:
        """Teams answers at /api/messages: app id, password and tenant are all set."""
        return self.teams_app_id is not None

    @property
    def spool_path(self) -> Path:
        """Where records wait on disk for the database: OPSBOT_SPOOL_DIR, else `spool`
        beside the SQLite file, else ./spool."""
        if self.spool_dir is not None:
            return self.spool_dir
        scheme, _, rest = self.database_url.partition(":///")
        database = rest.partition("?")[0]
        if scheme.startswith("sqlite") and database and database != ":memory:":
            return Path(database).expanduser().parent / "spool"
        return Path("spool")

    @property
    def slack_oauth(self) -> bool:
        """Multi-workspace installs: tokens come from the database, per workspace."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @property
    def slack_enabled(self) -> bool:
        has_token = self.slack_bot_token is not None or self.slack_oauth
        has_inbound = self.slack_signing_secret is not None or self.slack_app_token is not None
        return has_token and has_inbound


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Settings from `environ`; a bad value raises `ConfigError` naming the variable."""
    known = {
        alias
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, AliasChoices)
        for alias in field.validation_alias.choices
        if isinstance(alias, str)
    }
    values = {k: v for k, v in environ.items() if k in known and v != ""}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("bad configuration: " + "; ".join(problems)) from None
