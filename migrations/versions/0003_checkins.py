"""check-ins: schedules, rounds, nudges, answers, audit log.

checkin_nudges.key is unique: (check-in, recipient, occurrence), the claim that makes
a nudge exactly-once across replicas. checkin_answers keeps one answer per person and
question of a round. audit_log records admin commands, refused ones too.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:06:18.145758
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "checkin_rounds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checkin", sa.String(length=63), nullable=False),
        sa.Column("round_key", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_rounds")),
        sa.UniqueConstraint(
            "checkin", "round_key", name=op.f("uq_checkin_rounds_checkin_round_key")
        ),
    )
    with op.batch_alter_table("checkin_rounds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkin_rounds_closes_at"), ["closes_at"], unique=False
        )

    op.create_table(
        "checkin_schedules",
        sa.Column("checkin", sa.String(length=63), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("checkin", name=op.f("pk_checkin_schedules")),
    )
    op.create_table(
        "checkin_answers",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("question", sa.String(length=63), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["checkin_rounds.id"],
            name=op.f("fk_checkin_answers_round_id_checkin_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "person", "question", name=op.f("pk_checkin_answers")),
    )
    op.create_table(
        "checkin_nudges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("occurrence", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("message_ts", sa.String(length=64), nullable=True),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["checkin_rounds.id"],
            name=op.f("fk_checkin_nudges_round_id_checkin_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_nudges")),
        sa.UniqueConstraint("key", name=op.f("uq_checkin_nudges_key")),
    )
    with op.batch_alter_table("checkin_nudges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkin_nudges_remind_at"), ["remind_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_nudges_round_id_user_id"), ["round_id", "user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_nudges_state_next_attempt_at"),
            ["state", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("checkin_nudges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_nudges_state_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_checkin_nudges_round_id_user_id"))
        batch_op.drop_index(batch_op.f("ix_checkin_nudges_remind_at"))

    op.drop_table("checkin_nudges")
    op.drop_table("checkin_answers")
    op.drop_table("checkin_schedules")
    with op.batch_alter_table("checkin_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_rounds_closes_at"))

    op.drop_table("checkin_rounds")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
