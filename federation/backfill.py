"""Backfill: when a follow (or a peering) is accepted, the follower reads the followed
actor's outbox, so what it published before appears at once.

* :class:`BackfillJob` — the durable job, queued in the transaction that records the
  ``Accept`` (:func:`queue`) and run by the worker, never in a request.
* :func:`walk_outbox` — reads an ``OrderedCollection`` whose items are inline
  (``orderedItems``) or paged (``first`` → ``next`` … ``OrderedCollectionPage``, by URL
  or inline), **bounded**: at most :attr:`Bounds.max_items` items kept and
  :attr:`Bounds.max_pages` pages, within :attr:`Bounds.seconds`, and items published in
  the last :attr:`Bounds.max_age_days` days. Each item is checked on its own and refused
  with a reason (the others are kept): it must be an embedded activity whose id is on the
  outbox's host, whose actor is allowed (the followed actor; for a peering, the peer's
  own actors) and on that host, and whose embedded object, if any, is on that host and
  attributed to that actor. Pages must be on the outbox's host too.

Nothing here knows what a listing is: the caller says which objects it keeps
(``keep``) and stores what was accepted as received activities, so they go through
the same inbox handling as pushed ones (the inbox store ignores an id it already has).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from config.database import Base, UTCDateTime, utcnow
from federation.errors import PayloadError
from federation.keys import host_of


class BackfillJob(Base):
    """An accepted follow whose followed actor's outbox is still to be read."""

    __tablename__ = "backfill_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_id: Mapped[int] = mapped_column(ForeignKey("follows.id", ondelete="CASCADE"), index=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def queue(session: AsyncSession, follow_id: int) -> None:
    """Read the followed actor's outbox once this transaction commits (the worker)."""
    session.add(BackfillJob(follow_id=follow_id))


@dataclass(frozen=True)
class Bounds:
    max_items: int = 300
    max_pages: int = 10
    seconds: float = 60.0
    max_age_days: int = 90


@dataclass
class Walk:
    """What a walk kept, what it refused (id, reason) and why it stopped early, if it did."""

    items: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    pages: int = 0
    stopped: str | None = None


Fetch = Callable[[str], Awaitable[dict[str, Any]]]


def id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _published(value: dict[str, Any]) -> datetime | None:
    raw = value.get("published")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def check_item(
    item: Any,
    host: str,
    allowed_actor: Callable[[str], bool],
    since: datetime,
    keep: Callable[[dict[str, Any]], str | None],
) -> str | None:
    """Why ``item`` is refused, or None (see the module doc)."""
    if not isinstance(item, dict):
        return "not an embedded activity"
    item_id, actor = id_of(item), id_of(item.get("actor"))
    try:
        if item_id is None or host_of(item_id) != host:
            return "its id is not on the outbox's host"
        if actor is None or host_of(actor) != host:
            return "its actor is not on the outbox's host"
    except PayloadError:
        return "its id or actor is not an http(s) URL"
    if not allowed_actor(actor):
        return "its actor is not the followed actor"
    obj = item.get("object")
    if isinstance(obj, dict):
        try:
            if id_of(obj) is None or host_of(str(id_of(obj))) != host:
                return "its object is not on the outbox's host"
        except PayloadError:
            return "its object's id is not an http(s) URL"
        author = id_of(obj.get("attributedTo"))
        if author is not None and author != actor:
            return "its object is attributed to another actor"
    dated = obj if isinstance(obj, dict) and "published" in obj else item
    published = _published(dated)
    if published is None or published < since:
        return "not published in the last days kept"
    return keep(item)


async def walk_outbox(
    fetch: Fetch,
    outbox_url: str,
    allowed_actor: Callable[[str], bool],
    keep: Callable[[dict[str, Any]], str | None],
    bounds: Bounds,
    now: datetime,
) -> Walk:
    """Read the outbox within ``bounds`` (see the module doc); never raises on a bad peer:
    a fetch error stops the walk with what was kept so far."""
    walk = Walk()
    host = host_of(outbox_url)
    since = now - timedelta(days=bounds.max_age_days)
    deadline = time.monotonic() + bounds.seconds

    def take(items: Any) -> bool:
        """Check a page's items; False once the item limit is reached."""
        for item in items if isinstance(items, list) else []:
            reason = check_item(item, host, allowed_actor, since, keep)
            if reason is None:
                walk.items.append(item)
                if len(walk.items) >= bounds.max_items:
                    walk.stopped = f"item limit ({bounds.max_items})"
                    return False
            else:
                walk.refused.append((id_of(item) or "?", reason))
        return True

    async def get(url: str) -> dict[str, Any]:
        if host_of(url) != host:
            raise PayloadError(f"a page on another host ({host_of(url)})")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        async with asyncio.timeout(remaining):
            return await fetch(url)

    try:
        collection = await get(outbox_url)
        walk.pages = 1
        if not take(collection.get("orderedItems", collection.get("items"))):
            return walk
        page: Any = collection.get("first")
        seen: set[str] = set()
        while page is not None:
            if walk.pages >= bounds.max_pages:
                walk.stopped = f"page limit ({bounds.max_pages})"
                break
            if isinstance(page, str):
                if page in seen:
                    walk.stopped = "a page seen twice"
                    break
                seen.add(page)
                page = await get(page)
            if not isinstance(page, dict):
                break
            walk.pages += 1
            if not take(page.get("orderedItems", page.get("items"))):
                break
            page = page.get("next")
    except TimeoutError:
        walk.stopped = f"time budget ({bounds.seconds:g} s)"
    except Exception as exc:  # a peer's fault (unreachable, bad JSON, another host…)
        walk.stopped = f"fetch failed: {exc}"
    return walk
