"""SSRF: names resolved and checked before connecting, through the guarded transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from federation.errors import UnsafeAddress
from federation.httpx_internals import pool_of, transport_of
from federation.net import (
    GuardedBackend,
    GuardedTransport,
    GuardTransport,
    make_client,
)
from tests.security.ssrf_support import fake_resolver

DNS = {
    "private.example": ["10.0.0.7"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "public.example": ["93.184.216.34", "2606:4700::1"],
}


@pytest.mark.parametrize("host", ["private.example", "mixed.example", "mapped.example"])
async def test_hostname_resolving_to_forbidden_address_is_refused(host: str) -> None:
    """DNS rebinding / split answers: one forbidden address is enough to refuse."""
    backend = GuardedBackend(allow_private=False, resolver=fake_resolver(DNS))
    with pytest.raises(UnsafeAddress, match=f"for {host}"):
        await backend.resolve(host, 443, limit=1.0)
    allowed = GuardedBackend(allow_private=True, resolver=fake_resolver(DNS))
    assert await allowed.resolve(host, 443, limit=1.0)


async def test_public_hostname_resolves_to_checked_addresses() -> None:
    backend = GuardedBackend(allow_private=False, resolver=fake_resolver(DNS))
    found = await backend.resolve("public.example", 443, limit=1.0)
    assert [str(a) for a in found] == ["93.184.216.34", "2606:4700::1"]


async def test_ip_literal_hosts_skip_dns_but_are_checked() -> None:
    backend = GuardedBackend(allow_private=False, resolver=fake_resolver({}))
    with pytest.raises(UnsafeAddress, match=r"127\.0\.0\.1"):
        await backend.resolve("0x7f.1", 443, limit=1.0)


async def test_unsafe_address_surfaces_through_httpx_unwrapped() -> None:
    """The connect-time refusal reaches callers as UnsafeAddress, not httpx.ConnectError."""
    client = make_client(
        allow_private=False, user_agent="test", resolver=fake_resolver(DNS), allow_http=True
    )
    async with client:
        for url in ("https://private.example/actor", "http://mixed.example/inbox"):
            with pytest.raises(UnsafeAddress):
                await client.get(url)


async def test_unresolvable_host_is_a_connect_error() -> None:
    client = make_client(allow_private=False, user_agent="test", resolver=fake_resolver({}))
    async with client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://nowhere.example/")


async def test_url_check_also_runs_with_an_injected_transport() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={})

    transport = httpx.MockTransport(handler)
    async with make_client(allow_private=False, user_agent="t", transport=transport) as client:
        with pytest.raises(UnsafeAddress):
            await client.get("https://169.254.169.254/latest/meta-data/")
        with pytest.raises(UnsafeAddress, match="only https"):
            await client.get("http://example.com/")
        await client.get("https://example.com/ok")
    assert calls == ["https://example.com/ok"]


def test_client_does_not_follow_redirects_or_trust_env() -> None:
    """Attack: an ``HTTPS_PROXY`` in the environment, or redirects followed by httpx itself,
    would bypass the guard: neither is used."""
    client = make_client(allow_private=False, user_agent="Entraide/0.1 (+https://a.example)")
    assert client.follow_redirects is False
    assert client.trust_env is False
    assert client.headers["User-Agent"] == "Entraide/0.1 (+https://a.example)"
    assert client.timeout.connect == 5.0


def test_guarded_transport_replaces_the_pool() -> None:
    """Pins the httpx private attributes federation.httpx_internals relies on."""
    transport = GuardedTransport(allow_private=False)
    assert isinstance(pool_of(transport)._network_backend, GuardedBackend)  # type: ignore[attr-defined]
    client = make_client(allow_private=False, user_agent="t", transport=transport)
    guard = transport_of(client)
    assert isinstance(guard, GuardTransport)
    assert guard.inner is transport


@pytest.fixture
async def local_server() -> AsyncIterator[int]:
    """A minimal HTTP server on 127.0.0.1 (the only address tests may reach)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"ok": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port


async def test_connects_to_the_checked_address(local_server: int) -> None:
    """A name is resolved once, checked, and the connection goes to that IP."""
    resolver = fake_resolver({"node.test": ["127.0.0.1"]})
    async with make_client(
        allow_private=True, user_agent="t", resolver=resolver, allow_http=True
    ) as client:
        response = await client.get(f"http://node.test:{local_server}/x")
    assert response.json() == {"ok": True}
    async with make_client(allow_private=False, user_agent="t", resolver=resolver) as client:
        with pytest.raises(UnsafeAddress):
            await client.get(f"https://node.test:{local_server}/x")
