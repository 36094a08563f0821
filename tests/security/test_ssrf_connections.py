"""SSRF on the real connection path (DNS rebinding, redirects) and through the inbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from functools import cache

import httpcore
import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.errors import UnsafeAddress
from federation.fetch import fetch_json
from federation.httpx_internals import replace_pool
from federation.keys import SigningKey
from federation.net import (
    GuardedBackend,
    GuardedTransport,
    Resolver,
    make_client,
)
from federation.signatures import sign_request
from tests.databases import DatabaseTemplates
from tests.fedinet import FediNet, database_factory, network
from tests.security.ssrf_support import fake_resolver

# --- the real connection path: DNS rebinding and redirects ---------------------------


class Recording(httpcore.AsyncNetworkBackend):
    """The socket layer under :class:`GuardedBackend`: records the address it is asked to
    connect to, and connects to the local test server instead (tests reach only
    127.0.0.1, so "93.184.216.34" is played by it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.addresses: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.addresses.append(host)
        return await httpcore.AnyIOBackend().connect_tcp(
            "127.0.0.1", self.port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture
async def redirecting_server() -> AsyncIterator[int]:
    """127.0.0.1: ``/to-private`` redirects to ``private.example``, anything else is an actor.
    Every answer closes the connection, so each request resolves the name again."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        port = writer.get_extra_info("sockname")[1]
        if head.startswith(b"GET /to-private "):
            answer = (
                b"HTTP/1.1 302 Found\r\nLocation: http://private.example:%d/actor\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n" % port
            )
        else:
            body = json.dumps({"id": f"http://rebind.example:{port}/actor"}).encode()
            answer = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def guarded_client(resolver: Resolver, socket_layer: Recording) -> httpx.AsyncClient:
    """The production client (:func:`make_client`, :class:`GuardedTransport`) with its
    socket layer replaced by ``socket_layer``."""
    transport = GuardedTransport(allow_private=False, resolver=resolver)
    replace_pool(
        transport,
        httpcore.AsyncConnectionPool(
            network_backend=GuardedBackend(
                allow_private=False, resolver=resolver, backend=socket_layer
            )
        ),
    )
    return make_client(allow_private=False, user_agent="t", allow_http=True, transport=transport)


async def test_dns_rebinding_between_check_and_connect(redirecting_server: int) -> None:
    """Attack: ``rebind.example`` resolves to a public address when we check it and to
    127.0.0.1 right after (TTL 0), hoping the connection makes a second lookup. There is
    none: the socket layer is handed the checked IP, never the name; the next connection
    resolves again and the private answer is refused before any connect."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    sockets = Recording(redirecting_server)
    url = f"http://rebind.example:{redirecting_server}/actor"
    options = {"key": None, "allow_private": False, "allow_http": True}
    async with guarded_client(rebinding, sockets) as client:
        document = await fetch_json(client, url, **options)  # type: ignore[arg-type]
        assert document["id"] == url
        with pytest.raises(UnsafeAddress, match=r"loopback address 127\.0\.0\.1"):
            await fetch_json(client, url, **options)  # type: ignore[arg-type]
    assert asked == ["rebind.example", "rebind.example"]
    assert sockets.addresses == ["93.184.216.34"]


async def test_redirect_to_a_name_resolving_to_a_private_address(redirecting_server: int) -> None:
    """Attack: a public server redirects a fetch to ``private.example``, a name (not an IP
    literal, so the URL check cannot see it) that resolves to 10.0.0.7. The hop is
    resolved and checked like the first request: refused, never connected."""
    dns = fake_resolver({"public.example": ["93.184.216.34"], "private.example": ["10.0.0.7"]})
    sockets = Recording(redirecting_server)
    url = f"http://public.example:{redirecting_server}/to-private"
    async with guarded_client(dns, sockets) as client:
        with pytest.raises(UnsafeAddress, match=r"private address 10\.0\.0\.7"):
            await fetch_json(client, url, key=None, allow_private=False, allow_http=True)
    assert sockets.addresses == ["93.184.216.34"]


# --- through the inbox: an activity naming a private address ---------------------------

INBOX_FORMS = [
    "https://127.0.0.1/users/x",
    "https://2130706433/users/x",
    "https://0x7f.1/users/x",
    "https://[::ffff:127.0.0.1]/users/x",
    "https://169.254.169.254/users/x",
    "https://10.0.0.1./users/x",
    "https://[fd00::1]/users/x",
    "https://localhost/users/x",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def strict_node(
    templates: DatabaseTemplates, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FediNet]:
    """``a.test`` as in production: ``allow_private_addresses`` off."""
    make_db = database_factory("sqlite", templates, tmp_path_factory)
    federation = {"allow_private_addresses": False}
    async with network(
        tmp_path_factory.mktemp("ssrf"), make_db, ["a.test"], federation=federation
    ) as (
        net,
        _,
    ):
        yield net


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("actor", INBOX_FORMS)
async def test_key_on_a_private_address_is_never_fetched(strict_node: FediNet, actor: str) -> None:
    """Attack: a signed POST whose actor and ``keyId`` are on a private address (cloud
    metadata, loopback in any spelling), so that verifying it makes the node GET inside
    its own network. On a node without ``allow_private_addresses`` the key fetch is
    refused (422 ``unsafe_address``) and no request leaves: the network saw only the
    attacker's POST."""
    key = SigningKey(f"{actor}#main-key", _key())
    activity = {
        "id": f"{actor}/activities/1",
        "type": "Follow",
        "actor": actor,
        "object": "https://a.test/actors/territory",
    }
    body = json.dumps(activity).encode()
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", "https://a.test/inbox", headers, body, key))
    strict_node.log.clear()
    response = await strict_node.post("https://a.test/inbox", body, headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "unsafe_address"
    assert [(e.method, e.url) for e in strict_node.log] == [("POST", "https://a.test/inbox")]


@cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
