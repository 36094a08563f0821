"""SQLite reads the full-text index once per search, whatever the planner knows.

A node never runs ``ANALYZE``, so SQLite plans without statistics. Joined
plainly to ``listings_fts``, a date-sorted text search then walked the date
index and looked each listing up in the FTS5 table (``INDEX 0:=M…``: the
rowid and the MATCH): the whole MATCH, prefixes expanded, once per listing —
113 s for four two-letter words at 100,000 listings. Here every statement a
text search runs, with each sort and many filters, is planned on a database
without statistics, and the FTS5 table must never be looked up by rowid.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event

from tests.databases import DatabaseTemplates
from tests.support import TestNode, make_settings, running_node

pytestmark = pytest.mark.dialect  # query plans

PAU = "43.2951,-0.3708"
FILTERS: list[dict[str, str]] = [
    {},
    {"category": "equipment"},
    {"kind": "offer", "modality": "lend"},
    {"category": "vehicles", "kind": "need", "modality": "give", "origin": "local"},
    {"origin": "pays-basque.example"},
    {"structure": "atelier"},
    {"near": PAU, "radius_km": "30"},
    {"near": PAU, "radius_km": "5", "category": "food", "kind": "offer"},
    {"available_on": "2026-12-01", "kind": "offer"},
]
# An FTS5 index plan: "INDEX 0:=M2" looks a rowid up (with the MATCH); "INDEX 0:M2" scans.
FTS_LOOKUP = re.compile(r"listings_fts VIRTUAL TABLE INDEX \d+:[^ ]*=")


@pytest_asyncio.fixture
async def sqlite_node(templates: DatabaseTemplates, tmp_path: Path) -> AsyncIterator[TestNode]:
    settings = make_settings(tmp_path / "a", templates.sqlite_url(tmp_path))
    async with running_node(settings) as node:
        yield node


@pytest.mark.parametrize("sort", ["recent", "relevance", "distance"])
async def test_text_search_never_looks_the_fts_table_up_listing_by_listing(
    sqlite_node: TestNode, sort: str
) -> None:
    node = sqlite_node
    await node.structure("atelier", owner="s@a.example")
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "listings_fts" in statement:
            statements.append((statement, parameters))

    engine = node.node.db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for filters in FILTERS:
            params = {"q": "pa bo ch ve tr br ca lo", "sort": sort, **filters}
            if sort == "distance":
                params.setdefault("near", PAU)
            response = await node.api("GET", "/api/v1/listings", query_string=params)
            assert response.status_code == 200, (params, await response.get_data())
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len(statements) >= len(FILTERS)
    path = node.settings.database_url.split("///", 1)[1]
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as raw:
        stats = raw.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert stats.fetchall() == []  # no statistics: the planner's worst case
        for statement, parameters in statements:
            plan = [row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            assert any("listings_fts" in line for line in plan), plan
            lookups = [line for line in plan if FTS_LOOKUP.search(line)]
            assert not lookups, (statement, plan)
