"""questions: every question asked, for answer-gap reports.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 06:18:45
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        # UTC: timestamptz on PostgreSQL, naive UTC on SQLite (bot.storage.models.UTCDateTime).
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=255), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_index(
        op.f("ix_questions_answered_key_asked_at"),
        "questions",
        ["answered", "key", "asked_at"],
    )
    op.create_index(op.f("ix_questions_asked_at"), "questions", ["asked_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_questions_asked_at"), table_name="questions")
    op.drop_index(op.f("ix_questions_answered_key_asked_at"), table_name="questions")
    op.drop_table("questions")
