"""The directory of structures: this territory's and those known from its neighbours.

A **local** structure is listed once approved (never pending, rejected or
suspended). A **remote** structure is an ``Organization`` actor of another
server that this node knows (it followed it, received its listings or messages),
neither a territory actor nor suspended, blocked or deleted here; its kind and
commune come from its actor document (``entraide:kind``, ``location``, as
``outbox/to_ap/actors.py`` writes them for ours).

Handles are shown as ``handle`` for ours and ``handle@host`` for the others, the
address a Mastodon user can copy; :func:`find_remote` finds a remote structure by
that address for its page on this node (``/@handle@host``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.models import Listing, Structure
from federation.models import Actor, DomainPolicy

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass
class Entry:
    """One structure of the directory."""

    handle: str
    id: str
    name: str
    kind: str
    commune: str
    lat: float | None
    lon: float | None
    origin: str
    listings: int
    url: str
    summary: str = ""
    local: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "commune": self.commune,
            "lat": self.lat,
            "lon": self.lon,
            "origin": self.origin,
            "listings": self.listings,
            "url": self.url,
        }


def _document_text(document: Any, *path: str) -> str:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def _document_number(document: Any, key: str) -> float | None:
    place = document.get("location") if isinstance(document, dict) else None
    value = place.get(key) if isinstance(place, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        limit = 90 if key == "latitude" else 180
        return float(value) if -limit <= value <= limit else None
    return None


def remote_entry(actor: Actor, listings: int) -> Entry:
    document = actor.document or {}
    kind = _document_text(document, "entraide:kind") or "other"
    return Entry(
        handle=f"{actor.handle}@{actor.domain}",
        id=actor.uri,
        name=actor.name or actor.handle,
        kind=kind if kind in ("business", "association", "public", "other") else "other",
        commune=_document_text(document, "location", "name")[:200],
        lat=_document_number(document, "latitude"),
        lon=_document_number(document, "longitude"),
        origin=actor.domain,
        listings=listings,
        url=f"/@{actor.handle}@{actor.domain}",
        summary=actor.summary,
        local=False,
    )


def local_entry(structure: Structure, own_domain: str, listings: int) -> Entry:
    assert structure.actor is not None
    return Entry(
        handle=structure.handle,
        id=structure.actor.uri,
        name=structure.name,
        kind=structure.kind,
        commune=structure.commune,
        lat=structure.lat,
        lon=structure.lon,
        origin=own_domain,
        listings=listings,
        url=f"/@{structure.handle}",
        summary=structure.description,
    )


def _open_listings() -> Any:
    return (
        select(func.count(Listing.id))
        .where(Listing.author_id == Actor.id, Listing.status == "open", Listing.hidden.is_(False))
        .correlate(Actor)
        .scalar_subquery()
    )


def _remote_visible() -> Any:
    blocked = select(DomainPolicy.domain).where(DomainPolicy.policy.in_(("block", "silence")))
    return and_(
        Actor.local.is_(False),
        Actor.type == "Organization",
        Actor.is_territory.is_(False),
        Actor.deleted_at.is_(None),
        Actor.suspended_at.is_(None),
        Actor.moderation == "",
        Actor.domain.not_in(blocked),
    )


async def list_structures(
    session: AsyncSession,
    own_domain: str,
    *,
    q: str | None = None,
    kind: str | None = None,
    commune: str | None = None,
    origin: str | None = None,
    category: str | None = None,
    limit: int = DEFAULT_LIMIT,
    after: tuple[str, int] | None = None,
) -> tuple[list[Entry], tuple[str, int] | None]:
    """A page of the directory sorted by name; ``after`` is the last (name, id) seen.

    ``category`` keeps the structures with at least one open, visible listing of that
    category known here (what a structure offers or needs is what its listings say).
    """
    structure = aliased(Structure)
    count = _open_listings()
    name = func.lower(func.coalesce(structure.name, Actor.name))
    stmt = (
        select(Actor, structure, count.label("listings"), name.label("sort_name"))
        .outerjoin(structure, structure.actor_id == Actor.id)
        .where(
            or_(
                and_(Actor.local.is_(True), structure.is_visible),
                _remote_visible(),
            )
        )
    )
    if origin == "local":
        stmt = stmt.where(Actor.local.is_(True))
    elif origin == "remote":
        stmt = stmt.where(Actor.local.is_(False))
    elif origin:
        stmt = stmt.where(Actor.domain == origin.lower(), Actor.local.is_(origin == own_domain))
    if kind:
        stmt = stmt.where(
            or_(structure.kind == kind, Actor.document["entraide:kind"].as_string() == kind)
        )
    if commune:
        pattern = f"%{commune.lower()}%"
        remote_commune = Actor.document["location"]["name"].as_string()
        stmt = stmt.where(
            or_(
                func.lower(structure.commune).like(pattern),
                func.lower(remote_commune).like(pattern),
            )
        )
    if category:
        stmt = stmt.where(
            select(Listing.id)
            .where(
                Listing.author_id == Actor.id,
                Listing.category == category,
                Listing.status == "open",
                Listing.hidden.is_(False),
            )
            .correlate(Actor)
            .exists()
        )
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(or_(name.like(pattern), func.lower(Actor.handle).like(pattern)))
    if after is not None:
        stmt = stmt.where(or_(name > after[0], and_(name == after[0], Actor.id > after[1])))
    rows = (await session.execute(stmt.order_by(name, Actor.id).limit(limit + 1))).all()
    entries = []
    for actor, local, listings, _sort in rows[:limit]:
        if local is not None:
            entries.append(local_entry(local, own_domain, int(listings or 0)))
        else:
            entries.append(remote_entry(actor, int(listings or 0)))
    following = None
    if len(rows) > limit:
        last = rows[limit - 1]
        following = (str(last[3]), int(last[0].id))
    return entries, following


async def find_remote(session: AsyncSession, handle: str, host: str) -> Actor | None:
    """A known remote structure by its address ``handle@host``."""
    found = await session.execute(
        select(Actor).where(Actor.handle == handle, Actor.domain == host.lower(), _remote_visible())
    )
    return found.scalars().first()


async def count_open_listings(session: AsyncSession, actor_id: int) -> int:
    found = await session.scalar(
        select(func.count(Listing.id)).where(
            Listing.author_id == actor_id, Listing.status == "open", Listing.hidden.is_(False)
        )
    )
    return int(found or 0)


async def territory_names(session: AsyncSession) -> dict[str, str]:
    """The known territories of other nodes: their name (else their domain) by domain."""
    rows = await session.execute(
        select(Actor.domain, Actor.name).where(Actor.is_territory.is_(True), Actor.local.is_(False))
    )
    return {domain: name or domain for domain, name in rows.all()}


async def territory_name(session: AsyncSession, domain: str) -> str | None:
    """The name of another node's territory, when this node knows its actor."""
    name: str | None = await session.scalar(
        select(Actor.name).where(
            Actor.domain == domain, Actor.is_territory.is_(True), Actor.local.is_(False)
        )
    )
    return name


async def local_actor_at(session: AsyncSession, uri: str) -> Actor | None:
    """The local actor whose id is ``uri`` (suspended or not)."""
    found: Actor | None = await session.scalar(
        select(Actor).where(Actor.uri == uri, Actor.local.is_(True))
    )
    return found


async def local_actor_named(session: AsyncSession, handle: str) -> Actor | None:
    """The local actor ``handle`` (lower case), unless suspended."""
    found: Actor | None = await session.scalar(
        select(Actor).where(
            Actor.local.is_(True), Actor.handle == handle, Actor.suspended_at.is_(None)
        )
    )
    return found
