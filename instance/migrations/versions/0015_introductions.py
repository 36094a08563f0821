"""introductions: when an animator put the two structures of a match in touch

Revision ID: 0015_introductions
Revises: 0014_exchanges
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.database

revision: str = "0015_introductions"
down_revision: str | Sequence[str] | None = "0014_exchanges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.add_column(
            sa.Column("introduced_at", config.database.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("introduced_at")
