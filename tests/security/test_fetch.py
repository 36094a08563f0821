"""fetch_json: redirects, origin, size and time limits, signed GETs.

Remote servers are faked with httpx.MockTransport behind make_client (so the
URL guard still runs), and with a real server on 127.0.0.1 for the streaming
limits over a socket.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.errors import (
    FetchError,
    OriginMismatch,
    RemoteGone,
    RemoteStatusError,
    UnsafeAddress,
)
from federation.fetch import ACCEPT, fetch_json
from federation.net import make_client
from federation.signatures import PublicKey, SigningKey, verify_request

ALICE = "https://a.example/users/alice"
ACTOR = {"id": ALICE, "type": "Person", "inbox": ALICE + "/inbox"}
MIB = 1_048_576
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def ap(document: object, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(document).encode(),
        headers={"Content-Type": "application/activity+json", **headers},
    )


def streamed(body: bytes, **headers: str) -> httpx.Response:
    """A response whose body is streamed to the client, as from a real server."""
    headers = {"Content-Type": "application/activity+json", **headers}
    return httpx.Response(200, stream=httpx.ByteStream(body), headers=headers)


def redirect(location: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


async def chunks(total: int, size: int = 65_536, delay: float = 0.0) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        if delay:
            await asyncio.sleep(delay)
        yield b" " * min(size, total - sent)
        sent += size


async def fediverse(request: httpx.Request) -> httpx.Response:
    """A few fake servers, routed by URL."""
    url = str(request.url)
    path = request.url.path
    if url == ALICE:
        return ap(ACTOR)
    if path.startswith("/hop/"):  # /hop/N redirects N times before the actor
        n = int(path.rsplit("/", 1)[1])
        return redirect(f"/hop/{n - 1}") if n else ap(ACTOR)
    routes: dict[str, Callable[[], httpx.Response]] = {
        "/to-metadata": lambda: redirect("https://169.254.169.254/latest/meta-data/"),
        "/to-loopback": lambda: redirect("https://2130706433/admin"),
        "/to-http": lambda: redirect("http://a.example/users/alice"),
        "/moved": lambda: redirect("https://c.example/users/alice", 301),
        "/spoof": lambda: ap({"id": "https://b.example/users/bob", "type": "Person"}),
        "/no-id": lambda: ap({"type": "Person"}),
        "/gone": lambda: ap({"type": "Tombstone"}, 410),
        "/missing": lambda: ap({"error": "not found"}, 404),
        "/html": lambda: httpx.Response(
            200, text="<html></html>", headers={"Content-Type": "text/html"}
        ),
        "/not-json": lambda: httpx.Response(
            200, text="{oops", headers={"Content-Type": "application/json"}
        ),
        "/array": lambda: ap([ACTOR]),
        "/big": lambda: streamed(b" " * (MIB + 1), **{"Content-Length": str(MIB + 1)}),
        "/big-in-memory": lambda: ap({"id": ALICE, "padding": "x" * MIB}),
        "/big-chunked": lambda: httpx.Response(200, content=chunks(2 * MIB)),
        "/bomb": lambda: streamed(gzip.compress(b" " * (10 * MIB)), **{"Content-Encoding": "gzip"}),
        "/gzipped": lambda: streamed(
            gzip.compress(json.dumps(ACTOR).encode()), **{"Content-Encoding": "gzip"}
        ),
        "/streamed": lambda: streamed(json.dumps(ACTOR).encode()),
        "/slow": lambda: httpx.Response(200, content=chunks(100, size=1, delay=0.05)),
        "/redirect-no-location": lambda: httpx.Response(302),
    }
    if request.url.host == "c.example" and path == "/users/alice":
        return ap({"id": "https://c.example/users/alice", "type": "Person"})
    return routes[path]() if path in routes else httpx.Response(404)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.MockTransport(fediverse)
    async with make_client(allow_private=False, user_agent="test", transport=transport) as c:
        yield c


async def get(client: httpx.AsyncClient, path: str, **options: object) -> dict[str, object]:
    url = path if path.startswith("https://") else "https://a.example" + path
    kwargs: dict[str, object] = {"key": None, "allow_private": False, "allow_http": False}
    return await fetch_json(client, url, **(kwargs | options))  # type: ignore[arg-type]


async def test_fetches_an_actor(client: httpx.AsyncClient) -> None:
    assert await get(client, ALICE) == ACTOR


async def test_three_redirects_are_followed(client: httpx.AsyncClient) -> None:
    assert await get(client, "/hop/3") == ACTOR


async def test_more_than_three_redirects_are_refused(client: httpx.AsyncClient) -> None:
    """Attack: a redirect loop (or a long chain) to hold a worker: refused after 3 hops."""
    with pytest.raises(FetchError, match="redirected more than 3 times"):
        await get(client, "/hop/4")
    with pytest.raises(FetchError, match="more than 1 times"):
        await get(client, "/hop/2", max_redirects=1)


@pytest.mark.parametrize("path", ["/to-metadata", "/to-loopback"])
async def test_redirect_to_a_private_address_is_refused(
    client: httpx.AsyncClient, path: str
) -> None:
    """Attack (SSRF): a public URL redirects to cloud metadata or to loopback spelled as a
    number; every hop is checked again: refused."""
    with pytest.raises(UnsafeAddress, match="refusing"):
        await get(client, path)


async def test_redirect_to_http_is_refused(client: httpx.AsyncClient) -> None:
    """Attack: a redirect from https down to plain http (readable and changeable on the way):
    refused."""
    with pytest.raises(UnsafeAddress, match="only https"):
        await get(client, "/to-http")


async def test_redirect_without_location_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError, match="without a Location"):
        await get(client, "/redirect-no-location")


async def test_id_is_checked_against_the_final_host(client: httpx.AsyncClient) -> None:
    """After a cross-host redirect, the document must live on the host that served it."""
    document = await get(client, "/moved")
    assert document["id"] == "https://c.example/users/alice"


async def test_redirect_to_another_host_is_refused_with_same_host(
    client: httpx.AsyncClient,
) -> None:
    """Attack: a.example redirects to c.example's genuine document. Valid where it lives,
    but with ``same_host`` (every fetch of ``federation.remote.Remote``) only the host we
    asked may answer: refused before c.example is asked."""
    with pytest.raises(OriginMismatch, match="redirected to another host"):
        await get(client, "/moved", same_host=True)


async def test_each_redirect_hop_is_offered_to_on_redirect(client: httpx.AsyncClient) -> None:
    """``on_redirect`` sees every hop before it is requested, and can refuse it (the
    federation policy of WebFinger lookups)."""
    seen: list[str] = []

    async def refuse_c(url: str) -> None:
        seen.append(url)
        if "c.example" in url:
            raise FetchError("c.example is blocked")

    assert (await get(client, "/hop/2", on_redirect=refuse_c))["id"] == ALICE
    assert seen == ["https://a.example/hop/1", "https://a.example/hop/0"]
    with pytest.raises(FetchError, match="blocked"):
        await get(client, "/moved", on_redirect=refuse_c)


async def test_id_on_another_host_is_refused(client: httpx.AsyncClient) -> None:
    """Attack: a.example serves a forged copy of an actor that lives on b.example."""
    with pytest.raises(OriginMismatch, match="another host"):
        await get(client, "/spoof")


async def test_document_without_id(client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError, match="has no id"):
        await get(client, "/no-id")
    assert await get(client, "/no-id", require_id=False) == {"type": "Person"}


async def test_gone_is_distinguishable(client: httpx.AsyncClient) -> None:
    with pytest.raises(RemoteGone) as caught:
        await get(client, "/gone")
    assert caught.value.status_code == 410


async def test_error_status_is_reported(client: httpx.AsyncClient) -> None:
    with pytest.raises(RemoteStatusError) as caught:
        await get(client, "/missing")
    assert caught.value.status_code == 404
    assert not isinstance(caught.value, RemoteGone)


@pytest.mark.parametrize("path", ["/html", "/not-json", "/array"])
async def test_non_json_is_refused(client: httpx.AsyncClient, path: str) -> None:
    with pytest.raises(FetchError):
        await get(client, path)


async def test_body_over_the_cap_with_content_length_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError, match="Content-Length"):
        await get(client, "/big")


async def test_body_over_the_cap_in_memory_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError, match="over 1048576 bytes"):
        await get(client, "/big-in-memory")


async def test_streamed_document(client: httpx.AsyncClient) -> None:
    assert await get(client, "/streamed", require_id=False) == ACTOR


async def test_body_over_the_cap_without_content_length_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """Attack: a remote document streamed without Content-Length, endlessly: cut at the cap (1
    MiB)."""
    with pytest.raises(FetchError, match="over 1048576 bytes"):
        await get(client, "/big-chunked")


async def test_gzip_bomb_is_refused(client: httpx.AsyncClient) -> None:
    """Attack: a remote document that gzips 10 MB of blanks into 10 kB: inflated with a cap,
    refused past it."""
    with pytest.raises(FetchError, match="over 1048576 bytes"):
        await get(client, "/bomb")


async def test_gzipped_document_is_inflated(client: httpx.AsyncClient) -> None:
    assert await get(client, "/gzipped", require_id=False) == ACTOR


async def test_slow_body_is_cut_by_the_deadline(client: httpx.AsyncClient) -> None:
    """Attack: a remote server trickles its answer to hold a worker: cut at the fetch's time
    limit."""
    with pytest.raises(FetchError, match=r"took longer than 0\.2 s"):
        await get(client, "/slow", time_limit=0.2)


async def test_signed_get_carries_a_verifiable_signature() -> None:
    key = SigningKey(
        "https://entraide.example/actor#main-key",
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return await fediverse(request)

    async def resolve(key_id: str, refresh: bool) -> PublicKey:
        assert key_id == key.key_id
        return key.private_key.public_key()

    transport = httpx.MockTransport(handler)
    async with make_client(allow_private=False, user_agent="t", transport=transport) as client:
        assert await get(client, "/hop/2", key=key) == ACTOR
    assert len(seen) == 3  # every hop is signed on its own
    for request in seen:
        assert request.headers["Accept"] == ACCEPT
        assert "Signature" in request.headers
        path, _, query = request.url.raw_path.decode().partition("?")
        assert await verify_request("GET", path, query, request.headers, None, resolve_key=resolve)


async def test_unsigned_get_has_no_signature(client: httpx.AsyncClient) -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return await fediverse(request)

    transport = httpx.MockTransport(handler)
    async with make_client(allow_private=False, user_agent="t", transport=transport) as c:
        await get(c, ALICE)
    assert "Signature" not in seen[0].headers


# ---------------------------------------------------------------- real sockets


@pytest.fixture
async def local_server() -> AsyncIterator[int]:
    """127.0.0.1 only: /slow trickles, /huge streams 2 MiB without Content-Length."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        path = head[0].split()[1]
        host = next(line[5:].strip() for line in head if line.lower().startswith("host:"))
        if path == "/actor":
            body = json.dumps({"id": f"http://{host}/actor", "type": "Person"}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif path == "/redirect":
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: /actor\r\nContent-Length: 0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            for _ in range(2 * MIB // 65_536 if path == "/huge" else 100):
                writer.write(b" " * (65_536 if path == "/huge" else 1))
                await writer.drain()
                if path == "/slow":
                    await asyncio.sleep(0.05)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_over_real_sockets(local_server: int) -> None:
    """The caps over a real socket on 127.0.0.1: a trickled body is cut by the deadline, a huge
    one by the size cap."""
    base = f"http://127.0.0.1:{local_server}"
    options = {"key": None, "allow_private": True, "allow_http": True}
    async with make_client(allow_private=True, user_agent="t") as client:
        document = await fetch_json(client, base + "/redirect", **options)  # type: ignore[arg-type]
        assert document["type"] == "Person"
        with pytest.raises(FetchError, match="over 1048576 bytes"):
            await fetch_json(client, base + "/huge", **options)  # type: ignore[arg-type]
        with pytest.raises(FetchError, match="took longer"):
            await fetch_json(client, base + "/slow", time_limit=0.3, **options)  # type: ignore[arg-type]
    async with make_client(allow_private=False, user_agent="t") as client:
        with pytest.raises(UnsafeAddress):
            await fetch_json(
                client, base + "/actor", key=None, allow_private=False, allow_http=True
            )
