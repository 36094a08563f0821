"""Reading direct messages: a structure's conversations, one of them, marking it read.

The pages (``instance.web.messages``) and the JSON API
(``instance.api.messages``) read through here; writing is
``instance.services.messages``. A conversation exists only for the actors
taking part in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Listing, Person, Structure
from domain.social import Conversation, Message, Participant
from federation.models import Actor
from instance.errors import NotFound
from instance.services.notifications import mark_read as mark_notifications_read

LATEST = 5  # messages of each conversation in a list of conversations


@dataclass(frozen=True)
class Summary:
    """A conversation in a list: its latest messages (oldest of them first) and unread count."""

    conversation: Conversation
    unread: int
    recent: list[Message]


async def conversations(
    session: AsyncSession,
    actor: Actor,
    *,
    limit: int = 50,
    after: tuple[str, int] | None = None,
    latest: int = LATEST,
) -> list[Summary]:
    """The actor's conversations, newest first (after ``after``, the last (updated, id)
    seen), each with its ``latest`` messages and unread count."""
    me = select(Participant).where(Participant.actor_id == actor.id).subquery()
    stmt = (
        select(Conversation, me.c.last_read_at)
        .join(me, me.c.conversation_id == Conversation.id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if after is not None:
        when = datetime.fromisoformat(after[0])
        stmt = stmt.where(
            or_(
                Conversation.updated_at < when,
                and_(Conversation.updated_at == when, Conversation.id < after[1]),
            )
        )
    out = []
    for conversation, last_read in (await session.execute(stmt)).unique().all():
        recent = list(
            (
                await session.execute(
                    select(Message)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.published_at.desc(), Message.id.desc())
                    .limit(latest)
                )
            ).scalars()
        )
        recent.reverse()
        unread_q = select(func.count(Message.id)).where(
            Message.conversation_id == conversation.id, Message.author_id != actor.id
        )
        if last_read is not None:
            unread_q = unread_q.where(Message.published_at > last_read)
        unread = int(await session.scalar(unread_q) or 0)
        out.append(Summary(conversation, unread, recent))
    return out


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    """Messages written to ``actor`` since it last read each of its conversations."""
    mine = select(Participant).where(Participant.actor_id == actor.id).subquery()
    count = await session.scalar(
        select(func.count(Message.id))
        .join(mine, mine.c.conversation_id == Message.conversation_id)
        .where(
            Message.author_id != actor.id,
            (mine.c.last_read_at.is_(None)) | (Message.published_at > mine.c.last_read_at),
        )
    )
    return int(count or 0)


async def listing_titles(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    """The titles of these listings, by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Listing.id, Listing.title).where(Listing.id.in_(wanted)))
    return {listing_id: title for listing_id, title in rows.all()}


async def messages_page(
    session: AsyncSession,
    actor: Actor,
    conversation_id: int,
    *,
    limit: int,
    after: tuple[str, int] | None = None,
) -> tuple[list[Message], bool]:
    """Up to ``limit`` messages of one of the actor's conversations, oldest first, after
    ``after`` (the last (published, id) seen), and whether more follow. A conversation
    the actor takes no part in does not exist for it (:class:`NotFound`)."""
    taking_part = await session.scalar(
        select(func.count())
        .select_from(Participant)
        .where(Participant.conversation_id == conversation_id, Participant.actor_id == actor.id)
    )
    if not taking_part:
        raise NotFound("no such conversation")
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.published_at, Message.id)
        .limit(limit + 1)
    )
    if after is not None:
        when = datetime.fromisoformat(after[0])
        stmt = stmt.where(
            or_(
                Message.published_at > when,
                and_(Message.published_at == when, Message.id > after[1]),
            )
        )
    rows = list((await session.execute(stmt)).scalars().unique())
    return rows[:limit], len(rows) > limit


async def thread(
    session: AsyncSession, conversation_id: int, structures: list[Structure]
) -> tuple[Conversation, list[Structure]] | None:
    """The conversation and those of ``structures`` taking part in it; None when none
    does (then, for them, the thread does not exist)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    taking_part = {p.actor_id for p in conversation.participants}
    mine = [s for s in structures if s.actor_id in taking_part]
    return (conversation, mine) if mine else None


async def all_messages(session: AsyncSession, conversation: Conversation) -> list[Message]:
    """Every message of the conversation, oldest first."""
    rows = await session.execute(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.published_at, Message.id)
    )
    return list(rows.scalars().unique())


async def mark_read(
    session: AsyncSession, person: Person, conversation: Conversation, actor_ids: set[int | None]
) -> None:
    """The conversation is read by these actors now, and its notifications by ``person``."""
    now = utcnow()
    for participant in conversation.participants:
        if participant.actor_id in actor_ids:
            participant.last_read_at = now
    await mark_notifications_read(session, person, f"/messages/{conversation.id}")
    await session.flush()
