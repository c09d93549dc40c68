"""Block Kit rendering: escaping, Markdown, Slack's limits, mentions."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from datetime import date
from pathlib import Path

from bot.answers import AnswerEngine
from bot.events import Confirmed, Message, Origin
from bot.handlers import Handlers
from bot.kb import require_knowledge
from bot.slack.blocks import BUTTON_TEXT, MAX_BLOCKS, SECTION_TEXT, SlackRenderer
from bot.slack.markup import bold, code, cut, escape, link, markdown, ours
from tests.fakes import FakeClock, MemoryQuestionLog

ORIGIN = Origin(platform="slack", user="U1", channel="C1")


def render(tmp_path: Path, yaml_text: str, question: str) -> tuple[str, list[dict[str, object]]]:
    (tmp_path / "k.yaml").write_text(textwrap.dedent(yaml_text))
    engine = AnswerEngine(require_knowledge(tmp_path, today=date(2026, 11, 29)))
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())
    reply = handlers.respond(Message(origin=ORIGIN, text=question)).reply
    return SlackRenderer(engine.knowledge).reply(reply, shareable=True)


TEAM = """\
apiVersion: opsbot/v1
kind: Team
metadata: {name: platform, title: "Platform <!channel>"}
spec: {channel: C0123ABCD, members: [ann]}
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: ann, title: Ann}
spec: {slack: U0ANN0001}
---
"""


def test_escape_and_markdown() -> None:
    """Control characters are escaped; Markdown links and bold become mrkdwn."""
    assert escape("<!here> & <@U1>") == "&lt;!here&gt; &amp; &lt;@U1&gt;"
    assert markdown("See [the guide](https://x.example.com/a) **now** <!channel>") == (
        "See <https://x.example.com/a|the guide> *now* &lt;!channel&gt;"
    )
    assert markdown("<https://x.example.com>") == "<https://x.example.com>"
    assert markdown("[bad](javascript:alert(1))") == "[bad](javascript:alert(1))"


def test_links_and_styles_cannot_carry_markup() -> None:
    """A link's URL and label, and text in a styled span, cannot open or close markup."""
    assert markdown("[x](https://a.example/|<!here>&y)") == (
        "<https://a.example/%7C%3C!here%3E&amp;y|x>"
    )
    assert markdown("[<!here>](https://a.example/)") == "<https://a.example/|&lt;!here&gt;>"
    assert link("javascript:alert(1)", "<@U1>") == "&lt;@U1&gt;"
    assert bold("a*b <!here>") == "*a\N{ASTERISK OPERATOR}b &lt;!here&gt;*"
    assert code(" `x` ") == " `\N{MODIFIER LETTER GRAVE ACCENT}x\N{MODIFIER LETTER GRAVE ACCENT}` "
    assert bold("one\n\ntwo") == "*one*\n\n*two*"


def test_cut_keeps_the_limit_and_points_to_the_rest() -> None:
    """A cut text fits the limit exactly and ends with the pointer."""
    text = cut(escape("x" * 5000), 3000, ours("(more in `faq.yaml`)"))
    assert len(text) <= 3000
    assert text.endswith("… (more in `faq.yaml`)")
    assert cut(escape("short"), 3000, ours("(more)")) == "short"


def test_knowledge_text_is_escaped_and_people_are_mentioned(tmp_path: Path) -> None:
    """Titles from the knowledge cannot ping; known Slack IDs become real mentions."""
    area = """\
    apiVersion: opsbot/v1
    kind: Area
    metadata: {name: billing, title: Billing, description: "Money <@U999> things"}
    spec: {owner: team:platform, backup: person:ann}
    """
    text, blocks = render(tmp_path, TEAM + textwrap.dedent(area), "who owns billing")
    shown = json.dumps(blocks)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "<@U999>" not in shown
    assert "<@U0ANN0001>" in shown  # the backup, a real mention
    assert "<#C0123ABCD>" in shown  # the team's channel by ID
    assert "Billing is owned by" in text


def test_long_answers_fit_slacks_limits(tmp_path: Path) -> None:
    """A huge FAQ answer and many links are cut to Slack's limits with a pointer."""
    links = "\n".join(
        f"    - {{title: '{'L' * 100} {i}', url: 'https://x.example.com/{i}'}}" for i in range(30)
    )
    faq = f"""\
apiVersion: opsbot/v1
kind: FAQ
metadata:
  name: big
  title: How do I do the big thing?
  links:
{links}
spec:
  questions: [How do I do the big thing?]
  answer: "{"word " * 2000}"
"""
    text, blocks = render(tmp_path, TEAM + faq, "how do I do the big thing?")
    assert len(blocks) <= MAX_BLOCKS
    assert len(text) <= 3000
    for block in blocks:
        body = block.get("text")
        if isinstance(body, dict):
            assert len(body["text"]) <= SECTION_TEXT
        for element in block.get("elements", []):  # type: ignore[union-attr]
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= BUTTON_TEXT
    assert "(more in `k.yaml`)" in json.dumps(blocks)


def test_home_for_someone_not_in_the_knowledge(tmp_path: Path) -> None:
    """The Home tab still explains the bot to a person the knowledge does not list."""
    (tmp_path / "k.yaml").write_text(TEAM)
    renderer = SlackRenderer(require_knowledge(tmp_path, today=date(2026, 11, 29)))
    view = renderer.home("U0NOBODY1")
    shown = json.dumps(view)
    assert "/ops who-owns" in shown
    assert "not in the knowledge base yet" in shown


def test_an_answer_rendered_again_gets_its_own_vote_buttons(tmp_path: Path) -> None:
    """The same answer twice renders the same facts, each with its own question's buttons."""
    (tmp_path / "org.yaml").write_text(TEAM)
    knowledge = require_knowledge(tmp_path, today=date(2026, 11, 30))
    engine = AnswerEngine(knowledge)
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())
    renderer = SlackRenderer(knowledge)
    first, second = (
        handlers.respond(Message(origin=ORIGIN, text="who is on the platform team")).reply
        for _ in range(2)
    )
    assert first.question_uid != second.question_uid
    _, one = renderer.reply(first)
    _, two = renderer.reply(second)
    assert one[:-1] == two[:-1]
    assert first.question_uid in json.dumps(one[-1]) and second.question_uid in json.dumps(two[-1])
    assert first.question_uid not in json.dumps(two)


def test_an_owners_confirmation_replaces_the_files_date(tmp_path: Path) -> None:
    """An answer whose entity an owner confirmed says who and when, escaped."""
    (tmp_path / "k.yaml").write_text(
        TEAM + "apiVersion: opsbot/v1\nkind: Area\nmetadata: {name: billing, title: Billing}\n"
        "spec: {owner: team:platform, reviewed: 2026-01-01}\n"
    )
    engine = AnswerEngine(require_knowledge(tmp_path, today=date(2026, 11, 29)))
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())
    reply = handlers.respond(Message(origin=ORIGIN, text="who owns billing")).reply
    confirmed = replace(reply, confirmed=Confirmed(by="Ann <!here>", on=date(2026, 11, 30)))
    _, blocks = SlackRenderer(engine.knowledge).reply(confirmed)
    shown = json.dumps(blocks)
    assert "ownership confirmed by @Ann &lt;!here&gt; on 2026-11-30" in shown
    assert "last reviewed" not in shown
