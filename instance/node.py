"""The per-app container of the node's resources.

One :class:`Node` is hung on each app (``app.extensions["entraide"]``); it
holds the settings, the database, URL builders and, while the app serves, the
shared HTTP client and the background workers. Code reaches it with
:func:`current_node` inside a request or app context, or is handed it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from quart import current_app
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
from federation.remote import Remote
from instance.version import VERSION

__all__ = ["SOFTWARE", "VERSION", "Node", "current_node"]

if TYPE_CHECKING:
    from instance.background import Background

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
    _http: httpx.AsyncClient | None = None
    _signer: SigningKey | None = None
    metrics: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

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
        writer: GroupCommit | None = self.extras.get("inbox_writer")
        if writer is None:

            async def before_commit(session: AsyncSession, domains: set[str]) -> None:
                await revive_any(session, domains)
                wake_after_commit(session, Queue.INBOX)

            writer = GroupCommit(self.transaction, before_commit=before_commit)
            self.extras["inbox_writer"] = writer
        return writer

    async def territory_key(self) -> SigningKey:
        """The key that signs our fetches (the territory actor's, like an instance actor)."""
        if self._signer is None:
            async with self.db.session() as session:
                self._signer = actor_signing_key(await territory_actor(session))
        return self._signer

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
        clients: OrderedDict[str, httpx.AsyncClient] = self.extras.setdefault(
            "delivery_clients", OrderedDict()
        )
        client = clients.get(domain)
        if client is None:
            client = clients[domain] = self.make_http_client()
            if len(clients) > DELIVERY_CLIENTS:
                _, oldest = clients.popitem(last=False)
                # A request still using it fails and is retried like any failure.
                self.extras.setdefault("closing", set()).add(asyncio.ensure_future(oldest.aclose()))
        else:
            clients.move_to_end(domain)
        return client

    async def close_delivery_clients(self) -> None:
        clients: OrderedDict[str, httpx.AsyncClient] = self.extras.pop(
            "delivery_clients", OrderedDict()
        )
        for client in clients.values():
            await client.aclose()
        closing = self.extras.pop("closing", set())
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)

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
    node: Node = current_app.extensions["entraide"]
    return node
