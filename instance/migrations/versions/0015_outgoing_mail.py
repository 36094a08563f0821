"""outgoing_mail: the durable queue of e-mail, each structure's choice of notification
e-mail, and password-reset links

Revision ID: 0015_outgoing_mail
Revises: 0014_exchanges
Create Date: 2026-12-06 22:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.database

revision: str = "0015_outgoing_mail"
down_revision: str | Sequence[str] | None = "0014_exchanges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("locked_until", config.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", config.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outgoing_mail_dedupe_key")),
    )
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outgoing_mail_state_next", ["state", "next_attempt_at"], unique=False
        )
    op.create_table(
        "mail_choices",
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=8), nullable=False),
        sa.Column("updated_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structures.id"],
            name=op.f("fk_mail_choices_structure_id_structures"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("structure_id", name=op.f("pk_mail_choices")),
    )  # fmt: skip
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", config.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", config.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"],
            name=op.f("fk_password_resets_person_id_people"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )  # fmt: skip
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_password_resets_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_password_resets_address_hash"), ["address_hash"], unique=False
        )


def downgrade() -> None:
    op.drop_table("password_resets")
    op.drop_table("mail_choices")
    op.drop_table("outgoing_mail")
