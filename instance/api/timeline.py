"""``/api/v1/timeline``: what a structure receives from what it follows.

Items, newest first, each with its ``type``:

* ``listing`` — listings of the actors it follows, and every listing of the
  territories it follows (a peered territory announces all of its node's);
* ``post`` — posts in the communities it follows or is a member of;
* ``announcement`` — such a post that the community's animators pinned.

Paging is by cursor over (published, type, id), like ``/api/v1/listings``, so
pages stay stable while new items arrive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from quart import request
from quart_schema import document_querystring
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing
from domain.social import Community, CommunityMember, Post
from domain.validation import FieldError, Invalid
from domain.visibility import post_shown
from federation.models import Actor, Follow
from instance.api.blueprint import blueprint
from instance.api.communities import post_json
from instance.api.follows import acting_structure
from instance.api.listings import listing_json
from instance.auth import api_person
from instance.node import current_node
from instance.search import SearchQuery, base_filters, decode_cursor, encode_cursor, parse_query

LISTING, POST = 1, 0  # order of types at the same instant


class TimelineQuery(BaseModel):
    actor: str
    limit: int | None = None
    cursor: str | None = None


def _after(published: Any, ident: Any, rank: int, cursor: tuple[datetime, int, int]) -> Any:
    """Items of type ``rank`` that come after the cursor in (published, type, id) order."""
    when, kind, last = cursor
    if kind > rank:  # at the cursor's instant, every item of this type comes later
        return published <= when
    if kind < rank:
        return published < when
    return or_(published < when, and_(published == when, ident < last))


def _cursor(raw: str | None) -> tuple[datetime, int, int] | None:
    if not raw:
        return None
    value = decode_cursor(raw)
    try:
        assert value is not None
        return datetime.fromisoformat(str(value["p"])), int(value["t"]), int(value["i"])
    except (AssertionError, KeyError, TypeError, ValueError):
        raise Invalid({"cursor": FieldError("is not a cursor from a previous page")}) from None


async def timeline_items(
    session: AsyncSession, actor: Actor, limit: int, cursor: tuple[datetime, int, int] | None
) -> tuple[list[dict[str, Any]], str | None]:
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
    merged: list[tuple[datetime, int, int, dict[str, Any]]] = []
    for listing in (await session.execute(listings)).scalars().unique():
        merged.append(
            (
                listing.published_at,
                LISTING,
                listing.id,
                {"type": "listing", **listing_json(listing)},
            )
        )
    for post in (await session.execute(posts)).scalars().unique():
        label = "announcement" if post.pinned else "post"
        merged.append((post.published_at, POST, post.id, {"type": label, **post_json(post)}))
    merged.sort(key=lambda row: (row[0], row[1], row[2]), reverse=True)
    page = merged[:limit]
    next_cursor = None
    if len(merged) > limit and page:
        when, rank, ident, _ = page[-1]
        next_cursor = encode_cursor({"p": when.isoformat(), "t": rank, "i": ident})
    return [row[3] for row in page], next_cursor


@blueprint.get("/timeline")
@document_querystring(TimelineQuery)
async def timeline() -> dict[str, Any]:
    """Listings, community posts and announcements from what the structure follows."""
    node = current_node()
    query = parse_query({k: v for k, v in request.args.items() if k == "limit"})
    cursor = _cursor(request.args.get("cursor"))
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, request.args.get("actor"))
        assert structure.actor is not None
        items, next_cursor = await timeline_items(session, structure.actor, query.limit, cursor)
    return {"items": items, "next": next_cursor}
