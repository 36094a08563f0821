"""Notes that are not listings: community posts and direct messages.

* A Note addressed to one of our communities (``audience``, ``to`` or ``cc``
  names a local ``Group``) is a community post: see ``inbox.communities``.
* A Note that is not public and is addressed to local actors is a direct
  message (Mastodon's DM shape: ``to`` the recipients, a ``Mention`` each).
  It joins the thread it answers (``inReplyTo``, then ``context``) only when
  its author already takes part in that conversation, so nobody can slip into
  a conversation between others; otherwise it continues the latest
  conversation of exactly the same participants, or starts a new one. Its HTML
  is sanitised before it is stored.
* Anything else (a public Note mentioning us, a reply to a listing) is ignored.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Listing, Structure
from domain.notify import notify_structure
from domain.sanitize import clean_html, html_to_text
from domain.social import Conversation, Message, Participant, Post
from federation.models import Actor
from federation.origin import object_id
from inbox.activity import Incoming
from inbox.context import Context

PUBLIC = frozenset({"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})


def _addresses(obj: dict[str, Any], act: Incoming) -> list[str]:
    found: list[str] = []
    for key in ("to", "cc", "audience"):
        value = obj.get(key)
        items = value if isinstance(value, list) else [value]
        found.extend(u for u in (object_id(i) for i in items) if u)
    return found + act.addressed


async def _local_actors(session: AsyncSession, uris: list[str]) -> list[Actor]:
    if not uris:
        return []
    rows = await session.execute(
        select(Actor).where(Actor.uri.in_(set(uris)), Actor.local.is_(True))
    )
    return list(rows.scalars())


async def handle_note(ctx: Context, act: Incoming, obj: dict[str, Any]) -> str | None:
    """Store a direct message or a community post; ignore other notes."""
    if object_id(obj.get("attributedTo")) != act.actor:
        return "note attributed to another actor"
    note_id = object_id(obj.get("id"))
    if not note_id:
        return "note without id"
    addresses = _addresses(obj, act)
    async with ctx.db.session() as session:
        local = await _local_actors(session, addresses)
    groups = [a for a in local if a.type == "Group"]
    if groups:
        from inbox.communities import receive_post

        return await receive_post(ctx, act, obj, groups[0])
    if PUBLIC & set(addresses):
        return "a public note"
    recipients = [a for a in local if a.type == "Organization"]
    if not recipients:
        return "a note addressed to nobody here"
    author = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        if await session.scalar(select(Message.id).where(Message.ap_id == note_id)):
            return None  # already stored (a replay)
        author = await session.merge(author)
        recipients = [await session.merge(r) for r in recipients]
        conversation = await _thread(session, obj, author, note_id)
        if conversation is None:
            conversation = await _between(session, author, recipients)
        if conversation is None:
            conversation = await _new_conversation(ctx, session, obj, author, recipients)
        content = obj.get("content")
        html_content = clean_html(content) if isinstance(content, str) else ""
        now = utcnow()
        session.add(
            Message(
                ap_id=note_id,
                conversation_id=conversation.id,
                author_id=author.id,
                local=False,
                content_html=html_content,
                content_text=html_to_text(html_content, max_length=5000),
                in_reply_to=object_id(obj.get("inReplyTo")),
                published_at=now,
            )
        )
        conversation.updated_at = now
        for recipient in recipients:
            structure_id = await session.scalar(
                select(Structure.id).where(Structure.actor_id == recipient.id)
            )
            if structure_id is not None:
                await notify_structure(
                    session,
                    structure_id,
                    "message",
                    {"from": author.name or author.handle, "domain": author.domain},
                    f"/messages/{conversation.id}",
                )
    return None


async def _thread(
    session: AsyncSession, obj: dict[str, Any], author: Actor, note_id: str
) -> Conversation | None:
    """The conversation this note continues, if its author takes part in it."""
    candidates: list[Conversation] = []
    parent = object_id(obj.get("inReplyTo"))
    if parent:
        found = await session.scalar(select(Message.conversation_id).where(Message.ap_id == parent))
        if found is not None:
            conversation = await session.get(Conversation, found)
            if conversation is not None:
                candidates.append(conversation)
    context = object_id(obj.get("context")) or object_id(obj.get("conversation"))
    if context:
        found_context = (
            await session.execute(select(Conversation).where(Conversation.context == context))
        ).scalar_one_or_none()
        if found_context is not None:
            candidates.append(found_context)
    for conversation in candidates:
        if any(p.actor_id == author.id for p in conversation.participants):
            return conversation
    return None


async def _between(
    session: AsyncSession, author: Actor, recipients: list[Actor]
) -> Conversation | None:
    """The latest conversation of exactly these actors, when the note names no thread."""
    wanted = {author.id, *(r.id for r in recipients)}
    mine = select(Participant.conversation_id).where(Participant.actor_id == author.id)
    rows = await session.execute(
        select(Conversation)
        .where(Conversation.id.in_(mine))
        .order_by(Conversation.updated_at.desc())
        .limit(20)
    )
    for conversation in rows.scalars().unique():
        if {p.actor_id for p in conversation.participants} == wanted:
            return conversation
    return None


async def _new_conversation(
    ctx: Context,
    session: AsyncSession,
    obj: dict[str, Any],
    author: Actor,
    recipients: list[Actor],
) -> Conversation:
    context = object_id(obj.get("context")) or object_id(obj.get("conversation"))
    taken = context and await session.scalar(
        select(Conversation.id).where(Conversation.context == context)
    )
    if not context or taken:
        context = f"{ctx.settings.base_url}/conversations/{uuid.uuid4()}"
    listing_id = None
    listing_uri = obj.get("entraide:listing") or obj.get("listing")
    if isinstance(listing_uri, str):
        listing_id = await session.scalar(select(Listing.id).where(Listing.ap_id == listing_uri))
    conversation = Conversation(context=context, listing_id=listing_id)
    conversation.participants.append(Participant(actor_id=author.id))
    for recipient in recipients:
        conversation.participants.append(Participant(actor_id=recipient.id))
    session.add(conversation)
    await session.flush()
    return conversation


async def remove_note(session: AsyncSession, author_uri: str, uri: str) -> bool:
    """Delete a stored message or post of ``author_uri``; False when none."""
    author_id = await session.scalar(select(Actor.id).where(Actor.uri == author_uri))
    if author_id is None:
        return False
    message = (
        await session.execute(
            select(Message).where(Message.ap_id == uri, Message.author_id == author_id)
        )
    ).scalar_one_or_none()
    if message is not None:
        await session.delete(message)
        return True
    post = (
        await session.execute(select(Post).where(Post.ap_id == uri, Post.author_id == author_id))
    ).scalar_one_or_none()
    if post is not None:
        post.removed = True
        return True
    return False
