"""Federating a listing's life: published, updated, withdrawn, expired.

* published → ``Create(Note)`` by the structure, delivered to its followers
  and to the territory's followers (peered territories get the whole object
  without a fetch), and ``Announce`` of the listing by the territory actor,
  so that someone following only the territory (a Mastodon user, say) sees
  it as a boost;
* edited, fulfilled or expired → ``Update(Note)`` by the structure (with
  ``updated``, which Mastodon requires, and ``entraide:status``);
* withdrawn → ``Delete(Tombstone)`` by the structure, and the id is recorded
  as a tombstone so that it answers 410 and cannot be resurrected.

Remote listings are never re-announced: only local ones come through here.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from config.database import utcnow
from config.settings import Settings
from domain.models import Listing
from federation.audience import follower_actors
from federation.models import Actor, Tombstone
from outbox.publish import PUBLIC, emit, new_activity
from outbox.to_ap import listing_context, listing_object, tombstone


async def _audience(session: AsyncSession, territory: Actor) -> list[Actor]:
    return await follower_actors(session, territory.id)


def _author(listing: Listing) -> Actor:
    assert listing.structure is not None
    assert listing.structure.actor is not None
    return listing.structure.actor


async def published(session: AsyncSession, settings: Settings, listing: Listing) -> None:
    if listing.hidden:
        return
    author = _author(listing)
    territory = await territory_actor(session)
    obj = listing_object(listing, settings)
    create = new_activity(
        settings,
        "Create",
        author,
        obj,
        to=obj["to"],
        cc=obj["cc"],
        context=listing_context(settings),
        published=obj["published"],
    )
    await emit(session, settings, author, create, recipients=await _audience(session, territory))
    announce = new_activity(
        settings,
        "Announce",
        territory,
        listing.ap_id,
        to=[PUBLIC],
        cc=[territory.followers_url or "", author.uri],
        published=obj["published"],
    )
    await emit(session, settings, territory, announce)


async def updated(session: AsyncSession, settings: Settings, listing: Listing) -> None:
    if listing.hidden:
        return
    author = _author(listing)
    territory = await territory_actor(session)
    obj = listing_object(listing, settings)
    update = new_activity(
        settings,
        "Update",
        author,
        obj,
        to=obj["to"],
        cc=obj["cc"],
        context=listing_context(settings),
    )
    await emit(session, settings, author, update, recipients=await _audience(session, territory))


async def withdrawn(session: AsyncSession, settings: Settings, listing: Listing) -> None:
    author = _author(listing)
    territory = await territory_actor(session)
    now = utcnow()
    if await session.get(Tombstone, listing.ap_id) is None:
        session.add(Tombstone(uri=listing.ap_id, actor_uri=author.uri, deleted_at=now))
    delete = new_activity(
        settings,
        "Delete",
        author,
        tombstone(listing.ap_id, deleted=now),
        to=[PUBLIC],
        cc=[author.followers_url or ""],
    )
    await emit(session, settings, author, delete, recipients=await _audience(session, territory))
