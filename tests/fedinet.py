"""An in-process fediverse: several real nodes wired through one httpx transport.

:class:`FediNet` routes each outgoing request by host to that node's ASGI app
(each app runs inside ``app.test_app()``, so its startup hooks ran) and
records every request and answer, like GoToSocial's test rig. Nodes talk real
HTTP semantics — signatures, content negotiation, status codes — without a
socket. :meth:`FediNet.settle` runs every node's inbox processor and delivery
queue until nothing is left to do, so tests are deterministic.

Hosts that are not part of the network answer with a connection error, like
an unreachable peer; :meth:`FediNet.down` makes a node unreachable for a while.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from instance.workers import drain
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

    def sent(self, method: str = "POST", host: str | None = None) -> list[Exchange]:
        return [
            e for e in self.log
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
                tmp_path / domain, new_db_url(), domain=domain, name=f"Territoire {domain}",
                **sections,
            )
            running = await stack.enter_async_context(running_node(settings, http_transport=net))
            net.apps[domain] = httpx.ASGITransport(app=running.app, client=("203.0.113.7", 4000))
            net.nodes[domain] = running
            nodes.append(running)
        yield net, nodes
