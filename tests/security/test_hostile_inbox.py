"""A hostile inbox cannot exhaust the sender.

Anyone who follows a local structure names an inbox we deliver to. Its answer
matters by its status (and ``Retry-After``) only: the body is drained as it
came, never decompressed, and no further than ``REPLY_BYTES``.
"""

from __future__ import annotations

import gzip
import tracemalloc

import httpx

from federation.delivery import REPLY_BYTES, Job, send
from federation.keys import SigningKey
from federation.net import make_client
from tests.security.helpers import rsa_key


def _job() -> Job:
    return Job(
        id=1,
        inbox_url="https://bomb.test/inbox",
        domain="bomb.test",
        tries=0,
        body=b'{"type": "Create"}',
        key=SigningKey("https://a.test/actors/territory#main-key", rsa_key(31)),
        activity_uri="https://a.test/activities/1",
    )


async def test_a_gzip_bomb_answer_is_not_inflated() -> None:
    """Attack: the inbox answers 202 with a gzip body that inflates to 200 MB (200 kB on
    the wire). The delivery is recorded as delivered and the sender's memory barely moves."""
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # A stream, as from the network (bytes given as content= count as already read).
        return httpx.Response(
            202, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(bomb)
        )

    client = make_client(
        allow_private=False, user_agent="test", transport=httpx.MockTransport(answer)
    )
    tracemalloc.start()
    try:
        outcome = await send(client, _job())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await client.aclose()
    assert outcome.status == 202 and outcome.error is None
    assert "Signature" in seen[0].headers  # it was a real, signed delivery
    assert peak < 20_000_000, f"peak {peak / 1e6:.0f} MB"
    assert len(bomb) > REPLY_BYTES


async def test_an_endless_answer_is_cut() -> None:
    """Attack: the inbox answers 202 and then streams a body that never ends. The sender
    reads REPLY_BYTES at most and moves on."""
    sent = 0

    async def endless() -> httpx.AsyncByteStream:  # type: ignore[misc]
        nonlocal sent
        while True:
            sent += 65_536
            yield b"x" * 65_536

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, content=endless())

    client = make_client(
        allow_private=False, user_agent="test", transport=httpx.MockTransport(answer)
    )
    try:
        outcome = await send(client, _job(), time_limit=5)
    finally:
        await client.aclose()
    assert outcome.status == 202
    assert sent <= REPLY_BYTES + 2 * 65_536
