"""Pages of the collections served to other servers (outbox, followers, following).

A collection's top URL is an ``OrderedCollection`` (``totalItems``, ``first``); its pages
are ``OrderedCollectionPage``s, newest first, of at most ``size`` items, with ``next``
(older) and ``prev`` (newer) when there are any. A page is asked for as Mastodon does:

* ``?page=true`` or ``?page=N`` — the N-th page (``first`` is ``?page=1``);
* ``?max_id=ID`` — the items older than ``ID`` (what ``next`` points to);
* ``?min_id=ID`` — the items just newer than ``ID`` (what ``prev`` points to).

IDs are the row ids of the collection (an opaque cursor to other servers), so walking
``next`` costs one indexed query a page however deep the collection is. Anything else
is answered 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from instance.errors import ApiError
from outbox.to_ap.actors import collection_page

MAX_PAGE = 100_000
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Cursor:
    """Which page: by number (offset), or before ``max_id`` / after ``min_id``."""

    query: str  # as asked, for the page's id: "page=2", "max_id=42"
    page: int | None = None
    max_id: int | None = None
    min_id: int | None = None


def _number(name: str, raw: str, high: int) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= high:
        raise ApiError(400, f"{name} must be a positive integer")
    return int(raw)


def read_cursor() -> Cursor | None:
    """The page asked for, or None for the collection itself (400 on a bad parameter)."""
    args = request.args
    given = [name for name in ("page", "max_id", "min_id") if name in args]
    if not given:
        return None
    if len(given) > 1:
        raise ApiError(400, "give one of page, max_id and min_id")
    name = given[0]
    raw = args.get(name, "")
    if name == "page":
        page = 1 if raw == "true" else _number("page", raw, MAX_PAGE)
        return Cursor(f"page={page}", page=page)
    value = _number(name, raw, MAX_ID)
    if name == "max_id":
        return Cursor(f"max_id={value}", max_id=value)
    return Cursor(f"min_id={value}", min_id=value)


async def page_document(
    session: AsyncSession,
    rows: Any,  # select(key, item).where(...)
    key: InstrumentedAttribute[int],
    uri: str,
    cursor: Cursor,
    size: int,
) -> dict[str, Any]:
    """The page ``cursor`` of ``rows`` (``select(key, item)`` with its conditions)."""
    if cursor.min_id is not None:
        found = await session.execute(
            rows.where(key > cursor.min_id).order_by(key.asc()).limit(size)
        )
        picked = list(reversed(found.all()))
    else:
        query = rows.order_by(key.desc()).limit(size)
        if cursor.max_id is not None:
            query = query.where(key < cursor.max_id)
        elif cursor.page:
            query = query.offset((cursor.page - 1) * size)
        picked = list((await session.execute(query)).all())
    items = [item for _, item in picked]
    next_page = prev_page = None
    if picked:
        newest, oldest = picked[0][0], picked[-1][0]
        older = await session.execute(rows.where(key < oldest).limit(1))
        if older.first() is not None:
            next_page = f"{uri}?max_id={oldest}"
        newer = await session.execute(rows.where(key > newest).limit(1))
        if newer.first() is not None:
            prev_page = f"{uri}?min_id={newest}"
    doc = collection_page(f"{uri}?{cursor.query}", uri, items, next_page)
    if prev_page:
        doc["prev"] = prev_page
    return doc
