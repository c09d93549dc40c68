"""The database schema, as SQLAlchemy declarative models."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Constraint and index names are derived, never left to the database, so that
# migrations name the same objects identically on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

KEY_LENGTH = 500
ENTITY_LENGTH = 255
UID_LENGTH = 64
NAME_LENGTH = 63


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, always read back in UTC.

    PostgreSQL keeps it as `timestamp with time zone`; SQLite drops offsets, so
    there it is stored as naive UTC and UTC is re-attached on read. Naive values
    are refused on write: their meaning depends on the host's clock.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Question(Base):
    """One question as asked, with what the bot made of it."""

    __tablename__ = "questions"
    __table_args__ = (
        # `gaps`: unanswered rows, grouped by key, newest first within a key.
        Index(None, "answered", "key", "asked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uid: Mapped[str | None] = mapped_column(String(UID_LENGTH), unique=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    intent: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    confidence: Mapped[float] = mapped_column(Float)
    answered: Mapped[bool] = mapped_column(Boolean)


class Vote(Base):
    """One user's "helpful / not helpful" on one answer; voting again replaces it."""

    __tablename__ = "votes"

    question_uid: Mapped[str] = mapped_column(String(UID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    voted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EventClaim(Base):
    """An inbound event (or message) already taken by some replica."""

    __tablename__ = "event_claims"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CheckinSchedule(Base):
    """A check-in's own state beside its YAML: paused or not, and planned up to when."""

    __tablename__ = "checkin_schedules"

    checkin: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Every occurrence before this was claimed (or passed while paused).
    planned_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckinRound(Base):
    """One round of a check-in: everyone nudged for the same wall-clock time."""

    __tablename__ = "checkin_rounds"
    __table_args__ = (UniqueConstraint("checkin", "round_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    checkin: Mapped[str] = mapped_column(String(NAME_LENGTH))
    round_key: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CheckinNudge(Base):
    """One nudge to one person; `key` (check-in, person, occurrence) makes it exactly-once."""

    __tablename__ = "checkin_nudges"
    __table_args__ = (
        Index(None, "state", "next_attempt_at"),
        Index(None, "round_id", "user_id"),
        # One nudge per person and round, even if their zone changed between occurrences.
        Index(None, "round_id", "person", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("checkin_rounds.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    occurrence: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(64))
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(255))


class CheckinAnswer(Base):
    """One person's answer to one question of a round; answering again replaces it."""

    __tablename__ = "checkin_answers"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("checkin_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    person: Mapped[str] = mapped_column(String(255), primary_key=True)
    question: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AttestItem(Base):
    """One entity in one ownership attestation: which question of whose nudge asks about it,
    and who, if they said "no", they named as its owner now."""

    __tablename__ = "attest_items"
    __table_args__ = (
        UniqueConstraint("round_id", "person", "question"),
        Index(None, "entity", "asked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("checkin_rounds.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(String(NAME_LENGTH))
    entity: Mapped[str] = mapped_column(String(255))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    proposed_owner: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str | None] = mapped_column(String(255))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Who asked for an admin action, and whether it was allowed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(255))
    allowed: Mapped[bool] = mapped_column(Boolean)


# Slack's own OAuth stores (slack_sdk's async SQLAlchemy stores) keep their tables in
# our database; declaring them here puts them under our migrations.
SLACK_BOTS = AsyncSQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
SLACK_INSTALLATIONS = AsyncSQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, "slack_installations"
)
SLACK_OAUTH_STATES = AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, "slack_oauth_states"
)


class ChatAddressRow(Base):
    """A conversation reference: where the bot may write to a person or channel (Teams)."""

    __tablename__ = "chat_addresses"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    service_url: Mapped[str] = mapped_column(String(500))
    tenant_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    conversation_id: Mapped[str | None] = mapped_column(String(500))
    bot_id: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GapDigest(Base):
    """One knowledge gaps digest: claimed once, by its key (the cron occurrence it fell due
    at), with the week of questions it covers."""

    __tablename__ = "gap_digests"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GapDigestItem(Base):
    """One question of a digest, as it was then: its wordings, how often it was asked, the
    closest entity and that entity's owner."""

    __tablename__ = "gap_digest_items"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    digest_id: Mapped[int] = mapped_column(
        ForeignKey("gap_digests.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    example: Mapped[str] = mapped_column(Text)
    wordings: Mapped[list[str]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer)
    entity: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    owner: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))


class GapDigestPost(Base):
    """One delivery of a digest to one place, sent once under a lease (as a nudge is)."""

    __tablename__ = "gap_digest_posts"
    __table_args__ = (
        UniqueConstraint("digest_id", "target"),
        Index(None, "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("gap_digests.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(255))
    message_ts: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(255))


class GapSuggestion(Base):
    """What one person suggested for one question of a digest (their later one replaces
    it): the question's key and wordings, and an entity with an alias, or an FAQ answer."""

    __tablename__ = "gap_suggestions"
    __table_args__ = (UniqueConstraint("item_id", "platform", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("gap_digest_items.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    wordings: Mapped[list[str]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    alias: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(255))
    person: Mapped[str | None] = mapped_column(String(255))
    suggested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PaceBucket(Base):
    """One pace shared by every replica (a platform's rate limit): its next free turn."""

    __tablename__ = "pace_buckets"

    bucket: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())
