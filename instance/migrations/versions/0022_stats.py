"""stats: the dashboard's figures per day and group, kept up to date (``domain.figures``)

Triggers on listings, structures and matches append to ``stats_dirty`` the day of every
change that could move a figure; the worker recomputes those days into ``stats_days``.
Existing days are all listed as dirty here, so the first refresh fills the table.

Revision ID: 0022_stats
Revises: 0021_replies
Create Date: 2026-12-06 23:00:00
"""

# ruff: noqa: S608 - the SQL is built from this file's constants only
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_stats"
down_revision: str | Sequence[str] | None = "0021_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns whose change can move a figure (see domain.figures).
LISTING_COLUMNS = (
    "published_at, status, hidden, kind, category, commune, structure_id, local, origin"
)
STRUCTURE_COLUMNS = "status, kind, commune, decided_at"
MATCH_COLUMNS = "created_at, need_id, offer_id"

SQLITE_TRIGGERS = [
    """CREATE TRIGGER stats_listings_insert AFTER INSERT ON listings BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(NEW.published_at));
    END""",
    """CREATE TRIGGER stats_listings_delete AFTER DELETE ON listings BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(OLD.published_at));
    END""",
    f"""CREATE TRIGGER stats_listings_update AFTER UPDATE OF {LISTING_COLUMNS} ON listings
    BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(OLD.published_at));
        INSERT INTO stats_dirty (day) SELECT date(NEW.published_at)
            WHERE date(NEW.published_at) IS NOT date(OLD.published_at);
        INSERT INTO stats_dirty (day) SELECT DISTINCT date(created_at) FROM matches
            WHERE (need_id = NEW.id OR offer_id = NEW.id)
            AND (OLD.hidden IS NOT NEW.hidden OR OLD.local IS NOT NEW.local
                 OR OLD.structure_id IS NOT NEW.structure_id);
    END""",
    """CREATE TRIGGER stats_structures_insert AFTER INSERT ON structures
    WHEN NEW.decided_at IS NOT NULL BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(NEW.decided_at));
    END""",
    """CREATE TRIGGER stats_structures_delete AFTER DELETE ON structures
    WHEN OLD.decided_at IS NOT NULL BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(OLD.decided_at));
    END""",
    f"""CREATE TRIGGER stats_structures_update AFTER UPDATE OF {STRUCTURE_COLUMNS} ON structures
    BEGIN
        INSERT INTO stats_dirty (day) SELECT date(OLD.decided_at)
            WHERE OLD.decided_at IS NOT NULL;
        INSERT INTO stats_dirty (day) SELECT date(NEW.decided_at)
            WHERE NEW.decided_at IS NOT NULL
            AND date(NEW.decided_at) IS NOT date(OLD.decided_at);
        INSERT INTO stats_dirty (day) SELECT DISTINCT date(published_at) FROM listings
            WHERE structure_id = NEW.id
            AND (OLD.status IS NOT NEW.status OR OLD.kind IS NOT NEW.kind);
        INSERT INTO stats_dirty (day) SELECT DISTINCT date(m.created_at) FROM matches AS m
            JOIN listings AS l ON l.id = m.need_id OR l.id = m.offer_id
            WHERE l.structure_id = NEW.id AND OLD.status IS NOT NEW.status;
    END""",
    """CREATE TRIGGER stats_matches_insert AFTER INSERT ON matches BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(NEW.created_at));
    END""",
    """CREATE TRIGGER stats_matches_delete AFTER DELETE ON matches BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(OLD.created_at));
    END""",
    f"""CREATE TRIGGER stats_matches_update AFTER UPDATE OF {MATCH_COLUMNS} ON matches BEGIN
        INSERT INTO stats_dirty (day) VALUES (date(OLD.created_at));
        INSERT INTO stats_dirty (day) VALUES (date(NEW.created_at));
    END""",
]
SQLITE_TRIGGER_NAMES = [
    f"stats_{table}_{event}"
    for table in ("listings", "structures", "matches")
    for event in ("insert", "delete", "update")
]

PG_DAY = "to_char(({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _pg_day(column: str) -> str:
    return PG_DAY.format(column)


POSTGRES_FUNCTIONS = {
    "listings": f"""
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO stats_dirty (day) VALUES ({_pg_day("OLD.published_at")});
        END IF;
        IF TG_OP = 'INSERT' OR {_pg_day("NEW.published_at")} <> {_pg_day("OLD.published_at")}
        THEN
            INSERT INTO stats_dirty (day) VALUES ({_pg_day("NEW.published_at")});
        END IF;
        IF TG_OP = 'UPDATE' AND (OLD.hidden IS DISTINCT FROM NEW.hidden
                OR OLD.local IS DISTINCT FROM NEW.local
                OR OLD.structure_id IS DISTINCT FROM NEW.structure_id) THEN
            INSERT INTO stats_dirty (day) SELECT DISTINCT {_pg_day("created_at")} FROM matches
                WHERE need_id = NEW.id OR offer_id = NEW.id;
        END IF;""",
    "structures": f"""
        IF TG_OP <> 'INSERT' AND OLD.decided_at IS NOT NULL THEN
            INSERT INTO stats_dirty (day) VALUES ({_pg_day("OLD.decided_at")});
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.decided_at IS NOT NULL THEN
            INSERT INTO stats_dirty (day) VALUES ({_pg_day("NEW.decided_at")});
        END IF;
        IF TG_OP = 'UPDATE' AND (OLD.status IS DISTINCT FROM NEW.status
                OR OLD.kind IS DISTINCT FROM NEW.kind) THEN
            INSERT INTO stats_dirty (day) SELECT DISTINCT {_pg_day("published_at")}
                FROM listings WHERE structure_id = NEW.id;
            INSERT INTO stats_dirty (day) SELECT DISTINCT {_pg_day("m.created_at")}
                FROM matches AS m JOIN listings AS l ON l.id = m.need_id OR l.id = m.offer_id
                WHERE l.structure_id = NEW.id;
        END IF;""",
    "matches": f"""
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO stats_dirty (day) VALUES ({_pg_day("OLD.created_at")});
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO stats_dirty (day) VALUES ({_pg_day("NEW.created_at")});
        END IF;""",
}
POSTGRES_COLUMNS = {
    "listings": LISTING_COLUMNS,
    "structures": STRUCTURE_COLUMNS,
    "matches": MATCH_COLUMNS,
}


def _create_postgres_triggers() -> None:
    for table, body in POSTGRES_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION stats_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN{body}\n    RETURN NULL;\nEND $$"
        )
        op.execute(
            f"CREATE TRIGGER stats_{table} AFTER INSERT OR DELETE OR UPDATE OF "
            f"{POSTGRES_COLUMNS[table]} ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION stats_{table}_changed()"
        )


def upgrade() -> None:
    op.create_table(
        "stats_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("listings", sa.Integer(), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("needs", sa.Integer(), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.Column("structures", sa.Integer(), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "dim", "key", name=op.f("pk_stats_days")),
    )
    op.create_index("ix_stats_days_dim_day", "stats_days", ["dim", "day"], unique=False)
    op.create_table(
        "stats_dirty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_dirty")),
    )
    op.create_index(op.f("ix_stats_dirty_day"), "stats_dirty", ["day"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        day = "date({})"
    else:
        _create_postgres_triggers()
        day = PG_DAY
    # Every day already holding something is to be computed by the worker.
    for table, column, where in (
        ("listings", "published_at", "true"),
        ("structures", "decided_at", "decided_at IS NOT NULL"),
        ("matches", "created_at", "true"),
    ):
        op.execute(
            f"INSERT INTO stats_dirty (day) SELECT DISTINCT {day.format(column)} "
            f"FROM {table} WHERE {where}"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for table in POSTGRES_FUNCTIONS:
            op.execute(f"DROP TRIGGER IF EXISTS stats_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS stats_{table}_changed()")
    op.drop_index(op.f("ix_stats_dirty_day"), table_name="stats_dirty")
    op.drop_table("stats_dirty")
    op.drop_index("ix_stats_days_dim_day", table_name="stats_days")
    op.drop_table("stats_days")
