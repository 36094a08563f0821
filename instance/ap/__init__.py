"""Federation endpoints: discovery, actor and object documents, collections, inboxes.

Content negotiation (docs/interface.md): every id answers
``application/activity+json`` and ``application/ld+json; profile=…AS`` with
its ActivityStreams document and ``text/html`` with its page. Ids whose page
is a route of the web UI (``/listings/<id>``) are answered by a
``before_request`` hook when the client asks for ActivityPub JSON; actor ids
(``/actors/<handle>``) are routes here that render the web page for HTML.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response

from instance.negotiation import AP_TYPES, wants_activity_json

blueprint = Blueprint("ap", __name__)

AP_CONTENT_TYPE = "application/activity+json; charset=utf-8"


def ap_response(document: Any, status: int = 200, **headers: str) -> Response:
    body = json.dumps(document, ensure_ascii=False)
    response = Response(body, status=status, content_type=AP_CONTENT_TYPE)
    response.headers["Vary"] = "Accept"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


from instance.ap import actors, discovery, inbox, objects  # noqa: E402

__all__ = [
    "AP_TYPES",
    "actors",
    "ap_response",
    "blueprint",
    "discovery",
    "inbox",
    "objects",
    "wants_activity_json",
]
