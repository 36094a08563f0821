"""places: the gazetteer of French communes; listings and structures say how they were placed

Revision ID: 0012_places
Revises: 0012_web_sessions
Create Date: 2026-12-06 17:10:00

Loads ``domain/data/communes.csv.gz`` (about 35,000 communes, see
``domain/data/README.md``) into ``places`` and ``place_postcodes``, adds
``placed`` (``given``, ``commune`` or ``none``) to listings and structures, and
places the existing rows: coordinates already there are ``given``; a commune
without coordinates that names exactly one placed commune of the gazetteer gets
its position (``commune``); the rest are ``none``.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0012_places"
down_revision: str | Sequence[str] | None = "0012_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def _rows() -> Iterator[dict[str, str]]:
    import domain.data

    path = Path(domain.data.__file__).with_name("communes.csv.gz")
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    yield from csv.DictReader(io.StringIO(text))


def _insert(table: sa.Table, rows: list[dict[str, object]]) -> None:
    """Insert ``rows`` through the driver's ``executemany``, in batches of BATCH rows.

    The SQLAlchemy insert read each row's dict into bound parameters one by one: half a
    second of CPU for the 70,000 rows, most of what ``entraide init`` spends migrating.
    """
    bind = op.get_bind()
    names = [column.name for column in table.columns]
    style = bind.dialect.paramstyle
    if style == "qmark":
        marks = ["?"] * len(names)
    elif style in ("numeric", "numeric_dollar"):
        sign = "$" if style == "numeric_dollar" else ":"
        marks = [f"{sign}{i}" for i in range(1, len(names) + 1)]
    else:  # format, pyformat
        marks = ["%s"] * len(names)
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(marks)})"  # noqa: S608
    values = [tuple(row[name] for name in names) for row in rows]
    for start in range(0, len(values), BATCH):
        bind.exec_driver_sql(sql, values[start : start + BATCH])


def upgrade() -> None:
    from domain.places import name_key

    places = op.create_table(
        "places",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("postcodes", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_places")),
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_places_key"), ["key"], unique=False)
    postcodes = op.create_table(
        "place_postcodes",
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["code"],
            ["places.code"],
            name=op.f("fk_place_postcodes_code_places"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("postcode", "code", name=op.f("pk_place_postcodes")),
    )
    for table in ("listings", "structures"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("placed", sa.String(length=8), server_default="none", nullable=False)
            )

    place_rows: list[dict[str, object]] = []
    postcode_rows: list[dict[str, object]] = []
    for row in _rows():
        place_rows.append(
            {
                "code": row["code"],
                "name": row["name"],
                "key": name_key(row["name"]),
                "postcodes": row["postcodes"],
                "department": row["department"],
                "lat": float(row["lat"]) if row["lat"] else None,
                "lon": float(row["lon"]) if row["lon"] else None,
                "population": int(row["population"] or 0),
                "source": row["source"],
            }
        )
        postcode_rows += [{"postcode": p, "code": row["code"]} for p in row["postcodes"].split()]
    _insert(places, place_rows)
    _insert(postcodes, postcode_rows)

    _place_existing(place_rows)


def _place_existing(place_rows: list[dict[str, object]]) -> None:
    """Existing listings and structures: given coordinates, or placed from their commune."""
    from domain.places import parse_query

    by_key: dict[str, list[dict[str, object]]] = {}
    bind = op.get_bind()
    for name in ("listings", "structures"):
        table = sa.table(
            name, sa.column("commune"), sa.column("lat"), sa.column("lon"), sa.column("placed")
        )
        bind.execute(table.update().where(table.c.lat.is_not(None)).values(placed="given"))
        communes = bind.execute(
            sa.select(table.c.commune)
            .distinct()
            .where(table.c.lat.is_(None), table.c.commune != "")
        ).scalars()
        for commune in list(communes):
            if not by_key:  # indexed once, if any row is to be placed (none on a new node)
                for place in place_rows:
                    by_key.setdefault(str(place["key"]), []).append(place)
            query = parse_query(commune)
            found = [
                p
                for p in by_key.get(query.key, [])
                if (query.department is None or p["department"] == query.department)
                and (query.postcode is None or query.postcode in str(p["postcodes"]).split())
            ]
            if len(found) != 1 or found[0]["lat"] is None:
                continue
            bind.execute(
                table.update()
                .where(table.c.lat.is_(None), table.c.commune == commune)
                .values(lat=found[0]["lat"], lon=found[0]["lon"], placed="commune")
            )


def downgrade() -> None:
    for table in ("structures", "listings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("placed")
    op.drop_table("place_postcodes")
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_places_key"))
    op.drop_table("places")
