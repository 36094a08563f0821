"""Federation endpoints: discovery, actor and object documents, collections, inboxes.

Content negotiation (INTERFACE.md): every id answers
``application/activity+json`` and ``application/ld+json; profile=…AS`` with
its ActivityStreams document and ``text/html`` with its page. Ids whose page
is a route of the web UI (``/listings/<id>``) are answered by a
``before_request`` hook when the client asks for ActivityPub JSON; actor ids
(``/actors/<handle>``) are routes here that render the web page for HTML.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, request

blueprint = Blueprint("ap", __name__)

AP_TYPES = (
    "application/activity+json",
    "application/ld+json",
)
AP_CONTENT_TYPE = "application/activity+json; charset=utf-8"


def wants_activity_json() -> bool:
    """Whether the client prefers an ActivityStreams document to a page."""
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", *AP_TYPES, "application/json"])
    if best is None:
        return False
    return best != "text/html" and accept[best] > accept["text/html"]


def ap_response(document: Any, status: int = 200, **headers: str) -> Response:
    body = json.dumps(document, ensure_ascii=False)
    response = Response(body, status=status, content_type=AP_CONTENT_TYPE)
    response.headers["Vary"] = "Accept"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


from instance.ap import actors, discovery, inbox, objects  # noqa: E402

__all__ = ["actors", "ap_response", "blueprint", "discovery", "inbox", "objects"]
