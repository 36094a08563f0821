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
* A public Note (a reply to a listing, a mention, a followed actor's post) is
  ``inbox.replies``'.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Listing
from domain.notify import notify_message
from domain.replies import Reply
from domain.social import Conversation, Message, Participant, Post
from federation.models import Actor
from federation.vocab import PUBLIC_ALIASES
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import NoteData

MESSAGE_TEXT_MAX = 5000


async def _local_actors(session: AsyncSession, uris: list[str]) -> list[Actor]:
    if not uris:
        return []
    rows = await session.execute(
        select(Actor).where(Actor.uri.in_(set(uris)), Actor.local.is_(True))
    )
    return list(rows.scalars())


async def handle_note(ctx: Context, act: Incoming, note: NoteData) -> str | None:
    """Store a direct message or a community post; ignore other notes."""
    note_id = note.id
    addresses = [*note.addresses, *act.addressed]
    # Every local id starts with the node's base URL: a note addressed only elsewhere (a
    # public post to its author's followers) needs no query to know nobody here is named.
    ours = [a for a in addresses if a.startswith(f"{ctx.settings.base_url}/")]
    local: list[Actor] = []
    if ours:
        async with ctx.db.read() as session:
            local = await _local_actors(session, ours)
    groups = [a for a in local if a.type == "Group"]
    if groups:
        from inbox.communities import receive_post

        return await receive_post(ctx, act, note, groups[0])
    if PUBLIC_ALIASES & set(addresses):
        from inbox.replies import receive_public_note

        return await receive_public_note(ctx, act, note)
    recipients = [a for a in local if a.type == "Organization"]
    if not recipients:
        return "a note addressed to nobody here"
    author = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        if await session.scalar(select(Message.id).where(Message.ap_id == note_id)):
            return None  # already stored (a replay)
        author = await session.merge(author)
        recipients = [await session.merge(r) for r in recipients]
        conversation = await _thread(session, note, author)
        if conversation is None:
            conversation = await _between(session, author, recipients)
        if conversation is None:
            conversation = await _new_conversation(ctx, session, note, author, recipients)
        now = utcnow()
        session.add(
            Message(
                ap_id=note_id,
                conversation_id=conversation.id,
                author_id=author.id,
                local=False,
                content_html=note.content_html,
                content_text=note.text(MESSAGE_TEXT_MAX),
                in_reply_to=note.in_reply_to,
                published_at=now,
            )
        )
        conversation.updated_at = now
        for recipient in recipients:
            await notify_message(session, recipient.id, author, conversation.id)
    return None


async def _thread(session: AsyncSession, note: NoteData, author: Actor) -> Conversation | None:
    """The conversation this note continues, if its author takes part in it."""
    candidates: list[Conversation] = []
    parent = note.in_reply_to
    if parent:
        found = await session.scalar(select(Message.conversation_id).where(Message.ap_id == parent))
        if found is not None:
            conversation = await session.get(Conversation, found)
            if conversation is not None:
                candidates.append(conversation)
    context = note.context
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
    note: NoteData,
    author: Actor,
    recipients: list[Actor],
) -> Conversation:
    context = note.context
    taken = context and await session.scalar(
        select(Conversation.id).where(Conversation.context == context)
    )
    if not context or taken:
        context = f"{ctx.settings.base_url}/conversations/{uuid.uuid4()}"
    listing_id = None
    if note.listing is not None:
        listing_id = await session.scalar(select(Listing.id).where(Listing.ap_id == note.listing))
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
    reply = (
        await session.execute(select(Reply).where(Reply.ap_id == uri, Reply.author_id == author_id))
    ).scalar_one_or_none()
    if reply is not None:
        await session.delete(reply)
        return True
    post = (
        await session.execute(select(Post).where(Post.ap_id == uri, Post.author_id == author_id))
    ).scalar_one_or_none()
    if post is not None:
        post.removed = True
        return True
    return False
