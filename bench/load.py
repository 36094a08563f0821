"""A raw HTTP/1.1 load generator.

:func:`hammer` keeps N keep-alive HTTP/1.1 connections busy for a fixed time with
pre-built requests (:func:`http_request`). It is a few dozen lines of asyncio
streams on purpose: a client library costs more CPU per request than the small
endpoints it measures, and on a small machine the load generator shares the CPU
with the server.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bench.common import HOST


def http_request(
    method: str, path: str, host: str, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> bytes:
    """The bytes of one HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items() if name != "Host"]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns its status and whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection") == "close"


@dataclass
class LoadResult:
    """What :func:`hammer` saw: answers by status, transport errors, and the time taken."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    elapsed: float = 0.0
    exhausted: bool = False

    def rate(self, status: int) -> float:
        return self.statuses[status] / self.elapsed if self.elapsed else 0.0


async def hammer(
    port: int,
    next_request: Callable[[], bytes | None],
    *,
    connections: int,
    duration: float,
) -> LoadResult:
    """Send ``next_request()`` on ``connections`` keep-alive connections to 127.0.0.1:PORT,
    one request at a time each, until ``duration`` seconds have passed or it returns None.

    ``elapsed`` runs from the start to the last answer, so the rate counts only
    complete exchanges.
    """
    loop = asyncio.get_running_loop()
    result = LoadResult()
    started = loop.time()
    deadline = started + duration

    async def connection() -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            while loop.time() < deadline:
                request = next_request()
                if request is None:
                    result.exhausted = True
                    return
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(request)
                try:
                    status, close = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    result.errors += 1
                    writer.close()
                    writer = None
                    continue
                result.statuses[status] += 1
                if close:
                    writer.close()
                    writer = None
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    result.elapsed = loop.time() - started
    return result
