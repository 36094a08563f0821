"""The delivery benchmarks' receiver: 16 "servers" that answer 202 to every POST and
count them, in a child process of their own.

A real remote inbox is on another machine; the benchmark's receiver is on the same
two cores as the sender. Hypercorn and an ASGI app, in the benchmark process, took
about 1 ms of CPU per POST — as much as the sender — so the figures partly measured
the receiver. This one is a bare HTTP/1.1 server on ``asyncio`` protocols (no
framework, no ASGI), in a process of its own, whose CPU per POST is measured and
printed (``delivery_receiver_cpu_per_post``) so that a reader sees it is small.

What it does with each connection (keep-alive, as the sender's client expects):

* reads a request's head up to the blank line, then exactly ``Content-Length`` bytes
  of body, however the bytes arrive: a request split over several reads, or several
  requests (pipelined) in one read;
* answers ``HTTP/1.1 202 Accepted`` with ``Content-Length: 0`` to a POST (``405`` to
  anything else), keeps the connection open unless the request said
  ``Connection: close``; a request it cannot read (no length, a head over 64 kB, a
  chunked body, which the sender never writes) gets ``400`` and the connection closes;
* parses the JSON body's ``id`` and counts the POST by (activity id, request path): a
  pair seen twice is a duplicate. Times are ``time.time()`` (comparable across the
  processes of the benchmark).

The parent (:class:`ReceiverProcess`) talks to the child over a pipe: the child binds
its 16 sockets on 127.0.0.1 (port 0: no race for a port picked free and bound later)
and sends their ports back only once they listen; :meth:`ReceiverProcess.counts` asks
for the counts so far, :meth:`ReceiverProcess.wait` waits until enough POSTs arrived
(the child says so itself, without being polled).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.procstats import cpu_ms

HOST = "127.0.0.1"
PORTS = 16
MAX_HEAD = 64 * 1024

ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
ACCEPTED_CLOSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
NOT_ALLOWED = b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"
NOT_ALLOWED_CLOSE = (
    b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)
BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Counts:
    """What the receiver saw so far."""

    received: int  # POSTs answered 202
    unique: int  # distinct (activity id, path) pairs
    duplicates: int  # POSTs of a pair already seen
    first: float  # time.time() of the first POST, 0 before
    last: float  # ... of the last one
    connections: int  # connections accepted


class Tally:
    """The counts, kept in the child."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.received = 0
        self.duplicates = 0
        self.first = 0.0
        self.last = 0.0
        self.connections = 0
        self.target = 0  # the parent waits until ``received`` reaches it (0: nobody waits)
        self.on_target: Callable[[], None] | None = None

    def post(self, path: str, body: bytes) -> None:
        now = time.time()
        if not self.first:
            self.first = now
        self.last = now
        try:
            activity_id = str(json.loads(body).get("id"))
        except (ValueError, AttributeError):
            activity_id = "(no JSON id)"
        key = (activity_id, path)
        if key in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(key)
        self.received += 1
        if self.target and self.received >= self.target and self.on_target is not None:
            self.target = 0
            self.on_target()

    def counts(self) -> Counts:
        return Counts(
            self.received, len(self.seen), self.duplicates, self.first, self.last, self.connections
        )


class Inbox(asyncio.Protocol):
    """One connection: HTTP/1.1 requests in, 202s out (see the module doc)."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.tally.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        transport = self.transport
        assert transport is not None
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._refuse()
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            request_line = lines[0].split(" ")
            if len(request_line) != 3:
                self._refuse()
                return
            method, target, _version = request_line
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    if not value.strip().isdigit():
                        self._refuse()
                        return
                    length = int(value)
                elif name == "transfer-encoding":
                    self._refuse()  # never written by the sender
                    return
                elif name == "connection":
                    close = value.strip().lower() == "close"
            if len(self.buffer) < end + 4 + length:
                return  # the rest of the body is in a later read
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            if method == "POST":
                self.tally.post(target.split("?", 1)[0], body)
                transport.write(ACCEPTED_CLOSE if close else ACCEPTED)
            else:
                transport.write(NOT_ALLOWED_CLOSE if close else NOT_ALLOWED)
            if close:
                transport.close()
                return

    def _refuse(self) -> None:
        assert self.transport is not None
        self.transport.write(BAD)
        self.transport.close()
        self.buffer.clear()


def listening_sockets(count: int) -> list[socket.socket]:
    """``count`` sockets bound to free ports of 127.0.0.1, listening."""
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        sock.listen(1024)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


async def _serve(pipe: Connection, count: int) -> None:
    loop = asyncio.get_running_loop()
    tally = Tally()
    sockets = listening_sockets(count)
    servers = [await loop.create_server(lambda: Inbox(tally), sock=sock) for sock in sockets]
    stop = asyncio.Event()
    tally.on_target = lambda: pipe.send(("reached", tally.counts()))

    def command() -> None:
        try:
            name, argument = pipe.recv()
        except EOFError:  # the parent is gone
            stop.set()
            return
        if name == "counts":
            pipe.send(("counts", tally.counts()))
        elif name == "notify":  # tell the parent once ``argument`` POSTs were received
            if tally.received >= argument:
                pipe.send(("reached", tally.counts()))
            else:
                tally.target = argument
        elif name == "stop":
            stop.set()

    loop.add_reader(pipe.fileno(), command)
    pipe.send(("ready", [sock.getsockname()[1] for sock in sockets]))
    await stop.wait()
    loop.remove_reader(pipe.fileno())
    for server in servers:
        server.close()
    pipe.send(("stopped", tally.counts()))


def _child(pipe: Connection, count: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops us
    asyncio.run(_serve(pipe, count))


class ReceiverProcess:
    """The counting receiver in a child process (``with ReceiverProcess() as receiver``)."""

    def __init__(self, ports: int = PORTS) -> None:
        context = multiprocessing.get_context("spawn")  # nothing of the parent's state
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_child, args=(child_end, ports), daemon=True)
        self._child_end = child_end
        self.ports: list[int] = []

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def cpu_ms(self) -> float:
        """CPU time the receiver's process used so far, in ms (from ``/proc``)."""
        return cpu_ms([self.pid])

    def _answer(self, expected: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while self._pipe.poll(max(0.0, deadline - time.monotonic())):
            name, value = self._pipe.recv()
            if name == expected:
                return value
            if name != "reached":  # a late answer to an earlier wait is no answer
                raise RuntimeError(f"the receiver answered {name!r}, expected {expected!r}")
        raise TimeoutError(f"the receiver did not answer ({expected}) within {timeout:g} s")

    def __enter__(self) -> ReceiverProcess:
        self._process.start()
        self._child_end.close()
        self.ports = self._answer("ready", 60)
        return self

    def counts(self) -> Counts:
        self._pipe.send(("counts", None))
        counts: Counts = self._answer("counts", 30)
        return counts

    def wait(self, received: int, timeout: float) -> Counts:
        """Wait until ``received`` POSTs arrived; raises ``TimeoutError`` with the count."""
        self._pipe.send(("notify", received))
        if not self._pipe.poll(timeout):
            raise TimeoutError(
                f"only {self.counts().received} of {received} deliveries arrived "
                f"within {timeout:g} s"
            )
        counts: Counts = self._answer("reached", 1)
        return counts

    async def wait_async(self, received: int, timeout: float) -> Counts:
        """:meth:`wait`, without blocking an event loop."""
        return await asyncio.to_thread(self.wait, received, timeout)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._process.is_alive():
                self._pipe.send(("stop", None))
                # Drain a late "reached" before the last counts.
                while self._pipe.poll(10):
                    if self._pipe.recv()[0] == "stopped":
                        break
        except (OSError, EOFError):
            pass
        self._process.join(10)
        if self._process.is_alive():
            os.kill(self.pid, signal.SIGKILL)
            self._process.join(5)
        self._pipe.close()
