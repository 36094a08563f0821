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

What an administrator types as a policy's domain (``entraide domain …``, the
moderation API, the Federation page) must name a host: :func:`checked_host`
refuses anything else (``1``, ``x.example:99999``, ``xn--``, ``a..b``,
``-bad-.example``, a 5,000-character label) rather than store a policy that
can never match. A name is checked label by label: letters, digits, hyphens
(not at either end) and underscores for ASCII labels, IDNA 2008 (the ``idna``
package, UTS 46 mapping, as httpx encodes names) for the others and for every
``xn--`` label; at most 63 bytes a label and 253 in all, once in punycode. An
all-numeric name must be a dotted-quad IPv4 address, an IPv6 address must be
bracketed or bare; a port is 1-65535.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable

import idna
from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.errors import PayloadError
from federation.keys import normalise_host
from federation.models import Actor, DomainPolicy

PEERING_REASON = "peering"
MAX_HOST_LENGTH = 253  # RFC 1035 2.3.4, in the dotted form without its final dot
MAX_LABEL_LENGTH = 63
# Longest text that can still name a host: 253 characters, brackets, a final dot and
# ":65535". Anything longer is refused before any parsing.
_MAX_TYPED = MAX_HOST_LENGTH + 9
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def checked_host(value: str) -> str:
    """``value`` spelled as policies store it, if it names a host (``HOST[:PORT]``).

    Raises :class:`PayloadError` with a message fit for the person who typed it
    otherwise (see the module docstring for the rules).
    """
    text = value.strip()
    if not text:
        raise PayloadError("expected HOST[:PORT], got nothing")
    if len(text) > _MAX_TYPED:
        raise PayloadError(f"a host name has at most {MAX_HOST_LENGTH} characters")
    host, port = _split_port(text)
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise PayloadError(f"the port must be a number from 1 to 65535, got {port[:10]!r}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise PayloadError(f"expected [IPv6]:PORT, got {text[:100]!r}")
        _check_ipv6(host[1:-1])
    elif ":" in host:
        _check_ipv6(host)
    else:
        _check_name(host.lower().removesuffix("."))
    return normalise_host(text)


def _split_port(text: str) -> tuple[str, str | None]:
    """``(host, port)`` of ``HOST[:PORT]``; a bare IPv6 address has no port."""
    if text.startswith("["):
        head, sep, port = text.rpartition("]:")
        return (head + "]", port) if sep else (text, None)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def _check_ipv6(text: str) -> None:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        raise PayloadError(f"not an IPv6 address: {text[:100]!r}") from None


def _check_name(name: str) -> None:
    """A host name (or dotted-quad IPv4 address), lowercased, without its final dot."""
    labels = name.split(".")
    if all(label.isascii() and label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            raise PayloadError(f"not an IPv4 address nor a host name: {name[:100]!r}") from None
        return
    encoded: list[str] = []
    for label in labels:
        if not label:
            raise PayloadError(f"a host name has no empty label: {name[:100]!r}")
        if label.isascii() and not label.startswith("xn--"):
            if not _ASCII_LABEL.fullmatch(label):
                raise PayloadError(
                    "a label of a host name is 1-63 letters, digits, hyphens or underscores, "
                    f"not starting or ending with a hyphen: {label[:100]!r}"
                )
            encoded.append(label)
            continue
        try:
            ace = idna.encode(label, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise PayloadError(f"not a valid internationalised label: {label[:100]!r}") from None
        if len(ace) > MAX_LABEL_LENGTH:
            raise PayloadError(f"a label of a host name has at most {MAX_LABEL_LENGTH} bytes")
        encoded.append(ace)
    if labels[-1].isascii() and labels[-1].isdigit():
        raise PayloadError(f"a host name does not end with a number: {name[:100]!r}")
    if len(".".join(encoded)) > MAX_HOST_LENGTH:
        raise PayloadError(f"a host name has at most {MAX_HOST_LENGTH} characters")


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


async def permitted(session: AsyncSession, domains: Iterable[str], mode: str) -> set[str]:
    """The subset of ``domains`` that may federate with us."""
    wanted = set(domains)
    found = await policies(session, wanted)
    return {d for d in wanted if decide(found.get(d), mode)}


async def set_policy(session: AsyncSession, domain: str, policy: str, reason: str = "") -> None:
    """Store ``policy`` for ``domain``; raises PayloadError if it is not a host."""
    key = checked_host(domain)
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
    """Remove the policy of ``domain``; whether there was one.

    A policy stored before hosts were checked (``entraide domain list`` shows it) can
    still be removed by its stored spelling; anything else that is not a host raises
    PayloadError.
    """
    try:
        key = checked_host(domain)
    except PayloadError:
        key = domain.strip().lower()
        if await session.get(DomainPolicy, key) is None:
            raise
    stmt = delete(DomainPolicy).where(DomainPolicy.domain == key)
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

    def current(self) -> bool:
        """Whether no policy changed in this process since it was read (never read: no)."""
        return self._generation == _generation

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
