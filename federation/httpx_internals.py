"""The one place that reaches into httpx's private attributes.

httpx offers no public way to do two things this node needs:

- **give ``AsyncHTTPTransport`` another connection pool** (``_pool``):
  :class:`federation.net.GuardedTransport` keeps httpx's exception mapping and
  response streams but connects through the SSRF-checking network backend, which
  only an ``httpcore`` pool built by us can carry;
- **reach a client's transport** (``_transport``): :mod:`federation.delivery`
  posts straight through it, skipping the layers of ``AsyncClient.send`` (auth,
  redirects, cookies, hooks) that cost as much as the signature on a busy queue,
  while keeping the client's guard and pool.

Both attributes have kept their names across httpx 0.2x, but they are private:
an httpx upgrade that renames them breaks here, and
``tests/security/test_ssrf_resolution.py`` pins both, so it breaks in the tests first.
"""

from __future__ import annotations

import httpcore
import httpx

__all__ = ["pool_of", "replace_pool", "transport_of"]


def transport_of(client: httpx.AsyncClient) -> httpx.AsyncBaseTransport:
    """The transport ``client`` sends through (the one given to its constructor)."""
    transport: httpx.AsyncBaseTransport = client._transport
    return transport


def pool_of(transport: httpx.AsyncHTTPTransport) -> httpcore.AsyncConnectionPool:
    """The ``httpcore`` connection pool behind ``transport``."""
    pool: httpcore.AsyncConnectionPool = transport._pool
    return pool


def replace_pool(transport: httpx.AsyncHTTPTransport, pool: httpcore.AsyncConnectionPool) -> None:
    """Make ``transport`` open its connections through ``pool``."""
    transport._pool = pool
