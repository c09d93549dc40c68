"""Text with styles kept as data: what the core says instead of writing markup.

The core marks "this is bold" with a `Span`, never with `*` or `<...>`: so text from
people or from the knowledge, whatever it contains, stays text, and each platform turns
the styles into its own markup (Slack mrkdwn) or leaves them out (the console, the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Style = Literal["plain", "bold", "italic", "code"]


@dataclass(frozen=True, kw_only=True)
class Span:
    """A run of text in one style. Its text is shown as written, never read as markup."""

    text: str
    style: Style = "plain"


def bold(text: str) -> Span:
    return Span(text=text, style="bold")


def italic(text: str) -> Span:
    return Span(text=text, style="italic")


def code(text: str) -> Span:
    return Span(text=text, style="code")


@dataclass(frozen=True)
class Styled:
    """Plain text, line by line, with its emphasis marked as data rather than as markup."""

    lines: tuple[tuple[Span, ...], ...]

    @classmethod
    def of(cls, *lines: str | Span | tuple[str | Span, ...]) -> Styled:
        """Lines of text; a line is a string, a span, or a tuple of both."""
        return cls(tuple(_spans(line) for line in lines))

    @property
    def plain(self) -> str:
        """The text without styles."""
        return "\n".join("".join(span.text for span in line) for line in self.lines)


def _spans(line: str | Span | tuple[str | Span, ...]) -> tuple[Span, ...]:
    parts = line if isinstance(line, tuple) else (line,)
    return tuple(p if isinstance(p, Span) else Span(text=p) for p in parts if p)
