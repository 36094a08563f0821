"""A lean HTTP/1.1 client for one job only: POSTing signed activities to inboxes.

A delivery is always the same exchange: one POST with a small body on a kept-alive
connection to a server we post to again and again, of whose answer only the status
and ``Retry-After`` matter. Through ``httpx`` (request and response objects, header
normalisation, ``httpcore``'s pool bookkeeping, ``h11``, ``anyio``'s cancel scopes
around every read and write) that exchange cost the sender more CPU than its RSA
signature; here it is a few writes and reads on an ``asyncio`` stream, the
messages written and the answers parsed by ``h11`` (the sans-I/O HTTP/1.1 library
under ``httpcore`` and Hypercorn): chunked bodies, interim answers, keep-alive rules
and malformed answers are its business, not hand-written here.

The guards are the shared client's (``federation.net``), not copies of them:

* the URL goes through :func:`~federation.net.check_url` (scheme, credentials,
  forbidden IP literals, ``localhost``) before anything else;
* the host is resolved and every address checked by
  :meth:`~federation.net.GuardedBackend.resolve` (a name with any forbidden address
  is refused), and the connection goes to a checked IP — no second lookup, so no
  DNS rebinding; TLS verifies the certificate against the host name with the
  process's one context (:func:`~federation.net.default_ssl_context`);
* the answer is read as it came, never decompressed, and no further than
  ``max_reply`` bytes (headers bounded too): a hostile inbox's gzip bomb or endless
  body costs nothing. A connection whose answer was not read to its end is closed,
  never reused.

Connections are kept per origin (scheme, host, port) while idle for at most
``keepalive`` seconds, ``max_idle`` of them at most overall; the worker's per-host
limit bounds how many are open to one server. A kept connection that the server
closed meanwhile is replaced once, before any byte of an answer was read.

Errors are :class:`PostError` (an ``OSError``), :class:`~federation.errors.UnsafeAddress`
from the guard, or ``TimeoutError``: what ``federation.delivery.send`` maps to an
outcome. ``federation.delivery`` uses this client when the node has no test
transport; tests that inject an ``httpx`` transport go through ``httpx``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import h11
import httpx

from federation.net import GuardedBackend, Resolver, check_url, default_ssl_context, system_resolver

__all__ = ["Answer", "PostError", "Poster"]

HEADER_BYTES = 64 * 1024  # of an answer's status line and headers, at most
READ_BYTES = 16 * 1024  # read from the socket at a time


class PostError(OSError):
    """The exchange failed: connection refused or lost, or a malformed answer."""


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float, keepalive: float) -> bool:
        return (
            now - self.idle_since < keepalive
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


Origin = tuple[str, str, int]


class Poster:
    """POSTs bodies to URLs over kept-alive HTTP/1.1 connections (see the module doc)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        allow_http: bool | None = None,
        user_agent: str,
        connect_timeout: float = 5.0,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        max_reply: int = 64 * 1024,
        keepalive: float = 5.0,
        max_idle: int = 256,
    ) -> None:
        self.allow_private = allow_private
        self.allow_http = allow_private if allow_http is None else allow_http
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.backend = GuardedBackend(allow_private=allow_private, resolver=resolver)
        self.ssl_context = ssl_context
        self.max_reply = max_reply
        self.keepalive = keepalive
        self.max_idle = max_idle
        self._idle: OrderedDict[Origin, list[_Connection]] = OrderedDict()
        self._idle_count = 0
        self.connections_opened = 0  # for tests and benchmarks: reuse shows here

    async def post(self, url: str | httpx.URL, body: bytes, headers: dict[str, str]) -> Answer:
        """POST ``body`` to ``url`` with ``headers`` (``Host``, ``Content-Length``,
        ``User-Agent`` and ``Connection`` are added here); returns the answer's status."""
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        check_url(parsed, allow_private=self.allow_private, allow_http=self.allow_http)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        origin: Origin = (parsed.scheme, host, port)
        request = _Request.of(
            parsed.raw_path,
            netloc(parsed),
            [*headers.items(), ("User-Agent", self.user_agent)],
            body,
        )
        connection = self._take(origin)
        if connection is not None:
            try:
                return await self._exchange(origin, connection, request)
            except _Stale:
                pass  # the server closed it while idle: once more on a new connection
        connection = await self._connect(origin)
        try:
            return await self._exchange(origin, connection, request)
        except _Stale as exc:
            raise PostError(str(exc)) from None

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        found = None
        while idle and found is None:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.usable(now, self.keepalive):
                found = connection
            else:
                connection.close()
        if idle is not None and not idle:
            del self._idle[origin]
        return found

    def _give_back(self, origin: Origin, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        self._idle.setdefault(origin, []).append(connection)
        self._idle.move_to_end(origin)
        self._idle_count += 1
        while self._idle_count > self.max_idle:
            oldest_origin, oldest = next(iter(self._idle.items()))
            oldest.pop(0).close()
            self._idle_count -= 1
            if not oldest:
                del self._idle[oldest_origin]

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = scheme == "https"
        addresses = await self.backend.resolve(host, port, limit=self.connect_timeout)
        error: Exception | None = None
        for ip in addresses:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(
                        str(ip),
                        port,
                        ssl=(self.ssl_context or default_ssl_context()) if tls else None,
                        server_hostname=host if tls else None,
                        limit=HEADER_BYTES,
                    )
            except (OSError, TimeoutError) as exc:
                error = exc
                continue
            self.connections_opened += 1
            return _Connection(reader, writer)
        raise PostError(f"cannot connect to {host}:{port}: {error}") from error

    async def _exchange(self, origin: Origin, connection: _Connection, request: _Request) -> Answer:
        """Send ``request`` and read the answer; the connection goes back to the pool
        only when the answer was read to its end and both sides may go on.

        The answer of nearly every inbox — ``202``, a few headers, no body or a short
        one, all in the first read — is read by :func:`_simple_answer`; anything else
        (a partial read, chunked, interim answers, HTTP/1.0, anything unusual) by h11.
        """
        reusable = False
        try:
            try:
                connection.writer.write(request.data)
                await connection.writer.drain()
                first = await connection.reader.read(READ_BYTES)
            except ConnectionError as exc:
                raise _Stale(f"{type(exc).__name__}: {exc}") from None
            if not first:
                raise _Stale("connection closed before an answer")
            simple = _simple_answer(first, self.max_reply)
            if simple is not None:
                status, retry_after, reusable = simple
                return Answer(status, retry_after)
            answer, reusable = await self._read_with_h11(connection, request, first)
            return answer
        finally:
            if reusable:
                self._give_back(origin, connection)
            else:
                connection.close()

    async def _read_with_h11(
        self, connection: _Connection, request: _Request, first: bytes
    ) -> tuple[Answer, bool]:
        """Read the answer whose first bytes are ``first`` with h11 (told of the request
        with its framing); returns it and whether the connection may be used again."""
        http = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEADER_BYTES)
        try:
            http.send(
                h11.Request(
                    method="POST",
                    target=request.target,
                    headers=[("Host", request.host), ("Content-Length", str(len(request.body)))],
                )
            )
            http.send(h11.Data(data=request.body))
            http.send(h11.EndOfMessage())
            http.receive_data(first)
            status, retry_after, received = 0, None, 0
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA:
                    http.receive_data(await connection.reader.read(READ_BYTES))  # b"": closed
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                    retry_after = _field(event.headers, b"retry-after")
                    length = _field(event.headers, b"content-length")
                    if length is not None and length.isdigit() and int(length) > self.max_reply:
                        break  # an answer longer than we read: not read, not reused
                elif isinstance(event, h11.Data):
                    received += len(event.data)
                    if received > self.max_reply:
                        break  # endless or oversized: read no further
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
                # h11.InformationalResponse (100 Continue, 103): the answer follows.
        except h11.RemoteProtocolError as exc:
            raise PostError(f"malformed answer: {exc}") from None
        except ConnectionError as exc:
            raise PostError(f"{type(exc).__name__}: {exc}") from None
        if not status:
            raise PostError("connection closed in the middle of an answer")
        reusable = http.our_state is h11.DONE and http.their_state is h11.DONE
        return Answer(status, retry_after), reusable

    async def aclose(self) -> None:
        """Close every kept connection."""
        idle, self._idle = self._idle, OrderedDict()
        self._idle_count = 0
        for connections in idle.values():
            for connection in connections:
                connection.close()


class _Stale(Exception):
    """A kept connection failed before any answer: worth one try on a new one."""


def netloc(url: httpx.URL) -> str:
    """The ``Host`` header of ``url``, as ``httpx`` writes it (port only when not the default)."""
    return url.netloc.decode("ascii")


@dataclass(frozen=True)
class _Request:
    """One POST: the bytes written, and what h11 is told of it when it reads the answer."""

    data: bytes
    target: bytes
    host: str
    body: bytes

    @classmethod
    def of(cls, target: bytes, host: str, headers: list[tuple[str, str]], body: bytes) -> _Request:
        """The request's bytes, head and body in one buffer (one write, one system call).

        The head is written here rather than by h11 (whose checks of every field cost
        more than the rest of the exchange): the fields are the node's own (signature,
        digest, date, types, user agent), and one holding a line break or a character
        that is not ASCII is refused, as h11 would.
        """
        lines = [
            f"POST {target.decode('ascii')} HTTP/1.1",
            f"Host: {host}",
            *(f"{name}: {value}" for name, value in headers),
            f"Content-Length: {len(body)}",
            "",
            "",
        ]
        head = "\r\n".join(lines)
        breaks = len(lines) - 1
        if head.count("\r") != breaks or head.count("\n") != breaks or "\0" in head:
            raise PostError("refusing a header field with a line break")
        try:
            data = head.encode("ascii") + body
        except UnicodeEncodeError:
            raise PostError("refusing a header field that is not ASCII") from None
        return cls(data, target, host, body)


def _simple_answer(data: bytes, max_reply: int) -> tuple[int, str | None, bool] | None:
    """``(status, Retry-After, reusable)`` when ``data`` is exactly one whole final
    HTTP/1.1 answer framed by ``Content-Length`` (what inboxes send); ``None`` for
    anything else, which h11 then reads from the same bytes."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    status_line, *fields = data[:end].split(b"\r\n")
    code = status_line[9:12]
    if (
        not status_line.startswith(b"HTTP/1.1 ")
        or not code.isdigit()
        or status_line[12:13] not in (b"", b" ")
        or code < b"200"
    ):
        return None
    length: int | None = None
    retry_after: str | None = None
    reusable = True
    for line in fields:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            return None  # also an obsolete folded line: h11 says what it is
        name, value = name.lower(), value.strip(b" \t")
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return None
            length = int(value)
        elif name == b"transfer-encoding":
            return None
        elif name == b"connection":
            if b"close" in (token.strip().lower() for token in value.split(b",")):
                reusable = False
        elif name == b"retry-after" and retry_after is None:
            retry_after = value.decode("latin-1")
    if length is None or length > max_reply or len(data) != end + 4 + length:
        return None
    if code in (b"204", b"304") and length:
        return None
    return int(code), retry_after, reusable


def _field(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """An answer's header field (h11 gives names lowercased)."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None
