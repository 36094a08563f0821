"""The federation error tree.

Every error raised while talking to the fediverse derives from
:class:`FederationError`. Each carries the HTTP ``status`` that the inbox (or
the JSON API, when a user asked for the remote operation) answers with, and a
``message`` that is safe to show to the sender: it never contains secrets,
stack traces or the body we received.

::

    FederationError (status 400)
    ├── SignatureError (401)          missing, malformed or invalid HTTP signature
    │   └── KeyFetchError (401)       the signing key could not be obtained
    ├── OriginMismatch (403)          object/actor/key hosts that must agree do not
    ├── DomainBlocked (403)           the remote domain is blocked by policy
    ├── PayloadError (400)            malformed JSON, wrong content type, too deep
    │   ├── PayloadTooLarge (413)     body over the configured limit
    │   └── UnsupportedMediaType (415) content type or content encoding not accepted
    ├── UnsafeAddress (422)           SSRF guard: private, loopback, … address
    └── FetchError (422)              a remote GET failed (status, size, time, id host)
        └── RemoteStatusError (422)   the remote answered a non-2xx ``status_code``
            └── RemoteGone (422)      … and it was 410 Gone: the object was deleted

Handlers catch the narrowest class they can act on; one error handler in
``instance`` maps the rest to responses.
"""

from __future__ import annotations


class FederationError(Exception):
    """Base class: something went wrong while federating."""

    status: int = 400
    code: str = "federation_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignatureError(FederationError):
    """The HTTP signature is missing, malformed, stale or does not verify."""

    status = 401
    code = "bad_signature"


class KeyFetchError(SignatureError):
    """The key named by ``keyId`` could not be fetched or parsed."""

    code = "key_unavailable"


class OriginMismatch(FederationError):
    """Hosts that must agree (actor, key owner, object id, document id) do not."""

    status = 403
    code = "origin_mismatch"


class DomainBlocked(FederationError):
    """The remote domain is refused by the node's federation policy."""

    status = 403
    code = "domain_blocked"


class PayloadError(FederationError):
    """The body is not an acceptable ActivityPub document."""

    status = 400
    code = "bad_payload"


class PayloadTooLarge(PayloadError):
    """The body (or its decompressed form) is over the size limit."""

    status = 413
    code = "too_large"


class UnsafeAddress(FederationError):
    """The SSRF guard refused a URL or the address it resolves to."""

    status = 422
    code = "unsafe_address"


class FetchError(FederationError):
    """A remote fetch failed: bad status, too large, too slow, wrong id host."""

    status = 422
    code = "fetch_failed"


class UnsupportedMediaType(PayloadError):
    """The body's ``Content-Type`` (or ``Content-Encoding``) is not one we accept."""

    status = 415
    code = "unsupported_media_type"


class RemoteStatusError(FetchError):
    """The remote server answered with a non-2xx status, kept in ``status_code``."""

    code = "fetch_status"

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class RemoteGone(RemoteStatusError):
    """The remote answered 410 Gone: the object (often an actor) was deleted."""

    code = "remote_gone"
