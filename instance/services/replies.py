"""Public replies under a listing: reading them, answering, hiding, and its interest.

Replies come from the fediverse (``inbox.replies``) or are written here by the
listing's people (:func:`answer`). The API (``instance.api.replies``), the
listing's page and its ActivityPub ``replies`` collection (``instance.ap.replies``)
read them through :func:`replies_page`, oldest first, by cursor over
(published, id). A reply hidden by the moderators, or whose author is
suspended, silenced or blocked, is shown to nobody.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain.models import Listing, Person
from domain.replies import Reaction, Reply
from federation.models import Actor, DomainPolicy, Tombstone
from instance.errors import ApiError
from instance.ids import parse_id
from instance.services.structures import acting_structure
from outbox.publish import emit
from outbox.to_ap.replies import answer_html, create_reply, thread_context

ANSWER_MAX = 5000


def reply_shown() -> Any:
    """A reply that is shown: not hidden, its author neither suspended nor moderated,
    nor of a silenced or blocked server."""
    silenced = select(DomainPolicy.domain).where(DomainPolicy.policy.in_(("silence", "block")))
    shown_authors = select(Actor.id).where(
        Actor.suspended_at.is_(None),
        Actor.moderation == "",
        or_(Actor.local.is_(True), Actor.domain.not_in(silenced)),
    )
    return and_(Reply.hidden.is_(False), Reply.author_id.in_(shown_authors))


async def shown_listing(session: AsyncSession, listing_id: int) -> Listing:
    """One of our listings that replies are shown under (404 otherwise)."""
    listing = await session.get(Listing, listing_id)
    if (
        listing is None
        or not listing.local
        or listing.hidden
        or listing.structure is None
        or not listing.structure.is_visible
        or listing.status == "withdrawn"
    ):
        raise ApiError(404, "no such listing")
    return listing


async def replies_page(
    session: AsyncSession,
    listing: Listing,
    *,
    limit: int,
    after: tuple[str, int] | None = None,
    offset: int = 0,
) -> tuple[list[Reply], bool]:
    """Up to ``limit`` shown replies under ``listing``, oldest first, after ``after`` (the
    last (published, id) seen) or skipping ``offset``, and whether more follow."""
    query = select(Reply).where(Reply.listing_id == listing.id, reply_shown())
    if after is not None:
        when = datetime.fromisoformat(after[0])
        query = query.where(
            or_(
                Reply.published_at > when,
                and_(Reply.published_at == when, Reply.id > after[1]),
            )
        )
    rows = await session.execute(
        query.order_by(Reply.published_at, Reply.id).offset(offset).limit(limit + 1)
    )
    found = list(rows.scalars().unique())
    return found[:limit], len(found) > limit


async def count_replies(session: AsyncSession, listing: Listing) -> int:
    query = select(func.count()).select_from(Reply)
    return int(
        await session.scalar(query.where(Reply.listing_id == listing.id, reply_shown())) or 0
    )


async def interest(session: AsyncSession, listing: Listing) -> int:
    """How many actors liked or shared the listing (each counted once per kind)."""
    query = select(func.count()).select_from(Reaction).where(Reaction.listing_id == listing.id)
    return int(await session.scalar(query) or 0)


async def answer(
    session: AsyncSession,
    settings: Settings,
    person: Person,
    listing_id: int,
    data: dict[str, Any],
) -> Reply:
    """A public answer under the listing, written by one of its structure's people, and
    federated as a reply mentioning the author it answers."""
    listing = await shown_listing(session, listing_id)
    structure = await acting_structure(session, person, data.get("from"))
    if structure.id != listing.structure_id:
        raise ApiError(403, "only the listing's structure answers under it")
    content = data.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ApiError(422, "some fields are invalid", fields={"content": "is required"})
    if len(content) > ANSWER_MAX:
        raise ApiError(
            422, "some fields are invalid", fields={"content": f"at most {ANSWER_MAX} characters"}
        )
    parent = None
    raw_parent = data.get("in_reply_to")
    if raw_parent is not None:
        parent_id = parse_id(raw_parent)
        parent = await session.get(Reply, parent_id) if parent_id is not None else None
        if parent is None or parent.listing_id != listing.id:
            raise ApiError(
                422, "some fields are invalid", fields={"in_reply_to": "no such reply here"}
            )
    author = structure.actor
    assert author is not None
    # Whom the answer mentions: the reply's author, unless it answers one of its own.
    answered = parent.author if parent is not None and parent.author_id != author.id else None
    now = utcnow()
    reply = Reply(
        ap_id=f"{settings.base_url}/replies/{uuid.uuid4()}",
        listing_id=listing.id,
        author_id=author.id,
        local=True,
        content_html=answer_html(content.strip(), answered),
        content_text=content.strip(),
        in_reply_to=parent.ap_id if parent is not None else listing.ap_id,
        context=(parent.context if parent is not None else None) or thread_context(listing.ap_id),
        published_at=now,
        updated_at=now,
    )
    session.add(reply)
    await session.flush()
    await session.refresh(reply)
    recipients = [answered] if answered is not None and not answered.local else []
    await emit(
        session, settings, author, create_reply(settings, reply, answered), recipients=recipients
    )
    return reply


async def local_reply(session: AsyncSession, uri: str) -> Reply | None:
    """A reply written here, by its id (None once deleted or hidden)."""
    reply = await session.scalar(select(Reply).where(Reply.ap_id == uri, Reply.local.is_(True)))
    if reply is None or await session.get(Tombstone, uri) is not None:
        return None
    return reply


async def reply_by_id(session: AsyncSession, reply_id: int) -> Reply | None:
    return await session.get(Reply, reply_id)


async def parent_ids(session: AsyncSession, replies: list[Reply]) -> dict[str, int]:
    """The ids of the replies that ``replies`` answer, by their ActivityPub id."""
    wanted = {r.in_reply_to for r in replies}
    if not wanted:
        return {}
    rows = await session.execute(select(Reply.ap_id, Reply.id).where(Reply.ap_id.in_(wanted)))
    return {ap_id: ident for ap_id, ident in rows.all()}


@dataclass(frozen=True)
class ThreadView:
    """What a listing's page shows of its replies: the first :data:`SHOWN` of them, the
    reply each answers (by ActivityPub id), how many there are, and its interest."""

    replies: list[Reply]
    answering: dict[str, Reply]
    total: int
    interested: int


SHOWN = 100


async def thread_view(session: AsyncSession, listing: Listing) -> ThreadView | None:
    """The replies part of a listing's page; None for a listing of another node."""
    if not listing.local:
        return None
    rows, _ = await replies_page(session, listing, limit=SHOWN)
    by_id = {r.ap_id: r for r in rows}
    return ThreadView(
        replies=rows,
        answering={r.ap_id: by_id[r.in_reply_to] for r in rows if r.in_reply_to in by_id},
        total=await count_replies(session, listing),
        interested=await interest(session, listing),
    )
