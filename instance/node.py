"""The per-app container of the node's resources.

One :class:`Node` is hung on each app (``app.extensions["entraide"]``); it
holds the settings, the database, URL builders and, while the app serves, the
shared HTTP client and the background workers. Code reaches it with
:func:`current_node` inside a request or app context, or is handed it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import territory_actor
from actors.urls import Urls
from config.database import Database
from config.settings import Settings
from config.wake import Queue, wake_after_commit, woken
from federation.delivery import revive_any
from federation.inbox_store import GroupCommit
from federation.keys import SigningKey
from federation.keystore import actor_signing_key
from federation.net import make_client
from federation.poster import Poster
from federation.remote import Remote
from instance.version import VERSION

__all__ = ["SOFTWARE", "VERSION", "Node", "current_node"]

if TYPE_CHECKING:
    from instance.background import Background
    from instance.observability import Metrics

DELIVERY_CLIENTS = 512  # servers with a connection pool of their own at once
SOFTWARE = "entraide"


@dataclass
class Node:
    """Everything one running node needs, built by ``create_app``."""

    settings: Settings
    db: Database
    urls: Urls
    background: Background
    http_transport: httpx.AsyncBaseTransport | None = None
    metrics: Metrics | None = None  # set by ``init_observability``
    # Made on first use or while serving; reached through the methods below.
    _http: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _signer: SigningKey | None = field(default=None, init=False, repr=False)
    _inbox_writer: GroupCommit | None = field(default=None, init=False, repr=False)
    _delivery_clients: OrderedDict[str, httpx.AsyncClient] = field(
        default_factory=OrderedDict, init=False, repr=False
    )
    _closing: set[asyncio.Future[None]] = field(default_factory=set, init=False, repr=False)
    # When this process last accepted activities at its inbox (``time.monotonic()``):
    # the matching loop waits for a quiet moment (``instance.workers.matching_may_run``).
    inbox_accepted_at: float = field(default=-1e9, init=False, repr=False)
    _poster: Poster | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, http_transport: httpx.AsyncBaseTransport | None = None
    ) -> Node:
        """The node of ``settings``: its database, URLs and (not yet started) loops."""
        from instance.background import Background

        return cls(
            settings=settings,
            db=Database(
                settings.database_url,
                pool_size=settings.database.pool_size,
                statement_timeout=settings.database.statement_timeout_seconds,
            ),
            urls=Urls(settings.base_url),
            background=Background(),
            http_transport=http_transport,
        )

    def __post_init__(self) -> None:
        self.remote = Remote(
            self.db,
            lambda: self.http,
            self.territory_key,
            self.settings.federation,
            self.settings.instance.domain,
        )

    @property
    def inbox_writer(self) -> GroupCommit:
        """Stores received activities, many requests per transaction (see GroupCommit)."""
        if self._inbox_writer is None:

            async def before_commit(session: AsyncSession, domains: set[str]) -> None:
                await revive_any(session, domains)
                wake_after_commit(session, Queue.INBOX)
                self.inbox_accepted_at = time.monotonic()  # matching yields meanwhile

            self._inbox_writer = GroupCommit(self.transaction, before_commit=before_commit)
        return self._inbox_writer

    async def territory_key(self) -> SigningKey:
        """The key that signs our fetches (the territory actor's, like an instance actor)."""
        if self._signer is None:
            async with self.db.session() as session:
                self._signer = actor_signing_key(await territory_actor(session))
        return self._signer

    def forget_territory_key(self) -> None:
        """Read the territory's key again on next use (after it was rotated)."""
        self._signer = None

    def make_http_client(self) -> httpx.AsyncClient:
        """A guarded HTTP client with the node's settings (see ``federation.net``)."""
        federation = self.settings.federation
        return make_client(
            allow_private=federation.allow_private_addresses,
            user_agent=self.user_agent,
            connect_timeout=federation.connect_timeout,
            total_timeout=federation.total_timeout,
            transport=self.http_transport,
        )

    def delivery_client(self, domain: str) -> httpx.AsyncClient:
        """The client that delivers to ``domain``: one connection pool per server.

        httpcore looks over every connection of a pool for each request (is it
        idle, is it still open?): with dozens of servers in one pool, that
        bookkeeping cost more than signing. Small pools keep it per server.
        """
        clients = self._delivery_clients
        client = clients.get(domain)
        if client is None:
            client = clients[domain] = self.make_http_client()
            if len(clients) > DELIVERY_CLIENTS:
                _, oldest = clients.popitem(last=False)
                # A request still using it fails and is retried like any failure.
                self._closing.add(asyncio.ensure_future(oldest.aclose()))
        else:
            clients.move_to_end(domain)
        return client

    def delivery_poster(self) -> Poster | None:
        """The lean client that delivers (``federation.poster``), with the guards and
        timeouts of :meth:`make_http_client`; None when a test transport is given (then
        deliveries go through ``httpx`` and that transport)."""
        if self.http_transport is not None:
            return None
        if self._poster is None:
            federation = self.settings.federation
            self._poster = Poster(
                allow_private=federation.allow_private_addresses,
                user_agent=self.user_agent,
                connect_timeout=federation.connect_timeout,
            )
        return self._poster

    async def close_delivery_clients(self) -> None:
        if self._poster is not None:
            poster, self._poster = self._poster, None
            await poster.aclose()
        clients, self._delivery_clients = self._delivery_clients, OrderedDict()
        for client in clients.values():
            await client.aclose()
        closing, self._closing = self._closing, set()
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)

    def open_http(self) -> None:
        """Make the shared outgoing HTTP client (when the app starts serving)."""
        self._http = self.make_http_client()

    async def close_http(self) -> None:
        """Close the shared client and the delivery clients (when the app stops serving)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self.close_delivery_clients()

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared outgoing HTTP client (exists while the app serves)."""
        if self._http is None:
            raise RuntimeError("the HTTP client exists only while the app is serving")
        return self._http

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction; after the commit, wake the loops it queued work for."""
        async with self.db.writing(), self.db.sessionmaker() as session:
            async with session.begin():
                yield session
            for queue in woken(session):
                self.wake(queue)

    def wake(self, name: str) -> None:
        """Tell the worker ``name`` that there is new work for it."""
        event = self.background.wakeups.get(name)
        if event is not None:
            event.set()

    @property
    def user_agent(self) -> str:
        return f"{SOFTWARE}/{VERSION} (+{self.settings.base_url}/)"


def current_node() -> Node:
    """The node of the current app."""
    from quart import current_app  # here: the commands that build a Node need no Quart

    node: Node = current_app.extensions["entraide"]
    return node
