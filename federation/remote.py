"""Remote actors, keys and objects: fetched with signed GETs, cached in the database.

:class:`Remote` is made once per node with the shared HTTP client, the
database, the key we sign fetches with (the territory actor's, like
Mastodon's instance actor) and the federation settings. Every fetch first
checks the domain against the federation policy, then goes through
``federation.fetch.fetch_json`` (SSRF guard, size and time caps, id host
check), its redirects kept on the host whose policy was checked
(``same_host``). Network I/O never happens inside a database transaction: a
row is read in one short session, the document fetched with none open, and
stored in another. Concurrent requests for the same unknown key (a burst of
deliveries signed with a key we have not seen yet, as after a key rotation)
share one fetch.

Key fetches happen on the word of requests nobody has authenticated yet, so
they are bounded apart from other work:

* **per host and in all** (:class:`~federation.slots.HostSlots`): at most
  :data:`KEY_FETCHES_PER_HOST` at once for one server and
  :data:`KEY_FETCHES` for all, so that forged requests naming keys on a
  server that never answers cannot take the shared client's connections
  (100) from deliveries and from honest servers' keys;
* **in time**: waiting for a slot and fetching together take at most
  ``federation.key_fetch_timeout`` (10 s), then the request is refused (401
  ``key_unavailable``);
* **refetched once in a while**: a signature that fails with a key we hold
  makes us fetch the key again (the owner may have rotated it), but not when
  its owner was fetched, or the key refetched, less than
  :data:`KEY_REFRESH_SECONDS` ago — otherwise every forgery naming a known key
  would cost a request to its server and a rewrite of its actor. Mastodon
  bounds the same refetch with a circuit breaker per source address
  (``signature_verification.rb``, ``stoplight_wrapper``, 5 minutes).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urldefrag

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.database import Database, utcnow
from config.settings import FederationSettings
from federation.actor_doc import ACTOR_TYPES, ParsedActor, parse_actor
from federation.errors import DomainBlocked, FetchError, KeyFetchError, PayloadError
from federation.fetch import fetch_json
from federation.keys import (
    PublicKey,
    SigningKey,
    host_of,
    load_public_key_multibase,
    load_public_key_pem,
)
from federation.models import Actor, ActorKey
from federation.net import parse_ip_literal
from federation.policy import PolicySnapshot, checked_host
from federation.slots import HostSlots

log = logging.getLogger(__name__)

KEY_MEMORY_SECONDS = 600.0
KEY_MEMORY_SIZE = 10_000
KEY_FETCHES_PER_HOST = 2
KEY_FETCHES = 16  # of the shared client's 100 connections
KEY_REFRESH_SECONDS = 300.0
ACCT_RE = re.compile(r"^(?:acct:)?@?([^@\s/]+)@([^@\s/]+)$")


def scheme_for(host: str, allow_private: bool) -> str:
    """https, except for loopback/private hosts in local setups (tests, demos)."""
    if not allow_private:
        return "https"
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    ip = parse_ip_literal(bare.strip("[]"))
    if bare == "localhost" or (ip is not None and (ip.is_loopback or ip.is_private)):
        return "http"
    return "https"


def public_key_of(key: ActorKey) -> PublicKey:
    if key.kind == "ed25519":
        return load_public_key_multibase(key.public_key)
    return load_public_key_pem(key.public_key)


async def store_actor(
    session: AsyncSession, parsed: ParsedActor, document: dict[str, Any]
) -> Actor:
    """Insert or refresh a remote actor and its keys from a fetched document."""
    result = await session.execute(select(Actor).where(Actor.uri == parsed.uri))
    actor = result.scalar_one_or_none()
    if actor is not None and actor.local:
        raise PayloadError("a remote document claims a local actor")
    if actor is None:
        actor = Actor(uri=parsed.uri, local=False)
        session.add(actor)
    actor.type = parsed.type
    actor.handle = parsed.handle
    actor.domain = parsed.domain
    actor.name = parsed.name
    actor.summary = parsed.summary
    actor.url = parsed.url
    actor.inbox_url = parsed.inbox
    actor.shared_inbox_url = parsed.shared_inbox
    actor.outbox_url = parsed.outbox
    actor.followers_url = parsed.followers
    actor.following_url = parsed.following
    actor.manually_approves = parsed.manually_approves
    actor.is_territory = parsed.is_territory
    actor.moved_to = parsed.moved_to
    actor.document = document
    actor.fetched_at = utcnow()
    actor.deleted_at = None
    wanted = {k.key_id: k for k in parsed.keys}
    for key in list(actor.keys):
        if key.key_id not in wanted:
            actor.keys.remove(key)  # rotated away: it must not verify anything any more
        else:
            key.public_key = wanted.pop(key.key_id).public_key
    for new in wanted.values():
        actor.keys.append(ActorKey(key_id=new.key_id, kind=new.kind, public_key=new.public_key))
    await session.flush()
    return actor


class Remote:
    """Fetching and caching what lives on other servers."""

    def __init__(
        self,
        db: Database,
        client: Callable[[], httpx.AsyncClient],
        signer: Callable[[], Awaitable[SigningKey]],
        settings: FederationSettings,
        own_domain: str,
    ) -> None:
        self.db = db
        self.client = client
        self.signer = signer
        self.settings = settings
        self.own_domain = own_domain.lower()
        # key id -> (valid until, parsed key, owner): parsing a PEM and reading two
        # rows cost more than verifying a signature.
        self._keys: dict[str, tuple[float, PublicKey, Actor]] = {}
        self._policy = PolicySnapshot()
        self._inflight: dict[str, asyncio.Future[Actor]] = {}
        self.key_slots = HostSlots(per_host=KEY_FETCHES_PER_HOST, total=KEY_FETCHES)
        self._policy_loading: asyncio.Future[None] | None = None
        self.key_refresh_seconds = KEY_REFRESH_SECONDS
        self._refreshed: dict[str, float] = {}  # key id -> when we last refetched it

    async def check_domain(self, url: str) -> str:
        host = host_of(url)
        if host == self.own_domain:
            raise PayloadError("refusing to fetch our own domain as a remote one")
        if not (await self.policy()).permits(host, self.settings.mode):
            raise DomainBlocked(f"{host} is not permitted by this node's federation policy")
        return host

    async def policy(self) -> PolicySnapshot:
        """The federation policy as this process last read it (a few seconds old at most)."""
        if self._policy.fresh():
            return self._policy
        if not self._policy.current():
            # A policy changed in this process: read it now, whoever else is reading.
            async with self.db.read() as session:
                await self._policy.load(session)
            return self._policy
        if self._policy_loading is not None:
            return self._policy  # old by the clock only, and being read again by another
        self._policy_loading = loading = asyncio.ensure_future(self._load_policy())
        loading.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(loading)
        return self._policy

    async def _load_policy(self) -> None:
        try:
            async with self.db.read() as session:
                await self._policy.load(session)
        finally:
            self._policy_loading = None

    async def fetch(self, url: str, *, require_id: bool = True) -> dict[str, Any]:
        """A signed GET of an ActivityPub document on a permitted domain."""
        await self.check_domain(url)
        return await fetch_json(
            self.client(),
            url,
            key=await self.signer(),
            allow_private=self.settings.allow_private_addresses,
            allow_http=self.settings.allow_private_addresses,
            max_bytes=self.settings.fetch_max_bytes,
            time_limit=self.settings.total_timeout,
            require_id=require_id,
            same_host=True,
        )

    async def cached_actor(self, uri: str) -> Actor | None:
        async with self.db.read() as session:
            result = await session.execute(select(Actor).where(Actor.uri == uri))
            return result.scalar_one_or_none()

    async def actor(
        self, uri: str, *, refresh: bool = False, fetched_since: datetime | None = None
    ) -> Actor:
        """The actor with this id, from the cache or fetched.

        ``refresh`` fetches it again, unless our copy was fetched at or after
        ``fetched_since``: the moment the activity asking for the refresh arrived
        (an ``Update`` of the actor). A copy fetched since then — typically to check
        that very activity's signature, with a key we did not know — already shows
        what the activity announced.
        """
        cached = await self.cached_actor(uri)
        if cached is not None:
            fetched = cached.fetched_at
            if cached.local:
                return cached
            if refresh:
                if fetched_since is not None and fetched is not None and fetched >= fetched_since:
                    return cached
            elif fetched is not None and utcnow() - fetched < timedelta(
                seconds=self.settings.key_cache_seconds
            ):
                return cached
        document = await self.fetch(uri)
        return await self.store(document)

    async def store(self, document: dict[str, Any]) -> Actor:
        parsed = parse_actor(document)
        async with self.db.session() as session:
            actor = await store_actor(session, parsed, document)
        self._forget(actor.uri)  # its keys may have changed (rotation)
        return actor

    async def public_key(self, key_id: str, refresh: bool) -> tuple[PublicKey, Actor]:
        """The public key named ``key_id`` and its owner (fetched when unknown or stale).

        ``refresh`` asks for the key as its owner publishes it now (a signature
        failed with ours); it is refetched at most once per
        :attr:`key_refresh_seconds` (see the module doc), otherwise the key we
        hold is returned.
        """
        if not refresh:
            remembered = self._keys.get(key_id)
            if remembered is not None and remembered[0] > time.monotonic():
                return remembered[1], remembered[2]
        stored = await self._stored_key(key_id)
        if stored is not None and not (refresh and self._may_refresh(key_id, stored[1])):
            return self._remember(key_id, *stored)
        url, _ = urldefrag(key_id)
        # A refresh never joins a plain fetch already under way: it must see a document
        # fetched after the signature that failed.
        actor = await self._once(
            f"{'refresh' if refresh else 'fetch'} {url}", lambda: self._key_owner(key_id, url)
        )
        self._forget(actor.uri)
        for key in actor.keys:
            if key.key_id == key_id:
                return self._remember(key_id, public_key_of(key), actor)
        raise KeyFetchError(f"the actor {actor.uri} does not publish the key {key_id}")

    async def _stored_key(self, key_id: str) -> tuple[PublicKey, Actor] | None:
        async with self.db.read() as session:
            result = await session.execute(
                select(ActorKey, Actor)
                .join(Actor, ActorKey.actor_id == Actor.id)
                .where(ActorKey.key_id == key_id, ActorKey.revoked_at.is_(None))
            )
            row = result.first()
        if row is None:
            return None
        key, owner = row
        return public_key_of(key), owner

    def _may_refresh(self, key_id: str, owner: Actor) -> bool:
        """Whether a failed signature may refetch ``key_id`` now (see the module doc)."""
        now = time.monotonic()
        last = self._refreshed.get(key_id)
        if last is not None and now - last < self.key_refresh_seconds:
            return False
        fetched = owner.fetched_at
        if fetched is not None and utcnow() - fetched < timedelta(seconds=self.key_refresh_seconds):
            return False  # fetched lately, perhaps by another process: it is current
        if len(self._refreshed) >= KEY_MEMORY_SIZE:
            self._refreshed.pop(next(iter(self._refreshed)))
        self._refreshed[key_id] = now
        return True

    def _remember(self, key_id: str, public: PublicKey, owner: Actor) -> tuple[PublicKey, Actor]:
        """Keep a parsed key in memory for a while: the inbox's hottest lookup."""
        if len(self._keys) >= KEY_MEMORY_SIZE:
            self._keys.pop(next(iter(self._keys)))
        self._keys[key_id] = (time.monotonic() + KEY_MEMORY_SECONDS, public, owner)
        return public, owner

    def _forget(self, actor_uri: str) -> None:
        for key_id in [k for k, v in self._keys.items() if v[2].uri == actor_uri]:
            del self._keys[key_id]

    async def _key_owner(self, key_id: str, url: str) -> Actor:
        """Fetch and store the actor that publishes the key document at ``url``.

        Bounded per host, in all and in time (see the module doc).
        """
        limit = self.settings.key_fetch_timeout
        try:
            async with asyncio.timeout(limit):
                async with self.key_slots.hold(host_of(url)):
                    return await self._fetch_key_owner(key_id, url)
        except TimeoutError as exc:
            log.info("key %s not fetched within %g s", key_id, limit)
            raise KeyFetchError(f"could not get key {key_id} within {limit:g} s") from exc

    async def _fetch_key_owner(self, key_id: str, url: str) -> Actor:
        try:
            document = await self.fetch(url)
            types = document.get("type")
            types = types if isinstance(types, list) else [types]
            is_actor = bool(ACTOR_TYPES.intersection(t for t in types if isinstance(t, str)))
            if not (is_actor and document.get("id") == url):
                # Not the actor itself: a key document naming its owner, or (GoToSocial,
                # whose key ids are paths) a stub of the actor with its key and no inbox
                # (docs/federation/federating_with_gotosocial.md). Fetch the full actor.
                owner_uri = document.get("id") if is_actor else document.get("owner")
                if not isinstance(owner_uri, str) or host_of(owner_uri) != host_of(url):
                    raise KeyFetchError("the key document names no owner on its own host")
                document = await self.fetch(owner_uri)
            return await self.store(document)
        except (FetchError, PayloadError) as exc:
            raise KeyFetchError(f"could not get key {key_id}: {exc.message}") from exc

    async def _once(self, name: str, work: Callable[[], Awaitable[Actor]]) -> Actor:
        """Run ``work`` once for all the concurrent callers that ask for ``name``."""
        future = self._inflight.get(name)
        if future is None:
            future = asyncio.ensure_future(work())
            self._inflight[name] = future

            def forget(done: asyncio.Future[Actor]) -> None:
                if self._inflight.get(name) is done:
                    del self._inflight[name]
                if not done.cancelled():
                    done.exception()  # retrieved here even if every caller went away

            future.add_done_callback(forget)
        # shield: a caller that is cancelled must not cancel the fetch the others wait on.
        return await asyncio.shield(future)

    async def webfinger(self, acct: str) -> str:
        """The actor id behind ``acct:user@host`` (WebFinger, RFC 7033)."""
        match = ACCT_RE.match(acct.strip())
        if not match:
            raise PayloadError("expected acct:user@host")
        user, host = match.groups()
        # A host that cannot be one (a 70-character label, ``xn--``) is refused here, as
        # a payload error, rather than failing deep in the HTTP client.
        host = checked_host(host)
        scheme = scheme_for(host, self.settings.allow_private_addresses)
        url = f"{scheme}://{host}/.well-known/webfinger?resource=acct:{user}@{host}"
        await self.check_domain(url)
        jrd = await fetch_json(
            self.client(),
            url,
            key=None,
            allow_private=self.settings.allow_private_addresses,
            allow_http=self.settings.allow_private_addresses,
            max_bytes=65_536,
            time_limit=self.settings.total_timeout,
            require_id=False,
            accept="application/jrd+json, application/json",
            on_redirect=self.check_domain,  # never a blocked domain, even by a redirect
        )
        for link in jrd.get("links") or []:
            if not isinstance(link, dict) or link.get("rel") != "self":
                continue
            media = str(link.get("type", ""))
            href = link.get("href")
            if isinstance(href, str) and ("activity+json" in media or "ld+json" in media):
                if host_of(href) != host_of(url):
                    # An answer pointing at another host could hand us someone else's
                    # actor under this name: refused (see SECURITY.md).
                    raise PayloadError("the WebFinger answer points to another host")
                return href
        raise FetchError(f"no ActivityPub actor for {acct}")

    async def resolve(self, target: str) -> Actor:
        """An actor from ``acct:user@host``, ``user@host`` or its id URL."""
        if target.startswith(("http://", "https://")):
            return await self.actor(target)
        return await self.actor(await self.webfinger(target))
