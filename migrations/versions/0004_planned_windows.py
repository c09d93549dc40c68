"""check-ins: the window each check-in was planned up to; one nudge per person and round.

checkin_schedules.planned_until lets a tick claim only the occurrences since the last
planned window instead of every occurrence in the look-back period. A unique index on
checkin_nudges (round_id, person) makes "one nudge per person and round" hold even when
a person's time zone changes between two occurrences of the same round; a second nudge
an older version may have claimed is dropped first (answers are kept: they belong to
the round and the person, not to the nudge).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkin_schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_until", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "DELETE FROM checkin_nudges WHERE id NOT IN "
        "(SELECT min(id) FROM checkin_nudges GROUP BY round_id, person)"
    )
    with op.batch_alter_table("checkin_nudges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkin_nudges_round_id_person"), ["round_id", "person"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("checkin_nudges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_nudges_round_id_person"))
    with op.batch_alter_table("checkin_schedules", schema=None) as batch_op:
        batch_op.drop_column("planned_until")
