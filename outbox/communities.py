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

import html
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from config.settings import Settings
from domain.social import Community, Post
from federation.models import Actor, Tombstone
from outbox.publish import PUBLIC, emit, new_activity
from outbox.to_ap import iso, tombstone

MAX_LENGTH = 10_000


def post_html(text: str) -> str:
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>"
        for block in blocks
    )


def post_note(post: Post, group: Actor, author: Actor) -> dict[str, Any]:
    return {
        "id": post.ap_id,
        "type": "Note",
        "attributedTo": author.uri,
        "audience": group.uri,
        "to": [PUBLIC, group.uri],
        "cc": [author.followers_url] if author.followers_url else [],
        "content": post.content_html,
        "published": iso(post.published_at),
    }


async def announce(
    session: AsyncSession, settings: Settings, group: Actor, create: dict[str, Any], note_uri: str
) -> str:
    """The group shares a member's Create with its followers; returns the Announce id."""
    cc = [group.followers_url] if group.followers_url else []
    wrapped = new_activity(settings, "Announce", group, create, to=[PUBLIC], cc=cc)
    await emit(session, settings, group, wrapped)
    plain = new_activity(settings, "Announce", group, note_uri, to=[PUBLIC], cc=cc)
    await emit(session, settings, group, plain)
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
    note = post_note(post, group, author)
    create = new_activity(
        settings, "Create", author, note, to=note["to"], cc=note["cc"], audience=group.uri
    )
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
    note = post_note(post, group, author)
    create = new_activity(
        settings, "Create", author, note, to=note["to"], cc=note["cc"], audience=group.uri
    )
    await emit(session, settings, author, create, to_followers=False, recipients=[group])
    return post


async def remove(session: AsyncSession, settings: Settings, post: Post) -> None:
    """An animator removes a post: the group undoes its announce; our own post is deleted."""
    post.removed = True
    post.updated_at = utcnow()
    group = post.group
    if group.local and post.announce_uri:
        undo = new_activity(
            settings,
            "Undo",
            group,
            {"id": post.announce_uri, "type": "Announce", "actor": group.uri, "object": post.ap_id},
            to=[PUBLIC],
            cc=[group.followers_url or ""],
        )
        await emit(session, settings, group, undo)
    if post.local and post.author.local:
        if await session.get(Tombstone, post.ap_id) is None:
            session.add(Tombstone(uri=post.ap_id, actor_uri=post.author.uri))
        delete = new_activity(
            settings,
            "Delete",
            post.author,
            tombstone(post.ap_id, deleted=utcnow()),
            to=[PUBLIC],
            cc=[group.uri],
        )
        recipients = [] if group.local else [group]
        await emit(session, settings, post.author, delete, recipients=recipients)
    await session.flush()
