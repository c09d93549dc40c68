"""Nothing a person typed, nor any text of the knowledge, reaches Slack as live markup.

A property over every reply the bot can build: hostile text (broadcasts, mentions,
channel and disguised links, entities, formatting characters, arbitrary unicode) goes in
everywhere a person or the knowledge can put text, and every string Slack would show
(`text`, mrkdwn and plain_text objects, labels, titles, views, file titles) must carry
no `<...>` control sequence but the ones the bot means: the mentions and channels of the
knowledge's own IDs and the links its Markdown names.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers import AnswerEngine
from bot.checkins.reports import report_text
from bot.checkins.schedule import Answered, summarise
from bot.checkins.service import CheckinService
from bot.events import (
    INTENTS,
    Answer,
    Command,
    Message,
    Origin,
    Pick,
    Reply,
    answer_payload,
    feedback_payload,
)
from bot.handlers import SUB_COMMANDS, Handlers
from bot.kb.knowledge import Knowledge
from bot.model import (
    CheckInQuestion,
    CheckInSpec,
    Entity,
    FAQSpec,
    Link,
    OwnableSpec,
    PersonSpec,
    PracticeSpec,
    Ref,
    RoleSpec,
    Source,
    Spec,
    TeamSpec,
    TermSpec,
)
from bot.ports import NudgeMessage
from bot.slack import markup as mk
from bot.slack.adapter import SlackAdapter
from bot.slack.blocks import FALLBACK_TEXT, SlackRenderer, reply_mrkdwn
from bot.slack.messenger import nudge_message, report_message, text_view
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from bot.styled import Span, Style, Styled
from tests.fakes import FakeClock, MemoryQuestionLog
from tests.slack_env import BOT_TOKEN, SECRET, checkin_adapter
from tests.slack_fake import (
    Call,
    FakeSlack,
    action_body,
    event_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from tests.test_rounds import ALICE, CAROL, KNOWLEDGE, MONDAY_10_NEW_YORK, SUNDAY

# -- hostile text ---------------------------------------------------------------------------

#: Everything Slack would read as a control sequence or formatting, and look-alikes.
TOKENS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<!subteam^S0EVIL>",
    "<!date^1392734382^{date}|x>",
    "<@U0EVIL>",
    "<@U0EVIL|the boss>",
    "<#C0EVIL>",
    "<#C0EVIL|general>",
    "<http://evil.example|your bank>",
    "<https://evil.example>",
    "<mailto:a@evil.example|mail>",
    "[click](https://evil.example)",
    "&lt;!channel&gt;",
    "&amp;",
    "&",
    "<",
    ">",
    "|",
    "*bold*",
    "**b**",
    "_it_",
    "~st~",
    "`code`",
    "```",
    "> quote",
    "\n",
    ":tada:",
    "\u202eevil",
    "é🌊",
)
#: The knowledge is Markdown: its own links are meant, so hostile knowledge leaves them out.
LINKS = ("<https://evil.example>", "[click](https://evil.example)")


def hostile(tokens: tuple[str, ...] = TOKENS, *, max_size: int = 6) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(tokens), st.text(max_size=6))
    return st.lists(piece, min_size=1, max_size=max_size).map("".join)


EVERY_TOKEN = "".join(TOKENS)
KB_TOKENS = tuple(t for t in TOKENS if t not in LINKS)
EVERY_KB_TOKEN = "".join(KB_TOKENS)
STYLES: tuple[Style, ...] = get_args(Style)
typed = hostile()

# -- the property ---------------------------------------------------------------------------

#: The mentions and channels the test knowledge holds IDs for: the only ones allowed.
DELIBERATE = ("<@U0ANN0001>", "<#C0123ABCD>")
#: Links named by the knowledge's Markdown (all on its own host), with an escaped label.
_DELIBERATE_LINK = re.compile(r"<https://x\.example\.com/[^\s<>|&]*(?:\|([^<>]*))?>")
#: A control character left over: any `<` or `>`, and an `&` that begins no entity.
_LIVE = re.compile(r"[<>]|&(?!amp;|lt;|gt;)")
#: Where Slack shows text: `text` (top level and text objects), file titles and comments.
_SHOWN = frozenset({"text", "title", "initial_comment", "alt_text"})
#: Parameters that Slack receives JSON-encoded.
_JSON_PARAMS = ("blocks", "view", "files", "attachments")


def shown(payload: object) -> Iterator[str]:
    """Every string of a payload that Slack would show to someone."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in _SHOWN and isinstance(value, str):
                yield value
            else:
                yield from shown(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from shown(item)


def live_markup(text: str) -> list[str]:
    """What in `text` Slack would read as markup the bot did not mean."""
    rest = text
    for mention in DELIBERATE:
        rest = rest.replace(mention, "")
    rest = _DELIBERATE_LINK.sub(lambda m: m.group(1) or "", rest)
    return _LIVE.findall(rest)


def assert_nothing_live(payload: object, where: str = "") -> None:
    texts = list(shown(payload))
    assert texts, f"nothing shown in {where}"
    for text in texts:
        assert not live_markup(text), f"live markup in {where}: {text!r}"


def call_payload(call: Call) -> dict[str, Any]:
    """A call's parameters with the JSON-encoded ones decoded."""
    params = dict(call.params)
    for name in _JSON_PARAMS:
        if isinstance(params.get(name), str):
            params[name] = json.loads(params[name])
    return params


def assert_no_call_live(calls: list[Call]) -> None:
    texts = [(call.method, text) for call in calls for text in shown(call_payload(call))]
    assert texts, "nothing was shown in Slack"
    for method, text in texts:
        assert not live_markup(text), f"live markup in {method}: {text!r}"


# -- every reply the renderer, the messenger and the modal build ---------------------------

ORIGIN = Origin(platform="slack", user="U0ANN0001", channel="C1")
#: Links the knowledge's Markdown means, on its own host: the only links allowed live.
MEANT_LINKS = " see [the runbook](https://x.example.com/run) or <https://x.example.com/auto>"
SETTINGS = settings(max_examples=40, deadline=None)


def ref(text: str) -> Ref:
    return Ref.parse(text, default_kind="area")


def hostile_knowledge(t: list[str]) -> Knowledge:
    """A small organisation whose every text field is hostile (`t` is cycled through)."""
    text = itertools.cycle(t)
    md = next(text) + MEANT_LINKS
    source = Source(file=f"kb/{next(text)}.yaml", line=1)

    def entity(name: str, spec: Spec, **fields: Any) -> Entity:
        return Entity(ref=ref(name), title=next(text), spec=spec, source=source, **fields)

    questions = (
        CheckInQuestion(id="a", text=next(text), type="choice", options=(next(text), next(text))),
        CheckInQuestion(id="b", text=next(text), type="scale"),
        CheckInQuestion(id="c", text=next(text), type="text"),
    )
    links = (
        Link(title=next(text), url="https://x.example.com/run"),
        Link(title=next(text), url="javascript:x"),
    )
    return Knowledge.of([
        entity("team:platform", TeamSpec(members=(ref("person:ann"),), lead=ref("person:ann"),
               channel="C0123ABCD"), description=md),
        entity("team:other", TeamSpec(members=(ref("person:mallory"),), channel=next(text),
               lead=ref("person:mallory"))),
        entity("person:ann", PersonSpec(slack="U0ANN0001", member_of=(ref("team:platform"),))),
        entity("person:mallory", PersonSpec(slack=next(text), roles=(ref("role:admin"),))),
        entity("area:billing", OwnableSpec(owner=ref("team:platform"), backup=ref("person:ann"),
               channel=next(text), oncall=next(text), reviewed=date(2026, 11, 1)),
               description=md, links=links),
        entity("area:ledger", OwnableSpec(owner=ref("team:other"), backup=ref("person:mallory")),
               description=md),
        entity("practice:review", PracticeSpec(discipline=next(text), owner=ref("team:other")),
               description=md),
        entity("role:admin", RoleSpec(responsibilities=(next(text),), skills=(next(text),),
               contact=ref("person:mallory")), description=md),
        entity("term:drift", TermSpec(see_also=(ref("area:billing"),)), description=md),
        entity("faq:how", FAQSpec(answer=md, questions=(next(text),))),
        entity("checkin:pulse", CheckInSpec(schedule="0 10 * * MON", timezone="UTC",
               audience=(ref("team:platform"),), questions=questions, report_to="#pulse")),
    ])  # fmt: skip


def rendered(renderer: SlackRenderer, reply: Reply) -> dict[str, Any]:
    text, blocks = renderer.reply(reply, shareable=True)
    return {"text": text, "blocks": blocks}


@SETTINGS
@given(texts=st.lists(hostile(KB_TOKENS), min_size=1, max_size=4), question=typed)
@example(texts=[EVERY_KB_TOKEN], question=EVERY_TOKEN)
def test_every_answer_and_home_tab_shows_text_as_text(texts: list[str], question: str) -> None:
    """Answers about every entity by every intent, questions, help and App Home: no live markup."""
    knowledge = hostile_knowledge(texts)
    engine = AnswerEngine(knowledge)
    handlers = Handlers(answers=lambda: engine, questions=MemoryQuestionLog(), clock=FakeClock())
    renderer = SlackRenderer(knowledge)
    events: list[Any] = [
        Pick(origin=ORIGIN, intent=intent, ref=entity.ref)
        for entity in knowledge
        for intent in INTENTS
        if intent != "unknown"
    ]
    events += [Message(origin=ORIGIN, text=question), Command(origin=ORIGIN, text=question)]
    events += [Command(origin=ORIGIN, text=f"{sub} {question}") for sub in SUB_COMMANDS]
    events += [Command(origin=ORIGIN, text=sub) for sub in (*SUB_COMMANDS, "help")]
    for event in events:
        assert_nothing_live(rendered(renderer, handlers.respond(event).reply), str(event))
    refs = tuple(entity.ref for entity in knowledge)
    unknown = Answer(intent="unknown", entity=None, confidence=0.0, text=question, suggestions=refs)
    assert_nothing_live(rendered(renderer, Reply(text=question, answer=unknown)), "unknown")
    gone = Answer(intent="owner", entity=ref("area:gone"), confidence=1.0, text=question)
    assert_nothing_live(rendered(renderer, Reply(text=question, answer=gone)), "gone")
    for user in ("U0ANN0001", "U0NOBODY1"):
        assert_nothing_live(renderer.home(user, [(t, t) for t in texts]), "App Home")


@SETTINGS
@given(texts=st.lists(hostile(KB_TOKENS), min_size=1, max_size=4), answers=st.lists(typed))
@example(texts=[EVERY_KB_TOKEN], answers=[EVERY_TOKEN])
def test_every_nudge_modal_and_report_shows_text_as_text(
    texts: list[str], answers: list[str]
) -> None:
    """Nudges, reminders, the answer modal and channel reports: no live markup."""
    checkin = hostile_knowledge(texts).entities[ref("checkin:pulse")]
    spec = checkin.spec
    assert isinstance(spec, CheckInSpec)
    for reminder in (False, True):
        message = NudgeMessage(key="k", round_id=1, user="U0ANN0001", title=checkin.title,
                               questions=spec.questions, reminder=reminder)  # fmt: skip
        text, blocks = nudge_message(message)
        assert_nothing_live({"text": text, "blocks": blocks}, "nudge")
    for question in spec.questions:
        assert_nothing_live(text_view(question.text, "checkin|1|c|"), "modal")
    choice, scale, free = spec.questions
    given_answers = [
        Answered(person=f"person:p{i}", question=q.id, value=value)
        for i, text in enumerate(answers)
        for q, value in ((choice, choice.options[i % 2]), (scale, "3"), (free, text))
    ]
    people = [f"person:p{i}" for i in range(len(answers) + 1)]
    summary = summarise(spec, texts[0], people, given_answers)
    for anonymous in (False, True):
        text, blocks = report_message(
            report_text(checkin.title, summary, [summary], anonymous=anonymous)
        )
        assert_nothing_live({"text": text, "blocks": blocks}, "report")


@SETTINGS
@given(pieces=st.lists(st.tuples(typed, st.sampled_from(STYLES))), plain_text=typed)
@example(pieces=[(EVERY_TOKEN, style) for style in STYLES], plain_text=EVERY_TOKEN)
def test_every_styled_reply_shows_text_as_typed(
    pieces: list[tuple[str, Style]], plain_text: str
) -> None:
    """Replies of plain or styled text reach Slack escaped; plain ones read as typed."""
    styled = Styled.of(tuple(Span(text=text, style=style) for text, style in pieces))
    for reply in (Reply(text=plain_text), Reply.of(styled, kind="checkin")):
        shown_text = reply_mrkdwn(reply)
        assert_nothing_live({"text": shown_text}, "reply")
        if len(shown_text) < FALLBACK_TEXT and reply.styled is None:
            assert as_slack_shows(shown_text) == plain_text


@SETTINGS
@given(
    parts=st.lists(
        st.one_of(
            typed.map(mk.escape),
            st.sampled_from([mk.user("U0ANN0001"), mk.channel("C0123ABCD")]).map(str),
            typed.map(lambda label: mk.link("https://x.example.com/run", label)),
        )
    ),
    limit=st.integers(min_value=0, max_value=120),
)
def test_a_cut_never_opens_markup_or_splits_an_entity(parts: list[str], limit: int) -> None:
    """Text cut to a limit keeps whole entities, mentions and links, or drops them."""
    whole = mk.Mrkdwn("".join(parts))
    cut = mk.cut(whole, limit, mk.ours("(more)"))
    assert len(cut) <= max(limit, len("… (more)")) or cut == whole
    assert not live_markup(cut)


def as_slack_shows(text: str) -> str:
    """What Slack shows for escaped text: its three entities decoded, nothing else."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- end to end: typed text through the Slack adapter and the fake Slack ---------------------

ADMIN = ALICE  # role:opsbot-admin in the check-in knowledge


def with_hostile_checkins(knowledge: Knowledge, text: str) -> Knowledge:
    """The knowledge with `text` in front of every check-in's title and question."""

    def spiked(entity: Entity) -> Entity:
        if not isinstance(entity.spec, CheckInSpec):
            return entity
        questions = tuple(replace(q, text=f"{text} {q.text}") for q in entity.spec.questions)
        spec = replace(entity.spec, questions=questions)
        return replace(entity, title=f"{text} {entity.title}", spec=spec)

    return Knowledge.of(spiked(entity) for entity in knowledge)


#: (Without the emoji, which the chart's font lacks: a warning, not a failure.)
E2E_KNOWLEDGE = with_hostile_checkins(KNOWLEDGE, EVERY_KB_TOKEN.replace("🌊", ""))
FORM = "application/x-www-form-urlencoded"


@dataclass
class World:
    slack: FakeSlack
    clock: FakeClock
    service: CheckinService
    adapter: SlackAdapter
    round_id: int = 0
    seq: Iterator[int] = field(default_factory=itertools.count)

    async def post(self, body: bytes, content_type: str = FORM) -> Any:
        result = await self.adapter.http(body, {"Content-Type": content_type, **sign(body, SECRET)})
        await self.adapter.drain(5)
        assert result.status == 200, result
        return json.loads(result.body) if result.body.startswith("{") else {}

    async def command(self, text: str, user: str = ADMIN) -> Any:
        name = f"r{next(self.seq)}"
        return await self.post(
            slash_command_body(text, user, response_url=self.slack.response_url(name))
        )

    async def message(self, text: str) -> None:
        ts = f"1700000000.{next(self.seq):06d}"
        event = {"type": "message", "channel_type": "im", "channel": "D0ALICE", "user": ALICE,
                 "text": text, "ts": ts}  # fmt: skip
        await self.post(event_body(event, event_id=f"Ev{ts}"), "application/json")

    async def text_answer(self, text: str, user: str = ALICE, round_id: int | None = None) -> None:
        payload = answer_payload(round_id or self.round_id, "blockers", "")
        values = {"answer": {"value": {"type": "plain_text_input", "value": text}}}
        await self.post(
            view_submission_body("checkin_text", values, user, private_metadata=payload)
        )

    async def click(self, value: str) -> None:
        name = f"c{next(self.seq)}"
        await self.post(
            action_body("ops_vote_up", value, ALICE, response_url=self.slack.response_url(name))
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with (
        FakeSlack() as slack,
        open_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}") as engine,
    ):
        await upgrade(engine)
        clock = FakeClock(SUNDAY)
        # slack_sdk's own client: no pacing (one post a second per channel) to wait for.
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
        service, adapter = checkin_adapter(engine, E2E_KNOWLEDGE, client, clock)
        world = World(slack=slack, clock=clock, service=service, adapter=adapter)
        await service.tick()
        clock.current = MONDAY_10_NEW_YORK
        await service.tick()
        nudge = next(c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ALICE)
        world.round_id = int(nudge.json("blocks")[2]["elements"][0]["value"].split("|")[1])
        yield world


E2E = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@E2E
@given(text=typed)
@example(text=EVERY_TOKEN)
async def test_typed_text_comes_back_escaped_on_every_path(world: World, text: str) -> None:
    """Commands, questions, clicks and check-in answers never echo live markup to Slack."""
    start = len(world.slack.calls)
    acks = [await world.command(text), await world.command(f"who-owns {text}")]
    for sub in ("report", "run", "pause", "resume", "export", "list", "frobnicate"):
        acks.append(await world.command(f"checkin {sub} {text}"))
    await world.message(text)
    await world.click(feedback_payload(text, True))
    await world.text_answer(text)
    for ack in acks:
        assert_nothing_live(ack, "the ack")
    calls = world.slack.calls[start:]
    replies = [c for c in calls if c.method.startswith("response_url:")]
    posts = [c for c in calls if c.method == "chat.postMessage"]
    assert len(replies) >= 8 and len(posts) >= 2  # the check-in commands and the vote; 2 DMs
    assert_no_call_live(calls)


async def test_text_answers_come_back_escaped_in_every_report(world: World) -> None:
    """Nudges, `/ops checkin report`, App Home and the channel report (text, blocks, chart
    titles) show the check-in's texts and people's answers as written."""
    for person, text in ((ALICE, EVERY_TOKEN), ("U0BOB0001", "<!here> & <@U0EVIL>")):
        await world.text_answer(text, person)
    start = len(world.slack.calls)
    await world.command("checkin report weekly", user=CAROL)
    home = {"type": "app_home_opened", "user": CAROL, "channel": "D1", "tab": "home"}
    await world.post(event_body(home), "application/json")
    world.clock.current += timedelta(days=3)
    await world.service.tick()
    calls = world.slack.calls[start:]
    reports = [c for c in calls if c.params.get("channel") == "#mlops-practices"]
    assert len(reports) == 1 and "&lt;!here&gt; &amp; &lt;@U0EVIL&gt;" in reports[0].params["text"]
    assert len([c for c in calls if c.method == "files.completeUploadExternal"]) == 2
    assert len([c for c in calls if c.method == "views.publish"]) == 1
    assert_no_call_live(world.slack.calls)  # the nudges and reminders too


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Here!", "hi @channel."])
def test_broadcast_words_stay_plain_words(word: str) -> None:
    """Typed @channel, @here and @everyone reach Slack with a word joiner after the @."""
    shown = mk.escape(word)
    assert re.search(r"@(channel|here|everyone)\b", shown, re.IGNORECASE) is None
    assert shown.replace("\N{WORD JOINER}", "") == word


def test_other_at_words_are_untouched() -> None:
    """An e-mail address or @handle is shown exactly as typed."""
    assert mk.escape("ana@example.com @channels @hereford") == "ana@example.com @channels @hereford"
