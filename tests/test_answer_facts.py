"""Specific facts, questions back and the one threshold, on a small knowledge of its own."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answers import AnswerEngine
from bot.events import Answer, Origin, Pick, Reply, parse_payload, pick_payload
from bot.handlers import Handlers
from bot.kb import load_knowledge, require_knowledge
from bot.model import Ref
from bot.slack.blocks import ACTION_PICK, SlackRenderer
from tests.fakes import FakeClock, MemoryQuestionLog

ROOT = Path(__file__).parent.parent
TODAY = date(2026, 11, 29)

HARBOR = """\
apiVersion: opsbot/v1
kind: Team
metadata:
  name: payments
  title: Payments
  description: Takes the money.
  links:
    - {title: On-call schedule, url: "https://oncall.example.com/payments", type: docs}
spec:
  lead: person:dana-lee
  members: [person:dana-lee, person:omar-haddad]
  parent: team:engineering
  channel: "#payments"
  email: payments@example.com
---
apiVersion: opsbot/v1
kind: Team
metadata: {name: engineering, title: Engineering}
spec: {lead: person:ruth-bauer, members: [person:ruth-bauer], channel: "#eng"}
---
apiVersion: opsbot/v1
kind: Team
metadata: {name: search, title: Search}
spec: {channel: "#search"}
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: dana-lee, title: Dana Lee, description: Payments manager.}
spec:
  slack: U0DANA0001
  email: dana.lee@example.com
  roles: [role:backend-engineer]
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: omar-haddad, title: Omar Haddad}
spec: {slack: U0OMAR0001, member_of: [team:search]}
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: ruth-bauer, title: Ruth Bauer}
spec: {}
---
apiVersion: opsbot/v1
kind: Role
metadata: {name: backend-engineer, title: Backend engineer, description: Builds services.}
spec: {responsibilities: [Build services]}
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: billing-service
  title: Billing service
  description: Charges customers every month.
  links:
    - {title: Billing runbook, url: "https://wiki.example.com/billing/runbook", type: runbook}
    - {title: Billing board, url: "https://grafana.example.com/billing", type: dashboard}
    - {title: Billing source, url: "https://git.example.com/billing", type: repo}
spec:
  owner: team:payments
  backup: person:omar-haddad
  channel: "#billing"
  oncall: https://oncall.example.com/billing
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: invoice-exporter
  title: Invoice exporter
  description: Sends invoices to accounting.
  links:
    - {title: Exporter guide, url: "https://docs.example.com/exporter", type: docs}
spec: {owner: team:payments}
---
apiVersion: opsbot/v1
kind: Area
metadata: {name: deploy-bot, title: Deploy bot, description: Deploys from chat.}
spec: {owner: person:dana-lee}
---
apiVersion: opsbot/v1
kind: Area
metadata:
  name: search-indexer
  title: Search indexer
  links:
    - {title: Indexer runbook, url: "https://wiki.example.com/indexer", type: runbook}
spec: {owner: team:search}
---
apiVersion: opsbot/v1
kind: Area
metadata: {name: ledger-sync, title: Ledger sync, aliases: [ledger]}
spec: {owner: team:payments}
---
apiVersion: opsbot/v1
kind: Area
metadata: {name: ledger-archive, title: Ledger archive, aliases: [ledger]}
spec: {owner: team:engineering}
---
apiVersion: opsbot/v1
kind: FAQ
metadata: {name: refund, title: Billing service refunds}
spec:
  questions: [How do I refund a customer?, How can I give a customer their money back?]
  answer: Open the billing service admin page, find the billing service invoice, refund it.
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    root = tmp_path_factory.mktemp("harbor")
    (root / "harbor.yaml").write_text(textwrap.dedent(HARBOR))
    return AnswerEngine(require_knowledge(root, today=TODAY))


def asked(engine: AnswerEngine, question: str) -> tuple[str, str | None, str | None]:
    answer = engine.answer(question)
    return answer.intent, None if answer.entity is None else str(answer.entity), answer.detail


# -- 1. specific facts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "intent", "entity", "detail", "lead"),
    [
        ("who's the backup for the billing service?", "owner", "area:billing-service", "backup",
         "The backup for Billing service is Omar Haddad."),
        ("billing service backup", "owner", "area:billing-service", "backup",
         "The backup for Billing service is Omar Haddad."),
        ("who is on call for the billing service", "owner", "area:billing-service", "oncall",
         "On call for Billing service: https://oncall.example.com/billing."),
        ("who do I page for billing service?", "owner", "area:billing-service", "oncall",
         "On call for Billing service:"),
        ("what's the channel for the billing service", "owner", "area:billing-service",
         "channel", "Billing service's channel is #billing."),
        ("where do I ask about the invoice exporter?", "owner", "area:invoice-exporter",
         "channel", "Ask about Invoice exporter in #payments, the channel of Payments."),
        ("email for the invoice exporter", "owner", "area:invoice-exporter", "email",
         "E-mail about Invoice exporter: payments@example.com (Payments)."),
        ("who is the lead for the billing service", "owner", "area:billing-service", "lead",
         "The lead of Payments, the owner of Billing service, is Dana Lee."),
        ("what's the e-mail of the payments team?", "definition", "team:payments", "email",
         "Payments' e-mail is payments@example.com."),
        ("which slack channel for payments?", "definition", "team:payments", "channel",
         "Payments' channel is #payments."),
        ("who leads payments", "definition", "team:payments", "lead",
         "Payments' lead is Dana Lee."),
        ("who is on call for payments", "definition", "team:payments", "oncall",
         "On call for Payments: https://oncall.example.com/billing; "
         "On-call schedule: https://oncall.example.com/payments."),
        ("which team is Omar on?", "definition", "person:omar-haddad", "member_of",
         "Omar Haddad is on Payments and Search."),
        ("Dana Lee's team?", "definition", "person:dana-lee", "member_of",
         "Dana Lee is on Payments (lead)."),
        ("what is Dana's role", "definition", "person:dana-lee", "role",
         "Dana Lee's role: Backend engineer."),
        ("what's Dana Lee's email?", "definition", "person:dana-lee", "email",
         "Dana Lee's e-mail is dana.lee@example.com."),
        ("who is on the payments team", "members", "team:payments", "members",
         "Payments has 2 members: Dana Lee (lead), Omar Haddad."),
        ("runbook for the billing service", "links", "area:billing-service", "runbook",
         "Billing service's runbook: Billing runbook: https://wiki.example.com/billing/runbook."),
        ("where is the dashboard for billing service?", "links", "area:billing-service",
         "dashboard", "Billing service's dashboard: Billing board:"),
        ("billing service repo", "links", "area:billing-service", "repo",
         "Billing service's repo: Billing source:"),
        ("docs for the invoice exporter", "links", "area:invoice-exporter", "docs",
         "Invoice exporter's docs: Exporter guide:"),
        ("what does the billing service do?", "definition", "area:billing-service",
         "description", "Billing service (area): Charges customers every month."),
        ("what is the invoice exporter for?", "definition", "area:invoice-exporter",
         "description", "Invoice exporter (area): Sends invoices to accounting."),
        ("how many people are on the payments team?", "members", "team:payments", "members",
         "Payments has 2 members"),
        ("who should I page if the billing service is down?", "owner", "area:billing-service",
         "oncall", "On call for Billing service:"),
        ("who's on call for billing service this week?", "owner", "area:billing-service",
         "oncall", "On call for Billing service:"),
        ("which group is Omar part of?", "definition", "person:omar-haddad", "member_of",
         "Omar Haddad is on Payments and Search."),
        ("who does Omar report to?", "definition", "person:omar-haddad", "lead",
         "Payments is led by Dana Lee; Search has no lead recorded."),
        ("what does Dana do?", "definition", "person:dana-lee", "role",
         "Dana Lee's role: Backend engineer."),
        # real words are not typos of pattern words ("line" is not "link")
        ("who is second in line for the billing service?", "owner", "area:billing-service",
         "backup", "The backup for Billing service is Omar Haddad."),
        ("who else knows the billing service", "owner", "area:billing-service", "backup",
         "The backup for Billing service is Omar Haddad."),
        ("where do people discuss the invoice exporter", "owner", "area:invoice-exporter",
         "channel", "Ask about Invoice exporter in #payments"),
    ],
)  # fmt: skip
def test_specific_questions_lead_with_the_fact(
    engine: AnswerEngine, question: str, intent: str, entity: str, detail: str, lead: str
) -> None:
    """A question for one fact gets that fact first, the contract's intent and its detail."""
    answer = engine.answer(question)
    assert (answer.intent, str(answer.entity), answer.detail) == (intent, entity, detail)
    assert answer.text.startswith(lead), answer.text
    assert answer.confidence >= engine.threshold
    assert answer.to_json()["detail"] == detail


@pytest.mark.parametrize(
    ("question", "lead"),
    [
        ("who is the backup for the invoice exporter?",
         "The knowledge has no backup for Invoice exporter; its owner is Payments (#payments)."),
        ("who is on call for the invoice exporter",
         "The knowledge has no on-call for Invoice exporter; its owner is Payments (#payments)."),
        ("what's Omar Haddad's email?", "The knowledge has no e-mail for Omar Haddad."),
        ("what is Omar's role", "The knowledge has no role for Omar Haddad."),
        ("runbook for the invoice exporter",
         "The knowledge has no runbook for Invoice exporter. Ask Payments (#payments)."),
        ("who leads search?", "The knowledge has no lead for Search."),
    ],
)  # fmt: skip
def test_a_missing_fact_is_said_honestly(engine: AnswerEngine, question: str, lead: str) -> None:
    """A fact the knowledge lacks is said to be missing, with whom to ask instead."""
    answer = engine.answer(question)
    assert answer.intent != "unknown"
    assert answer.text.startswith(lead), answer.text


def test_general_questions_have_no_detail(engine: AnswerEngine) -> None:
    """A general question names no one fact: `detail` is null, the answer as before."""
    for question in ("who owns the billing service?", "what is the invoice exporter"):
        answer = engine.answer(question)
        assert answer.detail is None and answer.to_json()["detail"] is None
    assert engine.answer("who owns the billing service?").text.startswith(
        "Billing service is owned by Payments (#payments)."
    )


def test_a_person_owns_directly_and_through_teams_kept_apart(engine: AnswerEngine) -> None:
    """What a person owns is told apart from what the teams they lead or are on own."""
    answer = engine.answer("what does Dana Lee own?")
    assert (answer.intent, str(answer.entity)) == ("owns", "person:dana-lee")
    assert answer.text == (
        "Dana Lee owns Deploy bot directly. Through their teams: Payments, which Dana Lee "
        "leads, owns Billing service, Invoice exporter, Ledger sync."
    )
    omar = engine.answer("what does Omar Haddad own?").text
    assert omar.startswith("Omar Haddad owns nothing directly. Through their teams: Payments")
    assert "Search owns Search indexer" in omar
    assert omar.endswith("Backup for: Billing service.")


def test_slack_shows_the_fact_first(engine: AnswerEngine) -> None:
    """In Slack the fact asked for is the first block, with a real mention."""
    renderer = SlackRenderer(engine.knowledge)
    answer = engine.answer("who is the backup for the billing service")
    _, blocks = renderer.reply(reply_of(answer), shareable=True)
    assert blocks[0]["text"]["text"] == "The backup for *Billing service* is <@U0OMAR0001>"
    share = [e for b in blocks if b["type"] == "actions" for e in b["elements"]][-1]
    assert share["value"] == "pick|owner|area:billing-service|backup"
    runbook = engine.answer("dashboard for the billing service")
    _, blocks = renderer.reply(reply_of(runbook))
    assert blocks[0]["text"]["text"].startswith("Dashboard for *Billing service*")
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if "url" in e]
    assert buttons[0]["url"] == "https://grafana.example.com/billing"  # the one asked, first


def test_slack_person_owns_lists_teams_apart(engine: AnswerEngine) -> None:
    """In Slack, what a person owns and what their teams own are separate lines."""
    _, blocks = SlackRenderer(engine.knowledge).reply(
        reply_of(engine.answer("what does Dana Lee own?"))
    )
    shown = json.dumps(blocks)
    assert "_Directly:_\\n\\u2022 Deploy bot" in shown
    assert "_Through_ *Payments* (lead): Billing service, Invoice exporter, Ledger sync" in shown


def reply_of(answer: Answer) -> Reply:
    return Reply(text=answer.text, answer=answer, question_uid="q1")


# -- 2. ambiguous or underspecified: ask back ---------------------------------------------


@pytest.mark.parametrize(
    ("question", "detail"),
    [("what's the runbook", "runbook"), ("who owns it", None), ("the backup?", "backup"),
     ("who's their lead?", "lead"), ("dashboard", "dashboard")],
)  # fmt: skip
def test_a_question_without_a_subject_is_asked_back(
    engine: AnswerEngine, question: str, detail: str | None
) -> None:
    """A question naming nothing gets a short question back, never some entity's answer."""
    answer = engine.answer(question)
    assert (answer.intent, answer.entity, answer.detail) == ("unknown", None, detail)
    assert answer.text.startswith("Which one do you mean?")
    assert answer.confidence < engine.threshold


def test_two_equally_likely_entities_are_asked_back(engine: AnswerEngine) -> None:
    """Two entities as likely get "which one?" with both as suggestions, never a guess."""
    for question in ("who owns the ledger?", "ledger", "what is the ledger"):
        answer = engine.answer(question)
        assert answer.intent == "unknown", question
        assert set(answer.suggestions) == {
            Ref(kind="area", name="ledger-sync"),
            Ref(kind="area", name="ledger-archive"),
        }
        assert answer.text in (
            "Which one do you mean: Ledger sync or Ledger archive?",
            "Which one do you mean: Ledger archive or Ledger sync?",
        )
        assert answer.confidence < engine.threshold
    assert asked(engine, "who owns the ledger sync?") == ("owner", "area:ledger-sync", None)


@pytest.mark.parametrize(
    ("question", "intent", "entity", "detail"),
    [("billing service", "definition", "area:billing-service", None),
     ("billing service: who is the backup?", "owner", "area:billing-service", "backup"),
     ("the ledger: who owns it?", "unknown", None, None),
     ("how can I give a customer their money back?", "faq", "faq:refund", None)],
)  # fmt: skip
def test_topic_and_question_in_two_clauses(
    engine: AnswerEngine, question: str, intent: str, entity: str | None, detail: str | None
) -> None:
    """A name is the entity, not an FAQ mentioning it; a subject in one clause and its
    question in another are answered together, but never by guessing between two."""
    assert asked(engine, question) == (intent, entity, detail)


async def test_a_pick_from_a_question_back_answers_what_was_asked(engine: AnswerEngine) -> None:
    """A runbook question asked back offers buttons that answer with the picked runbook."""
    answer = engine.answer("where's the runbook for the ledger?")
    assert (answer.intent, answer.detail, answer.asked) == ("unknown", "runbook", "links")
    _, blocks = SlackRenderer(engine.knowledge).reply(reply_of(answer))
    picks = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert all(e["action_id"].startswith(ACTION_PICK) for e in picks)
    values = {e["value"] for e in picks}
    assert "pick|links|area:ledger-sync|runbook" in values
    origin = Origin(platform="slack", user="U1", channel="C1")
    event = parse_payload("pick|links|area:ledger-sync|runbook", origin)
    assert event == Pick(origin=origin, intent="links", ref=Ref(kind="area", name="ledger-sync"),
                         detail="runbook")  # fmt: skip
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())
    reply = await handlers.handle(event)
    assert reply.answer is not None
    assert (reply.answer.intent, reply.answer.detail) == ("links", "runbook")
    assert reply.text.startswith("The knowledge has no runbook for Ledger sync.")


def test_pick_payloads_with_and_without_a_detail() -> None:
    """A pick carries its detail; older payloads without one still parse; a bad one does not."""
    origin = Origin(platform="slack")
    ref = Ref(kind="area", name="billing-service")
    assert pick_payload("owner", ref, "backup") == "pick|owner|area:billing-service|backup"
    assert parse_payload("pick|owner|area:billing-service", origin) == Pick(
        origin=origin, intent="owner", ref=ref
    )
    assert parse_payload("pick|owner|area:billing-service|salary", origin) is None
    assert parse_payload("pick|owner|area:billing-service|backup|x", origin) is None


# -- the threshold is the one bar -----------------------------------------------------------

SAMPLE = load_knowledge(ROOT / "knowledge", today=TODAY).knowledge
_NAMES = sorted({e.title for e in SAMPLE} | {a for e in SAMPLE for a in e.aliases})
_WORDS = sorted({w for name in _NAMES for w in name.lower().split()} | {
    "how", "do", "i", "get", "a", "new", "laptop", "who", "owns", "the", "runbook", "what",
    "is", "backup", "for", "on", "call", "team", "email", "channel", "access", "key", "it",
})  # fmt: skip
_TEMPLATES = (
    "{}", "who owns {}?", "what is {}", "runbook for {}", "how do I {}?",
    "who is the backup for {}", "which team is {} on", "{} channel", "and {}?",
)  # fmt: skip

questions = st.one_of(
    st.sampled_from(["and the runbook?", "who owns it", "who's their lead?", "the backup?"]),
    st.builds(lambda t, n: t.format(n), st.sampled_from(_TEMPLATES), st.sampled_from(_NAMES)),
    st.builds(
        lambda t, ws: t.format(" ".join(ws)),
        st.sampled_from(_TEMPLATES),
        st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6),
    ),
    st.text(max_size=40),
)


_REFS = sorted(SAMPLE.entities)


@settings(max_examples=300, deadline=None)
@given(
    question=questions,
    threshold=st.sampled_from([0.5, 0.6, 0.75, 0.95]),
    about=st.one_of(st.none(), st.sampled_from(_REFS)),
)
def test_every_known_answer_meets_the_threshold(
    question: str, threshold: float, about: Ref | None
) -> None:
    """Any question, with or without a conversation's subject: a known answer has
    confidence >= threshold, an unknown one below it."""
    answer = _engines(threshold).answer(question, about=about)
    if answer.intent == "unknown":
        assert answer.confidence < threshold
    else:
        assert answer.confidence >= threshold


_BY_THRESHOLD: dict[float, AnswerEngine] = {}


def _engines(threshold: float) -> AnswerEngine:
    if threshold not in _BY_THRESHOLD:
        _BY_THRESHOLD[threshold] = AnswerEngine(SAMPLE, threshold=threshold)
    return _BY_THRESHOLD[threshold]


@pytest.mark.parametrize(
    "question", ["how do I get a new laptop", "how do I submit an expense report?"]
)
def test_weak_faq_matches_are_not_answered(question: str) -> None:
    """A how-to question that shares a word or two with an FAQ is not given that FAQ."""
    answer = _engines(0.6).answer(question)
    assert (answer.intent, answer.entity) == ("unknown", None)


@pytest.mark.parametrize(
    ("question", "entity"),
    [
        ("where do I ask about the recommendation model?", "area:recommendation-model"),
        ("where do I ask about model monitoring?", "area:model-monitoring"),
    ],
)
def test_a_fact_of_a_named_entity_beats_a_how_to_faq_sharing_a_word(
    question: str, entity: str
) -> None:
    """ "where do I ask about X" is X's channel, not an FAQ that shares the word "model"."""
    answer = _engines(0.6).answer(question)
    assert (answer.intent, str(answer.entity), answer.detail) == ("owner", entity, "channel")


def test_common_words_are_not_corrected_but_typos_are() -> None:
    from bot.answers.intents import clean, correct

    assert correct(clean("who is second in line for x"), lambda w: False).split()[4] == "line"
    assert correct(clean("runbok for x"), lambda w: False).startswith("runbook")
