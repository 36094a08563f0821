"""The SSRF guard and the one shared outgoing HTTP client.

Remote servers hand us URLs (actor ids, inboxes, key ids, redirects); fetching
them must never reach the node's own network. Two layers guard every request:

1. **URL check** (:func:`check_url`), in :class:`GuardTransport`, which wraps
   whatever transport the client uses (so it also runs with a transport
   injected by tests): https only (unless allowed), no userinfo, a host, and a
   host that is neither a forbidden IP literal, in any of the spellings that
   ``inet_aton`` and WHATWG URL parsers accept (``2130706433``, ``0177.0.0.1``,
   ``0x7f.1``, ``127.1``, ``[::ffff:127.0.0.1]``), nor ``localhost``.
2. **Address check at connect time** (:class:`GuardedBackend`), an
   ``httpcore`` network backend that resolves the host itself, refuses when
   *any* resolved address is forbidden (a name resolving to both a public and a
   private address is an attack), and connects to the checked IP. No second
   lookup happens, so DNS rebinding between check and connect is impossible.
   TLS still verifies the certificate against the host name: httpcore passes
   the origin host as ``server_hostname``.

:class:`GuardedTransport` is ``httpx.AsyncHTTPTransport`` with its connection
pool replaced by one built on :class:`GuardedBackend` (same SSL context and
limits). Subclassing keeps httpx's exception mapping and response streams; the
cost is touching httpx's private ``_pool`` attribute (``federation.httpx_internals``).
``trust_env`` is off: an ``HTTPS_PROXY`` from the environment would send every
request to the proxy and past the connect-time check.

:class:`~federation.errors.UnsafeAddress` raised inside httpx reaches callers
unchanged: httpx only maps ``httpcore`` exceptions. Forbidden addresses follow
the IANA special-purpose registries (RFC 6890 and successors), written out
here because ``ipaddress.is_global`` changed across Python 3.11 patch releases.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from federation.errors import UnsafeAddress
from federation.httpx_internals import replace_pool

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_V4_RULES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes the broadcast 255.255.255.255
)
_V4 = tuple((IPv4Network(net), reason) for net, reason in _V4_RULES)
_V6_RULES: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64
    ("100::/64", "reserved"),  # discard-only
    ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private"),  # unique local
    ("fe80::/10", "link-local"),
    ("fec0::/10", "private"),  # deprecated site-local
    ("ff00::/8", "multicast"),
)
_V6 = tuple((IPv6Network(net), reason) for net, reason in _V6_RULES)
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")
_COMPATIBLE = IPv6Network("::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be reached ("loopback", "private", …), or None."""
    if isinstance(ip, IPv4Address):
        return next((reason for net, reason in _V4 if ip in net), None)
    if ip.scope_id:
        ip = IPv6Address(int(ip))  # "fe80::1%eth0": the zone does not change the class
    embedded: IPv4Address | None = None
    if ip.ipv4_mapped is not None:
        embedded = ip.ipv4_mapped
    elif ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        embedded = IPv4Address(int(ip) & 0xFFFFFFFF)
    elif ip.sixtofour is not None:
        embedded = ip.sixtofour
    if embedded is not None:
        inner = forbidden_reason(embedded)
        if inner is not None:
            return inner
        if ip.ipv4_mapped is not None or ip in _NAT64 or ip in _SIX_TO_FOUR:
            return None
    for net, reason in _V6:
        if ip in net:
            return reason
    return None if ip in _GLOBAL_UNICAST_V6 else "reserved"


def _ipv4_number(part: str) -> int | None:
    """One part of an inet_aton / WHATWG IPv4: decimal, 0-octal or 0x-hex."""
    text = part.lower()
    base = 10
    if text.startswith("0x"):
        text, base = text[2:], 16
        if not text:
            return 0
    elif len(text) > 1 and text.startswith("0"):
        text, base = text[1:], 8
    digits = "0123456789abcdef"[:base]
    if not text or any(c not in digits for c in text):
        return None
    return int(text, base)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The IP address ``host`` spells, in any form a resolver would accept."""
    host = host.strip()
    if host.endswith("."):  # one trailing dot is allowed, as in DNS names
        host = host[:-1]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return IPv6Address(host)
        except ValueError:
            return None
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(values)):
        return None
    value = last
    for index, n in enumerate(head):
        value |= n << (8 * (3 - index))
    return IPv4Address(value)


def check_host(host: str, *, allow_private: bool) -> None:
    """Refuse a host that names a forbidden address without any lookup."""
    if not host:
        raise UnsafeAddress("refusing a URL without a host")
    if allow_private:
        return
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise UnsafeAddress("refusing loopback host localhost")
    ip = parse_ip_literal(host)
    reason = forbidden_reason(ip) if ip is not None else None
    if ip is not None and reason is not None:
        raise UnsafeAddress(f"refusing {reason} address {ip}")


def check_url(url: str | httpx.URL, *, allow_private: bool, allow_http: bool) -> None:
    """Raise UnsafeAddress unless ``url`` may be fetched (see module doc)."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        # httpx rejects some IP spellings (0177.0.0.1): name the address if so.
        hostname = ""
        with contextlib.suppress(ValueError):
            hostname = urlsplit(str(url)).hostname or ""
        if hostname:
            check_host(hostname, allow_private=allow_private)
        raise UnsafeAddress("refusing an invalid URL") from exc
    if parsed.scheme != "https" and not (allow_http and parsed.scheme == "http"):
        raise UnsafeAddress(
            "only http(s) URLs may be fetched" if allow_http else "only https URLs may be fetched"
        )
    if parsed.userinfo:
        raise UnsafeAddress("refusing a URL with credentials (user:password@)")
    check_host(host, allow_private=allow_private)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the event loop's getaddrinfo)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked IP."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.backend = backend or httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int, limit: float | None) -> list[IPAddress]:
        """Checked addresses for ``host``; raises UnsafeAddress or httpcore errors."""
        literal = parse_ip_literal(host)
        try:
            async with asyncio.timeout(limit):
                found = [str(literal)] if literal is not None else await self.resolver(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for ip in addresses:
            reason = forbidden_reason(ip)
            if reason is not None and not self.allow_private:
                raise UnsafeAddress(f"refusing {reason} address {ip} (for {host})")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.resolve(host, port, limit=timeout)
        error: Exception | None = None
        for ip in addresses:
            try:
                return await self.backend.connect_tcp(
                    str(ip), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeAddress("refusing to connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.backend.sleep(seconds)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context (certifi's roots) for every transport of the process.

    Loading the CA bundle takes milliseconds; deliveries make a transport per
    server, so they share this one (a context is safe to share).
    """
    return ssl.create_default_context(cafile=certifi.where())


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``AsyncHTTPTransport`` whose connections go through :class:`GuardedBackend`."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        # Deliveries keep dozens of requests in flight to many servers: keep their
        # connections alive instead of reopening them (httpx keeps 20 by default).
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=32)
        context = ssl_context or default_ssl_context()
        super().__init__(verify=context, limits=limits, trust_env=False)
        pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private, resolver=resolver),
        )
        replace_pool(self, pool)


class GuardTransport(httpx.AsyncBaseTransport):
    """Runs :func:`check_url` on every request before the wrapped transport."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, *, allow_private: bool, allow_http: bool
    ) -> None:
        self.inner = inner
        self.allow_private = allow_private
        self.allow_http = allow_http

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url(request.url, allow_private=self.allow_private, allow_http=self.allow_http)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_client(
    *,
    allow_private: bool,
    user_agent: str,
    connect_timeout: float = 5.0,
    total_timeout: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
    allow_http: bool | None = None,
    resolver: Resolver = system_resolver,
) -> httpx.AsyncClient:
    """The shared client: guarded, no redirects followed, no proxy from env.

    ``total_timeout`` bounds each network operation (read, write, pool wait);
    a deadline for a whole exchange is the caller's ``asyncio.timeout``
    (:func:`federation.fetch.fetch_json` sets one). ``allow_http`` defaults to
    ``allow_private``: plain http is for local setups only.
    """
    inner = transport or GuardedTransport(allow_private=allow_private, resolver=resolver)
    return httpx.AsyncClient(
        transport=GuardTransport(
            inner,
            allow_private=allow_private,
            allow_http=allow_private if allow_http is None else allow_http,
        ),
        headers={"User-Agent": user_agent},
        timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
        follow_redirects=False,
        trust_env=False,
    )
