"""Logs are structured and never carry secrets."""

from __future__ import annotations

import io
import json
import logging

import structlog

from bot import logs


def test_json_logs_redact_secrets() -> None:
    """Tokens, URL passwords and secret-named fields are redacted in JSON logs."""
    out = io.StringIO()
    logs.configure(fmt="json", level="info", stream=out)
    structlog.get_logger("t").info(
        "connecting",
        url="postgresql+asyncpg://bot:hunter2@db/opsbot",
        token="xoxb-123-abc",
        note="sent with xoxb-999-zzz",
        slack_signing_secret="abc",
    )
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "connecting"
    assert line["url"] == "postgresql+asyncpg://bot:[redacted]@db/opsbot"
    assert line["token"] == "[redacted]"
    assert line["note"] == "sent with [redacted]"
    assert line["slack_signing_secret"] == "[redacted]"
    assert "hunter2" not in out.getvalue()


def test_standard_library_logs_are_redacted_too() -> None:
    """A third-party logger that prints a token is redacted as well."""
    out = io.StringIO()
    logs.configure(fmt="console", level="info", stream=out)
    logging.getLogger("slack_sdk").warning("Authorization: Bearer xoxb-1-leak")
    assert "xoxb-1-leak" not in out.getvalue()
    assert "[redacted]" in out.getvalue()


def test_level_filters() -> None:
    """Below the configured level nothing is written."""
    out = io.StringIO()
    logs.configure(fmt="json", level="warning", stream=out)
    structlog.get_logger("t").info("quiet")
    assert out.getvalue() == ""
