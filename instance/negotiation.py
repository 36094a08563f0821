"""Content negotiation: does the client want an ActivityStreams document or a page?

Used by the federation endpoints (which document to answer) and by the error
handler (JSON or HTML errors).
"""

from __future__ import annotations

from quart import request

AP_TYPES = (
    "application/activity+json",
    "application/ld+json",
)


def _quality(media: str) -> float:
    """The quality the client's Accept gives ``media`` (exactly, or through a wildcard).

    Compared on the bare media type: werkzeug's ``MIMEAccept`` does not match
    ``application/ld+json; profile="…"`` (what ActivityPub section 3.2 tells
    clients to send, and Mastodon sends) with ``application/ld+json``.
    """
    major = media.split("/", 1)[0]
    best = 0.0
    for value, quality in request.accept_mimetypes:
        kind = value.split(";", 1)[0].strip().lower()
        if kind in (media, f"{major}/*", "*/*"):
            best = max(best, float(quality))
    return best


def wants_activity_json() -> bool:
    """Whether the client prefers an ActivityStreams document to a page (a tie is a page)."""
    json_quality = max(_quality(media) for media in (*AP_TYPES, "application/json"))
    return json_quality > _quality("text/html")
