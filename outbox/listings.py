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
from outbox.publish import emit
from outbox.to_ap.listings import announce_listing, create_listing, delete_listing, update_listing


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
    create = create_listing(settings, listing)
    await emit(session, settings, author, create, recipients=await _audience(session, territory))
    announce = announce_listing(settings, territory, listing, create["published"])
    await emit(session, settings, territory, announce)


async def updated(session: AsyncSession, settings: Settings, listing: Listing) -> None:
    if listing.hidden:
        return
    author = _author(listing)
    territory = await territory_actor(session)
    update = update_listing(settings, listing)
    await emit(session, settings, author, update, recipients=await _audience(session, territory))


async def withdrawn(session: AsyncSession, settings: Settings, listing: Listing) -> None:
    author = _author(listing)
    territory = await territory_actor(session)
    now = utcnow()
    if await session.get(Tombstone, listing.ap_id) is None:
        session.add(Tombstone(uri=listing.ap_id, actor_uri=author.uri, deleted_at=now))
    delete = delete_listing(settings, listing, now)
    await emit(session, settings, author, delete, recipients=await _audience(session, territory))
