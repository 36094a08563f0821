"""search: folded and stemmed text of listings, SQLite FTS5 index, PostgreSQL tsvector

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:52:40.851146

SQLite: ``listings_fts`` is an external-content FTS5 table over the stem
columns, kept in sync by triggers. A later migration that rebuilds the
``listings`` table on SQLite (Alembic batch "move and copy") drops these
triggers and must create them again (see ``SQLITE_TRIGGERS``).

PostgreSQL: ``search_vector`` is a stored generated ``tsvector`` of the
folded columns under the ``french`` and ``english`` configurations (title
weighted A, body B), with a GIN index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER listings_fts_insert AFTER INSERT ON listings BEGIN
        INSERT INTO listings_fts(rowid, stem_title, stem_body)
        VALUES (new.id, new.stem_title, new.stem_body);
    END""",
    """CREATE TRIGGER listings_fts_delete AFTER DELETE ON listings BEGIN
        INSERT INTO listings_fts(listings_fts, rowid, stem_title, stem_body)
        VALUES ('delete', old.id, old.stem_title, old.stem_body);
    END""",
    """CREATE TRIGGER listings_fts_update AFTER UPDATE OF stem_title, stem_body ON listings BEGIN
        INSERT INTO listings_fts(listings_fts, rowid, stem_title, stem_body)
        VALUES ('delete', old.id, old.stem_title, old.stem_body);
        INSERT INTO listings_fts(rowid, stem_title, stem_body)
        VALUES (new.id, new.stem_title, new.stem_body);
    END""",
]

PG_VECTOR = """ALTER TABLE listings ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('french'::regconfig, fold_title), 'A')
    || setweight(to_tsvector('english'::regconfig, fold_title), 'A')
    || setweight(to_tsvector('french'::regconfig, fold_body), 'B')
    || setweight(to_tsvector('english'::regconfig, fold_body), 'B')
) STORED"""


def _fill_existing() -> None:
    from domain.textsearch import fold, stem_text

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, description FROM listings")).all()
    for row_id, title, description in rows:
        bind.execute(
            sa.text(
                "UPDATE listings SET fold_title = :ft, fold_body = :fb, stem_title = :st,"
                " stem_body = :sb WHERE id = :id"
            ),
            {
                "ft": fold(title or ""),
                "fb": fold(description or ""),
                "st": stem_text(title or ""),
                "sb": stem_text(description or ""),
                "id": row_id,
            },
        )


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        for name in ("fold_title", "fold_body", "stem_title", "stem_body"):
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))
    _fill_existing()
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE listings_fts USING fts5(stem_title, stem_body,"
            " content='listings', content_rowid='id',"
            " tokenize='unicode61 remove_diacritics 2')"
        )
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO listings_fts(listings_fts) VALUES ('rebuild')")
    else:
        op.execute(PG_VECTOR)
        op.execute("CREATE INDEX search_listings_vector ON listings USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS listings_fts_{name}")
        op.execute("DROP TABLE IF EXISTS listings_fts")
    else:
        op.execute("DROP INDEX IF EXISTS search_listings_vector")
        op.execute("ALTER TABLE listings DROP COLUMN IF EXISTS search_vector")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        for name in ("stem_body", "stem_title", "fold_body", "fold_title"):
            batch_op.drop_column(name)
