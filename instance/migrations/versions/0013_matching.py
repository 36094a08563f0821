"""matching: stored matches between offers and needs, the queue of listings to match, and
the structure a notification concerns, and saved searches with the listings they told of

Revision ID: 0013_matching
Revises: 0012_places
Create Date: 2026-12-06 17:30:00

Every open listing already here is queued, so the matching worker pairs the
existing offers and needs after the upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.database

revision: str = "0013_matching"
down_revision: str | Sequence[str] | None = "0012_places"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_id"], ["listings.id"], name=op.f("fk_matches_need_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["listings.id"], name=op.f("fk_matches_offer_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint("need_id", "offer_id", name=op.f("uq_matches_need_id")),
    )  # fmt: skip
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index("ix_matches_offer_id", ["offer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_created_at"), ["created_at"], unique=False)
    op.create_table(
        "match_jobs",
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_match_jobs_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_match_jobs")),
    )  # fmt: skip
    with op.batch_alter_table("match_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_jobs_queued_at"), ["queued_at"], unique=False)
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structures.id"],
            name=op.f("fk_saved_searches_structure_id_structures"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )  # fmt: skip
    with op.batch_alter_table("saved_searches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saved_searches_structure_id"), ["structure_id"], unique=False
        )
    op.create_table(
        "saved_search_hits",
        sa.Column("saved_search_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["saved_search_id"], ["saved_searches.id"],
            name=op.f("fk_saved_search_hits_saved_search_id_saved_searches"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"],
            name=op.f("fk_saved_search_hits_listing_id_listings"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "saved_search_id", "listing_id", name=op.f("pk_saved_search_hits")
        ),
    )  # fmt: skip
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("structure_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_notifications_structure_id"), ["structure_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_structure_id_structures"),
            "structures",
            ["structure_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.execute(
        "INSERT INTO match_jobs (listing_id, queued_at) "
        "SELECT id, published_at FROM listings WHERE status = 'open' AND hidden = false"
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_structure_id_structures"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_notifications_structure_id"))
        batch_op.drop_column("structure_id")
    op.drop_table("saved_search_hits")
    op.drop_table("saved_searches")
    op.drop_table("match_jobs")
    op.drop_table("matches")
