"""The weekly knowledge gaps digest: when it falls due, what it says, posted exactly once
across replicas, restarts and crashes (real SQL stores on SQLite and PostgreSQL, a
recording messenger), and the suggestions people make from it."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.answers import AnswerEngine
from bot.answers.picker import choices
from bot.config import load_settings
from bot.errors import ConfigError, StorageError
from bot.events import Origin, Suggest
from bot.gaps import DigestSchedule, GapService
from bot.gaps.digest import CONSOLE_HOW, as_text, due, scheduled_key
from bot.gaps.service import ADMINS_ONLY, NO_ITEM, NOT_SAVED, NOTHING
from bot.gaps.suggestions import KINDS, MAX_ANSWER, alias_for, find_entity
from bot.kb import Knowledge, load_knowledge
from bot.model import Entity, Ref, Source, TermSpec
from bot.ports import DigestMessage, Vote
from bot.storage.migrate import upgrade
from bot.storage.store import SqlStore
from bot.storage.suggestions import SqlDigestStore
from tests.fakes import FakeClock, RecordingMessenger, _Crash, asked

MINI = Path(__file__).parent / "data" / "mini"
KNOWLEDGE = load_knowledge(MINI, today=date(2026, 11, 30)).knowledge
ENGINE = AnswerEngine(KNOWLEDGE)
ALICE = "U01ALICE01"  # person:alice in the mini knowledge
#: Monday 30 November 2026, 09:00 in London (GMT: the same in UTC).
MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WEEKLY = DigestSchedule(cron="0 9 * * 1", zone="Europe/London")
KNOW = "C0KNOWLEDGE"


@pytest.fixture
async def stores(engine: AsyncEngine) -> tuple[SqlStore, SqlDigestStore]:
    await upgrade(engine)
    return SqlStore(engine), SqlDigestStore(engine)


def service(
    store: SqlDigestStore,
    messenger: RecordingMessenger,
    clock: FakeClock,
    *,
    owner: str = "replica-1",
    targets: tuple[str, ...] = (KNOW, ALICE),
) -> GapService:
    return GapService(
        answers=lambda: ENGINE,
        store=store,
        poster=messenger,
        clock=clock,
        owner=owner,
        schedule=WEEKLY,
        targets=lambda: list(targets),
        where="the knowledge channel",
        is_admin=lambda user: user == ALICE,
    )


async def week_of_questions(log: SqlStore) -> None:
    """Three unanswered questions (one asked three times), one answer voted not helpful,
    and questions outside the week that must not count."""
    day = MONDAY_9 - timedelta(days=3)
    rows = [
        asked("who owns the unicorn farm", at=day, text="who owns the unicorn farm?"),
        asked("who owns the unicorn farm", at=day, text="Who owns the unicorn farm"),
        asked("who owns the unicorn farm", at=day, text="who owns the unicorn farm?"),
        asked("where is the coffee", at=day, text="where is the <!channel> coffee?"),
        asked("too old", at=MONDAY_9 - timedelta(days=8)),
        asked("too new", at=MONDAY_9),
        replace(
            asked("who owns model monitoring", at=day, answered=True, uid="q-helped-not"),
            text="who owns model monitoring?",
            entity="area:model-monitoring",
        ),
    ]
    for row in rows:
        await log.record_question(row)
    await log.record_vote(
        Vote(question_uid="q-helped-not", user="U0BOB", helpful=False, voted_at=day)
    )


# -- when -----------------------------------------------------------------------------------


def test_a_digest_falls_due_at_the_wall_clock_time_of_its_zone() -> None:
    """09:00 Monday in London is 08:00 UTC after the clocks go forward and 09:00 UTC in
    winter; a digest missed while every replica was down is still due for a day."""
    spring = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # the day after the clocks went forward
    assert due(WEEKLY, spring) == spring
    assert due(WEEKLY, spring - timedelta(minutes=1)) is None
    assert due(WEEKLY, spring + timedelta(hours=23, minutes=59)) == spring
    assert due(WEEKLY, spring + timedelta(days=1, minutes=1)) is None
    assert due(WEEKLY, MONDAY_9 + timedelta(hours=2)) == MONDAY_9
    assert due(DigestSchedule(cron=None), MONDAY_9) is None
    assert scheduled_key(spring) == "weekly 2026-03-30T08:00Z"


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"OPSBOT_DIGEST_CRON": "0 9 * *"}, "OPSBOT_DIGEST_CRON: Value error, '0 9 * *' is not"),
        ({"OPSBOT_DIGEST_CRON": "0 25 * * 1"}, "OPSBOT_DIGEST_CRON"),
        ({"OPSBOT_DIGEST_TIMEZONE": "Mars/Olympus"}, "OPSBOT_DIGEST_TIMEZONE: Value error"),
        ({"OPSBOT_DIGEST_TIMEZONE": "../../etc/passwd"}, "is not an IANA time zone"),
    ],
)
def test_a_bad_digest_setting_stops_the_start_naming_it(
    environ: dict[str, str], problem: str
) -> None:
    """A cron that is not five valid fields, or a zone that is not IANA's, is refused at
    start with the variable's name; `off` turns the digest off."""
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_settings(environ)
    assert load_settings({"OPSBOT_DIGEST_CRON": "off"}).digest_cron is None
    defaults = load_settings({})
    assert (defaults.digest_cron, defaults.digest_timezone) == ("0 9 * * 1", "UTC")
    zoned = load_settings({"OPSBOT_DIGEST_TIMEZONE": "Europe/London"})
    assert zoned.digest_timezone == "Europe/London"


# -- posting once ---------------------------------------------------------------------------


async def test_a_digest_is_posted_once_across_replicas_and_restarts(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """Replicas ticking together post the week's digest once to each place; a restarted
    replica posts nothing more; the next week is a new digest."""
    log, digests = stores
    await week_of_questions(log)
    messenger = RecordingMessenger()
    clock = FakeClock(MONDAY_9 - timedelta(minutes=1))
    replicas = [service(digests, messenger, clock, owner=f"r{n}") for n in range(3)]
    await asyncio.gather(*(r.tick() for r in replicas))
    assert messenger.digests == []  # not due yet
    clock.current = MONDAY_9
    await asyncio.gather(*(r.tick() for r in replicas))
    await asyncio.gather(*(r.tick() for r in replicas))  # a replica that lost a race
    assert sorted(target for target, _ in messenger.digests) == [KNOW, ALICE]
    clock.advance(timedelta(minutes=5))
    await service(digests, messenger, clock, owner="restarted").tick()
    assert len(messenger.digests) == 2
    clock.current = MONDAY_9 + timedelta(days=7)
    await log.record_question(asked("who owns the moon", at=clock.current - timedelta(days=1)))
    await replicas[0].tick()
    assert len(messenger.digests) == 4


async def test_the_digest_lists_each_question_with_its_closest_entity_and_owner(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """Unanswered questions most asked first, then the answer voted not helpful with the
    entity it answered and that entity's owner; text as people typed it."""
    log, digests = stores
    await week_of_questions(log)
    messenger = RecordingMessenger()
    await service(digests, messenger, FakeClock(MONDAY_9), targets=(KNOW,)).tick()
    ((_, digest),) = messenger.digests
    assert digest.title == "Knowledge gaps: the week to Mon 30 Nov 2026"
    assert (
        digest.period
        == "Questions asked from 2026-11-23 09:00 to 2026-11-30 09:00 (Europe/London)."
    )
    shown = [
        (line.section, line.question, line.count, line.closest, line.owner) for line in digest.lines
    ]
    assert shown == [
        ("unanswered", "who owns the unicorn farm?", 3, None, None),
        ("unanswered", "where is the <!channel> coffee?", 1, None, None),
        ("unhelpful", "who owns model monitoring?", 1, "Model monitoring", "ML Platform"),
    ]  # fmt: skip
    assert digest.lines[0].alias == "unicorn farm"
    text = as_text(digest, how=CONSOLE_HOW).plain
    assert f"[{digest.lines[2].item_id}] “who owns model monitoring?” (asked once)" in text
    assert "Closest: Model monitoring, owner ML Platform" in text
    assert "No close match in the knowledge" in text


async def test_a_crash_after_the_claim_still_posts_once(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """A replica that dies after claiming, before posting, leaves the post to the next
    taker once its lease lapses; one that dies after posting leaves it found in the chat,
    not posted twice."""
    log, digests = stores
    await week_of_questions(log)
    clock = FakeClock(MONDAY_9)

    class DiesFirst(RecordingMessenger):
        async def digest(self, target: str, message: DigestMessage) -> object:  # type: ignore[override]
            raise _Crash("killed before Slack heard of it")

    with pytest.raises(_Crash):
        await service(digests, DiesFirst(), clock, targets=(KNOW,)).tick()
    survivor = RecordingMessenger()
    clock.advance(timedelta(minutes=1))
    await service(digests, survivor, clock, owner="r2", targets=(KNOW,)).tick()
    assert survivor.digests == []  # its lease still holds
    clock.advance(timedelta(minutes=2))
    await service(digests, survivor, clock, owner="r2", targets=(KNOW,)).tick()
    assert [target for target, _ in survivor.digests] == [KNOW]

    # The next week: posted, then the process dies before recording it.
    await log.record_question(asked("who owns the moon", at=MONDAY_9 + timedelta(days=6)))
    clock.current = MONDAY_9 + timedelta(days=7)
    survivor.crash_after_delivery = True
    with pytest.raises(_Crash):
        await service(digests, survivor, clock, targets=(KNOW,)).tick()
    survivor.crash_after_delivery = False
    clock.advance(timedelta(minutes=3))
    await service(digests, survivor, clock, owner="r3", targets=(KNOW,)).tick()
    clock.advance(timedelta(minutes=3))
    await service(digests, survivor, clock, owner="r4", targets=(KNOW,)).tick()
    assert [target for target, _ in survivor.digests] == [KNOW, KNOW]  # one per week


async def test_a_failed_post_is_retried_and_an_unreachable_place_given_up(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """A rate-limited post goes again after its backoff; a channel that does not exist is
    not tried again."""
    log, digests = stores
    await week_of_questions(log)
    messenger = RecordingMessenger()
    messenger.failing[KNOW] = 1
    messenger.unreachable.add(ALICE)
    clock = FakeClock(MONDAY_9)
    gaps = service(digests, messenger, clock)
    assert await gaps.tick() == (0, 2)
    clock.advance(timedelta(seconds=31))
    assert await gaps.tick() == (1, 0)
    clock.advance(timedelta(hours=5))
    assert await gaps.tick() == (0, 0)
    assert [target for target, _ in messenger.digests] == [KNOW]


async def test_an_empty_week_posts_nothing(stores: tuple[SqlStore, SqlDigestStore]) -> None:
    """A week without gaps is claimed but posted nowhere; asked for by hand, it says so."""
    _, digests = stores
    messenger = RecordingMessenger()
    gaps = service(digests, messenger, FakeClock(MONDAY_9))
    await gaps.tick()
    reply = await gaps.post_now(Origin(platform="slack", user=ALICE))
    assert (reply.text, messenger.digests) == (NOTHING, [])


async def test_only_admins_post_the_digest_by_hand(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """`/ops digest` from someone else is refused and posts nothing; from an admin it posts
    the last seven days at once and says where."""
    log, digests = stores
    await week_of_questions(log)
    messenger = RecordingMessenger()
    clock = FakeClock(MONDAY_9 - timedelta(hours=1))
    gaps = service(digests, messenger, clock, targets=(KNOW,))
    refused = await gaps.post_now(Origin(platform="slack", user="U0MALLORY"))
    assert (refused.text, refused.kind, messenger.digests) == (ADMINS_ONLY, "error", [])
    done = await gaps.post_now(Origin(platform="slack", user=ALICE))
    assert done.text == "Posted the knowledge gaps digest to the knowledge channel."
    ((target, digest),) = messenger.digests
    assert target == KNOW and digest.key.startswith("manual ")
    assert len(digest.lines) == 3


# -- suggestions ----------------------------------------------------------------------------


async def posted(log: SqlStore, digests: SqlDigestStore) -> tuple[GapService, DigestMessage]:
    await week_of_questions(log)
    messenger = RecordingMessenger()
    gaps = service(digests, messenger, FakeClock(MONDAY_9), targets=(KNOW,))
    await gaps.tick()
    ((_, digest),) = messenger.digests
    return gaps, digest


def suggest(item: int, user: str = ALICE, **given: object) -> Suggest:
    origin = Origin(platform="slack", user=user, workspace="T1")
    return Suggest(origin=origin, item=item, **given)  # type: ignore[arg-type]


async def test_suggestions_are_kept_with_who_made_them(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """An entity named by title, reference or alias takes the question's words as its new
    alias; an answer becomes a new FAQ; each is kept with who made it (their person when
    the platform knows them), and the reply says what was kept."""
    log, digests = stores
    gaps, digest = await posted(log, digests)
    unicorn, coffee, monitoring = (line.item_id for line in digest.lines)
    alias = await gaps.suggest(suggest(unicorn, kind="alias", entity="model monitoring"))
    assert alias.kind == "help"
    assert alias.text.startswith(
        "Thanks! Noted “unicorn farm” as another name for Model monitoring "
        "(area:model-monitoring), from the question “who owns the unicorn farm?”."
    )
    assert "opsbot gaps --format yaml" in alias.text
    faq = await gaps.suggest(
        suggest(coffee, "U0BOB", kind="faq", answer="  Second floor, *left*.  ")
    )
    assert faq.text.startswith("Thanks! Noted your answer to “where is the <!channel> coffee?”")
    named = await gaps.suggest(
        suggest(monitoring, kind="alias", entity="area:model-monitoring", alias="model watch")
    )
    assert named.kind == "help"
    kept = {(s.item_id, s.user): s for s in await digests.suggestions()}
    first = kept[(unicorn, ALICE)]
    assert (first.kind, first.entity, first.alias, first.person) == (
        "alias", "area:model-monitoring", "unicorn farm", "person:alice"
    )  # fmt: skip
    assert first.wordings == ("who owns the unicorn farm?", "Who owns the unicorn farm")
    second = kept[(coffee, "U0BOB")]
    assert (second.kind, second.answer, second.person) == ("faq", "Second floor, *left*.", None)
    assert kept[(monitoring, ALICE)].alias == "model watch"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"kind": "alias", "entity": "the unicorn farm"}, "No entity “the unicorn farm”"),
        ({"kind": "alias", "entity": ""}, "Name the entity it is about."),
        ({"kind": "alias", "entity": "checkin:weekly"}, "No entity “checkin:weekly”"),
        ({"kind": "alias", "entity": "x" * 301}, "too long for the name of an entity"),
        ({"kind": "alias", "entity": "mlp", "alias": "y" * 101}, "Keep the alias to 100"),
        ({"kind": "faq", "answer": "  \n "}, "Write the answer the FAQ should give."),
        ({"kind": "faq", "answer": "z" * (MAX_ANSWER + 1)}, "keep it to 3000"),
        ({}, "Choose whether it is about an entity or needs a new FAQ answer."),
    ],
)
async def test_a_bad_suggestion_is_refused_and_nothing_kept(
    stores: tuple[SqlStore, SqlDigestStore], given: dict[str, object], said: str
) -> None:
    """An unknown or missing entity, an empty or too long answer, no choice: a clear reply,
    shown beside the field it is about, and nothing stored."""
    log, digests = stores
    gaps, digest = await posted(log, digests)
    event = suggest(digest.lines[0].item_id, **given)
    reply = await gaps.suggest(event)
    assert reply.kind == "error" and said in reply.text
    problem = gaps.problem(event)
    assert problem is not None and problem.message == reply.text
    assert await digests.suggestions() == []


async def test_a_suggestion_for_an_unknown_question_is_refused(
    stores: tuple[SqlStore, SqlDigestStore],
) -> None:
    """A suggestion naming no question of any digest (a forged or very old button) is
    refused and not stored; a database that is away says to try again."""
    log, digests = stores
    gaps, _ = await posted(log, digests)
    reply = await gaps.suggest(suggest(999_999, kind="faq", answer="x"))
    assert (reply.text, reply.kind) == (NO_ITEM, "error")
    assert await digests.suggestions() == []

    class Away(SqlDigestStore):
        async def item(self, item_id: int) -> None:  # type: ignore[override]
            raise StorageError("the database is away")

    broken = service(Away(digests._engine), RecordingMessenger(), FakeClock(MONDAY_9))
    assert (await broken.suggest(suggest(1, kind="faq", answer="x"))).text == NOT_SAVED


# -- the pure parts -------------------------------------------------------------------------


def test_the_alias_is_the_name_a_question_asks_about() -> None:
    """ "who owns X" and "what is X" give X; a how-to question gives its words."""
    assert alias_for("Who owns the Drift Watch?") == "drift watch"
    assert alias_for("what is MLflow?") == "mlflow"
    assert alias_for("runbook for feature shop") == "feature shop"
    assert alias_for("how do I rotate secrets?") == "how do i rotate secrets"
    assert alias_for("🙂🙂") == ""


def test_an_entity_is_found_by_reference_name_title_or_alias() -> None:
    """Any case; a name two entities share is ambiguous; a check-in is no answer."""
    assert find_entity(KNOWLEDGE, "AREA:Model-Monitoring") == KNOWLEDGE.get(
        Ref(kind="area", name="model-monitoring")
    )
    team = KNOWLEDGE.get(Ref(kind="team", name="ml-platform"))
    assert find_entity(KNOWLEDGE, "ML Platform") == team
    assert find_entity(KNOWLEDGE, "mlp") == team
    assert find_entity(KNOWLEDGE, "nothing") is None
    twin = Entity(
        ref=Ref(kind="term", name="ml-platform"),
        title="ML platform, the term",
        spec=TermSpec(),
        source=Source(file="t.yaml", line=1),
    )
    doubled = Knowledge.of([*KNOWLEDGE, twin])
    found = find_entity(doubled, "ml-platform")
    assert isinstance(found, list) and [e.ref.kind for e in found] == ["team", "term"]


def test_the_entity_picker_lists_what_starts_with_the_query_first() -> None:
    """Typed "mo": Model monitoring first; empty: everything but check-ins, by title."""
    assert [e.title for e in choices(KNOWLEDGE, "mo", KINDS)][:1] == ["Model monitoring"]
    assert "Data drift" in [e.title for e in choices(KNOWLEDGE, "drift", KINDS)]
    everything = choices(KNOWLEDGE, "", KINDS)
    assert len(everything) == len(KNOWLEDGE)
    assert [e.title for e in everything] == sorted((e.title for e in everything), key=str.casefold)
