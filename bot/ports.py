"""Ports: the small protocols through which the core talks to the world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from bot.model import CheckInQuestion, Entity
from bot.styled import Styled


@dataclass(frozen=True, kw_only=True)
class AskedQuestion:
    """One question as asked, with what the bot made of it."""

    asked_at: datetime  # timezone-aware, UTC
    uid: str  # chosen before storing, so an answer can carry it before the write commits
    platform: str
    text: str
    key: str  # the normalised text; unanswered questions are grouped by it
    intent: str
    entity: str | None
    confidence: float
    answered: bool
    workspace: str | None = None
    user: str | None = None
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class Vote:
    """A user's "helpful / not helpful" on one answer; a later vote replaces theirs."""

    question_uid: str
    user: str
    helpful: bool
    voted_at: datetime


#: What became of a vote: "counted" (stored, or queued right behind its answer's question),
#: "pending" (kept, but whether its answer exists is only known once it can be written:
#: refused then if not), "unknown" (no such answer: nothing stored).
VoteOutcome = Literal["counted", "pending", "unknown"]


@dataclass(frozen=True, kw_only=True)
class Gap:
    """An unanswered question, grouped by its normalised text."""

    key: str
    example: str  # the most recent original wording
    count: int
    last_asked: datetime


class QuestionLog(Protocol):
    """Where asked questions are recorded, and gaps read back."""

    async def record_question(self, question: AskedQuestion) -> object:
        """Store the question (or queue it to be stored very soon)."""
        ...

    async def record_vote(self, vote: Vote) -> VoteOutcome:
        """Store a vote on a known answer; the same user voting again replaces the vote.

        A vote on an answer (question uid) that was never recorded is "unknown" and stored
        nowhere.
        """
        ...

    async def gaps(self, *, limit: int = 20, since: datetime | None = None) -> list[Gap]:
        """The most-asked questions without a good answer, most asked first.

        A question counts when it was not answered, or when its answer was voted not
        helpful. Ties go to the most recently asked.
        """
        ...


class EventLog(Protocol):
    """Which inbound events were already taken, across every replica."""

    async def claim(self, key: str, at: datetime) -> bool:
        """True for the first claim of `key` ever made, False for every later one."""
        ...


class Telemetry(Protocol):
    """What the bot counts for its operators (metrics)."""

    def answered(self, intent: str) -> None:
        """One answer of `intent` was given ("unknown" included)."""
        ...

    def platform_error(self, platform: str, method: str, error: str) -> None:
        """A call to a chat platform's API failed."""
        ...

    def reply_dropped(self, platform: str, method: str) -> None:
        """A reply to a person was given up (after its retries): they got no answer."""
        ...

    def backlog(self, records: int) -> None:
        """How many records (questions, votes, check-in answers) wait to be written now."""
        ...

    def spooled(self, records: int) -> None:
        """`records` more were kept on disk (the queue was full, or the bot stopped)."""
        ...

    def refused(self, kind: str) -> None:
        """The database refused a record of `kind` as invalid; it was dropped."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class Pace(Protocol):
    """Turns at a steady rate for calls to a platform (a round of posts), per bucket."""

    async def take(self, bucket: str, per_second: float) -> None:
        """Wait for the next turn in `bucket`, whose turns come evenly at `per_second`
        (0: no wait); everyone taking turns from this pace shares them."""
        ...


# -- check-ins --------------------------------------------------------------------------

NudgeState = str  # "claimed" | "sending" | "sent" | "failed" | "unreachable" | "missed"


@dataclass(frozen=True, kw_only=True)
class NewNudge:
    """A nudge that fell due; claimed by the first replica that inserts its key."""

    key: str  # (check-in, recipient, occurrence), unique
    checkin: str
    round_key: str
    person: str
    user: str | None  # the recipient's chat user ID, if known
    occurrence: datetime
    remind_at: datetime | None
    closes_at: datetime
    missed: bool = False  # fell due while every replica was down and its round has closed


@dataclass(frozen=True, kw_only=True)
class Nudge:
    id: int
    key: str
    round_id: int
    checkin: str
    round_key: str
    person: str
    user: str | None
    occurrence: datetime
    state: NudgeState
    attempts: int
    channel: str | None = None
    message_ts: str | None = None
    lease_expired: bool = False  # was "sending" when its sender vanished: ambiguous


@dataclass(frozen=True, kw_only=True)
class Round:
    id: int
    checkin: str
    round_key: str
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        """Whether answers are still taken at `now`."""
        return self.closed_at is None and now < self.closes_at


@dataclass(frozen=True, kw_only=True)
class StoredAnswer:
    person: str
    question: str
    value: str
    answered_at: datetime


@dataclass(frozen=True, kw_only=True)
class PendingAnswer:
    """A click on a check-in nudge that could not be saved when it was made.

    It is applied later with the same checks as a click at `clicked_at` (only the
    recipient, round still open then, a fitting answer); `question` is SKIP_QUESTION
    for "skip this round".
    """

    user: str
    round_id: int
    question: str
    value: str
    clicked_at: datetime


class AnswerOutbox(Protocol):
    """Where a check-in answer waits while the database is away."""

    async def keep_answer(self, answer: PendingAnswer) -> None:
        """Keep `answer` to apply it once the database is back; `StorageError` if it cannot
        be kept either."""
        ...


class CheckinStore(Protocol):
    """Schedules, rounds, nudges and answers: every state change is a compare-and-set."""

    async def paused(self) -> set[str]: ...

    async def plan_from(self, checkins: list[str], at: datetime) -> dict[str, datetime]:
        """Where planning each check-in resumes: the end of the window last planned, else
        when it was first seen (`at`, for new ones)."""
        ...

    async def planned(self, checkins: list[str], until: datetime) -> None:
        """Every occurrence of `checkins` before `until` is claimed; it never goes back."""
        ...

    async def missed(self, nudge_id: int) -> None:
        """A nudge taken for sending after its round closed: recorded, never sent."""
        ...

    async def set_paused(self, checkin: str, paused: bool, at: datetime) -> None: ...

    async def claim(self, nudges: list[NewNudge], at: datetime) -> int:
        """Insert the nudges whose keys are new (and their rounds); return how many."""
        ...

    async def take_due(
        self, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[Nudge]:
        """Move nudges that may be sent now to "sending", leased to `owner`; return them."""
        ...

    async def renew(self, nudge_id: int, owner: str, until: datetime) -> bool:
        """Extend `owner`'s lease right before sending; False if it is no longer theirs."""
        ...

    async def sent(self, nudge_id: int, channel: str, ts: str, at: datetime) -> None:
        """A delivered nudge, recorded whoever holds its lease now."""
        ...

    async def failed(
        self, nudge_id: int, error: str, retry_at: datetime | None, *, owner: str
    ) -> None:
        """`owner`'s send failed: retried at `retry_at`, or never (unreachable) when None.
        Nothing changes if the lease has passed to someone else."""
        ...

    async def readdress(self, nudge_id: int, user: str, *, owner: str) -> bool:
        """Give `owner`'s nudge, claimed for someone the bot could not reach then, the
        address found since (they installed the app); False if it is not `owner`'s."""
        ...

    async def take_reminders(self, now: datetime, limit: int) -> list[Nudge]:
        """Sent, unanswered nudges whose reminder is due; each is handed out once."""
        ...

    async def snooze(self, round_id: int, person: str, until: datetime) -> bool: ...

    async def round(self, round_id: int) -> Round | None: ...

    async def nudge_for(self, round_id: int, user: str) -> Nudge | None: ...

    async def open_for(self, user: str) -> list[Nudge]:
        """Nudges sent to `user` whose rounds are still open."""
        ...

    async def answer(
        self, round_id: int, person: str, question: str, value: str, at: datetime
    ) -> None:
        """Store or replace one answer; an answer given before the stored one (`at` is
        earlier: one kept through an outage, a replay) never replaces it."""
        ...

    async def answers(self, round_id: int) -> list[StoredAnswer]: ...

    async def recipients(self, round_id: int) -> list[str]: ...

    async def take_closing(self, now: datetime) -> list[Round]:
        """Rounds past their close time, each closed (and handed out) exactly once."""
        ...

    async def rounds(self, checkin: str, limit: int) -> list[Round]:
        """The most recent rounds of a check-in, newest first."""
        ...

    async def audit(
        self, at: datetime, platform: str, user: str | None, action: str, allowed: bool
    ) -> None: ...


# -- ownership attestation ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AttestAsk:
    """One entity that one attestation nudge (its round, its person) asks about, as one
    of its questions."""

    round_key: str
    person: str
    question: str
    entity: str


@dataclass(frozen=True, kw_only=True)
class AttestRecord:
    """One ask and what became of it: the answer given, and the owner named on a "no"."""

    round_id: int
    person: str
    question: str
    entity: str
    asked_at: datetime
    closes_at: datetime
    sent: bool = False  # the nudge reached them (else it is still going, or never did)
    answer: str | None = None
    answered_at: datetime | None = None
    proposed_owner: str | None = None
    proposed_by: str | None = None


class AttestStore(Protocol):
    """Where ownership attestations are kept (their rounds and nudges are check-in rounds,
    in the `CheckinStore`)."""

    async def claim(
        self, checkin: str, nudges: list[NewNudge], asks: list[AttestAsk], at: datetime
    ) -> int:
        """Claim `nudges` (rounds of `checkin`) with their asks, in one transaction, so a
        nudge never exists without what it asks; return how many nudges were new."""
        ...

    async def asks(self, round_id: int, person: str) -> list[AttestAsk]:
        """What one nudge asks, in question order."""
        ...

    async def records(self, checkin: str) -> list[AttestRecord]:
        """Every ask there was, with its answer; oldest first."""
        ...

    async def propose(
        self, round_id: int, person: str, question: str, owner: str, by: str, at: datetime
    ) -> bool:
        """Record who `person` says owns the entity of their `question` now; False when
        they were not asked it."""
        ...


@dataclass(frozen=True, kw_only=True)
class NudgeMessage:
    """A check-in nudge (or its reminder) as a platform should show it."""

    key: str  # the nudge's claim key; platforms tag the message with it
    round_id: int
    user: str  # the recipient's chat user ID
    title: str
    questions: tuple[CheckInQuestion, ...]
    reminder: bool = False


@dataclass(frozen=True, kw_only=True)
class Delivered:
    channel: str
    ts: str


class Messenger(Protocol):
    """How check-ins reach people on one chat platform."""

    platform: str

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        """The person's user ID on this platform, if it can reach them; a messenger over
        several platforms tries those in `prefer` first."""
        ...

    async def timezone(self, user: str) -> str | None:
        """The user's time zone as the platform knows it (IANA name), if any."""
        ...

    async def nudge(self, message: NudgeMessage) -> Delivered:
        """Send a nudge; `Unreachable` if the person cannot get one, `DeliveryFailed` else."""
        ...

    async def find_nudge(self, user: str, key: str) -> Delivered | None:
        """A nudge with this key already delivered to `user` (after a crash mid-send)."""
        ...

    async def report(self, channel: str, text: Styled, chart: bytes | None, title: str) -> None:
        """Post a round's summary (and its chart) to a channel."""
        ...

    async def digest(self, target: str, message: DigestMessage) -> Delivered:
        """Post the knowledge gaps digest to a channel or a person (see `DigestPoster`)."""
        ...

    async def find_digest(self, target: str, key: str) -> Delivered | None:
        """The digest `key` already posted to `target` (after a crash mid-send)."""
        ...


# -- people on platforms that need a stored conversation (Teams) --------------------------


@dataclass(frozen=True, kw_only=True)
class ChatAddress:
    """Where the bot can write to one person, or one channel, on a platform that only lets a
    bot write where it was installed or spoken to (Teams: a conversation reference)."""

    platform: str  # "teams"
    #: The person's stable id on the platform (Teams: the Entra object id), or for a
    #: channel its conversation id.
    key: str
    kind: Literal["person", "channel"]
    service_url: str
    tenant_id: str | None = None
    #: The person's user id for the platform's API (Teams: "29:..."), None for a channel.
    user_id: str | None = None
    name: str | None = None
    email: str | None = None
    #: The 1:1 conversation with the person (created on first need), or the channel.
    conversation_id: str | None = None
    bot_id: str | None = None
    #: The person's time zone as their client last said (IANA name), if it did.
    timezone: str | None = None
    updated_at: datetime = datetime(1970, 1, 1, tzinfo=UTC)


class AddressBook(Protocol):
    """The conversation references a platform handed the bot, kept current."""

    async def remember(self, address: ChatAddress) -> None:
        """Store `address`, or update the stored one with what it newly knows (a missing
        conversation id or e-mail never erases a known one)."""
        ...

    async def addresses(self, platform: str) -> list[ChatAddress]:
        """Every address known on `platform`."""
        ...


# -- the weekly knowledge gaps digest, and what people suggest from it ------------------

#: Which list of the digest a question is in: never answered, or answered "not helpful".
GapSection = Literal["unanswered", "unhelpful"]
#: What a suggestion proposes: its words as an alias of an entity, or a new FAQ answer.
SuggestionKind = Literal["alias", "faq"]


@dataclass(frozen=True, kw_only=True)
class WeekGap:
    """A question asked in one week, grouped by its normalised text, with its wordings."""

    key: str
    example: str  # the most recent wording
    wordings: tuple[str, ...]  # distinct wordings, most recent first
    count: int
    last_asked: datetime
    entity: str | None = None  # the entity most often answered ("not helpful" only)


@dataclass(frozen=True, kw_only=True)
class NewDigestItem:
    """One question of a digest, as claimed with it."""

    section: GapSection
    key: str
    example: str
    wordings: tuple[str, ...]
    count: int
    entity: str | None = None  # the closest entity's ref
    owner: str | None = None  # its owner's ref


@dataclass(frozen=True, kw_only=True)
class DigestItem(NewDigestItem):
    id: int
    digest_id: int


@dataclass(frozen=True, kw_only=True)
class DigestPost:
    """One delivery of a digest to one place (a channel, an admin)."""

    id: int
    digest_id: int
    key: str  # the digest's key; platforms tag the message with it
    target: str  # a platform address: a Slack channel or user id, `teams:<id>`, ...
    attempts: int
    since: datetime  # the week the digest covers
    until: datetime
    lease_expired: bool = False  # was "sending" when its sender vanished: ambiguous


@dataclass(frozen=True, kw_only=True)
class NewSuggestion:
    """What one person suggests for one question of a digest; theirs again replaces it."""

    item_id: int
    kind: SuggestionKind
    platform: str
    user: str
    suggested_at: datetime
    person: str | None = None  # their knowledge person, when known
    entity: str | None = None  # alias: the entity's ref
    alias: str | None = None  # alias: the words to add
    answer: str | None = None  # faq: the answer (Markdown)


@dataclass(frozen=True, kw_only=True)
class Suggestion(NewSuggestion):
    id: int
    key: str  # the question's normalised text
    wordings: tuple[str, ...]


class DigestStore(Protocol):
    """Digests claimed once, delivered once per place, and the suggestions made from them."""

    async def week_gaps(
        self, since: datetime, until: datetime, limit: int
    ) -> tuple[list[WeekGap], list[WeekGap]]:
        """The most-asked unanswered questions, and the most-asked ones answered "not
        helpful", asked in [since, until); most asked first, then most recent."""
        ...

    async def has_digest(self, key: str) -> bool: ...

    async def claim_digest(
        self,
        key: str,
        *,
        since: datetime,
        until: datetime,
        items: Sequence[NewDigestItem],
        targets: Sequence[str],
        at: datetime,
    ) -> bool:
        """Insert the digest `key` with its items and one post per target, in one
        transaction; False (nothing written) when `key` was claimed before."""
        ...

    async def take_posts(
        self, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[DigestPost]:
        """Move posts that may be sent now to "sending", leased to `owner`."""
        ...

    async def posted(self, post_id: int, channel: str, ts: str, at: datetime) -> None: ...

    async def post_failed(
        self, post_id: int, error: str, retry_at: datetime | None, *, owner: str
    ) -> None:
        """`owner`'s send failed: retried at `retry_at`, or never when None."""
        ...

    async def items(self, digest_id: int) -> list[DigestItem]: ...

    async def item(self, item_id: int) -> DigestItem | None: ...

    async def suggest(self, suggestion: NewSuggestion) -> bool:
        """Store it (replacing the same person's earlier one for that item); False when the
        item does not exist."""
        ...

    async def suggestions(self, since: datetime | None = None) -> list[Suggestion]:
        """Every suggestion (made since `since`), oldest first."""
        ...


@dataclass(frozen=True, kw_only=True)
class DigestLine:
    """One question of a digest as a platform shows it."""

    item_id: int
    section: GapSection
    question: str
    count: int
    closest: str | None = None  # the closest entity's title
    closest_ref: str | None = None
    owner: str | None = None  # its owner's title
    #: The words a suggestion would add as an alias, unless the person changes them.
    alias: str = ""


@dataclass(frozen=True, kw_only=True)
class DigestMessage:
    key: str  # the digest's key; platforms tag the message with it
    title: str
    period: str  # the week it covers, as people read it
    lines: tuple[DigestLine, ...]


class DigestPoster(Protocol):
    """Where digests go: a knowledge channel, or admins by DM (a `Messenger` does it)."""

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None: ...

    async def digest(self, target: str, message: DigestMessage) -> Delivered:
        """Post `message` to `target`; `Unreachable` or `DeliveryFailed` when it cannot."""
        ...

    async def find_digest(self, target: str, key: str) -> Delivered | None:
        """The digest `key` already posted to `target` (after a crash mid-send)."""
        ...
