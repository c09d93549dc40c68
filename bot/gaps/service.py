"""The gaps digest put together: every replica ticks `GapService`, which claims the digest
that fell due and posts it, each place once; people's suggestions are checked and kept.

Exactly once across replicas and restarts: a digest is claimed by inserting its key (the
cron occurrence) with its questions and one post per place, in one transaction; a post is
taken under a lease before it is sent and marked sent after. A crash after the claim
leaves posts to take; a crash mid-send leaves a lapsed lease, and the next taker looks
for the message in the chat (tagged with the digest's key) before posting it again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from bot.answers import AnswerEngine
from bot.answers.picker import choices
from bot.checkins.sending import MAX_ATTEMPTS, backoff
from bot.errors import DeliveryFailed, StorageError, Unreachable
from bot.events import Origin, Reply, Suggest
from bot.gaps.digest import (
    PER_SECTION,
    WEEK,
    DigestSchedule,
    due,
    items_of,
    line_of,
    manual_key,
    message,
    scheduled_key,
)
from bot.gaps.suggestions import KINDS, Proposal, Refusal, alias_for, check, one_line
from bot.kb.knowledge import Knowledge
from bot.model import Entity, Ref
from bot.ports import (
    Clock,
    DigestItem,
    DigestLine,
    DigestPost,
    DigestPoster,
    DigestStore,
    NewSuggestion,
)
from bot.styled import Styled, bold, code

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=2)
#: Posts one replica sends in one tick (each taken alone, so its lease stays fresh).
POSTS_PER_TICK = 50
NOT_SAVED = "Sorry, I could not save that just now. Please try again in a minute."
NO_ITEM = "That question is in no digest I know (it may be from an old one), so nothing was saved."
NOTHING = (
    "Nothing to post: every question of the last seven days was answered, and no answer "
    "was voted not helpful."
)
ADMINS_ONLY = "Only opsbot admins can post the knowledge gaps digest."
REVIEW = "The knowledge maintainers review suggestions with "


class GapService:
    """The weekly digest of knowledge gaps, and the suggestions people make from it."""

    def __init__(
        self,
        *,
        answers: Callable[[], AnswerEngine],
        store: DigestStore,
        poster: DigestPoster,
        clock: Clock,
        owner: str,
        schedule: DigestSchedule,
        targets: Callable[[], list[str]],
        where: str = "",
        is_admin: Callable[[str | None], bool] = lambda _: False,
    ) -> None:
        self._answers = answers
        self._store = store
        self._poster = poster
        self._clock = clock
        self._owner = owner
        self._schedule = schedule
        self._targets = targets  # where digests go, read at each claim
        self._where = where  # how people read those places ("the admins, by DM")
        self._is_admin = is_admin
        self._claimed: str | None = None  # the last digest key known claimed: not asked again

    @property
    def knowledge(self) -> Knowledge:
        return self._answers().knowledge

    # -- posting -----------------------------------------------------------------------

    async def tick(self) -> tuple[int, int]:
        """Claim the digest that fell due (if no replica did), post what is due; (sent,
        failed). An unavailable database skips this tick."""
        now = self._clock.now()
        try:
            occurrence = due(self._schedule, now)
            if occurrence is not None and scheduled_key(occurrence) != self._claimed:
                key = scheduled_key(occurrence)
                await self._claim(key, occurrence - WEEK, occurrence, now)
                self._claimed = key  # by this replica or another: either way, done
            return await self._send(now)
        except StorageError as exc:
            log.warning("gaps_digest_skipped", error=str(exc))
            return 0, 0

    async def _claim(self, key: str, since: datetime, until: datetime, now: datetime) -> int | None:
        """Claim the digest `key` with its questions and places: how many questions it has
        (a week without any is claimed, and posted nowhere); None if claimed before."""
        if await self._store.has_digest(key):
            return None
        unanswered, unhelpful = await self._store.week_gaps(since, until, PER_SECTION)
        items = items_of(self._answers(), unanswered, unhelpful)
        targets = list(dict.fromkeys(self._targets())) if items else []
        if not await self._store.claim_digest(
            key, since=since, until=until, items=items, targets=targets, at=now
        ):
            return None
        log.info("gaps_digest_claimed", key=key, questions=len(items), places=len(targets))
        if items and not targets:
            log.warning(
                "gaps_digest_nowhere",
                key=key,
                detail="set OPSBOT_KNOWLEDGE_CHANNEL or name admins (OPSBOT_ADMINS)",
            )
        return len(items)

    async def _send(self, now: datetime) -> tuple[int, int]:
        sent = failed = 0
        for _ in range(POSTS_PER_TICK):
            taken = await self._store.take_posts(now, self._owner, LEASE, 1)
            if not taken:
                break
            if await self._post(taken[0], now):
                sent += 1
            else:
                failed += 1
        return sent, failed

    async def _post(self, post: DigestPost, now: datetime) -> bool:
        """Post one digest to one place; a post whose sender vanished is looked for first."""
        try:
            if post.lease_expired:
                found = await self._poster.find_digest(post.target, post.key)
                if found is not None:
                    await self._store.posted(post.id, found.channel, found.ts, self._clock.now())
                    return True
            items = await self._store.items(post.digest_id)
            shown = message(
                post.key,
                items,
                self.knowledge,
                since=post.since,
                until=post.until,
                zone_name=self._schedule.zone,
            )
            delivered = await self._poster.digest(post.target, shown)
        except Unreachable as exc:
            await self._store.post_failed(post.id, str(exc), None, owner=self._owner)
            log.warning("gaps_digest_unreachable", target=post.target, error=str(exc))
            return False
        except DeliveryFailed as exc:
            retry = None if post.attempts >= MAX_ATTEMPTS else now + backoff(post.attempts)
            await self._store.post_failed(post.id, str(exc), retry, owner=self._owner)
            log.warning("gaps_digest_failed", target=post.target, attempts=post.attempts)
            return False
        await self._store.posted(post.id, delivered.channel, delivered.ts, self._clock.now())
        log.info("gaps_digest_posted", key=post.key, target=post.target)
        return True

    async def post_now(self, origin: Origin) -> Reply:
        """`/ops digest`: an admin has the last seven days' digest posted now."""
        if not self._is_admin(origin.user):
            return Reply(text=ADMINS_ONLY, kind="error")
        now = self._clock.now()
        try:
            questions = await self._claim(manual_key(now), now - WEEK, now, now)
            if questions is None:
                return Reply(text="That digest was posted a moment ago.", kind="help")
            if not questions:
                return Reply(text=NOTHING, kind="help")
            sent, failed = await self._send(now)
        except StorageError as exc:
            log.warning("gaps_digest_not_claimed", error=str(exc))
            return Reply(text=NOT_SAVED, kind="error")
        where = f" to {self._where}" if self._where else ""
        if not sent and not failed:
            return Reply(
                text="There is nowhere to post the digest: set OPSBOT_KNOWLEDGE_CHANNEL, or "
                "name admins in OPSBOT_ADMINS.",
                kind="error",
            )
        if failed:
            return Reply(
                text=f"Posted the knowledge gaps digest{where}, but {failed} of "
                f"{sent + failed} places could not be reached yet (retried later).",
                kind="help",
            )
        return Reply(text=f"Posted the knowledge gaps digest{where}.", kind="help")

    # -- suggestions -------------------------------------------------------------------

    def problem(self, event: Suggest) -> Refusal | None:
        """What is wrong with a suggestion as typed, if anything (no I/O: a form can show it
        at once, beside the field)."""
        verdict = check(self.knowledge, event)
        return verdict if isinstance(verdict, Refusal) else None

    def entity_choices(self, query: str, limit: int = 50) -> list[tuple[str, str]]:
        """(reference, label) of the entities a picker offers for `query`."""
        return [(str(e.ref), _label(e)) for e in choices(self.knowledge, query, KINDS, limit)]

    async def line(self, item_id: int) -> DigestLine | None:
        """One question of a digest as a suggestion form shows it (None when unknown, or
        the database is away)."""
        try:
            item = await self._store.item(item_id)
        except StorageError as exc:
            log.warning("gaps_item_unreadable", error=str(exc))
            return None
        return None if item is None else line_of(item, self.knowledge)

    async def suggest(self, event: Suggest) -> Reply:
        """Keep a suggestion with who made it, and say what was kept; a bad one is refused
        and nothing is kept."""
        verdict = check(self.knowledge, event)
        if isinstance(verdict, Refusal):
            return Reply(text=verdict.message, kind="error")
        try:
            item = await self._store.item(event.item)
            if item is None:
                return Reply(text=NO_ITEM, kind="error")
            suggestion = self._suggestion(event, verdict, item)
            if not await self._store.suggest(suggestion):
                return Reply(text=NO_ITEM, kind="error")
        except StorageError as exc:
            log.warning("gaps_suggestion_not_saved", error=str(exc))
            return Reply(text=NOT_SAVED, kind="error")
        log.info("gaps_suggestion_saved", item=item.id, kind=suggestion.kind)
        return Reply.of(self._thanks(suggestion, item), kind="help")

    def _suggestion(self, event: Suggest, proposal: Proposal, item: DigestItem) -> NewSuggestion:
        origin = event.origin
        return NewSuggestion(
            item_id=item.id,
            kind=proposal.kind,
            platform=origin.platform,
            user=origin.user or "anonymous",
            person=self._person(origin),
            suggested_at=self._clock.now(),
            entity=None if proposal.entity is None else str(proposal.entity),
            alias=(proposal.alias or alias_for(item.example)) if proposal.kind == "alias" else None,
            answer=proposal.answer,
        )

    def _person(self, origin: Origin) -> str | None:
        """The knowledge person behind a chat user, when the platform knows them."""
        if origin.user is None:
            return None
        for person in self.knowledge.of_kind("person"):
            if self._poster.address(person, (origin.platform,)) == origin.user:
                return str(person.ref)
        return None

    def _thanks(self, suggestion: NewSuggestion, item: DigestItem) -> Styled:
        question = f"“{_short(item.example)}”"
        review = (REVIEW, code("opsbot gaps --format yaml"), ".")
        if suggestion.kind == "alias":
            ref = Ref.parse(suggestion.entity or "", default_kind="area")
            title = self.knowledge.title(ref)
            return Styled.of(
                (
                    "Thanks! Noted ",
                    bold(f"“{suggestion.alias}”"),
                    " as another name for ",
                    bold(title),
                    f" ({suggestion.entity}), from the question {question}.",
                ),
                review,
            )
        return Styled.of(
            ("Thanks! Noted your answer to ", bold(question), " as a new FAQ."), review
        )


def _label(entity: Entity) -> str:
    return f"{entity.title} ({entity.kind})"


def _short(text: str, limit: int = 150) -> str:
    line = one_line(text)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
