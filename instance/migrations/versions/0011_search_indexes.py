"""search indexes: instance counts from an index, covering indexes for SQLite searches

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 05:30:00

Every index here is specific to one database, so none is declared on the
model: they are named ``search_``, which the comparison of models and
migrations leaves out (``instance.migrate.include_object``), like the FTS5
table and the ``tsvector`` column of 0002.

``GET /api/v1/instance`` counts the open, visible listings, local and remote
apart (``instance.api.meta.counts``); it used to read every open listing
(hundreds of milliseconds at 100,000 listings).

* SQLite: ``search_listings_counts (local, status, hidden)`` answers each count
  from a range of the index.
* PostgreSQL: two partial indexes, one per origin, each holding only the open
  and visible listings of that origin: the count is an index-only scan of
  exactly its rows. A plain (local, status, hidden) index would also serve
  it, but PostgreSQL's planner then ANDs that index's 80,000 open listings
  into the bitmap of every full-text search (5-10 ms lost per search); a
  partial index whose condition names ``local`` is never implied by a search.

SQLite searches: two covering indexes hold every column a search filters or
sorts on, so that finding a page reads index entries rather than whole rows
(a row carries its description and its search text, about 1.5 kB):

* ``search_listings_recent`` leads with ``status, published_at``: searches
  sorted by date walk it and test their filters on each entry (a selective
  combination of kind, modality and category: 15 ms → 2 ms at 100,000);
* ``search_listings_by_id`` leads with ``id``: a full-text search looks up
  each FTS5 match in it to test the filters (a word in 20,000 listings:
  about a third less time).

PostgreSQL needs neither: its planner walks the date index for date-sorted
searches on its own, and its text searches start from the GIN index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILTERS = "hidden, kind, category, modality, local, origin, author_id, structure_id"
SQLITE_INDEXES = {
    "search_listings_counts": "local, status, hidden",
    "search_listings_recent": f"status, published_at, {FILTERS}, lat, lon",
    "search_listings_by_id": f"id, status, {FILTERS}, published_at, lat, lon",
}
# The predicates are written as SQLAlchemy renders the count's conditions.
POSTGRES_INDEXES = {
    "search_listings_open_local": "status = 'open' AND hidden IS false AND local IS true",
    "search_listings_open_remote": "status = 'open' AND hidden IS false AND local IS false",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, columns in SQLITE_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON listings ({columns})")
    else:
        for name, where in POSTGRES_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON listings (id) WHERE {where}")


def downgrade() -> None:
    names = SQLITE_INDEXES if op.get_bind().dialect.name == "sqlite" else POSTGRES_INDEXES
    for name in names:
        op.execute(f"DROP INDEX IF EXISTS {name}")
