"""Ownership attestation: the entities each attestation nudge asks about.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attest_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("question", sa.String(length=63), nullable=False),
        sa.Column("entity", sa.String(length=255), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed_owner", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(length=255), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["checkin_rounds.id"],
            name=op.f("fk_attest_items_round_id_checkin_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attest_items")),
        sa.UniqueConstraint(
            "round_id", "person", "question", name=op.f("uq_attest_items_round_id_person_question")
        ),
    )
    op.create_index(
        op.f("ix_attest_items_entity_asked_at"),
        "attest_items",
        ["entity", "asked_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_attest_items_entity_asked_at"), table_name="attest_items")
    op.drop_table("attest_items")
