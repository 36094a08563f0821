"""Documents that let others find us: WebFinger (RFC 7033), host-meta (RFC 6415)
and NodeInfo 2.1 (https://nodeinfo.diaspora.software/protocol).

Only the document shapes live here; ``instance`` looks up local actors and
serves them. NodeInfo 2.1 allows no extra top-level keys, so Entraide's own
facts (the territory actor's id) go in ``metadata``.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

ACTIVITY_JSON = "application/activity+json"
NODEINFO_21 = "http://nodeinfo.diaspora.software/ns/schema/2.1"


def jrd(subject: str, actor_uri: str, profile_url: str | None) -> dict[str, Any]:
    """The WebFinger answer for one local actor."""
    links: list[dict[str, str]] = [{"rel": "self", "type": ACTIVITY_JSON, "href": actor_uri}]
    if profile_url:
        links.append(
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": profile_url,
            }
        )
    aliases = [actor_uri] + ([profile_url] if profile_url else [])
    return {"subject": subject, "aliases": aliases, "links": links}


def host_meta(base_url: str) -> str:
    """host-meta XRD pointing to our WebFinger endpoint (older clients look here)."""
    template = quoteattr(f"{base_url}/.well-known/webfinger?resource={{uri}}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/jrd+json" template={template}/>\n'
        "</XRD>\n"
    )


def nodeinfo_links(base_url: str) -> dict[str, Any]:
    return {"links": [{"rel": NODEINFO_21, "href": f"{base_url}/nodeinfo/2.1"}]}


def nodeinfo(
    *,
    software: str,
    version: str,
    open_registrations: bool,
    users: int,
    local_posts: int,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """A NodeInfo 2.1 document."""
    return {
        "version": "2.1",
        "software": {
            "name": software,
            "version": version,
            "repository": "",
            "homepage": "",
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {"total": users, "activeMonth": users, "activeHalfyear": users},
            "localPosts": local_posts,
        },
        "metadata": metadata,
    }
