"""Reports as moderators and reporting people read them.

* :func:`report_views` — reports with what each points at, resolved to the rows
  moderators act on (the listing, the post, the local structure).
* :func:`find_reported` — what an address designates on this node, as the person who
  reports it may see it (None when the pages would not show it to them).
* :func:`audit_entries` — the moderation audit log, newest first.
* Lookups of what moderation acts on: :func:`report_by_id`, :func:`post_by_id`,
  :func:`actor_by_id`, :func:`actor_by_uri`.

The moderation use cases themselves (reporting, resolving, hiding, suspending,
silencing) are in :mod:`instance.services.moderation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Structure
from domain.replies import Reply
from domain.sanitize import html_to_text
from domain.social import AuditEntry, Message, Participant, Post, Report
from federation.models import Actor
from instance.services.structures import structure_of_actor

EXCERPT = 280


async def report_by_id(session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id)


async def post_by_id(session: AsyncSession, post_id: int) -> Post | None:
    return await session.get(Post, post_id)


async def actor_by_id(session: AsyncSession, actor_id: int) -> Actor | None:
    return await session.get(Actor, actor_id)


async def actor_by_uri(session: AsyncSession, uri: str) -> Actor | None:
    return (await session.execute(select(Actor).where(Actor.uri == uri))).scalar_one_or_none()


async def open_reports(session: AsyncSession) -> list[Report]:
    """Open reports, newest first."""
    rows = await session.execute(
        select(Report).where(Report.state == "open").order_by(Report.id.desc())
    )
    return list(rows.scalars().unique())


async def audit_entries(
    session: AsyncSession, limit: int, before: int | None = None
) -> list[AuditEntry]:
    """The audit log, newest first, ids below ``before``."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list((await session.execute(query)).scalars().unique())


# --- what moderators look at ----------------------------------------------------------


@dataclass
class ReportView:
    """A report with what it points at, resolved to the rows moderators act on."""

    report: Report
    listing: Listing | None = None
    post: Post | None = None
    reply: Reply | None = None
    community_handle: str | None = None
    structure: Structure | None = None


async def report_views(session: AsyncSession, state: str, limit: int = 100) -> list[ReportView]:
    rows = await session.execute(
        select(Report).where(Report.state == state).order_by(Report.id.desc()).limit(limit)
    )
    views = []
    for report in rows.scalars().unique():
        view = ReportView(report)
        uris = [report.target_uri, *report.objects]
        view.listing = (
            (await session.execute(select(Listing).where(Listing.ap_id.in_(uris))))
            .scalars()
            .first()
        )
        view.post = (
            (await session.execute(select(Post).where(Post.ap_id.in_(uris)))).scalars().first()
        )
        view.reply = (
            (await session.execute(select(Reply).where(Reply.ap_id.in_(uris)))).scalars().first()
        )
        if view.post is not None and view.post.group.local:
            view.community_handle = view.post.group.handle
        if report.target_actor is not None and report.target_actor.local:
            view.structure = await structure_of_actor(session, report.target_actor.id)
        views.append(view)
    return views


# --- what a person reports ------------------------------------------------------------


Kind = Literal["listing", "post", "reply", "message", "actor"]


@dataclass(frozen=True)
class Reported:
    """What a report points at, as the reporting person may see it."""

    kind: Kind
    target: str  # the ActivityPub id given to moderation.create_report
    title: str  # a listing's title, an actor's name, or an excerpt of a post or message
    author: Actor  # who answers for it (the actor itself, for an actor)
    page: str  # its page on this site, where the person goes back to

    @property
    def remote(self) -> bool:
        return not self.author.local


def _excerpt(row: Post | Message | Reply) -> str:
    text = row.content_text or html_to_text(row.content_html)
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


async def _visible_listing(session: AsyncSession, target: str) -> Reported | None:
    listing = (await session.execute(select(Listing).where(Listing.ap_id == target))).scalar()
    if listing is None or listing.hidden:
        return None
    if listing.structure is not None and not listing.structure.is_visible:
        return None
    return Reported("listing", target, listing.title, listing.author, f"/listings/{listing.id}")


async def _visible_post(session: AsyncSession, target: str) -> Reported | None:
    post = (await session.execute(select(Post).where(Post.ap_id == target))).scalar()
    if post is None or post.hidden or post.removed or post.author.suspended_at is not None:
        return None
    group = post.group
    address = group.handle if group.local else f"{group.handle}@{group.domain}"
    page = f"/communities/{address}#post-{post.id}"
    return Reported("post", target, _excerpt(post), post.author, page)


async def _visible_reply(session: AsyncSession, target: str) -> Reported | None:
    reply = (await session.execute(select(Reply).where(Reply.ap_id == target))).scalar()
    if reply is None or reply.hidden or reply.author.suspended_at is not None:
        return None
    page = f"/listings/{reply.listing_id}#reply-{reply.id}"
    return Reported("reply", target, _excerpt(reply), reply.author, page)


async def _visible_message(
    session: AsyncSession, target: str, structures: list[Structure]
) -> Reported | None:
    message = (await session.execute(select(Message).where(Message.ap_id == target))).scalar()
    if message is None:
        return None
    # Only a participant reads a conversation: to anyone else, its messages do not exist.
    taking_part = await session.scalar(
        select(Participant.actor_id).where(
            Participant.conversation_id == message.conversation_id,
            Participant.actor_id.in_([s.actor_id for s in structures]),
        )
    )
    if taking_part is None:
        return None
    page = f"/messages/{message.conversation_id}#message-{message.id}"
    return Reported("message", target, _excerpt(message), message.author, page)


async def _visible_actor(session: AsyncSession, target: str) -> Reported | None:
    actor = (await session.execute(select(Actor).where(Actor.uri == target))).scalar()
    if actor is None:
        return None
    name = actor.name or actor.handle or actor.uri
    if actor.type == "Group":
        address = actor.handle if actor.local else f"{actor.handle}@{actor.domain}"
        return Reported("actor", target, name, actor, f"/communities/{address}")
    if actor.local and not actor.is_territory:
        structure = await structure_of_actor(session, actor.id)
        if structure is None or not structure.is_visible:
            return None
        return Reported("actor", target, structure.name, actor, f"/@{structure.handle}")
    return Reported("actor", target, name, actor, "/")


async def find_reported(
    session: AsyncSession, target: str, structures: list[Structure]
) -> Reported | None:
    """What ``target`` designates on this node, if the person may see it (else None)."""
    if not target.startswith(("https://", "http://")):
        return None
    # The same order as moderation._target_actor: an actor, then a listing, a post, a message.
    return (
        await _visible_actor(session, target)
        or await _visible_listing(session, target)
        or await _visible_post(session, target)
        or await _visible_reply(session, target)
        or await _visible_message(session, target, structures)
    )
