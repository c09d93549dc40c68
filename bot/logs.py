"""Structured logs (structlog) to stderr, with secrets redacted before anything is written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEY = re.compile(r"token|secret|password|authorization|cookie|signature", re.I)
_SECRET_VALUE = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    """Slack tokens and URL passwords replaced by a marker."""
    text = _SECRET_VALUE.sub(REDACTED, text)
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no secret leaves the process through a log line."""
    for key, value in list(event.items()):
        if _SECRET_KEY.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = redact_text(value)
    return event


def configure(*, fmt: str = "console", level: str = "info", stream: TextIO | None = None) -> None:
    """Set up structlog (and the standard library's loggers) once, at start-up."""
    out = stream or sys.stderr
    numeric = logging.getLevelName(level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.addFilter(_RedactFilter())
    logging.basicConfig(level=max(numeric, logging.WARNING), handlers=[handler], force=True)


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True
