"""Pacing shared by replicas: the next free turn of each pace (a platform's rate limit).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pace_buckets",
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_pace_buckets")),
    )


def downgrade() -> None:
    op.drop_table("pace_buckets")
