"""Communities as FEP-1b12 groups: posts, announces, moderation by animators.

A member's post is a ``Note`` with ``audience`` and ``to`` naming the group
(Lemmy finds a post's group by ``audience`` first), created by the member.
The group shares it with its followers by announcing the ``Create``
unchanged (FEP-1b12) and, as Lemmy does for servers that do not understand
``Announce(Create)``, by also announcing the Note itself (Mastodon shows
that as a boost). Posts by local members skip the round trip through the
group's inbox; posts by remote members arrive in it (``inbox.communities``).

An animator removing a post makes the group undo its announces; when the post
is ours, its author also deletes it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain.social import Community, Post
from federation.models import Actor, Tombstone
from outbox.publish import emit
from outbox.to_ap.communities import announce_create, announce_note, delete_post, undo_announce
from outbox.to_ap.notes import create_post, post_html

MAX_LENGTH = 10_000


async def announce(
    session: AsyncSession, settings: Settings, group: Actor, create: dict[str, Any], note_uri: str
) -> str:
    """The group shares a member's Create with its followers; returns the Announce id."""
    wrapped = announce_create(settings, group, create)
    await emit(session, settings, group, wrapped)
    await emit(session, settings, group, announce_note(settings, group, note_uri))
    return str(wrapped["id"])


async def publish_local(
    session: AsyncSession, settings: Settings, community: Community, author: Actor, text: str
) -> Post:
    """A local member posts in a local community."""
    group = community.actor
    post = Post(
        ap_id=f"{settings.base_url}/posts/{uuid.uuid4()}",
        group_id=group.id,
        author_id=author.id,
        local=True,
        content_html=post_html(text[:MAX_LENGTH]),
        content_text=text[:MAX_LENGTH],
        published_at=utcnow(),
    )
    session.add(post)
    await session.flush()
    create = create_post(settings, post, group, author)
    await emit(session, settings, author, create, to_followers=False)
    post.announce_uri = await announce(session, settings, group, create, post.ap_id)
    return post


async def publish_remote(
    session: AsyncSession, settings: Settings, group: Actor, author: Actor, text: str
) -> Post:
    """A local structure posts in a community of another node (sent to its group)."""
    post = Post(
        ap_id=f"{settings.base_url}/posts/{uuid.uuid4()}",
        group_id=group.id,
        author_id=author.id,
        local=True,
        content_html=post_html(text[:MAX_LENGTH]),
        content_text=text[:MAX_LENGTH],
        published_at=utcnow(),
    )
    session.add(post)
    await session.flush()
    create = create_post(settings, post, group, author)
    await emit(session, settings, author, create, to_followers=False, recipients=[group])
    return post


async def remove(session: AsyncSession, settings: Settings, post: Post) -> None:
    """An animator removes a post: the group undoes its announce; our own post is deleted."""
    post.removed = True
    post.updated_at = utcnow()
    group = post.group
    if group.local and post.announce_uri:
        undo = undo_announce(settings, group, post.announce_uri, post.ap_id)
        await emit(session, settings, group, undo)
    if post.local and post.author.local:
        if await session.get(Tombstone, post.ap_id) is None:
            session.add(Tombstone(uri=post.ap_id, actor_uri=post.author.uri))
        delete = delete_post(settings, post.author, post.ap_id, group, utcnow())
        recipients = [] if group.local else [group]
        await emit(session, settings, post.author, delete, recipients=recipients)
    await session.flush()
