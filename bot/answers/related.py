"""Related words: a general thesaurus of the words people in engineering organisations
use for one another ("annotate" / "label", "leak" / "expose", "laptop" / "device"),
read from `related.txt` beside this module, so that an FAQ asked in other words than
its own is still found."""

from __future__ import annotations

from functools import cache
from importlib import resources

from bot.answers.text import root


@cache
def related_words() -> dict[str, frozenset[str]]:
    """Each word's stem -> the stems of the words related to it (not itself)."""
    text = resources.files(__package__).joinpath("related.txt").read_text(encoding="utf-8")
    related: dict[str, set[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        group = {root(word.strip()) for word in line.split(",") if word.strip()}
        for word in group:
            related.setdefault(word, set()).update(group - {word})
    return {word: frozenset(others) for word, others in related.items() if others}
