"""withheld content: an index on the id of the Announce that shares a community post

Revision ID: 0012_withheld
Revises: 0011
Create Date: 2026-12-06 17:30:00

An activity at its id and in an outbox is served only while what it carries is
still shown (``domain.visibility.activity_shown``). A community's
``Announce(Create)`` of a post names the ``Create``, not the post, so it is
matched to its post by ``posts.announce_uri``: for each activity read, one
lookup in this index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_withheld"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_posts_announce_uri"), ["announce_uri"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posts_announce_uri"))
