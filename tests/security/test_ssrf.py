"""The SSRF guard: every spelling of a forbidden address, DNS answers (rebinding included)
and redirects through the real connection path, the client, and private addresses named
by an activity posted to the inbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from functools import cache
from ipaddress import ip_address

import httpcore
import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.errors import UnsafeAddress
from federation.fetch import fetch_json
from federation.httpx_internals import pool_of, replace_pool, transport_of
from federation.keys import SigningKey
from federation.net import (
    GuardedBackend,
    GuardedTransport,
    GuardTransport,
    Resolver,
    check_url,
    forbidden_reason,
    make_client,
    parse_ip_literal,
)
from federation.signatures import sign_request
from tests.databases import DatabaseTemplates
from tests.fedinet import FediNet, database_factory, network

FORBIDDEN_URLS = [
    "https://127.0.0.1/",
    "https://2130706433/",  # decimal
    "https://0177.0.0.1/",  # octal
    "https://0x7f.0.0.1/",  # hex
    "https://0x7f000001/",
    "https://127.1/",  # short form
    "https://127.0.0.1./",  # trailing dot
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/",  # IPv4-compatible
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "https://10.1.2.3/",
    "https://172.16.5.4/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "https://169.254.169.254/",  # cloud metadata
    "https://100.64.0.1/",  # CGNAT
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://255.255.255.255/",
    "https://240.0.0.1/",
    "https://192.0.2.1/",
    "https://localhost/",
    "https://api.localhost/",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_forbidden_address_is_refused(url: str) -> None:
    """Attack (SSRF): a URL naming a forbidden address in any spelling a resolver accepts:
    refused before any lookup."""
    with pytest.raises(UnsafeAddress, match="refusing"):
        check_url(url, allow_private=False, allow_http=True)


@pytest.mark.parametrize("url", [u for u in FORBIDDEN_URLS if "0177" not in u])
def test_forbidden_address_is_allowed_with_allow_private(url: str) -> None:
    check_url(url, allow_private=True, allow_http=True)


def test_refusal_names_the_address() -> None:
    with pytest.raises(UnsafeAddress, match=r"^refusing loopback address 127\.0\.0\.1$"):
        check_url("https://2130706433/actor", allow_private=False, allow_http=False)
    with pytest.raises(UnsafeAddress, match=r"^refusing loopback address 127\.0\.0\.1$"):
        check_url("https://0177.0.0.1/actor", allow_private=False, allow_http=False)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0", "0.0.0.0"),  # noqa: S104 (a parsed value, not a bind)
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("4294967296", None),
        ("08.1.1.1", None),
        ("", None),
    ],
)
def test_parse_ip_literal(host: str, expected: str | None) -> None:
    """Every spelling of an IPv4/IPv6 literal is read as the address a resolver would use."""
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed is not None else None) == expected


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:4700::1",
        "::ffff:93.184.216.34",
        "2002:5db8:d822::",  # 6to4 of a public address
        "64:ff9b::5db8:d822",  # NAT64 of a public address
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ip_address(address)) is None


def test_only_https_unless_allowed() -> None:
    """Attack: plain http, ftp: or file: URLs handed to the fetcher: only https (http in local
    setups)."""
    with pytest.raises(UnsafeAddress, match="only https URLs may be fetched"):
        check_url("http://example.com/actor", allow_private=False, allow_http=False)
    check_url("http://example.com/actor", allow_private=False, allow_http=True)
    with pytest.raises(UnsafeAddress):
        check_url("ftp://example.com/actor", allow_private=True, allow_http=True)
    with pytest.raises(UnsafeAddress):
        check_url("file:///etc/passwd", allow_private=True, allow_http=True)


def test_userinfo_and_empty_host_are_refused() -> None:
    """Attack: credentials in a URL (``user:pw@``, which confuse parsers about the host) or no
    host: refused."""
    with pytest.raises(UnsafeAddress, match="credentials"):
        check_url("https://user:pw@example.com/", allow_private=True, allow_http=True)
    with pytest.raises(UnsafeAddress, match="without a host"):
        check_url("https:///actor", allow_private=True, allow_http=True)


def fake_resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


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
