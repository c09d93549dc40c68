"""Adaptive Cards for Teams: answers, nudges and reports, escaped, within Teams' limits."""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, get_args

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.answers import AnswerEngine
from bot.events import (
    INTENTS,
    Answer,
    CheckinClick,
    Command,
    Confirmed,
    Feedback,
    Message,
    Origin,
    Pick,
    Reply,
    parse_payload,
)
from bot.handlers import SUB_COMMANDS, Handlers
from bot.kb import require_knowledge
from bot.kb.knowledge import Knowledge
from bot.model import (
    CheckInQuestion,
    Entity,
    FAQSpec,
    Link,
    OwnableSpec,
    PersonSpec,
    PracticeSpec,
    Ref,
    Source,
    Spec,
    TeamSpec,
    TermSpec,
)
from bot.ports import NudgeMessage
from bot.styled import Span, Style, Styled
from bot.teams.cards import (
    TeamsRenderer,
    TeamsUser,
    action_data,
    literal,
    nudge_card,
    plain,
    recorded_card,
    report_card,
    text_card,
    text_inputs,
)
from tests.fakes import FakeClock, MemoryQuestionLog

ORIGIN = Origin(platform="teams", user="teams:0f1e2d3c-0000-4000-8000-00000000a001")
ZW = "\N{ZERO WIDTH SPACE}"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
#: The element and action types of Adaptive Cards 1.5 (written out here, not imported).
ELEMENTS_15 = {
    "TextBlock", "RichTextBlock", "Image", "ImageSet", "Media", "Container", "ColumnSet",
    "Column", "FactSet", "ActionSet", "Table", "Input.Text", "Input.Number", "Input.Date",
    "Input.Time", "Input.Toggle", "Input.ChoiceSet",
}  # fmt: skip
ACTIONS_15 = {
    "Action.OpenUrl", "Action.Submit", "Action.ShowCard", "Action.ToggleVisibility",
    "Action.Execute",
}  # fmt: skip
TEAMS_LIMIT = 28 * 1024


# -- checking a card -------------------------------------------------------------------------


def elements(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        for key in ("items", "columns"):
            yield from elements(item.get(key, []))


def card_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button of a card: its own and those of its ActionSets."""
    found = list(card.get("actions", []))
    for element in elements(card["body"]):
        found += element.get("actions", [])
    return found


def check_action(action: dict[str, Any]) -> None:
    assert action["type"] in ACTIONS_15, action
    assert isinstance(action.get("title"), str) and action["title"].strip(), action
    if action["type"] == "Action.Submit":
        data = action["data"]
        assert isinstance(data, dict) and isinstance(data.get("opsbot"), str), action
        assert parse_payload(data["opsbot"], ORIGIN) is not None, action
    if action["type"] == "Action.OpenUrl":
        assert re.match(r"(https?://|mailto:)", action["url"], re.IGNORECASE), action


def validate(card: dict[str, Any]) -> dict[str, Any]:
    """A well-formed card of schema 1.5, within Teams' size, whose mentions are all shown."""
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == SCHEMA and card["version"] == "1.5"
    entities = card.get("msteams", {}).get("entities", [])
    assert len(json.dumps(card)) + len(json.dumps(entities)) <= TEAMS_LIMIT
    ids = []
    texts = []
    for element in elements(card["body"]):
        assert element["type"] in ELEMENTS_15, element
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"], element
            texts.append(element["text"])
        if element["type"] == "FactSet":
            for item in element["facts"]:
                assert isinstance(item["title"], str) and isinstance(item["value"], str)
                texts += [item["title"], item["value"]]
        if element["type"].startswith("Input."):
            ids.append(element["id"])
        if element["type"] == "ActionSet":
            assert element["actions"], element
    assert len(ids) == len(set(ids))
    for action in card_actions(card):
        check_action(action)
    for entity in entities:
        assert entity["type"] == "mention"
        assert set(entity["mentioned"]) == {"id", "name"}
        assert re.fullmatch(r"<at>[^<]*</at>", entity["text"].replace("<" + ZW, "")), entity
        assert any(entity["text"] in text for text in texts), entity
    return card


def shown(node: object, key: str = "") -> Iterator[str]:
    """Every string of a card but button data (payloads, kept exact) and URLs."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for name, value in node.items():
            if name not in ("data", "url"):
                yield from shown(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from shown(item, key)


_LINK_TARGET = re.compile(r"\]\([^()\s]*\)")


def assert_nothing_live(card: dict[str, Any], allowed_ids: frozenset[str]) -> None:
    """No `${`, no tag, no entity, no mention but the entities' own (of allowed users)."""
    validate(card)
    entities = card.get("msteams", {}).get("entities", [])
    assert {e["mentioned"]["id"] for e in entities} <= allowed_ids, entities
    ours = [e["text"] for e in entities]
    for text in shown(card):
        for mention in ours:
            text = text.replace(mention, "")
        assert "${" not in text, text
        assert not re.search("<(?!" + ZW + ")", text), text
        assert not re.search("&(?!" + ZW + ")", _LINK_TARGET.sub("", text)), text


# -- escaping --------------------------------------------------------------------------------


def unliteral(text: str) -> str:
    """What a CommonMark reader shows for `literal`'s output (minus zero-width spaces)."""
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    return text.replace("<" + ZW, "<").replace("&" + ZW, "&").replace("$" + ZW, "$")


MARKDOWN = set("\\*_~`#>[]()!+|=-")


def unescaped(text: str) -> list[str]:
    """The Markdown characters, tags, entities and templates in `text` left live."""
    live, i = [], 0
    while i < len(text):
        char = text[i]
        after = text[i + 1] if i + 1 < len(text) else ""
        if char == "\\":
            if after not in MARKDOWN and after != ".":
                live.append(text[i : i + 2])
            i += 2
            continue
        if char in MARKDOWN or (char in "<&" and after != ZW) or (char == "$" and after == "{"):
            live.append(char)
        if char == "." and (i == 0 or text[i - 1].isdigit()):
            live.append(text[max(0, i - 1) : i + 1])
        i += 1
    return live


def test_literal_escapes_markdown_tags_and_templates() -> None:
    """Markdown characters get a backslash; tags, entities and templates a zero-width space."""
    assert literal("**bold** _it_ [x](y) # h") == r"\*\*bold\*\* \_it\_ \[x\]\(y\) \# h"
    assert literal("<at>Boss</at>") == f"<{ZW}at\\>Boss<{ZW}/at\\>"
    assert literal("${user.name} and $5") == f"${ZW}{{user.name}} and $5"
    assert literal("1. first\n2) second") == "1\\. first\n2\\) second"
    assert literal("&amp; a\\b") == f"&{ZW}amp; a\\\\b"
    assert literal("3.14 and v1.2") == "3\\.14 and v1\\.2"
    assert literal("plain words, no marks.") == "plain words, no marks."
    assert literal("ends with $") == f"ends with ${ZW}"  # so nothing after it makes `${`


def test_plain_fields_break_tags_without_backslashes() -> None:
    """Button titles stay readable: one line, cut to 75, tags and templates broken."""
    assert plain("A-B *c* ${x}\n<at>y") == f"A-B *c* ${ZW}{{x}} <{ZW}at>y"
    assert len(plain("x" * 500)) == 75 and plain("x" * 500).endswith("…")
    assert plain("   ") == "…"


TYPED = st.text() | st.lists(
    st.sampled_from(["<at>", "</at>", "${", "$", "{", "*", "1.", "\n", "\\", "&", ZW, "é"])
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TYPED)
@example(text="<at>Boss</at>${x}\\*1.&amp;" + ZW)
def test_literal_round_trips_and_leaves_nothing_live(text: str) -> None:
    """Any text comes back whole from its escaped form, with no live markup in between."""
    escaped = literal(text)
    assert unliteral(escaped) == text
    assert not unescaped(escaped), (text, escaped)
    assert "${" not in escaped and "<at" not in escaped.lower()


# -- answers ---------------------------------------------------------------------------------

KNOWLEDGE = """\
apiVersion: opsbot/v1
kind: Team
metadata: {name: platform, title: "Platform <at>Boss</at> ${x}"}
spec: {channel: "#platform", members: [ann, bob], lead: ann}
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: ann, title: Ann}
spec: {teams: 0f1e2d3c-0000-4000-8000-00000000a001, email: ann@example.com}
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: bob, title: "Bob *the* _builder_"}
spec: {email: bob@example.com}
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: billing
  title: Billing
  description: "Money **things**, see [the guide](https://x.example.com/guide) <at>Eve</at>"
  links:
    - {title: Runbook, url: "https://x.example.com/run", type: runbook}
    - {title: Mail us, url: "mailto:billing@example.com"}
    - {title: Evil, url: "javascript:alert(1)"}
spec: {owner: team:platform, backup: person:bob, oncall: "pager #42", reviewed: 2026-11-01}
---
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: deploy, title: How do I deploy?}
spec:
  questions: [How do I deploy?]
  answer: |
    Deploy with **care**:
    1. Build it
       carefully.
    2. Ship it, see [docs](https://x.example.com/deploy).
---
"""
ANN = TeamsUser(id="29:ann", aad_object_id="0f1e2d3c-0000-4000-8000-00000000a001", name="Ann C.")


def teams_users(knowledge: Knowledge) -> Callable[[Ref], TeamsUser | None]:
    """Ann is in Teams (her `spec.teams` matched); Bob is not."""

    def user_of(ref: Ref) -> TeamsUser | None:
        person = knowledge.get(ref)
        if person is not None and isinstance(person.spec, PersonSpec) and person.spec.teams:
            return ANN
        return None

    return user_of


def renderer_for(tmp_path: Path, yaml_text: str = KNOWLEDGE) -> tuple[TeamsRenderer, Handlers]:
    (tmp_path / "k.yaml").write_text(textwrap.dedent(yaml_text))
    knowledge = require_knowledge(tmp_path, today=date(2026, 11, 29))
    engine = AnswerEngine(knowledge)
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())
    return TeamsRenderer(knowledge, teams_users(knowledge)), handlers


def ask(tmp_path: Path, question: str, **kwargs: Any) -> tuple[Reply, dict[str, Any]]:
    renderer, handlers = renderer_for(tmp_path)
    reply = handlers.respond(Message(origin=ORIGIN, text=question)).reply
    return reply, validate(renderer.reply_card(reply, **kwargs))


def texts_of(card: dict[str, Any]) -> str:
    return "\n".join(shown(card["body"]))


def facts_of(card: dict[str, Any]) -> dict[str, str]:
    return {
        item["title"]: item["value"]
        for element in elements(card["body"])
        if element["type"] == "FactSet"
        for item in element["facts"]
    }


def payloads(card: dict[str, Any]) -> list[Any]:
    return [
        parse_payload(a["data"]["opsbot"], ORIGIN)
        for a in card_actions(card)
        if a["type"] == "Action.Submit"
    ]


def test_owner_answer_shows_facts_and_mentions_only_people_in_teams(tmp_path: Path) -> None:
    """Owner, backup, channel as facts; Ann (in Teams) is a real mention, Bob and titles text."""
    reply, card = ask(tmp_path, "who owns billing")
    facts = facts_of(card)
    assert (
        facts["Owner"]
        == f"**Platform <{ZW}at\\>Boss<{ZW}/at\\> ${ZW}{{x}}** (lead <at>Ann C.</at>)"
    )
    assert facts["Backup"] == r"**Bob \*the\* \_builder\_**"
    assert facts["Channel"] == r"\#platform" and facts["On-call"] == r"pager \#42"
    assert card["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": "<at>Ann C.</at>",
            "mentioned": {"id": "29:ann", "name": "Ann C."},
        }
    ]
    assert "**Billing** is owned by **Platform" in texts_of(card)
    assert "From `k.yaml` · ownership last reviewed 2026\\-11\\-01" in texts_of(card)
    votes = payloads(card)
    assert votes == [
        Feedback(origin=ORIGIN, question_uid=str(reply.question_uid), helpful=True),
        Feedback(origin=ORIGIN, question_uid=str(reply.question_uid), helpful=False),
    ]
    assert [a["title"] for a in card["actions"]] == ["Helpful", "Not helpful"]
    assert_nothing_live(card, frozenset({"29:ann"}))


def test_backup_answer_leads_with_the_backup(tmp_path: Path) -> None:
    """A question about one fact leads with it, as on Slack."""
    _, card = ask(tmp_path, "who is the backup for billing")
    first = card["body"][0]["text"]
    assert first == r"The backup for **Billing** is **Bob \*the\* \_builder\_**"


def test_links_are_buttons_only_for_web_and_mail(tmp_path: Path) -> None:
    """https and mailto links open from buttons (the one asked for first); others are text."""
    _, card = ask(tmp_path, "runbook for billing")
    opens = [a for a in card_actions(card) if a["type"] == "Action.OpenUrl"]
    assert [(a["title"], a["url"]) for a in opens] == [
        ("Runbook", "https://x.example.com/run"),
        ("Mail us", "mailto:billing@example.com"),
    ]
    assert "Evil: javascript:alert\\(1\\)" in texts_of(card)
    assert card["body"][0]["text"] == "Runbook for **Billing**"


def test_markdown_of_the_knowledge_keeps_links_and_bold_only(tmp_path: Path) -> None:
    """Descriptions keep their links and bold; a tag in them is text."""
    _, card = ask(tmp_path, "what is billing")
    text = texts_of(card)
    assert "Money **things**, see [the guide](https://x.example.com/guide)" in text
    assert f"<{ZW}at\\>Eve<{ZW}/at\\>" in text


def test_faq_answer_keeps_its_paragraphs_and_list_as_text(tmp_path: Path) -> None:
    """An FAQ's lines join as Markdown joins them; list items are paragraphs, markers text."""
    _, card = ask(tmp_path, "How do I deploy?")
    assert card["body"][0]["text"] == r"**How do I deploy?**"
    assert card["body"][1]["text"] == (
        "Deploy with **care**:\n\n1\\. Build it carefully.\n\n"
        "2\\. Ship it, see [docs](https://x.example.com/deploy)\\."
    )


def test_members_are_mentioned_where_known(tmp_path: Path) -> None:
    """A team's members: a mention for Ann, Bob's name as text."""
    _, card = ask(tmp_path, "who is on the platform team")
    assert "<at>Ann C.</at>, **Bob \\*the\\* \\_builder\\_**" in texts_of(card)
    assert [e["mentioned"]["id"] for e in card["msteams"]["entities"]] == ["29:ann"]


def test_asker_is_mentioned_and_sharing_is_offered(tmp_path: Path) -> None:
    """The asker's mention comes first; a private answer can be shared in the channel."""
    asker = TeamsUser(id="29:zed", aad_object_id=None, name="Zed </at><at>Boss")
    _, card = ask(tmp_path, "who owns billing", asker=asker, shareable=True)
    mention = card["body"][0]["text"]
    assert mention == f"<at>Zed <{ZW}/at><{ZW}at>Boss</at>"
    assert {e["mentioned"]["id"] for e in card["msteams"]["entities"]} == {"29:zed", "29:ann"}
    share = card["actions"][-1]
    assert share["title"] == "Share in channel"
    assert parse_payload(share["data"]["opsbot"], ORIGIN) == Pick(
        origin=ORIGIN, intent="owner", ref=Ref(kind="area", name="billing")
    )


def test_unknown_answer_offers_its_suggestions_as_buttons(tmp_path: Path) -> None:
    """Suggestions are buttons answering what was asked about each pick, as on Slack."""
    renderer, _ = renderer_for(tmp_path)
    suggestions = (Ref(kind="area", name="billing"), Ref(kind="team", name="platform"))
    answer = Answer(
        intent="unknown",
        entity=None,
        confidence=0.2,
        text="Did you mean one of these? <at>x</at>",
        suggestions=suggestions,
        detail="runbook",
        asked="links",
    )
    card = validate(renderer.reply_card(Reply(text=answer.text, answer=answer, question_uid="q1")))
    picks = [a for a in card_actions(card) if a["type"] == "Action.Submit"]
    assert [p["title"] for p in picks] == ["Billing", f"Platform <{ZW}at>Boss<{ZW}/at> ${ZW}{{x}}"]
    assert payloads(card) == [
        Pick(origin=ORIGIN, intent="links", ref=ref, detail="runbook") for ref in suggestions
    ]
    assert card["body"][0]["text"] == f"Did you mean one of these? <{ZW}at\\>x<{ZW}/at\\>"
    assert "Try `help`" in texts_of(card)
    assert "actions" not in card  # nothing to vote on, as on Slack


def test_a_reply_without_an_answer_shows_its_styles(tmp_path: Path) -> None:
    """Help and errors: styled spans as Markdown, plain text as written, line by line."""
    renderer, _ = renderer_for(tmp_path)
    styled = Styled.of(("Use ", Span(text="who-owns X", style="code"), " now"), "", "a*b")
    card = validate(renderer.reply_card(Reply.of(styled, kind="help")))
    assert [b["text"] for b in card["body"]] == ["Use `who\\-owns X` now", "a\\*b"]
    assert card["body"][1]["spacing"] == "Medium"
    gone = Answer(intent="owner", entity=Ref(kind="area", name="gone"), confidence=1, text="x_y")
    card = validate(renderer.reply_card(Reply(text="x_y", answer=gone)))
    assert [b["text"] for b in card["body"]] == ["x\\_y"]


def test_long_answers_fit_in_a_teams_message(tmp_path: Path) -> None:
    """A huge FAQ, many links and hundreds of members still make a card under 28 KB."""
    people = "\n".join(
        f"---\napiVersion: opsbot/v1\nkind: Person\n"
        f"metadata: {{name: p{i}, title: '{'<' * 60}{i}'}}\n"
        f"spec: {{teams: aad-{i}, member_of: [big]}}"
        for i in range(300)
    )
    links = "\n".join(
        f"    - {{title: '{'L' * 100} {i}', url: 'https://x.example.com/{'%' * 500}{i}'}}"
        for i in range(30)
    )
    yaml_text = f"""\
apiVersion: opsbot/v1
kind: FAQ
metadata:
  name: big
  title: How do I do the big thing?
  links:
{links}
spec:
  questions: [How do I do the big thing?]
  answer: "{"<&*_ " * 4000}"
---
apiVersion: opsbot/v1
kind: Team
metadata: {{name: big, title: Big}}
{people}
"""
    (tmp_path / "k.yaml").write_text(yaml_text)
    knowledge = require_knowledge(tmp_path, today=date(2026, 11, 29))
    engine = AnswerEngine(knowledge)
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())

    def everyone(ref: Ref) -> TeamsUser:
        return TeamsUser(id=f"29:{ref.name}", aad_object_id=None, name=f"{ref.name} " + "€" * 200)

    renderer = TeamsRenderer(knowledge, everyone)
    for question in ("how do I do the big thing?", "who is on the big team"):
        card = validate(
            renderer.reply_card(handlers.respond(Message(origin=ORIGIN, text=question)).reply)
        )
        assert "more in `k.yaml`" in texts_of(card)
        assert len(card_actions(card)) <= 7
    assert card["msteams"]["entities"]  # some members still mentioned, each one shown


# -- check-ins -------------------------------------------------------------------------------

QUESTIONS = (
    CheckInQuestion(id="tool", text="Which *tool*?", type="choice", options=("MLflow", "W&B")),
    CheckInQuestion(id="mood", text="How was your week?", type="scale", min=1, max=7),
    CheckInQuestion(id="note", text="Anything else?", type="text"),
)
NUDGE = NudgeMessage(key="k", round_id=7, user="teams:x", title="Pulse ${x}", questions=QUESTIONS)


def test_nudge_has_buttons_a_text_box_later_and_skip() -> None:
    """Each question's buttons carry Slack's payloads; the text box sends with its question."""
    card = validate(nudge_card(NUDGE))
    assert card["body"][0]["text"] == f"Pulse ${ZW}{{x}}"
    assert card["body"][1]["text"] == r"**Which \*tool\*?**"
    clicks = payloads(card)
    answers = [(c.question, c.value) for c in clicks if c.action == "answer"]
    assert answers == [
        ("tool", "MLflow"), ("tool", "W&B"), *(("mood", str(v)) for v in range(1, 8)), ("note", ""),
    ]  # fmt: skip
    assert [c.action for c in clicks[-2:]] == ["later", "skip"]
    assert all(isinstance(c, CheckinClick) and c.round_id == 7 for c in clicks)
    boxes = [e for e in elements(card["body"]) if e["type"] == "Input.Text"]
    assert [b["id"] for b in boxes] == ["text:note"]
    titles = [a["title"] for a in card_actions(card)]
    assert titles[-3:] == ["Send", "Remind me in an hour", "Skip this round"]
    assert max(len(s["actions"]) for s in elements(card["body"]) if s["type"] == "ActionSet") <= 5
    reminder = validate(nudge_card(NudgeMessage(**{**NUDGE.__dict__, "reminder": True})))
    assert reminder["body"][0]["text"] == f"Reminder: Pulse ${ZW}{{x}}"


def test_recorded_card_shows_answers_and_stays_editable_until_closed() -> None:
    """What was recorded is shown; buttons stay while open, and go once the round closes."""
    given = {"tool": "W&B", "note": "<at>all</at> *good*"}
    card = validate(recorded_card(NUDGE, given))
    text = texts_of(card)
    assert "Your answer: **W&" + ZW + "B**" in text
    assert f"Your answer: <{ZW}at\\>all<{ZW}/at\\> \\*good\\*" in text
    chosen = [a for a in card_actions(card) if a.get("style") == "positive"]
    assert [a["title"] for a in chosen] == [f"W&{ZW}B"]
    assert "Skip this round" in [a["title"] for a in card_actions(card)]
    closed = validate(recorded_card(NUDGE, {**given, "__round__": "skip"}, closed=True))
    assert card_actions(closed) == []
    assert not [e for e in elements(closed["body"]) if e["type"].startswith("Input.")]
    assert "This round is closed" in texts_of(closed)
    assert "You skipped this round" in texts_of(closed)


def test_report_card_carries_its_chart_when_it_fits() -> None:
    """A data: or https chart is an Image; a chart too large for a card is left out, said."""
    report = Styled.of((Span(text="Pulse", style="bold"), ": round 1"), "", "3/4 answered")
    small = "data:image/png;base64," + "A" * 1000
    card = validate(report_card(report, "Pulse <at>", small))
    assert card["body"][-1] == {"type": "Image", "url": small, "altText": f"Pulse <{ZW}at>"}
    assert card["body"][0]["text"] == "**Pulse**: round 1"
    web = validate(report_card(report, "Pulse", "https://x.example.com/c.png"))
    assert web["body"][-1]["url"] == "https://x.example.com/c.png"
    for bad in ("javascript:alert(1)", "data:text/html;base64,AAAA", "http://x.example.com/c.png"):
        assert all(e["type"] != "Image" for e in report_card(report, "Pulse", bad)["body"])
    huge = validate(report_card(report, "Pulse", "data:image/png;base64," + "A" * 40_000))
    assert all(e["type"] != "Image" for e in huge["body"])
    assert "too large" in huge["body"][-1]["text"]


def test_text_card_shows_plain_and_styled_text() -> None:
    """Text cards take a string or styled text; long ones are cut within Teams' limit."""
    assert validate(text_card("a\nb_c"))["body"][1]["text"] == "b\\_c"
    long = validate(text_card("\n".join("<at>x</at> " * 50 for _ in range(300))))
    assert long["body"][-1]["text"] == "…"


# -- what comes back -------------------------------------------------------------------------


def test_action_data_reads_submit_and_execute_values() -> None:
    """Our payload from a message's value or an invoke's action data; None for the rest."""
    assert action_data({"opsbot": "vote|q1|up", "text:a": "x"}) == "vote|q1|up"
    invoke = {"action": {"type": "Action.Execute", "data": {"opsbot": "checkin-skip|3"}}}
    assert action_data(invoke) == "checkin-skip|3"
    for other in (None, "vote|q|up", [], {}, {"opsbot": 3}, {"opsbot": ""}, {"action": "x"},
                  {"opsbot": "x" * 2001}, {"action": {"data": ["opsbot"]}}):  # fmt: skip
        assert action_data(other) is None


def test_text_inputs_are_read_by_question_and_bounded() -> None:
    """Typed answers come back by question id, cut at 3,000 characters."""
    value = {"opsbot": "checkin|1|note|", "text:note": "y" * 5000, "text:": "z", "other": "w"}
    assert text_inputs(value) == {"note": "y" * 3000}
    assert text_inputs({"action": {"data": {"text:a": "hi", "text:b": 4}}}) == {"a": "hi"}
    assert text_inputs("nope") == {}


# -- nothing typed or written takes effect ---------------------------------------------------

TOKENS = (
    "<at>Boss</at>", "</at>", "<AT>x</AT>", "<at id=\"0\">", "${x}", "${", "$", "{", "{{DATE(x)}}",
    "**b**", "_i_", "~~s~~", "`c`", "# h", "> q", "- l", "+ l", "1. l", "3) l", "|a|b|", "---",
    "===", "![i](https://evil.example/i.png)", "<b>x</b>", "&lt;at&gt;", "&amp;", "&", "\\",
    "\\*", "\n", "\r", ZW, "é🌊",
)  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), min_size=1, max_size=6)
SETTINGS = settings(max_examples=40, deadline=None)
EVERY_TOKEN = "".join(TOKENS)


def ref(text: str) -> Ref:
    return Ref.parse(text, default_kind="area")


def hostile_knowledge(t: list[str]) -> Knowledge:
    """A small organisation whose every text field is hostile (`t` is cycled through)."""
    text = itertools.cycle(t)
    md = next(text) + " see [the runbook](https://x.example.com/run) or <https://x.example.com/a>"
    source = Source(file=f"kb/{next(text)}.yaml", line=1)

    def entity(name: str, spec: Spec, **fields: Any) -> Entity:
        return Entity(ref=ref(name), title=next(text), spec=spec, source=source, **fields)

    links = (
        Link(title=next(text), url="https://x.example.com/run"),
        Link(title=next(text), url="javascript:x"),
        Link(title=next(text), url="https://x.example.com/" + next(text)),
    )
    return Knowledge.of([
        entity("team:platform", TeamSpec(members=(ref("person:ann"),), lead=ref("person:ann"),
               channel=next(text)), description=md),
        entity("team:other", TeamSpec(members=(ref("person:mallory"),), channel=next(text),
               lead=ref("person:mallory"))),
        entity("person:ann", PersonSpec(teams="aad-ann", member_of=(ref("team:platform"),))),
        entity("person:mallory", PersonSpec(teams=next(text))),
        entity("area:billing", OwnableSpec(owner=ref("team:platform"), backup=ref("person:ann"),
               channel=next(text), oncall=next(text), reviewed=date(2026, 11, 1)),
               description=md, links=links),
        entity("area:ledger", OwnableSpec(owner=ref("team:other"), backup=ref("person:mallory")),
               description=md),
        entity("practice:review", PracticeSpec(discipline=next(text), owner=ref("team:other")),
               description=md),
        entity("term:drift", TermSpec(see_also=(ref("area:billing"),)), description=md),
        entity("faq:how", FAQSpec(answer=md + "\n" + next(text), questions=(next(text),))),
    ])  # fmt: skip


@SETTINGS
@given(texts=st.lists(hostile.map("".join), min_size=1, max_size=4), typed=hostile.map("".join))
@example(texts=[EVERY_TOKEN], typed=EVERY_TOKEN)
def test_every_answer_card_shows_text_as_text(texts: list[str], typed: str) -> None:
    """Answers about every entity by every intent, questions, help: nothing typed is live."""
    knowledge = hostile_knowledge(texts)
    engine = AnswerEngine(knowledge)
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())
    name = texts[-1] or "?"

    def user_of(person: Ref) -> TeamsUser | None:
        return (
            TeamsUser(id="29:ann", aad_object_id="aad-ann", name=name)
            if person.name == "ann"
            else None
        )

    renderer = TeamsRenderer(knowledge, user_of)
    asker = TeamsUser(id="29:asker", aad_object_id=None, name=typed)
    events: list[Any] = [
        Pick(origin=ORIGIN, intent=intent, ref=entity.ref, detail=detail)
        for entity in knowledge
        for intent in INTENTS
        if intent != "unknown"
        for detail in (None, "backup", "lead", "runbook")
    ]
    events += [Message(origin=ORIGIN, text=typed), Command(origin=ORIGIN, text=typed)]
    events += [Command(origin=ORIGIN, text=f"{sub} {typed}") for sub in SUB_COMMANDS]
    allowed = frozenset({"29:ann", "29:asker"})
    for event in events:
        reply = handlers.respond(event).reply
        assert_nothing_live(renderer.reply_card(reply, asker=asker, shareable=True), allowed)
    refs = tuple(entity.ref for entity in knowledge)
    unknown = Answer(intent="unknown", entity=None, confidence=0.0, text=typed, suggestions=refs)
    card = renderer.reply_card(Reply(text=typed, answer=unknown, question_uid="q"))
    assert_nothing_live(card, allowed)


STYLES: tuple[Style, ...] = get_args(Style)


@SETTINGS
@given(
    question=hostile.map("".join),
    options=st.lists(hostile.map("".join), min_size=1, max_size=4),
    answer=hostile.map("".join),
    pieces=st.lists(st.tuples(hostile.map("".join), st.sampled_from(STYLES)), max_size=6),
)
@example(question=EVERY_TOKEN, options=list(TOKENS), answer=EVERY_TOKEN,
         pieces=[("a$", "plain"), ("{b}", "bold"), (EVERY_TOKEN, "code")])  # fmt: skip
def test_every_nudge_recorded_text_and_report_card_shows_text_as_text(
    question: str, options: list[str], answer: str, pieces: list[tuple[str, Style]]
) -> None:
    """Nudges, reminders, recorded answers, text and report cards: nothing typed is live."""
    questions = (
        CheckInQuestion(id="a", text=question, type="choice", options=tuple(options)),
        CheckInQuestion(id="b", text=question, type="scale"),
        CheckInQuestion(id="c", text=question, type="text"),
    )
    nobody = frozenset[str]()
    for reminder in (False, True):
        message = NudgeMessage(
            key="k", round_id=1, user="u", title=question, questions=questions, reminder=reminder
        )
        assert_nothing_live(nudge_card(message), nobody)
        for closed in (False, True):
            given = {"a": options[0], "b": "3", "c": answer, "__round__": "skip"}
            assert_nothing_live(recorded_card(message, given, closed=closed), nobody)
    styled = Styled.of(tuple(Span(text=text, style=style) for text, style in pieces), answer)
    assert_nothing_live(text_card(styled), nobody)
    assert_nothing_live(text_card(answer), nobody)
    assert_nothing_live(report_card(styled, answer, "https://x.example.com/" + answer), nobody)


def test_an_owners_confirmation_replaces_the_files_date(tmp_path: Path) -> None:
    """An answer whose entity an owner confirmed says who and when (their name escaped)."""
    renderer, handlers = renderer_for(tmp_path)
    reply = handlers.respond(Message(origin=ORIGIN, text="who owns billing")).reply
    confirmed = replace(reply, confirmed=Confirmed(by="Ann *C*", on=date(2026, 11, 30)))
    shown = texts_of(validate(renderer.reply_card(confirmed)))
    assert "From `k.yaml` · ownership confirmed by @Ann \\*C\\* on 2026\\-11\\-30" in shown
    assert "last reviewed" not in shown
