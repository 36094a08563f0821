"""Moderation: reports, hiding content, suspending structures, silencing and
blocking remote actors and domains — every action written to the audit log.

* A report made here reaches this node's moderators (a notification each) and,
  when the target lives on another node and ``federation.forward_reports``
  allows it, that node as a ``Flag`` from our territory actor.
* Hiding a local listing withdraws it everywhere (``Delete``); hiding a remote
  one only hides it here. Hidden content leaves search, feeds and pages.
* Suspending a local structure makes its actor answer 410 and sends
  ``Delete`` of the actor to its followers (as Mastodon does for a deleted
  account); its listings leave search because it is no longer approved.
* A remote actor can be ``silenced`` (kept out of search and timelines) or
  ``blocked`` (its deliveries refused, follows severed); a domain can be
  silenced or blocked the same way (``federation.policy``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain.models import Listing, Person, Structure
from domain.notify import notify_roles
from domain.social import AuditEntry, Message, Post, Report
from federation.errors import PayloadError
from federation.keys import host_of
from federation.models import Actor, Follow
from federation.policy import changed_in as policy_changed
from federation.policy import checked_host, clear_policy, set_policy
from instance.errors import ApiError
from instance.node import Node
from instance.peering import block_domain
from outbox import listings as listing_activities
from outbox import reports as report_activities
from outbox.publish import PUBLIC, emit, new_activity


def audit(
    session: AsyncSession, person: Person | None, action: str, target: str, detail: str = ""
) -> None:
    session.add(
        AuditEntry(
            person_id=person.id if person else None,
            action=action,
            target=target,
            detail=detail[:2000],
        )
    )


def require_moderator(person: Person) -> None:
    if not person.is_moderator:
        raise ApiError(403, "moderators only")


async def _target_actor(session: AsyncSession, uri: str) -> tuple[Actor | None, list[str]]:
    """The actor a URL designates (itself, or the author of a listing/post/message)."""
    actor = (await session.execute(select(Actor).where(Actor.uri == uri))).scalar_one_or_none()
    if actor is not None:
        return actor, []
    listing = (await session.execute(select(Listing).where(Listing.ap_id == uri))).scalar()
    if listing is not None:
        return listing.author, [uri]
    post = (await session.execute(select(Post).where(Post.ap_id == uri))).scalar()
    if post is not None:
        return post.author, [uri]
    message = (await session.execute(select(Message).where(Message.ap_id == uri))).scalar()
    if message is not None:
        return message.author, [uri]
    if uri.startswith("http") and "/@" in uri:
        handle = uri.rsplit("/@", 1)[1].strip("/")
        local = (
            await session.execute(
                select(Actor).where(Actor.local.is_(True), Actor.handle == handle)
            )
        ).scalar_one_or_none()
        return local, []
    return None, []


async def create_report(
    node: Node, person: Person, reporter: Actor, target: str, reason: str
) -> Report:
    """A report by a local structure; notifies moderators and forwards a Flag if remote."""
    if not reason.strip():
        raise ApiError(422, "some fields are invalid", fields={"reason": "is required"})
    async with node.db.session() as session:
        actor, objects = await _target_actor(session, target)
    remote_url = target.startswith(("http://", "https://")) and (
        host_of(target) != node.settings.instance.domain.lower()
    )
    if actor is None and remote_url:
        actor = await node.remote.actor(target)  # an actor we have not met yet
    if actor is None:
        raise ApiError(422, "some fields are invalid", fields={"target": "unknown actor or object"})
    async with node.transaction() as session:
        actor = await session.merge(actor)
        report = Report(
            origin="local",
            reporter_person_id=person.id,
            reporter_actor_id=reporter.id,
            target_uri=target,
            target_actor_id=actor.id,
            objects=objects,
            reason=reason.strip()[:5000],
        )
        session.add(report)
        await session.flush()
        if not actor.local and node.settings.federation.forward_reports:
            await report_activities.forward(session, node.settings, report, actor)
        await notify_roles(
            session,
            ("admin", "moderator"),
            "report",
            {"origin": "local", "target": target},
            "/admin/reports",
        )
        return report


def report_json(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "origin": report.origin,
        "target": report.target_uri,
        "target_actor": report.target_actor.uri if report.target_actor else None,
        "objects": report.objects,
        "reason": report.reason,
        "reporter": report.reporter_actor.uri if report.reporter_actor else None,
        "forwarded": report.forwarded,
        "state": report.state,
        "created_at": report.created_at.isoformat(),
    }


async def resolve_report(
    session: AsyncSession, moderator: Person, report: Report, note: str
) -> None:
    report.state = "resolved"
    report.resolved_at = utcnow()
    report.resolved_by_id = moderator.id
    audit(session, moderator, "report.resolve", report.target_uri, note)


async def hide_listing(
    session: AsyncSession, node: Node, moderator: Person, listing: Listing, reason: str = ""
) -> None:
    listing.hidden = True
    if listing.local and listing.structure is not None and listing.status != "withdrawn":
        listing.status = "withdrawn"
        await session.flush()
        await listing_activities.withdrawn(session, node.settings, listing)
    audit(session, moderator, "listing.hide", listing.ap_id, reason)


async def hide_post(session: AsyncSession, moderator: Person, post: Post, reason: str = "") -> None:
    post.hidden = True
    audit(session, moderator, "post.hide", post.ap_id, reason)


async def suspend_structure(
    session: AsyncSession, node: Node, moderator: Person, structure: Structure, reason: str
) -> None:
    structure.status = "suspended"
    structure.rejection_reason = reason
    actor = structure.actor
    if actor is not None and actor.suspended_at is None:
        actor.suspended_at = utcnow()
        body = new_activity(
            node.settings, "Delete", actor, actor.uri, to=[PUBLIC], cc=[actor.followers_url or ""]
        )
        await emit(session, node.settings, actor, body)
    audit(session, moderator, "structure.suspend", actor.uri if actor else structure.handle, reason)


async def unsuspend_structure(
    session: AsyncSession, moderator: Person, structure: Structure
) -> None:
    structure.status = "approved"
    structure.rejection_reason = ""
    if structure.actor is not None:
        structure.actor.suspended_at = None
    audit(session, moderator, "structure.unsuspend", structure.handle)


async def moderate_actor(
    session: AsyncSession, moderator: Person, actor: Actor, level: str, reason: str = ""
) -> None:
    """Silence, block or clear a remote actor."""
    if actor.local:
        raise ApiError(422, "local structures are suspended, not silenced or blocked")
    if level not in ("", "silenced", "blocked"):
        raise ApiError(
            422, "some fields are invalid", fields={"level": "must be silenced, blocked or empty"}
        )
    actor.moderation = level
    policy_changed(session)
    if level == "blocked":
        await session.execute(
            delete(Follow).where(
                or_(Follow.follower_id == actor.id, Follow.followed_id == actor.id)
            )
        )
    audit(session, moderator, f"actor.{level or 'clear'}", actor.uri, reason)


async def moderate_domain(
    session: AsyncSession, moderator: Person, domain: str, policy: str, reason: str = ""
) -> None:
    if policy not in ("block", "silence", "allow", ""):
        raise ApiError(422, "some fields are invalid", fields={"policy": "unknown policy"})
    try:
        if policy == "":
            # Also takes a policy stored before hosts were checked, by its stored spelling.
            await clear_policy(session, domain)
            with contextlib.suppress(PayloadError):
                domain = checked_host(domain)
        else:
            domain = checked_host(domain)
    except PayloadError as exc:
        raise ApiError(422, "some fields are invalid", fields={"domain": exc.message}) from None
    if policy == "block":
        await block_domain(session, domain, reason)
    elif policy:
        await set_policy(session, domain, policy, reason)
    audit(session, moderator, f"domain.{policy or 'clear'}", domain, reason)
