"""The thesaurus of related words (`bot/answers/related.txt`) and what it finds."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from bot.answers import AnswerEngine
from bot.answers.related import related_words
from bot.answers.text import root
from bot.kb import load_knowledge

KNOWLEDGE = """
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: leaked-secret, title: How do I rotate a leaked secret?}
spec:
  questions: [How do I rotate a leaked secret?]
  answer: Revoke it at its source, then tell Security.
---
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: new-laptop, title: How do I order a new laptop?}
spec:
  questions: [How do I order a new laptop?]
  answer: Use the hardware portal.
---
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: book-holiday, title: How do I book a holiday?}
spec:
  questions: [How do I book a holiday?]
  answer: Ask your manager in the HR tool.
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    folder = tmp_path_factory.mktemp("related")
    (folder / "faq.yaml").write_text(KNOWLEDGE, encoding="utf-8")
    result = load_knowledge(folder, today=date(2026, 11, 30))
    assert result.errors == []
    return AnswerEngine(result.knowledge, cache_size=0)


def test_every_line_is_a_group_of_plain_words() -> None:
    text = resources.files("bot.answers").joinpath("related.txt").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            words = [w.strip() for w in line.split(",")]
            assert len(words) >= 2, f"related.txt:{number}"
            assert all(re.fullmatch(r"[a-z]+", w) for w in words), f"related.txt:{number}"


def test_relations_go_both_ways_and_never_to_the_word_itself() -> None:
    related = related_words()
    assert root("annotate") in related[root("label")]
    for word, others in related.items():
        assert word not in others
        for other in others:
            assert word in related[other]


@pytest.mark.parametrize(
    ("question", "faq"),
    [
        ("I exposed a password, what do I do?", "faq:leaked-secret"),
        ("oops, pushed our stripe key, what now", "faq:leaked-secret"),
        ("my macbook is dying, can I get a new machine?", "faq:new-laptop"),
        ("how do I take some vacation", "faq:book-holiday"),
    ],
)
def test_an_faq_asked_in_related_words_is_found(
    engine: AnswerEngine, question: str, faq: str
) -> None:
    """No word of these questions is in the FAQ: only words related to its words are."""
    answer = engine.answer(question)
    assert (answer.intent, str(answer.entity)) == ("faq", faq)


@pytest.mark.parametrize("question", ["where is the coffee machine", "what is the wifi password"])
def test_one_related_word_is_not_enough(engine: AnswerEngine, question: str) -> None:
    assert engine.answer(question).intent == "unknown"


def test_the_thesaurus_ships_in_the_package() -> None:
    """The wheel includes package data: the file sits beside the module that reads it."""
    assert (Path(__file__).parent.parent / "bot" / "answers" / "related.txt").is_file()
