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

Domains are stored and looked up in one spelling, that of
:func:`federation.keys.host_of` (:func:`~federation.keys.normalise_host`):
lowercase, no trailing dot, IDN in punycode, no default port. Otherwise a
block typed ``Evil.Example.`` or ``evil.example:443`` would not catch actors
whose ids say ``https://evil.example/…``. A policy on a bare host also holds
for that host on every port (``evil.example`` catches
``evil.example:8443``, where its owner can run a second server); a policy
with a port holds for that port only; a block on either wins.

A block also holds for every subdomain, as Mastodon's do: blocking
``evil.example`` refuses ``x.evil.example`` too, so that a blocked server
cannot come back under a fresh name of its own zone. Only blocks are
inherited: an ``allow`` (or a ``silence``) names one host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.keys import normalise_host
from federation.models import Actor, DomainPolicy

PEERING_REASON = "peering"


def _key(domain: str) -> str:
    """The stored spelling of a domain; raises PayloadError for what is not a host."""
    return normalise_host(domain)


def bare_host(key: str) -> str:
    """``key`` without its port (``[::1]:8001`` → ``[::1]``)."""
    head, sep, port = key.rpartition(":")
    return head if sep and port.isdigit() and not head.endswith(":") else key


def _parents(key: str) -> list[str]:
    """The zones above a host name (``a.b.example`` → ``b.example``, ``example``);
    none for an IP address."""
    host = bare_host(key)
    if host.startswith("[") or host.replace(".", "").isdigit():
        return []
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels))]


def _effective(key: str, stored: dict[str, str]) -> str | None:
    exact, bare = stored.get(key), stored.get(bare_host(key))
    if "block" in (exact, bare) or any(stored.get(p) == "block" for p in _parents(key)):
        return "block"
    return exact or bare


async def policies(session: AsyncSession, domains: Iterable[str]) -> dict[str, str]:
    """The policy that holds for each of ``domains`` (keyed as given), when one does."""
    keys = {domain: _key(domain) for domain in domains}
    candidates = {k for key in keys.values() for k in (key, bare_host(key), *_parents(key))}
    if not candidates:
        return {}
    result = await session.execute(
        select(DomainPolicy.domain, DomainPolicy.policy).where(DomainPolicy.domain.in_(candidates))
    )
    stored = {domain: policy for domain, policy in result.all()}
    found: dict[str, str] = {}
    for domain, key in keys.items():
        effective = _effective(key, stored)
        if effective is not None:
            found[domain] = effective
    return found


def decide(policy: str | None, mode: str) -> bool:
    """Whether a domain with this policy may federate with us under ``mode``."""
    if policy == "block":
        return False
    if mode == "allowlist":
        return policy == "allow"
    return True


async def is_permitted(session: AsyncSession, domain: str, mode: str) -> bool:
    found = await policies(session, [domain])
    return decide(found.get(domain), mode)


async def permitted(session: AsyncSession, domains: Iterable[str], mode: str) -> set[str]:
    """The subset of ``domains`` that may federate with us."""
    wanted = set(domains)
    found = await policies(session, wanted)
    return {d for d in wanted if decide(found.get(d), mode)}


async def set_policy(session: AsyncSession, domain: str, policy: str, reason: str = "") -> None:
    key = _key(domain)
    row = await session.get(DomainPolicy, key)
    if row is None:
        session.add(DomainPolicy(domain=key, policy=policy, reason=reason))
    else:
        row.policy, row.reason = policy, reason
    await session.flush()
    changed_in(session)


async def clear_policy(
    session: AsyncSession, domain: str, *, only_reason: str | None = None
) -> bool:
    stmt = delete(DomainPolicy).where(DomainPolicy.domain == _key(domain))
    if only_reason is not None:
        stmt = stmt.where(DomainPolicy.reason == only_reason)
    result = await session.execute(stmt)
    changed_in(session)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_policies(session: AsyncSession) -> list[DomainPolicy]:
    result = await session.execute(select(DomainPolicy).order_by(DomainPolicy.domain))
    return list(result.scalars())


# --- a snapshot in memory, for the inbox's hot path --------------------------

CACHE_SECONDS = 5.0
_generation = 0


def changed() -> None:
    """Policies or actor moderation changed in this process: snapshots reload at once.

    Other processes (``entraide domain block`` beside ``serve``) are seen within
    :data:`CACHE_SECONDS`.
    """
    global _generation
    _generation += 1


def changed_in(session: AsyncSession) -> None:
    """Mark a change made in ``session``: now, and again once it commits (so that a
    snapshot read in between, which still saw the old rows, is reloaded)."""
    changed()
    if not session.info.get("policy_hook"):
        session.info["policy_hook"] = True
        event.listen(session.sync_session, "after_commit", lambda _s: changed())


class PolicySnapshot:
    """Every domain policy and every blocked actor, reloaded when stale.

    The inbox asks it for each request; one small table read every few
    seconds replaces two queries per request.
    """

    def __init__(self) -> None:
        self.table: dict[str, str] = {}
        self.blocked_actors: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._generation = -1

    def fresh(self) -> bool:
        return (
            self._generation == _generation and time.monotonic() - self._loaded_at < CACHE_SECONDS
        )

    async def load(self, session: AsyncSession) -> None:
        generation = _generation
        rows = await session.execute(select(DomainPolicy.domain, DomainPolicy.policy))
        self.table = {domain: policy for domain, policy in rows.all()}
        blocked = await session.execute(select(Actor.uri).where(Actor.moderation == "blocked"))
        self.blocked_actors = frozenset(blocked.scalars().all())
        self._loaded_at, self._generation = time.monotonic(), generation

    def policy(self, domain: str) -> str | None:
        return _effective(_key(domain), self.table)

    def permits(self, domain: str, mode: str) -> bool:
        return decide(self.policy(domain), mode)
