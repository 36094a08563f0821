"""The timeline of a structure: what it receives from what it follows, and its follows.

Items, newest first, each with its kind:

* ``listing`` — listings of the actors it follows, and every listing of the
  territories it follows (a peered territory announces all of its node's);
* ``post`` — posts in the communities it follows or is a member of, and the public
  posts of the other actors it follows (a Mastodon account): ``inbox.replies``
  keeps them as posts whose "group" is their author;
* ``announcement`` — such a post that the community's animators pinned.

Paging is by cursor over (published, type, id), like ``/api/v1/listings``, so
pages stay stable while new items arrive. The JSON API
(``instance.api.timeline``) and the page (``instance.web.timeline``) read it
through :func:`page`; the page also follows and stops following from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from domain.models import Listing
from domain.social import Community, CommunityMember, Post
from domain.validation import FieldError, Invalid
from domain.visibility import post_shown
from federation.models import Actor, Follow
from instance.search import SearchQuery, base_filters, decode_cursor, encode_cursor
from outbox.follows import find_follow, follow, unfollow

LISTING, POST = 1, 0  # order of types at the same instant
Cursor = tuple[datetime, int, int]  # (published, type, id) of the last item seen
Kind = Literal["listing", "post", "announcement"]


@dataclass(frozen=True)
class Item:
    """One entry of a timeline: a listing, or a post (an announcement when pinned)."""

    kind: Kind
    row: Listing | Post


def _after(published: Any, ident: Any, rank: int, cursor: Cursor) -> Any:
    """Items of type ``rank`` that come after the cursor in (published, type, id) order."""
    when, kind, last = cursor
    if kind > rank:  # at the cursor's instant, every item of this type comes later
        return published <= when
    if kind < rank:
        return published < when
    return or_(published < when, and_(published == when, ident < last))


def parse_cursor(raw: str | None) -> Cursor | None:
    """The cursor of a previous page (``Invalid`` when it is not one)."""
    if not raw:
        return None
    value = decode_cursor(raw)
    try:
        assert value is not None
        return datetime.fromisoformat(str(value["p"])), int(value["t"]), int(value["i"])
    except (AssertionError, KeyError, TypeError, ValueError):
        raise Invalid({"cursor": FieldError("is not a cursor from a previous page")}) from None


async def page(
    session: AsyncSession, actor: Actor, limit: int, cursor: Cursor | None
) -> tuple[list[Item], str | None]:
    """Up to ``limit`` items of the actor's timeline after ``cursor``, and the cursor
    of the next page (None on the last one)."""
    followed = select(Follow.followed_id).where(
        Follow.follower_id == actor.id, Follow.state == "accepted"
    )
    listings = base_filters(select(Listing), SearchQuery(status=None, timeline_of=actor.id))
    if cursor:
        listings = listings.where(_after(Listing.published_at, Listing.id, LISTING, cursor))
    listings = listings.order_by(Listing.published_at.desc(), Listing.id.desc()).limit(limit + 1)
    member_of = (
        select(Community.actor_id)
        .join(CommunityMember, CommunityMember.community_id == Community.id)
        .where(CommunityMember.actor_id == actor.id)
    )
    posts = select(Post).where(
        or_(Post.group_id.in_(followed), Post.group_id.in_(member_of)),
        post_shown(),
    )
    if cursor:
        posts = posts.where(_after(Post.published_at, Post.id, POST, cursor))
    posts = posts.order_by(Post.published_at.desc(), Post.id.desc()).limit(limit + 1)
    merged: list[tuple[datetime, int, int, Item]] = []
    for listing in (await session.execute(listings)).scalars().unique():
        merged.append((listing.published_at, LISTING, listing.id, Item("listing", listing)))
    for post in (await session.execute(posts)).scalars().unique():
        kind: Kind = "announcement" if post.pinned else "post"
        merged.append((post.published_at, POST, post.id, Item(kind, post)))
    merged.sort(key=lambda row: (row[0], row[1], row[2]), reverse=True)
    rows = merged[:limit]
    next_cursor = None
    if len(merged) > limit and rows:
        when, rank, ident, _ = rows[-1]
        next_cursor = encode_cursor({"p": when.isoformat(), "t": rank, "i": ident})
    return [row[3] for row in rows], next_cursor


# --- following, from the timeline page ------------------------------------------------------


async def following(session: AsyncSession, actor: Actor) -> list[Follow]:
    """What ``actor`` follows, newest first (any state)."""
    rows = await session.execute(
        select(Follow).where(Follow.follower_id == actor.id).order_by(Follow.id.desc())
    )
    return list(rows.scalars().unique())


async def start_following(
    session: AsyncSession, settings: Settings, follower: Actor, target: Actor
) -> tuple[Follow, Actor] | None:
    """``follower`` follows ``target`` (pending until a remote server accepts): the
    follow and the actor followed, or None when it is itself."""
    if target.uri == follower.uri:
        return None
    followed = await session.merge(target)
    return await follow(session, settings, follower, followed), followed


async def stop_following(
    session: AsyncSession, settings: Settings, follower: Actor, target_uri: str
) -> Actor | None:
    """``follower`` stops following the actor ``target_uri`` (an Undo is federated); the
    actor it no longer follows, or None when it did not follow it."""
    target = await session.scalar(select(Actor).where(Actor.uri == target_uri))
    if target is None:
        return None
    row = await find_follow(session, follower, target)
    if row is None:
        return None
    await unfollow(session, settings, row)
    return target
