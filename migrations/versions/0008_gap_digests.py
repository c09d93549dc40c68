"""Knowledge gaps: weekly digests (claimed once, posted once per place) and suggestions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gap_digests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gap_digests")),
        sa.UniqueConstraint("key", name=op.f("uq_gap_digests_key")),
    )
    op.create_table(
        "gap_digest_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.Column("wordings", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=255), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["gap_digests.id"],
            name=op.f("fk_gap_digest_items_digest_id_gap_digests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gap_digest_items")),
    )
    op.create_index(
        op.f("ix_gap_digest_items_digest_id"), "gap_digest_items", ["digest_id"], unique=False
    )
    op.create_table(
        "gap_digest_posts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("message_ts", sa.String(length=64), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["gap_digests.id"],
            name=op.f("fk_gap_digest_posts_digest_id_gap_digests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gap_digest_posts")),
        sa.UniqueConstraint(
            "digest_id", "target", name=op.f("uq_gap_digest_posts_digest_id_target")
        ),
    )
    op.create_index(
        op.f("ix_gap_digest_posts_state_next_attempt_at"),
        "gap_digest_posts",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "gap_suggestions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("wordings", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=255), nullable=True),
        sa.Column("alias", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=True),
        sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["gap_digest_items.id"],
            name=op.f("fk_gap_suggestions_item_id_gap_digest_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gap_suggestions")),
        sa.UniqueConstraint(
            "item_id",
            "platform",
            "user_id",
            name=op.f("uq_gap_suggestions_item_id_platform_user_id"),
        ),
    )
    op.create_index(
        op.f("ix_gap_suggestions_suggested_at"), "gap_suggestions", ["suggested_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_gap_suggestions_suggested_at"), table_name="gap_suggestions")
    op.drop_table("gap_suggestions")
    op.drop_index(op.f("ix_gap_digest_posts_state_next_attempt_at"), table_name="gap_digest_posts")
    op.drop_table("gap_digest_posts")
    op.drop_index(op.f("ix_gap_digest_items_digest_id"), table_name="gap_digest_items")
    op.drop_table("gap_digest_items")
    op.drop_table("gap_digests")
