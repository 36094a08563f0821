"""profiles: a structure's contact preferences, its logo, and its profile as rejected

Revision ID: 0016_profiles
Revises: 0015_introductions
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.database

revision: str = "0016_profiles"
down_revision: str | Sequence[str] | None = "0015_introductions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("structures") as batch:
        batch.add_column(
            sa.Column("contact_phone", sa.String(length=40), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("accepts_messages", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(
            sa.Column("logo_type", sa.String(length=16), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("logo_updated_at", config.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("rejected_profile", sa.JSON(), nullable=True))
    op.create_table(
        "structure_logos",
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["structure_id"],
            ["structures.id"],
            name=op.f("fk_structure_logos_structure_id_structures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("structure_id", name=op.f("pk_structure_logos")),
    )


def downgrade() -> None:
    op.drop_table("structure_logos")
    with op.batch_alter_table("structures") as batch:
        batch.drop_column("rejected_profile")
        batch.drop_column("logo_updated_at")
        batch.drop_column("logo_type")
        batch.drop_column("accepts_messages")
        batch.drop_column("contact_phone")
