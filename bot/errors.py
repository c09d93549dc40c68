"""The error tree: every error opsbot raises on purpose is a `BotError`."""

from __future__ import annotations


class BotError(Exception):
    """Base of opsbot's own errors; the message is short, true and safe to show."""


class ConfigError(BotError):
    """A setting is missing or has a bad value; the message names the variable."""


class KnowledgeError(BotError):
    """The knowledge cannot be loaded; `problems` carry `file:line` for each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "knowledge could not be loaded"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class StorageError(BotError):
    """The database could not be reached or refused a write."""


class StorageRefused(StorageError):
    """The database refused a write as invalid (a constraint, a bad value): trying the
    same write again will not help."""


class DeliveryFailed(BotError):
    """A message could not be delivered this time; trying again may work."""


class Unreachable(DeliveryFailed):
    """The platform says this person cannot be reached; trying again will not help."""
