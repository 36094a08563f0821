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
from domain.listing_states import mirror
from domain.listings import LISTING_FIELDS
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


async def is_tombstoned(session: AsyncSession, uri: str, author_uri: str) -> bool:
    """Whether ``author_uri`` deleted ``uri``: a tombstone binds the actor who recorded it.

    Anyone may delete an id of its own server that we have not seen yet (a Delete
    may overtake its Create), so a tombstone recorded by another actor of that
    server must not keep the real author's object out.
    """
    tombstone = await session.get(Tombstone, uri)
    return tombstone is not None and tombstone.actor_uri in (author_uri, "")


def _apply(listing: Listing, data: ListingData) -> None:
    for name in ("url", *LISTING_FIELDS, "extra"):
        setattr(listing, name, getattr(data, name))
    mirror(listing, data.status)  # its node keeps its states
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
    if await is_tombstoned(session, data.ap_id, author.uri):
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
    """Delete a remote listing by its author; record the tombstone unless it is another's.

    A listing of another actor is left alone, without a tombstone. An id we do
    not know is tombstoned in the name of ``author_uri`` (the Delete may have
    overtaken its Create); when the real author deletes its listing, its
    tombstone replaces one recorded by someone else.
    """
    found = await session.execute(
        select(Listing, Actor.uri)
        .join(Actor, Listing.author_id == Actor.id)
        .where(Listing.ap_id == uri)
    )
    row = found.first()
    if row is not None:
        listing, owner = row
        if listing.local or owner != author_uri:
            return False
        await session.delete(listing)
    tombstone = await session.get(Tombstone, uri)
    if tombstone is None:
        session.add(Tombstone(uri=uri, actor_uri=author_uri))
    elif row is not None:
        tombstone.actor_uri = author_uri
    await session.flush()
    return row is not None
