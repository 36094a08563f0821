"""Community posts arriving by federation (FEP-1b12).

* :func:`receive_post` — a remote actor posts in one of OUR communities: only
  its admitted members may (a follower is not a member); the post is stored
  and the group announces the ``Create`` it received, unchanged, to its
  followers (plus an ``Announce`` of the Note, for Mastodon).
* :func:`handle_group_announce` — a community of ANOTHER node that a local
  actor follows announces a post: the Note is fetched from its own origin
  (the embedded copy is not trusted), must name that group in ``audience``,
  ``to`` or ``cc``, and is stored as a post of that group.
* :func:`undo_group_announce` — that community took a post back (an animator
  removed it): the post is hidden here too.
"""

from __future__ import annotations

from sqlalchemy import select

from config.database import utcnow
from domain.social import Community, CommunityMember, Post
from federation.keys import host_of
from federation.models import Actor
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import (
    MalformedObject,
    NoteData,
    UndoData,
    announce_from_ap,
    post_from_ap,
)
from inbox.from_ap.notes import POST_TEXT_MAX
from outbox.communities import announce


async def receive_post(ctx: Context, act: Incoming, note: NoteData, group: Actor) -> str | None:
    note_id = note.id
    author = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        community = (
            await session.execute(select(Community).where(Community.actor_id == group.id))
        ).scalar_one_or_none()
        if community is None:
            return "a note for a group that is not a community"
        author = await session.merge(author)
        member = await session.get(CommunityMember, (community.id, author.id))
        if member is None:
            return "post refused: the author is not a member of the community"
        if await session.scalar(select(Post.id).where(Post.ap_id == note_id)):
            return None
        post = Post(
            ap_id=note_id,
            group_id=group.id,
            author_id=author.id,
            local=False,
            content_html=note.content_html,
            content_text=note.text(POST_TEXT_MAX),
            published_at=utcnow(),
        )
        session.add(post)
        await session.flush()
        group = await session.merge(group)
        post.announce_uri = await announce(session, ctx.settings, group, act.raw, note_id)
    return None


async def handle_group_announce(ctx: Context, act: Incoming, announcer: Actor) -> str | bool | None:
    """Handle an Announce by a Group; False when the announcer is not a community."""
    if announcer.type != "Group":
        return False
    note_uri = announce_from_ap(act.raw).post
    if not note_uri:
        return "announce of nothing"
    async with ctx.db.session() as session:
        if await session.scalar(select(Post.id).where(Post.ap_id == note_uri)):
            return None
    note = await ctx.remote.fetch(note_uri) if not _is_local(ctx, note_uri) else None
    if note is None:
        return "announce of a local note"
    try:
        post = post_from_ap(note, fetched_at=note_uri, group=announcer.uri)
    except MalformedObject as exc:
        return str(exc)
    author = await ctx.remote.actor(post.author)
    async with ctx.transaction() as session:
        if await session.scalar(select(Post.id).where(Post.ap_id == note_uri)):
            return None
        session.add(
            Post(
                ap_id=note_uri,
                group_id=announcer.id,
                author_id=author.id,
                local=False,
                content_html=post.content_html,
                content_text=post.content_text,
                announce_uri=act.id,
                published_at=utcnow(),
            )
        )
    return None


def _is_local(ctx: Context, uri: str) -> bool:
    return host_of(uri) == ctx.settings.instance.domain.lower()


async def undo_group_announce(ctx: Context, undo: UndoData) -> str | None:
    announce_uri = undo.object_id
    async with ctx.transaction() as session:
        group = (
            await session.execute(select(Actor).where(Actor.uri == undo.actor))
        ).scalar_one_or_none()
        if group is None or group.type != "Group":
            return "undo of an announce by an unknown group"
        inner_object = undo.announced
        query = select(Post).where(Post.group_id == group.id)
        if inner_object:
            query = query.where(Post.ap_id == inner_object)
        else:
            query = query.where(Post.announce_uri == announce_uri)
        post = (await session.execute(query)).scalar_one_or_none()
        if post is None:
            return "undo of an unknown announce"
        post.removed = True
    return None
