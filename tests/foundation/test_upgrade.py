"""Upgrades: a database made by the first released migration (0001) and holding data is
upgraded to the head by ``entraide db upgrade``; the data is kept and works (search), and
rows named by a commune without coordinates are placed from the gazetteer (0012)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from config.database import make_engine
from instance.migrate import alembic_config, head_revisions, upgrade
from instance.search import SearchQuery, search_listings
from tests.databases import DatabaseTemplates, in_thread

ROWS = [
    """INSERT INTO actors (id, uri, local, type, handle, domain, name, summary, inbox_url,
       manually_approves, is_territory, created_at, updated_at)
       VALUES (1, 'https://old.test/actors/ferme', true, 'Organization', 'ferme', 'old.test',
       'Ferme', '', 'https://old.test/actors/ferme/inbox', false, false, :now, :now)""",
    """INSERT INTO structures (id, handle, name, kind, description, commune, website,
       contact_email, status, rejection_reason, actor_id, created_at)
       VALUES (1, 'ferme', 'Ferme', 'business', '', 'Orthez', '', '', 'approved', '', 1, :now)""",
    """INSERT INTO listings (id, ap_id, url, local, origin, structure_id, author_id, kind, title,
       description, category, modality, unit, price_currency, commune, status, hidden,
       published_at, updated_at)
       VALUES (1, 'https://old.test/listings/1', '', true, 'old.test', 1, 1, 'offer',
       'Tracteurs à prêter', 'Deux tracteurs, matériaux compris', 'vehicles', 'lend', '', '',
       'Orthez', 'open', false, :now, :now)""",
]


def _url(backend: str, templates: DatabaseTemplates, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    if templates.cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    return templates.empty_postgres_url()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_upgrade_from_the_first_migration_keeps_data(
    backend: str, templates: DatabaseTemplates, tmp_path: Path
) -> None:
    url = _url(backend, templates, tmp_path)
    in_thread(command.upgrade, alembic_config(url), "0001")
    engine = make_engine(url)
    from config.database import utcnow

    async with engine.begin() as connection:
        for statement in ROWS:
            await connection.execute(text(statement), {"now": utcnow()})
    await engine.dispose()

    in_thread(upgrade, url)  # what `entraide db upgrade` runs

    engine = make_engine(url)
    async with engine.connect() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert {v for (v,) in versions} == head_revisions()
    from sqlalchemy.ext.asyncio import async_sessionmaker

    async with async_sessionmaker(engine)() as session:
        page = await search_listings(session, engine.dialect.name, SearchQuery(q="tracteur"))
        assert [hit.listing.title for hit in page.items] == ["Tracteurs à prêter"]
        page = await search_listings(session, engine.dialect.name, SearchQuery(q="materiaux"))
        assert len(page.items) == 1
    # The listing and the structure named Orthez without coordinates: placed by 0012.
    async with engine.connect() as connection:
        for table in ("listings", "structures"):
            lat, lon, placed = (
                await connection.execute(text(f"SELECT lat, lon, placed FROM {table}"))  # noqa: S608
            ).one()
            assert placed == "commune", table
            assert (round(lat, 1), round(lon, 1)) == (43.5, -0.8), table
    await engine.dispose()
    await asyncio.sleep(0)
