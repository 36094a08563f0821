"""moves: the former accounts of a local actor (``alsoKnownAs``, FEP-7628)

Revision ID: 0017_moves
Revises: 0016_profiles
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_moves"
down_revision: str | Sequence[str] | None = "0016_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actors") as batch:
        batch.add_column(sa.Column("also_known_as", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actors") as batch:
        batch.drop_column("also_known_as")
