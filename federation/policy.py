"""Federation policy: which remote domains we talk to.

Modes (``federation.mode``):

* ``open`` — everyone except blocked domains;
* ``blocklist`` — the same, said explicitly (blocks are the point);
* ``allowlist`` — only domains with an ``allow`` policy. Peering with a
  territory (``entraide peer request`` / ``approve``) adds its domain to the
  allow list, and removing the peering removes it.

A block always wins. Checks happen before any work: the inbox refuses a
blocked domain before fetching its key, delivery never queues to it, and the
fetcher never asks it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.models import DomainPolicy

PEERING_REASON = "peering"


async def policies(session: AsyncSession, domains: Iterable[str]) -> dict[str, str]:
    wanted = {d.lower() for d in domains}
    if not wanted:
        return {}
    result = await session.execute(
        select(DomainPolicy.domain, DomainPolicy.policy).where(DomainPolicy.domain.in_(wanted))
    )
    return {domain: policy for domain, policy in result.all()}


def decide(policy: str | None, mode: str) -> bool:
    """Whether a domain with this policy may federate with us under ``mode``."""
    if policy == "block":
        return False
    if mode == "allowlist":
        return policy == "allow"
    return True


async def is_permitted(session: AsyncSession, domain: str, mode: str) -> bool:
    found = await policies(session, [domain])
    return decide(found.get(domain.lower()), mode)


async def permitted(session: AsyncSession, domains: Iterable[str], mode: str) -> set[str]:
    """The subset of ``domains`` that may federate with us."""
    wanted = {d.lower() for d in domains}
    found = await policies(session, wanted)
    return {d for d in wanted if decide(found.get(d), mode)}


async def set_policy(session: AsyncSession, domain: str, policy: str, reason: str = "") -> None:
    row = await session.get(DomainPolicy, domain.lower())
    if row is None:
        session.add(DomainPolicy(domain=domain.lower(), policy=policy, reason=reason))
    else:
        row.policy, row.reason = policy, reason
    await session.flush()


async def clear_policy(
    session: AsyncSession, domain: str, *, only_reason: str | None = None
) -> bool:
    stmt = delete(DomainPolicy).where(DomainPolicy.domain == domain.lower())
    if only_reason is not None:
        stmt = stmt.where(DomainPolicy.reason == only_reason)
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_policies(session: AsyncSession) -> list[DomainPolicy]:
    result = await session.execute(select(DomainPolicy).order_by(DomainPolicy.domain))
    return list(result.scalars())
