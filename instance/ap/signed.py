"""The HTTP signature of the request being served, checked the one way.

Both endpoints that take a signed request (the inboxes and the signed fetch of a
direct message) verify it here: the raw path and query (not Quart's decoded
``request.path``, which would not match what was signed), the headers, the
node's clock window and scheme. The caller's ``resolve_key`` fetches the key
and remembers its owner; the caller still checks that owner.
"""

from __future__ import annotations

from quart import request

from config.settings import Settings
from federation.signatures import KeyResolver, verify_request

__all__ = ["verify_signed_request"]


async def verify_signed_request(
    settings: Settings,
    resolve_key: KeyResolver,
    *,
    body: bytes | None = None,
    method: str | None = None,
) -> str:
    """Verify the current request's signature; returns the verified ``keyId``.

    ``method`` defaults to the request's own. Raises what
    :func:`federation.signatures.verify_request` raises.
    """
    raw_path = request.scope.get("raw_path") or request.path.encode()
    return await verify_request(
        method or request.method,
        raw_path.decode("latin-1").split("?", 1)[0],
        request.query_string.decode("latin-1"),
        dict(request.headers),
        body,
        resolve_key=resolve_key,
        window=settings.federation.signature_window_seconds,
        scheme=settings.instance.scheme,
    )
