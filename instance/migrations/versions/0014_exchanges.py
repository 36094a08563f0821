"""exchanges: exchanges between structures (FEP-0837 Offer of an Agreement), their state
and their impact

Revision ID: 0014_exchanges
Revises: 0013_matching
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.database

revision: str = "0014_exchanges"
down_revision: str | Sequence[str] | None = "0013_matching"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ap_id", sa.String(length=2048), nullable=False),
        sa.Column("offer_ap_id", sa.String(length=2048), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("listing_ap_id", sa.String(length=2048), nullable=False),
        sa.Column("listing_kind", sa.String(length=8), nullable=False),
        sa.Column("listing_title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=False),
        sa.Column("responder_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done_marked_by_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("value_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("value_currency", sa.String(length=3), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", config.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("value_eur", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("co2e_kg", sa.Float(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_exchanges_listing_id_listings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"], ["actors.id"], name=op.f("fk_exchanges_proposer_id_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["responder_id"], ["actors.id"], name=op.f("fk_exchanges_responder_id_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["done_marked_by_id"], ["actors.id"],
            name=op.f("fk_exchanges_done_marked_by_id_actors"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchanges")),
        sa.UniqueConstraint("ap_id", name=op.f("uq_exchanges_ap_id")),
        sa.UniqueConstraint("offer_ap_id", name=op.f("uq_exchanges_offer_ap_id")),
    )  # fmt: skip
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.create_index("ix_exchanges_proposer_id", ["proposer_id"], unique=False)
        batch_op.create_index("ix_exchanges_responder_id", ["responder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchanges_listing_id"), ["listing_id"], unique=False)


def downgrade() -> None:
    op.drop_table("exchanges")
