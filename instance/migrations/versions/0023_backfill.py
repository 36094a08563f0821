"""backfill: the durable jobs reading a followed actor's outbox once a follow is accepted
(``federation.backfill``)

Revision ID: 0023_backfill
Revises: 0022_stats
Create Date: 2026-12-06 23:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.database

revision: str = "0023_backfill"
down_revision: str | Sequence[str] | None = "0022_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backfill_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_id", sa.Integer(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", config.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_id"], ["follows.id"], name=op.f("fk_backfill_jobs_follow_id_follows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_jobs")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_backfill_jobs_follow_id"), "backfill_jobs", ["follow_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_backfill_jobs_follow_id"), table_name="backfill_jobs")
    op.drop_table("backfill_jobs")
