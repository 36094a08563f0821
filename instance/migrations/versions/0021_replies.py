"""replies: public replies under listings, and Like/Announce counters without who

Revision ID: 0021_replies
Revises: 0020_second_factor
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.database

revision: str = "0021_replies"
down_revision: str | Sequence[str] | None = "0020_second_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ap_id", sa.String(length=2048), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("content_text", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.String(length=2048), nullable=False),
        sa.Column("context", sa.String(length=2048), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("published_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_replies_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["actors.id"], name=op.f("fk_replies_author_id_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
        sa.UniqueConstraint("ap_id", name=op.f("uq_replies_ap_id")),
    )  # fmt: skip
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replies_author_id"), ["author_id"], unique=False)
        batch_op.create_index(
            "ix_replies_listing_published", ["listing_id", "published_at", "id"], unique=False
        )
    op.create_table(
        "listing_reactions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("activity_digest", sa.String(length=64), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_listing_reactions_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_listing_reactions")),
    )  # fmt: skip
    with op.batch_alter_table("listing_reactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listing_reactions_activity_digest"), ["activity_digest"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_listing_reactions_listing_id"), ["listing_id"], unique=False
        )
        batch_op.create_index(
            "ix_listing_reactions_origin_created", ["origin", "created_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("listing_reactions")
    op.drop_table("replies")
