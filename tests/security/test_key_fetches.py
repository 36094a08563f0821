"""Key fetches on the word of unauthenticated requests: bounded in number, time and repetition.

Every signed POST names a ``keyId`` that the inbox fetches when it does not
hold the key yet, and fetches again when a signature fails with a key it
holds (the owner may have rotated it). Nobody is authenticated at that point,
so both are an attacker's lever:

* forged requests naming keys on a server that never answers held the shared
  HTTP client's connections (100 in all) for the full fetch deadline (30 s),
  and an honest server's first delivery waited behind them;
* every forgery naming a key we held cost a GET of its owner and a rewrite
  of its actor row.

The first attack is played over real sockets on 127.0.0.1 (the node's real
client and its connection pool, a server that accepts and never answers, an
honest one that does); the second in the in-process network, counting the
requests it records.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from config.database import utcnow
from federation.keys import SigningKey
from federation.models import Actor
from federation.remote import KEY_FETCHES_PER_HOST
from federation.slots import HostSlots
from tests.databases import DatabaseTemplates
from tests.fedinet import FakeActor, network
from tests.security.helpers import create, inbox_count, note, rsa_key, signed_headers
from tests.support import make_settings, running_node

TARGET = "a.test"
KEY_FETCH_TIMEOUT = 2.0
HONEST_WAIT = 5.0  # what an honest server's delivery may take here, on a busy machine (was 30 s)
FORGERIES = 120


class HangingServer:
    """Accepts connections, reads the request, never answers; counts the requests it
    holds at once (until the client gives up and closes the connection).

    A connection the client closed is seen closed by this server's handler a moment
    later, in the same event loop, possibly after the next connection opened: counting
    handlers would count a connection twice over. So at each new connection the others
    are asked of the kernel (``MSG_PEEK``), where a close is final once it is made.
    """

    def __init__(self) -> None:
        self.most = 0
        self.requests = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._held: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        self._held.add(writer)
        self.most = max(self.most, 1 + sum(_open(w) for w in self._held if w is not writer))
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            while await reader.read(1024):  # until the client closes
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._held.discard(writer)

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


def _open(writer: asyncio.StreamWriter) -> bool:
    """Whether the client still holds this connection, as the kernel knows it now."""
    transport_socket = writer.get_extra_info("socket")
    if transport_socket is None:
        return False
    with socket.socket(fileno=os.dup(transport_socket.fileno())) as sock:
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # nothing to read and not closed
        except OSError:
            return False


class ActorServer:
    """Serves the document of its actor, as an honest server does."""

    def __init__(self) -> None:
        self.actor: FakeActor | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        path = head[0].split()[1]
        if self.actor is not None and path == httpx.URL(self.actor.uri).path:
            body, status = json.dumps(self.actor.document()).encode(), b"200 OK"
        else:
            body, status = b"{}", b"404 Not Found"
        writer.write(
            b"HTTP/1.1 %s\r\nContent-Type: application/activity+json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, len(body), body)
        )
        await writer.drain()
        writer.close()


async def _post(client: httpx.AsyncClient, activity: dict[str, Any], key: SigningKey) -> int:
    body = json.dumps(activity).encode()
    url = f"https://{TARGET}/inbox"
    response = await client.post(url, content=body, headers=signed_headers(url, body, key))
    return response.status_code


@pytest.mark.slow
async def test_forged_keys_on_a_hanging_server_do_not_delay_an_honest_one(
    templates: DatabaseTemplates, tmp_path: Path
) -> None:
    """Attack: 120 forged inbox POSTs, each naming an actor and a key of a server that
    accepts connections and never answers. Each would hold one of the shared client's 100
    connections for 30 s. Now key fetches to one server are bounded (2 at once) and so is
    their time (``federation.key_fetch_timeout``): the hanging server never holds more than
    a few requests at once, every forgery is answered 401 ``key_unavailable`` within the
    deadline, and an honest server delivering for the first time meanwhile (its key
    unknown, to be fetched) is answered 202 at once."""
    hanging = HangingServer()
    slow = await asyncio.start_server(hanging.handle, "127.0.0.1", 0)
    slow_port = slow.sockets[0].getsockname()[1]
    honest_server = ActorServer()
    server = await asyncio.start_server(honest_server.handle, "127.0.0.1", 0)
    # Another host name than the hanging server's (both are this machine).
    honest_port = server.sockets[0].getsockname()[1]
    honest = FakeActor(f"http://localhost:{honest_port}/users/honest", rsa_key(71))
    honest_server.actor = honest
    settings = make_settings(
        tmp_path / TARGET,
        templates.sqlite_url(tmp_path),
        federation={"allow_private_addresses": True, "key_fetch_timeout": KEY_FETCH_TIMEOUT},
    )
    forger = rsa_key(72)
    async with (
        slow,
        server,
        running_node(settings) as node,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=node.app, client=("203.0.113.9", 4000))
        ) as client,
    ):

        async def forged(n: int) -> int:
            actor = f"http://127.0.0.1:{slow_port}/users/u{n}"
            key = SigningKey(f"{actor}#main-key", forger)
            return await _post(client, create(actor, note(actor)), key)

        try:
            tasks = [asyncio.create_task(forged(n)) for n in range(FORGERIES)]
            # The forgeries reach their key fetch within a second or so: without bounds the
            # shared client's 100 connections are all taken by then.
            for _ in range(60):
                if hanging.requests >= 100:
                    break
                await asyncio.sleep(0.02)
            activity = create(honest.uri, note(honest.uri))
            async with asyncio.timeout(HONEST_WAIT):
                status = await _post(client, activity, honest.signing_key)
            # Each forgery waits at most the deadline once it reaches its key fetch (the
            # 30 s of a fetch before); 120 requests reach it over a second or two here.
            done, pending = await asyncio.wait(tasks, timeout=4 * KEY_FETCH_TIMEOUT)
        finally:
            hanging.close()
        for task in pending:
            task.cancel()
        assert (status, pending) == (202, set())
        # Bounded at 2 fetches of the client's 100 connections. A fetch given up closes its
        # socket a moment after its slot passes to the next (the close is scheduled on the
        # event loop), so the kernel may briefly see both: hence 2 x 2, counted as the
        # kernel sees them (handlers see a close later still: they once counted 5).
        assert hanging.most <= 2 * KEY_FETCHES_PER_HOST
        assert {task.result() for task in done} == {401}
        assert await inbox_count(node) == 1


async def test_ports_of_one_server_share_its_key_fetch_slots() -> None:
    """Another port of the same host is the same server: no fresh slots for it."""
    slots = HostSlots(per_host=1, total=10)
    async with slots.hold("slow.test:8001"):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05), slots.hold("slow.test:8002"):
                pass
        async with asyncio.timeout(0.05), slots.hold("other.test"):
            assert slots.busy("slow.test") == 1
    assert slots.busy("slow.test") == 0  # nothing kept for a host nobody waits for


@pytest.fixture
async def watched(tmp_path: Path, new_db_url: Callable[[], str]) -> AsyncIterator[Any]:
    async with network(tmp_path, new_db_url, [TARGET]) as (net, (a,)):
        alice = FakeActor("https://remote.test/users/alice", rsa_key(73))
        net.hooks.append(alice)
        yield net, a, alice


async def _age(node: Any, uri: str) -> None:
    """Make our copy of the actor a day old (as if fetched yesterday)."""
    async with node.node.db.session() as session:
        await session.execute(
            update(Actor).where(Actor.uri == uri).values(fetched_at=utcnow().replace(year=2000))
        )


async def test_forgeries_naming_a_known_key_refetch_it_once(watched: Any) -> None:
    """Attack: 30 requests signed with a wrong key under Alice's keyId, which the node holds
    (fetched long ago). A failed signature makes the node fetch the key again, in case Alice
    rotated it; each forgery cost a GET of Alice's actor and a rewrite of its row. Now the
    key is refetched at most once in ``KEY_REFRESH_SECONDS``: 30 forgeries, 30 × 401, one
    GET. Alice's genuine deliveries are still accepted, and a key she really rotates is
    picked up once that while has passed."""
    net, node, alice = watched
    url = f"https://{TARGET}/inbox"
    body_of = lambda: json.dumps(create(alice.uri, note(alice.uri))).encode()  # noqa: E731
    genuine = body_of()
    response = await net.post(url, genuine, signed_headers(url, genuine, alice.signing_key))
    assert response.status_code == 202, response.text
    await _age(node, alice.uri)

    net.log.clear()
    forged_key = SigningKey(alice.key_id, rsa_key(74))
    for _ in range(30):
        body = body_of()
        response = await net.post(url, body, signed_headers(url, body, forged_key))
        assert response.status_code == 401, response.text
    assert len(net.sent("GET", "remote.test")) == 1

    body = body_of()
    response = await net.post(url, body, signed_headers(url, body, alice.signing_key))
    assert response.status_code == 202, response.text
    assert len(net.sent("GET", "remote.test")) == 1

    # Later (the while shortened here), Alice rotates her key: the new one is fetched.
    node.node.remote.key_refresh_seconds = 0.0
    await _age(node, alice.uri)
    alice.private_key = rsa_key(75)
    body = body_of()
    response = await net.post(url, body, signed_headers(url, body, alice.signing_key))
    assert response.status_code == 202, response.text
    assert len(net.sent("GET", "remote.test")) == 2
