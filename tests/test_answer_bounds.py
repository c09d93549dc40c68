"""Bounded work per message: long and hostile questions are answered or politely refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answers import AnswerEngine, index
from bot.answers.engine import MAX_MESSAGE, MAX_QUESTION
from bot.answers.index import content
from bot.answers.render import too_long
from bot.answers.text import normalize
from bot.events import Intent
from bot.handlers import RECORDED_TEXT
from bot.kb import load_knowledge
from tests.slack_env import Opsbot, running, slack_settings
from tests.slack_fake import FakeSlack, event_body, slash_command_body

ROOT = Path(__file__).parent.parent
TODAY = date(2026, 11, 29)
REFUSAL = too_long(MAX_QUESTION)


@pytest.fixture(scope="module")
def engine() -> AnswerEngine:
    result = load_knowledge(ROOT / "knowledge", today=TODAY)
    assert result.errors == []
    return AnswerEngine(result.knowledge, cache_size=0)


class Counted:
    """For each scorer built while counting, its number of grams of each size."""

    def __init__(self) -> None:
        self.scorers: list[dict[int, int]] = []


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """Counts the word n-grams each entity scorer builds (a subclass; scoring unchanged)."""
    counts = Counted()

    class CountingScorer(index._Scorer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            counts.scorers.append({size: len(g) for size, g in self.grams.items()})

    monkeypatch.setattr(index, "_Scorer", CountingScorer)
    return counts


def names(engine: AnswerEngine) -> list[str]:
    return sorted(e.title for e in engine.knowledge)


def words_of_names(engine: AnswerEngine, chars: int) -> str:
    """Entity names one after another, up to `chars` characters of normalised text."""
    out: list[str] = []
    size = 0
    all_names = names(engine)
    while True:
        name = normalize(all_names[len(out) % len(all_names)])
        if size + len(name) + 1 > chars:
            return " ".join(out)
        out.append(name)
        size += len(name) + 1


# -- the scorer ------------------------------------------------------------------------


def test_link_builds_grams_no_longer_than_the_longest_name_plus_one(
    engine: AnswerEngine, counted: Counted
) -> None:
    """Linking 200 words of names builds O(words * longest name) grams, not O(words^2)."""
    mention = " ".join(words_of_names(engine, 10_000).split()[:200])
    words = content(mention)
    assert len(words) >= 150
    assert engine.index.link(mention)
    # Once for the mention, and at most once per narrowing of it by kind or parent.
    assert 1 <= len(counted.scorers) <= 2 + index._MAX_WHOLES
    longest = engine.index.longest
    for built in counted.scorers:
        assert max(built) <= longest + 1
        assert sum(built.values()) <= len(words) * (longest + 1)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picks=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=120))
def test_any_run_of_names_is_scored_in_linear_work(
    engine: AnswerEngine, counted: Counted, picks: list[int]
) -> None:
    """Whatever names a mention strings together, grams <= words * (longest name + 1)."""
    all_names = names(engine)
    mention = " ".join(normalize(all_names[i % len(all_names)]) for i in picks)
    counted.scorers.clear()
    engine.index.link(mention)
    # One scorer for the mention, one more for its words besides kind words ("team"),
    # and one per whole whose parts it may name.
    assert 1 <= len(counted.scorers) <= 2 + index._MAX_WHOLES
    for built in counted.scorers:
        assert sum(built.values()) <= len(content(mention)) * (engine.index.longest + 1)


def test_many_question_clauses_cost_links_linear_in_their_number(
    engine: AnswerEngine, counted: Counted
) -> None:
    """Forty "who owns <nothing known>?" clauses cost a few links each, not forty each."""
    clauses = [f"who owns zqx{i}?" for i in range(40)]
    answer = engine.answer(" ".join(clauses))
    assert answer.intent == "unknown"
    assert len(counted.scorers) <= 5 * (len(clauses) + 1)


def test_unclosed_markup_ends_at_the_next_markup() -> None:
    """An unclosed mention, channel or link stops at the next "<": the text after it stays."""
    for opening in ("<@U1|bob", "<#C1|ops", "<!here", "<https://x.example.com|docs"):
        text = f"{opening} who owns the <#C2|feature-store> <@U3> ?"
        assert normalize(text).endswith("who owns the feature store"), opening


# -- the limit -------------------------------------------------------------------------


def padded(question: str, chars: int) -> str:
    """`question`, then a clause of filler words: `chars` characters once normalised."""
    filler = " ".join(["and then it broke again"] * (chars // 10))
    text = f"{question}? {filler}"
    while len(normalize(text)) > chars:
        text = text[:-1]
    assert len(normalize(text)) == chars
    return text


def test_a_question_at_the_limit_is_answered_one_over_is_refused(engine: AnswerEngine) -> None:
    """1,000 characters of words are looked up, whatever markup surrounds them; 1,001 are not."""
    at_limit = padded("who owns the feature store", MAX_QUESTION)
    link = "<https://grafana.example.com/d/abc?" + "var=x&" * 400 + "|>"
    for question in (at_limit, f"<@U07BOT4PS2> :eyes: {at_limit} {link}"):
        answer = engine.answer(question)
        assert (answer.intent, str(answer.entity)) == ("owner", "area:feature-store")
    over = engine.answer(padded("who owns the feature store", MAX_QUESTION + 1))
    assert (over.intent, over.entity, over.confidence, over.suggestions) == ("unknown", None, 0, ())
    assert over.text == (
        "That's too long for me to look up: ask about one thing in a sentence or two "
        "(up to 1,000 characters)."
    )


def test_a_message_longer_than_slack_allows_is_refused_unread(engine: AnswerEngine) -> None:
    """Over 40,000 characters the message is refused, even if its words are few."""
    question = "who owns the feature store?" + " " * MAX_MESSAGE
    assert engine.answer(question).text == REFUSAL
    assert engine.answer(f"intent for {question}", intent="owner").text == REFUSAL


def test_over_long_questions_are_not_remembered(engine: AnswerEngine) -> None:
    """The answer memory keeps no 40 kB questions: each is refused afresh, cheaply."""
    remembering = AnswerEngine(engine.knowledge, cache_size=4)
    long = "a" * (MAX_QUESTION + 1)
    assert remembering.answer(long) is not remembering.answer(long)
    assert remembering.answer("what is drift") is remembering.answer("what is drift")


def hostile(engine: AnswerEngine) -> dict[str, str]:
    """40,000-character messages with more than 1,000 characters of words."""
    titles = " ".join(normalize(n) for n in names(engine))
    messages = {
        **HOSTILE,
        "names": f"{titles} " * (40_000 // len(titles) + 1),
        "who owns names": f"who owns {titles}? " * (40_000 // len(titles) + 1),
    }
    return {label: text[:40_000] for label, text in messages.items()}


HOSTILE = {
    "one letter": "a" * 40_000,
    "one word": "a " * 20_000,
    "unclosed channels": "<#C1|" * 8_000,
    "unclosed mentions": "<@U1|x" * 6_666,
    "unclosed links": "<https://x|" * 3_636,
    "emoji-like": ":x" * 20_000,
    "contractions": "can't it's x's " * 2_666,
    "dashes": "x - " * 10_000,
    "accents": "é " * 20_000,
    "mentions and words": "<@U1> feature store " * 2_000,
}
INTENTS: tuple[Intent | None, ...] = (None, "owner", "links")
#: Hostile messages with no words at all: the usual "I don't know" is the true answer.
WORDLESS = {
    "mentions": "<@U1>" * 8_000,
    "punctuation": "?!.;," * 8_000,
    "emoji": ":eyes:" * 6_666,
    "spaces": " " * 40_000,
}


def test_hostile_40k_messages_get_a_short_true_reply(engine: AnswerEngine) -> None:
    """40,000 characters of one letter, markup, punctuation or known names: refused or unknown."""
    for label, text in hostile(engine).items():
        for intent in INTENTS:
            answer = engine.answer(text, intent=intent)
            assert (answer.intent, answer.text) == ("unknown", REFUSAL), (label, intent)
    for label, text in WORDLESS.items():
        answer = engine.answer(text[:40_000])
        assert answer.intent == "unknown" and answer.text.startswith("I don't know"), label


# -- through Slack ---------------------------------------------------------------------


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[tuple[Opsbot, FakeSlack]]:
    async with FakeSlack() as slack, running(slack_settings(tmp_path, slack), slack) as opsbot:
        yield opsbot, slack


async def test_a_40k_slash_command_gets_the_short_reply(bot: tuple[Opsbot, FakeSlack]) -> None:
    """`/ops` with 40,000 characters is answered 200 with the refusal; its start is recorded."""
    opsbot, _ = bot
    text = ("who owns model monitoring " * 2_000)[:40_000]
    response = await opsbot.post(slash_command_body(text))
    assert response.status == 200
    payload = await response.json()
    assert payload["text"] == REFUSAL
    await opsbot.settle()
    rows = await opsbot.rows("select intent, entity, length(text) from questions")
    assert rows == [("unknown", None, RECORDED_TEXT)]


async def test_a_40k_mention_gets_the_short_reply_in_its_thread(
    bot: tuple[Opsbot, FakeSlack],
) -> None:
    """An @mention carrying 40,000 characters is answered in its thread with the refusal."""
    opsbot, slack = bot
    text = "<@UBOT> " + ("who owns model monitoring " * 2_000)[:39_990]
    event = {"type": "app_mention", "user": "U1", "text": text, "channel": "C1",
             "ts": "1700000001.000100"}  # fmt: skip
    response = await opsbot.post(event_body(event), content_type="application/json")
    assert response.status == 200
    (call,) = await slack.wait_for("chat.postMessage")
    assert (call.params["text"], call.params["thread_ts"]) == (REFUSAL, "1700000001.000100")
