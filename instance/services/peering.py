"""Peering between territories, and domain policy: the operations behind
``entraide peer …``, ``entraide domain …`` and the admin pages.

A peering is a follow between two territory actors. ``request`` makes our
territory follow theirs (and allows their domain, so that allowlist mode lets
the conversation happen); their node shows it as an incoming request until
their administrator approves. ``approve`` accepts an incoming request and
follows back, so listings flow both ways; the other node accepts that follow
at once because it asked first. ``remove`` undoes both directions and the
allowance; ``reject`` refuses an incoming request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from config.database import utcnow
from domain.models import Listing
from federation.delivery_states import DELIVERY
from federation.follow_states import transition
from federation.models import Actor, Delivery, DomainHealth, DomainPolicy, Follow
from federation.policy import (
    PEERING_REASON,
    bare_host,
    checked_host,
    clear_policy,
    policies,
    set_policy,
)
from instance.node import Node
from outbox.follows import accept, find_follow, follow, reject, remove_follower, unfollow


class PeeringError(Exception):
    """A peering operation cannot be done (the message says why)."""


@dataclass(frozen=True)
class Peering:
    host: str
    direction: str  # "outgoing" (we asked) or "incoming" (they asked)
    state: str
    actor: str


async def list_peerings(session: AsyncSession) -> list[Peering]:
    territory = await territory_actor(session)
    rows = await session.execute(
        select(Follow).where(
            or_(Follow.follower_id == territory.id, Follow.followed_id == territory.id)
        )
    )
    peerings = []
    for row in rows.scalars():
        if row.follower_id == territory.id:
            peerings.append(Peering(row.followed.domain, "outgoing", row.state, row.followed.uri))
        elif row.follower.is_territory:
            peerings.append(Peering(row.follower.domain, "incoming", row.state, row.follower.uri))
    return sorted(peerings, key=lambda p: (p.host, p.direction))


async def request(node: Node, target: str) -> Peering:
    """Our territory asks to follow the territory at ``target`` (acct: or URL)."""
    from federation.keys import host_of
    from federation.remote import ACCT_RE

    match = ACCT_RE.match(target.strip())
    host = match.group(2).lower() if match else host_of(target)
    async with node.transaction() as session:
        current = (await policies(session, [host])).get(host)
        if current == "block":
            raise PeeringError(f"{host} is blocked: unblock it first")
        if current is None:
            await set_policy(session, host, "allow", PEERING_REASON)
    remote = await node.remote.resolve(target)
    async with node.transaction() as session:
        territory = await territory_actor(session)
        remote = await session.merge(remote)
        row = await follow(session, node.settings, territory, remote)
        return Peering(remote.domain, "outgoing", row.state, remote.uri)


async def _incoming(session: AsyncSession, host: str) -> tuple[Actor, Follow | None, Follow | None]:
    territory = await territory_actor(session)
    rows = await session.execute(
        select(Actor).where(Actor.domain == host.lower(), Actor.local.is_(False))
    )
    candidates = list(rows.scalars())
    for remote in candidates:
        incoming = await find_follow(session, remote, territory)
        outgoing = await find_follow(session, territory, remote)
        if incoming is not None or outgoing is not None:
            return remote, incoming, outgoing
    raise PeeringError(f"no peering with {host}")


async def approve(node: Node, host: str) -> Peering:
    async with node.transaction() as session:
        remote, incoming, outgoing = await _incoming(session, host)
        if incoming is None:
            raise PeeringError(f"{host} has not asked to peer with us")
        if incoming.state == "rejected":
            transition(incoming, "pending")  # approved after all: the request is open again
        await accept(session, node.settings, incoming)
        if (await policies(session, [remote.domain])).get(remote.domain) is None:
            await set_policy(session, remote.domain, "allow", PEERING_REASON)
        if outgoing is None or outgoing.state == "rejected":
            territory = await territory_actor(session)
            await follow(session, node.settings, territory, remote)
        return Peering(remote.domain, "incoming", "accepted", remote.uri)


async def reject_request(node: Node, host: str) -> Peering:
    async with node.transaction() as session:
        remote, incoming, _ = await _incoming(session, host)
        if incoming is None:
            raise PeeringError(f"{host} has not asked to peer with us")
        await reject(session, node.settings, incoming)
        return Peering(remote.domain, "incoming", "rejected", remote.uri)


async def remove(node: Node, host: str) -> None:
    async with node.transaction() as session:
        remote, incoming, outgoing = await _incoming(session, host)
        if outgoing is not None:
            await unfollow(session, node.settings, outgoing)
        if incoming is not None:
            await remove_follower(session, node.settings, incoming)
        await clear_policy(session, remote.domain, only_reason=PEERING_REASON)


def under(column: Any, domain: str) -> Any:
    """SQL: ``column`` names ``domain`` or one of its subdomains, on any port (a block's
    reach, ``federation.policy``); a domain given with a port is that port only."""
    if bare_host(domain) != domain:
        return column == domain
    escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(
        column == domain,
        column.like(f"{escaped}:%", escape="\\"),
        column.like(f"%.{escaped}", escape="\\"),
        column.like(f"%.{escaped}:%", escape="\\"),
    )


async def block_domain(session: AsyncSession, domain: str, reason: str = "") -> None:
    """Block a domain and its subdomains: refuse their deliveries, give up what is queued
    for them, sever follows, drop their listings."""
    domain = checked_host(domain)
    await set_policy(session, domain, "block", reason)
    remote_ids = select(Actor.id).where(under(Actor.domain, domain), Actor.local.is_(False))
    await session.execute(
        delete(Follow).where(
            or_(Follow.follower_id.in_(remote_ids), Follow.followed_id.in_(remote_ids))
        )
    )
    await session.execute(
        delete(Listing).where(under(Listing.origin, domain), Listing.local.is_(False))
    )
    await session.execute(
        DELIVERY.bulk(
            update(Delivery).where(under(Delivery.domain, domain)), Delivery.state, "dead"
        ).values(last_error="domain blocked", done_at=utcnow())
    )


# --- federation health ------------------------------------------------------------


@dataclass(frozen=True)
class DomainRow:
    """One remote domain as the federation page shows it."""

    domain: str
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failures: int
    unavailable_since: datetime | None
    queued: int
    policy: str
    reason: str

    @property
    def state(self) -> str:
        """``unavailable``, ``failing``, ``ok`` or ``unknown`` (no delivery yet)."""
        if self.unavailable_since is not None:
            return "unavailable"
        if self.failures:
            return "failing"
        if self.last_success_at is not None:
            return "ok"
        return "unknown"


async def domain_rows(session: AsyncSession) -> list[DomainRow]:
    """Every remote domain we deliver to or hold a policy for, failing ones first."""
    health = {h.domain: h for h in (await session.execute(select(DomainHealth))).scalars()}
    policies = {p.domain: p for p in (await session.execute(select(DomainPolicy))).scalars()}
    queued = {
        domain: int(count)
        for domain, count in (
            await session.execute(
                select(Delivery.domain, func.count())
                .where(Delivery.state == "pending")
                .group_by(Delivery.domain)
            )
        ).all()
    }
    rows = []
    for domain in set(health) | set(policies) | set(queued):
        h = health.get(domain)
        p = policies.get(domain)
        rows.append(
            DomainRow(
                domain=domain,
                last_success_at=h.last_success_at if h else None,
                last_failure_at=h.last_failure_at if h else None,
                failures=h.failures if h else 0,
                unavailable_since=h.unavailable_since if h else None,
                queued=queued.get(domain, 0),
                policy=p.policy if p else "",
                reason=p.reason if p else "",
            )
        )
    order = {"unavailable": 0, "failing": 1, "unknown": 2, "ok": 3}
    return sorted(rows, key=lambda r: (order[r.state], -r.queued, r.domain))
