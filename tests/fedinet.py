"""An in-process fediverse: several real nodes wired through one httpx transport.

:class:`FediNet` routes each outgoing request by host to that node's ASGI app
(each app runs inside ``app.test_app()``, so its startup hooks ran) and
records every request and answer, like GoToSocial's test rig. Nodes talk real
HTTP semantics — signatures, content negotiation, status codes — without a
socket. :meth:`FediNet.settle` runs every node's inbox processor and delivery
queue until nothing is left to do, so tests are deterministic.

Hosts that are not part of the network answer with a connection error, like
an unreachable peer; :meth:`FediNet.down` makes a node unreachable for a while.
:class:`FakeActor` is a remote actor with no node behind it: a hook serves its
document (or a chosen status, 410 for a deleted one) and swallows what is
delivered to its host, and the test holds its private key to sign whatever it
likes. :meth:`FediNet.post` sends a request from outside, through the network,
so that it is recorded like any other.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.keys import SigningKey, public_key_pem
from instance.workers import drain
from tests.databases import DatabaseTemplates
from tests.support import TestNode, make_settings, running_node


@dataclass
class Exchange:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FediNet(httpx.AsyncBaseTransport):
    apps: dict[str, httpx.ASGITransport] = field(default_factory=dict)
    nodes: dict[str, TestNode] = field(default_factory=dict)
    log: list[Exchange] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    hooks: list[Callable[[httpx.Request], Awaitable[httpx.Response | None]]] = field(
        default_factory=list
    )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode().lower()
        body = await request.aread()
        exchange = Exchange(request.method, str(request.url), dict(request.headers), body, None)
        self.log.append(exchange)
        for hook in self.hooks:
            answer = await hook(request)
            if answer is not None:
                exchange.status = answer.status_code
                return answer
        transport = self.apps.get(host)
        if transport is None or host in self.unreachable:
            raise httpx.ConnectError(f"{host} is unreachable", request=request)
        response = await transport.handle_async_request(request)
        exchange.status = response.status_code
        return response

    def down(self, host: str) -> None:
        self.unreachable.add(host)

    def up(self, host: str) -> None:
        self.unreachable.discard(host)

    async def post(
        self, url: str, body: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST from outside the network (an attacker, a remote server), recorded in ``log``."""
        async with httpx.AsyncClient(transport=self) as client:
            return await client.post(url, content=body, headers=headers or {})

    def sent(self, method: str = "POST", host: str | None = None) -> list[Exchange]:
        return [
            e
            for e in self.log
            if e.method == method and (host is None or httpx.URL(e.url).netloc.decode() == host)
        ]

    def activities_to(self, host: str) -> list[dict[str, Any]]:
        """Bodies of the POSTs delivered to ``host`` (any answer)."""
        return [e.json() for e in self.sent("POST", host) if e.body]

    async def settle(self, rounds: int = 20) -> int:
        """Process every node's inbox and deliveries until the network is quiet."""
        total = 0
        for _ in range(rounds):
            done = 0
            for node in self.nodes.values():
                done += await drain(node.node)
            total += done
            if done == 0:
                return total
        raise AssertionError("the network did not settle")


@dataclass
class FakeActor:
    """A remote actor served by a hook (see module doc); add it to ``net.hooks``."""

    uri: str
    private_key: rsa.RSAPrivateKey
    status: int = 200  # what a GET of the actor answers
    extra: dict[str, Any] = field(default_factory=dict)  # merged into the document
    key_id: str = ""  # default ``uri#main-key``; a path is served as GoToSocial does
    received: list[httpx.Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key_id = self.key_id or f"{self.uri}#main-key"

    @property
    def host(self) -> str:
        return httpx.URL(self.uri).netloc.decode()

    @property
    def signing_key(self) -> SigningKey:
        return SigningKey(self.key_id, self.private_key)

    def public_key(self) -> dict[str, str]:
        pem = public_key_pem(self.private_key.public_key())
        return {"id": self.key_id, "owner": self.uri, "publicKeyPem": pem}

    def document(self) -> dict[str, Any]:
        base = f"https://{self.host}"
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.uri.rstrip("/").rsplit("/", 1)[-1],
            "inbox": f"{self.uri}/inbox",
            "endpoints": {"sharedInbox": f"{base}/inbox"},
            "publicKey": self.public_key(),
            **self.extra,
        }

    def _json(self, document: dict[str, Any]) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "gone"})
        return httpx.Response(
            200,
            content=json.dumps(document).encode(),
            headers={"Content-Type": "application/activity+json"},
        )

    async def __call__(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.netloc.decode().lower() != self.host:
            return None
        url = str(request.url.copy_with(fragment=None))
        if request.method == "GET" and url == self.uri:
            return self._json(self.document())
        if request.method == "GET" and url == self.key_id:
            # GoToSocial: a stub of the actor, its key and no inbox, at the key id.
            stub = {k: v for k, v in self.document().items() if k in ("@context", "id", "type")}
            return self._json({**stub, "publicKey": self.public_key()})
        if request.method == "POST":
            self.received.append(request)
            return httpx.Response(202)
        return None  # another hook may serve another actor of this host


def database_factory(
    backend: str, templates: DatabaseTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], str]:
    """Fresh migrated databases of ``backend``, for networks that live for a whole module
    (``new_db_url`` is per test)."""

    def make() -> str:
        if backend == "sqlite":
            return templates.sqlite_url(tmp_path_factory.mktemp("db"))
        if templates.cluster is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
        return templates.postgres_url()

    return make


@asynccontextmanager
async def network(
    tmp_path: Path,
    new_db_url: Callable[[], str],
    domains: list[str],
    **sections: dict[str, Any],
) -> AsyncIterator[tuple[FediNet, list[TestNode]]]:
    """Nodes named by ``domains`` (each on its own fresh database), wired together."""
    net = FediNet()
    nodes: list[TestNode] = []
    async with AsyncExitStack() as stack:
        for domain in domains:
            settings = make_settings(
                tmp_path / domain,
                new_db_url(),
                domain=domain,
                name=f"Territoire {domain}",
                **sections,
            )
            running = await stack.enter_async_context(running_node(settings, http_transport=net))
            net.apps[domain] = httpx.ASGITransport(app=running.app, client=("203.0.113.7", 4000))
            net.nodes[domain] = running
            nodes.append(running)
        yield net, nodes
