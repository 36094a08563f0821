"""Public notes that are not listings: replies to our listings, mentions, followed posts.

* A public ``Note`` whose ``inReplyTo`` is one of our shown listings, or a reply
  already under one (a thread), is kept as a :class:`~domain.replies.Reply`
  under that listing and the listing's structure is told (``reply``). A reply
  to a listing we do not have, withdrawn or hidden, is ignored and stored
  nowhere. Its author's standing decides the rest: an actor the moderators
  blocked is refused; a silenced actor, or one of a silenced server, is kept
  hidden and tells nobody (Mastodon's "limit": moderators still see it).
* A public note mentioning one of our structures (a ``Mention`` tag naming its
  actor) tells that structure (``mention``), once per note.
* Any other public note of an actor that one of our actors follows directly
  (a Mastodon account a structure follows) is kept as a post of that actor for
  the timeline: at most :data:`POSTS_KEPT_PER_ACTOR` per actor (the oldest
  go), at most :data:`POST_HTML_MAX` characters of sanitised HTML.

``Update`` and ``Delete`` of a reply or of such a post apply to its author's
own only (:func:`update_note`, ``inbox.handlers.messages.remove_note``).
"""

from __future__ import annotations

import time
from weakref import WeakKeyDictionary

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import Database, utcnow
from domain.models import Listing
from domain.notify import notify_mention, notify_reply
from domain.replies import Reply
from domain.social import Post
from federation import follow_states
from federation.keys import host_of
from federation.models import Actor, DomainPolicy, Follow, Tombstone
from inbox.activity import Incoming
from inbox.context import Context
from inbox.from_ap import NoteData
from inbox.from_ap.notes import POST_TEXT_MAX

REPLY_TEXT_MAX = 5000
POST_HTML_MAX = 20_000
POSTS_KEPT_PER_ACTOR = 50


async def _replied_listing(session: AsyncSession, ctx: Context, uri: str) -> Listing | None:
    """Our shown listing that ``uri`` (a listing's id, or a reply's) belongs to."""
    if host_of(uri) == ctx.settings.instance.domain.lower():
        listing = await session.scalar(select(Listing).where(Listing.ap_id == uri))
    else:
        listing = None
    if listing is None:
        parent = await session.scalar(select(Reply).where(Reply.ap_id == uri))
        listing = parent.listing if parent is not None else None
    if listing is None or not listing.local or listing.structure is None:
        return None
    if listing.hidden or listing.status == "withdrawn" or not listing.structure.is_visible:
        return None
    if await session.get(Tombstone, listing.ap_id) is not None:
        return None
    return listing


async def _silenced(session: AsyncSession, author: Actor) -> bool:
    if author.moderation == "silenced":
        return True
    policy = await session.scalar(
        select(DomainPolicy.policy).where(DomainPolicy.domain == host_of(author.uri))
    )
    return policy in ("silence", "block")


async def receive_public_note(ctx: Context, act: Incoming, note: NoteData) -> str | None:
    """A public note: a reply, a mention, a followed actor's post, or nothing of ours."""
    followed_now = _followed(ctx)
    about_nothing = not (note.in_reply_to or note.mentions or not followed_now.fresh())
    if about_nothing and act.actor not in followed_now.uris:
        return "a public note"  # about nothing of ours, known without a query
    # Only read here (most public notes are about nothing of ours): a read session takes
    # no writer slot and commits nothing.
    async with ctx.db.read() as session:
        listing_id = None
        if note.in_reply_to:
            listing = await _replied_listing(session, ctx, note.in_reply_to)
            listing_id = listing.id if listing is not None else None
        mentioned: list[int] = []
        if note.mentions:
            rows = await session.execute(
                select(Actor.id).where(
                    Actor.uri.in_(set(note.mentions)),
                    Actor.local.is_(True),
                    Actor.type == "Organization",
                )
            )
            mentioned = list(rows.scalars())
        followed = await _directly_followed(ctx, session, act.actor)
    if listing_id is None and not mentioned and (note.in_reply_to or not followed):
        return "a public note"  # about nothing of ours
    author = await ctx.remote.actor(act.actor)
    async with ctx.transaction() as session:
        author = await session.merge(author)
        if author.moderation == "blocked":
            return "a note from a blocked actor"
        silenced = await _silenced(session, author)
        if listing_id is not None:
            return await _store_reply(session, note, author, listing_id, silenced)
        if followed and not note.in_reply_to and author.type != "Group":
            await _store_post(session, note, author)
        if not silenced:
            for actor_id in mentioned:
                await notify_mention(session, actor_id, author, note.id)
    return None


async def _store_reply(
    session: AsyncSession,
    note: NoteData,
    author: Actor,
    listing_id: int,
    silenced: bool,
) -> str | None:
    if await session.scalar(select(Reply.id).where(Reply.ap_id == note.id)) is not None:
        return None  # a replay
    if await session.get(Tombstone, note.id) is not None:
        return "a reply that was deleted"
    listing = await session.get(Listing, listing_id)
    assert listing is not None and listing.structure_id is not None
    assert note.in_reply_to is not None
    reply = Reply(
        ap_id=note.id,
        listing_id=listing.id,
        author_id=author.id,
        local=False,
        content_html=note.content_html[:POST_HTML_MAX],
        content_text=note.text(REPLY_TEXT_MAX),
        in_reply_to=note.in_reply_to,
        context=note.context,
        hidden=silenced,
        published_at=utcnow(),
    )
    session.add(reply)
    await session.flush()
    if not silenced:
        await notify_reply(session, listing.structure_id, author, listing, reply.id)
    return None


class _Followed:
    """The actors our actors follow (accepted), as this process last read them.

    Most public notes an inbox receives come from accounts nobody here follows; asking
    the database for each (a session, a query) cost ten times the rest of ignoring it.
    Read again when a follow changed in this process (``follow_states.changed``) or
    after :data:`FOLLOWED_SECONDS` (a follow accepted by another process).
    """

    def __init__(self) -> None:
        self.uris: frozenset[str] = frozenset()
        self.read_at = float("-inf")
        self.generation = -1

    def fresh(self) -> bool:
        return (
            time.monotonic() - self.read_at <= FOLLOWED_SECONDS
            and self.generation == follow_states.generation()
        )

    async def __call__(self, session: AsyncSession, author_uri: str) -> bool:
        if not self.fresh():
            generation = follow_states.generation()
            followed = Actor.__table__.alias("followed")
            rows = await session.scalars(
                select(followed.c.uri)
                .join(Follow, Follow.followed_id == followed.c.id)
                .join(Actor, Follow.follower_id == Actor.id)
                .where(Follow.state == "accepted", Actor.local.is_(True))
            )
            self.uris = frozenset(rows.all())
            self.read_at, self.generation = time.monotonic(), generation
        return author_uri in self.uris


FOLLOWED_SECONDS = 5.0
_FOLLOWED: WeakKeyDictionary[Database, _Followed] = WeakKeyDictionary()


def _followed(ctx: Context) -> _Followed:
    cache = _FOLLOWED.get(ctx.db)
    if cache is None:
        cache = _FOLLOWED[ctx.db] = _Followed()  # one per node's database
    return cache


async def _directly_followed(ctx: Context, session: AsyncSession, author_uri: str) -> bool:
    """Whether one of our actors follows the actor ``author_uri`` itself (accepted)."""
    return await _followed(ctx)(session, author_uri)


async def _store_post(session: AsyncSession, note: NoteData, author: Actor) -> None:
    """Keep the note for the timelines of its author's local followers."""
    if await session.scalar(select(Post.id).where(Post.ap_id == note.id)) is not None:
        return  # a replay
    if await session.get(Tombstone, note.id) is not None:
        return
    now = utcnow()
    session.add(
        Post(
            ap_id=note.id,
            group_id=author.id,  # a followed actor's own post: it is its own "group"
            author_id=author.id,
            local=False,
            content_html=note.content_html[:POST_HTML_MAX],
            content_text=note.text(POST_TEXT_MAX),
            published_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    keep = (
        select(Post.id)
        .where(Post.group_id == author.id, Post.author_id == author.id)
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(POSTS_KEPT_PER_ACTOR)
    )
    await session.execute(
        delete(Post).where(
            Post.group_id == author.id,
            Post.author_id == author.id,
            Post.pinned.is_(False),
            Post.id.not_in(keep.scalar_subquery()),
        )
    )


async def update_note(ctx: Context, note: NoteData) -> str | None:
    """An edit of a reply or of a followed actor's post: its author's own only."""
    async with ctx.transaction() as session:
        author_id = await session.scalar(select(Actor.id).where(Actor.uri == note.author))
        if author_id is None:
            return "update from an unknown actor"
        reply = await session.scalar(
            select(Reply).where(Reply.ap_id == note.id, Reply.author_id == author_id)
        )
        if reply is not None:
            reply.content_html = note.content_html[:POST_HTML_MAX]
            reply.content_text = note.text(REPLY_TEXT_MAX)
            reply.updated_at = utcnow()
            return None
        post = await session.scalar(
            select(Post).where(Post.ap_id == note.id, Post.author_id == author_id)
        )
        if post is not None:
            post.content_html = note.content_html[:POST_HTML_MAX]
            post.content_text = note.text(POST_TEXT_MAX)
            post.updated_at = utcnow()
            return None
    return "update of an object that is not a listing"  # nor a note we keep
