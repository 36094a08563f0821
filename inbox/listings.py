"""Remote listings: stored when they come from actors we follow, changed only by their author.

A remote listing is accepted when some local actor follows its author, or
follows an actor of the author's server that announces it (the territory
of a peered node). It is updated and deleted only by activities of its
author (the origin checks of ``federation.origin`` plus the author check
here), and it is never announced again by us, so listings cannot loop
between territories.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.matches import queue_matching
from domain.models import Listing
from domain.places import place_of
from federation.keys import host_of
from federation.models import Actor, Follow, Tombstone
from inbox.from_ap import ListingData


async def is_followed(session: AsyncSession, actor: Actor) -> bool:
    """Whether a local actor follows this actor or a territory of its server."""
    local_follower = (
        select(Follow.id)
        .join(Actor, Follow.follower_id == Actor.id)
        .where(Actor.local.is_(True), Follow.state == "accepted")
    )
    direct = local_follower.where(Follow.followed_id == actor.id)
    followed = Actor.__table__.alias("followed")
    via_territory = local_follower.join(followed, Follow.followed_id == followed.c.id).where(
        and_(followed.c.domain == actor.domain, followed.c.is_territory.is_(True))
    )
    result = await session.execute(select(exists(direct) | exists(via_territory)))
    return bool(result.scalar())


async def is_tombstoned(session: AsyncSession, uri: str) -> bool:
    return await session.get(Tombstone, uri) is not None


def _apply(listing: Listing, data: ListingData) -> None:
    for name in (
        "url",
        "kind",
        "title",
        "description",
        "category",
        "modality",
        "quantity",
        "unit",
        "price_amount",
        "price_currency",
        "available_from",
        "available_until",
        "commune",
        "lat",
        "lon",
        "radius_km",
        "status",
        "extra",
    ):
        setattr(listing, name, getattr(data, name))
    listing.updated_at = data.updated or utcnow()


async def _place(session: AsyncSession, listing: Listing) -> None:
    """A remote listing that names a French commune without coordinates is placed too."""
    listing.lat, listing.lon, listing.placed = await place_of(
        session, listing.commune, listing.lat, listing.lon
    )


async def upsert(session: AsyncSession, author: Actor, data: ListingData) -> Listing | None:
    """Store or refresh a remote listing of ``author``; None when refused."""
    if data.author != author.uri or host_of(data.ap_id) != author.domain:
        return None
    if await is_tombstoned(session, data.ap_id):
        return None
    found = await session.execute(select(Listing).where(Listing.ap_id == data.ap_id))
    listing = found.scalar_one_or_none()
    if listing is not None:
        if listing.local or listing.author_id != author.id:
            return None
        if data.updated and listing.updated_at and data.updated < listing.updated_at:
            return listing  # an older version arriving late
        _apply(listing, data)
        await _place(session, listing)
        await session.flush()
        await queue_matching(session, listing.id)
        return listing
    listing = Listing(
        ap_id=data.ap_id,
        local=False,
        origin=author.domain,
        author_id=author.id,
        published_at=data.published or utcnow(),
        hidden=False,
    )
    _apply(listing, data)
    await _place(session, listing)
    session.add(listing)
    await session.flush()
    await queue_matching(session, listing.id)
    return listing


async def remove(session: AsyncSession, author_uri: str, uri: str) -> bool:
    """Delete a remote listing by its author; record the tombstone either way."""
    found = await session.execute(
        select(Listing)
        .join(Actor, Listing.author_id == Actor.id)
        .where(Listing.ap_id == uri, Listing.local.is_(False), Actor.uri == author_uri)
    )
    listing = found.scalar_one_or_none()
    if listing is not None:
        await session.delete(listing)
    if await session.get(Tombstone, uri) is None:
        session.add(Tombstone(uri=uri, actor_uri=author_uri))
    await session.flush()
    return listing is not None
