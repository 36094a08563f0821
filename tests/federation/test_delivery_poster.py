"""The lean delivery client (``federation.poster``) against a real socket on 127.0.0.1:
signed POSTs that verify, kept-alive connections, the SSRF guard, and answers that must
not be trusted (endless, oversized, closed) — each read no further than its bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import h11
import pytest

from federation.delivery import Job, post
from federation.keys import SigningKey
from federation.poster import Poster, PostError, _simple_answer
from federation.signatures import verify_request
from tests.security.helpers import rsa_key

KEY = SigningKey("https://a.test/actors/territory#main-key", rsa_key(31))
BODY = b'{"id": "https://a.test/activities/1", "type": "Create"}'

Answer = Callable[[int], bytes]  # request number -> raw answer


@dataclass
class Seen:
    heads: list[dict[str, str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0


@asynccontextmanager
async def receiver(answer: Answer, *, close_after: bool = False) -> AsyncIterator[tuple[int, Seen]]:
    """A raw HTTP/1.1 server: reads each request, writes ``answer(n)`` as it is."""
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *lines = head.decode().split("\r\n")
                fields = {
                    k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)
                }
                body = await reader.readexactly(int(fields["content-length"]))
                seen.targets.append(line.split()[1])
                seen.heads.append(fields)
                seen.bodies.append(body)
                writer.write(answer(len(seen.bodies)))
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


def job(port: int, n: int = 1) -> Job:
    return Job(
        id=n,
        inbox_url=f"http://127.0.0.1:{port}/users/f{n}/inbox",
        domain=f"127.0.0.1:{port}",
        tries=0,
        body=BODY,
        key=KEY,
        activity_uri="https://a.test/activities/1",
    )


def poster(**kwargs: object) -> Poster:
    return Poster(allow_private=True, user_agent="entraide/test", **kwargs)  # type: ignore[arg-type]


ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


async def each(sender: Poster, jobs: list[Job]) -> list[int | None]:
    return [(await post(sender, j)).status for j in jobs]


async def test_posts_are_signed_for_their_own_inbox_and_share_one_connection() -> None:
    """Three deliveries to three inboxes of one server: one connection, and each POST's
    signature verifies for its own path and host (what Mastodon checks)."""
    async with receiver(lambda n: ACCEPTED) as (port, seen):
        sender = poster()
        jobs = [job(port, n) for n in (1, 2, 3)]
        assert await each(sender, jobs) == [202, 202, 202]
        await sender.aclose()
    assert seen.connections == 1 and sender.connections_opened == 1
    assert seen.bodies == [BODY] * 3
    for n, (target, head) in enumerate(zip(seen.targets, seen.heads, strict=True), 1):
        assert target == f"/users/f{n}/inbox"
        assert head["host"] == f"127.0.0.1:{port}"
        assert head["user-agent"] == "entraide/test"
        assert 'headers="(request-target) host date digest content-type"' in head["signature"]

        async def resolve(key_id: str, refresh: bool) -> object:
            return KEY.private_key.public_key()

        path, _, query = target.partition("?")
        key_id = await verify_request(
            "POST",
            path,
            query,
            head,
            BODY,
            resolve_key=resolve,
            scheme="http",  # type: ignore[arg-type]
        )
        assert key_id == KEY.key_id


async def test_loopback_is_refused_unless_allowed() -> None:
    """The SSRF guard: without ``allow_private`` a loopback inbox is refused before any
    connection (outcome status 0: never retried), with it the POST goes through."""
    async with receiver(lambda n: ACCEPTED) as (port, seen):
        guarded = Poster(allow_private=False, allow_http=True, user_agent="t")
        outcome = await post(guarded, job(port))
        assert outcome.status == 0 and outcome.error and "loopback" in outcome.error
        assert seen.connections == 0 and guarded.connections_opened == 0


async def test_an_answer_that_closes_or_is_not_read_to_its_end_is_not_reused() -> None:
    """``Connection: close``, a body longer than the bound (not read), a body without
    length (read to the close, bounded) and an endless chunked body: every POST still gets
    its status, and the connection is never reused."""
    answers = {
        1: b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        2: b"HTTP/1.1 202 Accepted\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 70_000,
        3: b"HTTP/1.1 429 Too Many\r\nRetry-After: 120\r\n\r\n" + b"y" * 1000,
        4: b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"8000\r\n" + b"z" * 0x8000 + b"\r\n") * 3,  # and it would go on
    }
    async with receiver(lambda n: answers[n], close_after=True) as (port, seen):
        sender = poster(max_reply=64 * 1024)
        outcomes = [await post(sender, job(port, n)) for n in (1, 2, 3, 4)]
        await sender.aclose()
    assert [o.status for o in outcomes] == [202, 202, 429, 202]
    assert outcomes[2].retry_after == "120"
    assert sender.connections_opened == 4 == seen.connections


async def test_a_kept_connection_closed_by_the_server_is_replaced() -> None:
    """The server closes each connection after its answer (without saying so): the next
    POST finds its kept connection dead before any answer and goes over a new one."""
    async with receiver(lambda n: ACCEPTED, close_after=True) as (port, seen):
        sender = poster()
        first = await post(sender, job(port, 1))
        await asyncio.sleep(0.05)  # the close reaches us
        second = await post(sender, job(port, 2))
        await sender.aclose()
    assert (first.status, second.status) == (202, 202)
    assert seen.connections == 2


async def test_a_server_that_never_answers_is_a_timeout() -> None:
    """No answer within the time limit: a retryable outcome, and the socket is closed."""
    never: Callable[[], Awaitable[None]] = asyncio.Event().wait

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await never()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        outcome = await post(poster(), job(port), time_limit=0.2)
    finally:
        server.close()
    assert outcome.status is None and outcome.error == "no answer within 0.2 s"


async def test_idle_connections_are_bounded_overall() -> None:
    """Kept connections to three servers with room for two: the least recently used
    server's connection is closed, so the next POST to it opens a new one."""
    async with (
        receiver(lambda n: ACCEPTED) as (a, _),
        receiver(lambda n: ACCEPTED) as (b, _),
        receiver(lambda n: ACCEPTED) as (c, _),
    ):
        sender = poster(max_idle=2)
        for port in (a, b, c, a):
            assert (await post(sender, job(port))).status == 202
        await sender.aclose()
    assert sender.connections_opened == 4  # a's connection was evicted by c's


SIMPLE = [
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 202\r\ncontent-length: 2\r\nDate: x\r\n\r\nok",
    b"HTTP/1.1 429 Too Many\r\nRetry-After: 120\r\nContent-Length:0\r\n\r\n",
    b"HTTP/1.1 503 Busy\r\nRetry-After:  7 \r\nRetry-After: 9\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
]
LEFT_TO_H11 = [
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nab",  # the body comes later
    b"HTTP/1.1 202 Accepted\r\nContent-Len",  # so does the head
    b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 202 Accepted\r\n\r\n",  # no length: read until closed
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nX: a\r\n b\r\n\r\n",  # folded
    b"HTTP/1.1 202 Accepted\r\nContent-Length : 0\r\n\r\n",
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202",  # more than one
    b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc",
]


def _by_h11(raw: bytes) -> tuple[int, str | None, bool]:
    http = h11.Connection(h11.CLIENT)
    http.send(
        h11.Request(method="POST", target="/", headers=[("Host", "a"), ("Content-Length", "0")])
    )
    http.send(h11.EndOfMessage())
    http.receive_data(raw)
    status, retry_after = 0, None
    while not isinstance(event := http.next_event(), h11.EndOfMessage):
        if isinstance(event, h11.Response):
            status = event.status_code
            retry_after = next((v.decode() for k, v in event.headers if k == b"retry-after"), None)
    return status, retry_after, http.their_state is h11.DONE and http.our_state is h11.DONE


def test_the_common_answers_are_read_as_h11_reads_them_and_the_others_left_to_it() -> None:
    for raw in SIMPLE:
        assert _simple_answer(raw, 64 * 1024) == _by_h11(raw), raw
    for raw in LEFT_TO_H11:
        assert _simple_answer(raw, 64 * 1024) is None, raw
    assert _simple_answer(SIMPLE[1], 1) is None  # longer than the bound: h11's rules


async def test_a_header_field_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    async with receiver(lambda n: ACCEPTED) as (port, seen):
        sender = poster()
        with pytest.raises(PostError):
            await sender.post(f"http://127.0.0.1:{port}/i", BODY, {"X": "a\r\nInjected: 1"})
        assert sender.connections_opened == 0 and not seen.bodies
