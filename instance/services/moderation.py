"""Moderation: reports, hiding content, suspending structures, silencing and
blocking remote actors and domains — every action written to the audit log.

* A report made here reaches this node's moderators (a notification each) and,
  when the target lives on another node and ``federation.forward_reports``
  allows it, that node as a ``Flag`` from our territory actor. A structure
  files at most :data:`REPORTS_PER_STRUCTURE_PER_HOUR` reports an hour (then
  429, with ``Retry-After``).
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
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import utcnow
from domain import listing_states, report_states, structure_states
from domain.matches import queue_matching
from domain.models import Listing, Person, Structure
from domain.notify import notify_roles
from domain.replies import Reply
from domain.social import AuditEntry, Message, Post, Report
from federation.errors import PayloadError
from federation.keys import host_of
from federation.models import Actor, DomainPolicy, Follow
from federation.policy import changed_in as policy_changed
from federation.policy import checked_host, clear_policy, set_policy
from instance.errors import ApiError
from instance.node import Node
from instance.services.peering import block_domain
from outbox import listings as listing_activities
from outbox import reports as report_activities
from outbox.publish import emit
from outbox.to_ap.actors import delete_actor

REPORTS_PER_STRUCTURE_PER_HOUR = 10


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
    reply = (await session.execute(select(Reply).where(Reply.ap_id == uri))).scalar()
    if reply is not None:
        return reply.author, [uri]
    if uri.startswith("http") and "/@" in uri:
        handle = uri.rsplit("/@", 1)[1].strip("/")
        local = (
            await session.execute(
                select(Actor).where(Actor.local.is_(True), Actor.handle == handle)
            )
        ).scalar_one_or_none()
        return local, []
    return None, []


async def _check_report_budget(session: AsyncSession, reporter: Actor) -> None:
    """429 when ``reporter`` made :data:`REPORTS_PER_STRUCTURE_PER_HOUR` reports this hour.

    Each report notifies every moderator and may send a ``Flag`` to another
    node: a structure (or a stolen login) filing dozens in a row would bury
    both queues. ``Retry-After`` says when the oldest of the hour's leaves it.
    """
    since = utcnow() - timedelta(hours=1)
    recent = list(
        await session.scalars(
            select(Report.created_at)
            .where(Report.reporter_actor_id == reporter.id, Report.created_at > since)
            .order_by(Report.created_at)
        )
    )
    if len(recent) >= REPORTS_PER_STRUCTURE_PER_HOUR:
        wait = recent[0] + timedelta(hours=1) - utcnow()
        raise ApiError(
            429,
            f"this structure made {len(recent)} reports in the last hour; "
            "the moderators have them, try again later",
            headers={"Retry-After": str(max(1, int(wait.total_seconds()) + 1))},
        )


async def create_report(
    node: Node, person: Person, reporter: Actor, target: str, reason: str
) -> Report:
    """A report by a local structure; notifies moderators and forwards a Flag if remote."""
    if not reason.strip():
        raise ApiError(422, "some fields are invalid", fields={"reason": "is required"})
    async with node.db.session() as session:
        await _check_report_budget(session, reporter)
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
    if report.state != "open":
        raise ApiError(409, "this report is already resolved")
    report_states.transition(report, "resolved")
    report.resolved_at = utcnow()
    report.resolved_by_id = moderator.id
    audit(session, moderator, "report.resolve", report.target_uri, note)


async def hide_listing(
    session: AsyncSession, node: Node, moderator: Person, listing: Listing, reason: str = ""
) -> None:
    listing.hidden = True
    await queue_matching(session, listing.id)
    if listing.local and listing.structure is not None and listing.status != "withdrawn":
        listing_states.transition(listing, "withdrawn")
        await session.flush()
        await listing_activities.withdrawn(session, node.settings, listing)
    audit(session, moderator, "listing.hide", listing.ap_id, reason)


async def hide_post(session: AsyncSession, moderator: Person, post: Post, reason: str = "") -> None:
    post.hidden = True
    audit(session, moderator, "post.hide", post.ap_id, reason)


async def hide_reply(
    session: AsyncSession, moderator: Person, reply: Reply, reason: str = ""
) -> None:
    """Hide a public reply under a listing (here; a reply of ours leaves the collection)."""
    reply.hidden = True
    audit(session, moderator, "reply.hide", reply.ap_id, reason)


async def suspend_structure(
    session: AsyncSession, node: Node, moderator: Person, structure: Structure, reason: str
) -> None:
    """Suspend an approved structure (again: nothing changes).

    A structure awaiting approval or rejected is the administrators' to decide:
    suspending it is refused (409), or unsuspending it next would approve it.
    """
    if structure.status == "suspended":
        return
    if structure.status != "approved":
        raise ApiError(409, "only an approved structure can be suspended")
    structure_states.transition(structure, "suspended")
    structure.rejection_reason = reason
    actor = structure.actor
    if actor is not None and actor.suspended_at is None:
        actor.suspended_at = utcnow()
        await emit(session, node.settings, actor, delete_actor(node.settings, actor))
    audit(session, moderator, "structure.suspend", actor.uri if actor else structure.handle, reason)


async def unsuspend_structure(
    session: AsyncSession, moderator: Person, structure: Structure
) -> None:
    """Lift a structure's suspension (an approved one: nothing changes).

    Only a suspended structure goes back to ``approved``: approving a pending one is
    for administrators (``instance.services.structures.approve``), so anything else is a 409.
    """
    if structure.status == "approved":
        return
    if structure.status != "suspended":
        raise ApiError(409, "only a suspended structure can be unsuspended")
    structure_states.transition(structure, "approved")
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


# How strict each domain policy is (no policy: 0). Moderators may only go up.
STRICTNESS = {"": 0, "allow": 0, "silence": 1, "block": 2}


async def moderate_domain(
    session: AsyncSession, moderator: Person, domain: str, policy: str, reason: str = ""
) -> None:
    """Set a domain's policy: ``block``, ``silence``, ``allow``, or ``""`` to clear it.

    Administrators decide whom the node talks to. A moderator may only make a
    domain's policy stricter (silence it, block it) to stop abuse at once; allowing
    a domain, clearing its policy or softening a block is refused (403), as on the
    administrators' federation page. The domain must be a host
    (``federation.policy.checked_host``); a policy stored before hosts were checked
    can still be cleared by its stored spelling.
    """
    if policy not in STRICTNESS:
        raise ApiError(422, "some fields are invalid", fields={"policy": "unknown policy"})
    stored = domain.strip().lower()
    try:
        domain = checked_host(domain)
    except PayloadError as exc:
        if policy != "" or not stored:
            raise ApiError(422, "some fields are invalid", fields={"domain": exc.message}) from None
        domain = stored
    if not moderator.is_admin:
        current = await session.get(DomainPolicy, domain)
        now = STRICTNESS.get(current.policy, 0) if current is not None else 0
        if policy not in ("silence", "block") or STRICTNESS[policy] < now:
            raise ApiError(
                403,
                "moderators may silence or block a domain; allowing it, lifting or softening"
                " its policy is for administrators",
            )
    if policy == "":
        await clear_policy(session, domain)
        if stored != domain:
            with contextlib.suppress(PayloadError):
                await clear_policy(session, stored)
    if policy == "block":
        await block_domain(session, domain, reason)
    elif policy:
        await set_policy(session, domain, policy, reason)
    audit(session, moderator, f"domain.{policy or 'clear'}", domain, reason)
