"""Federation endpoints: discovery, actor and object documents, collections, inboxes.

Content negotiation (docs/interface.md): every id answers
``application/activity+json`` and ``application/ld+json; profile=…AS`` with
its ActivityStreams document and ``text/html`` with its page. Ids whose page
is a route of the web UI (``/listings/<id>``) are answered by a
``before_request`` hook when the client asks for ActivityPub JSON; actor ids
(``/actors/<handle>``) are routes here that render the web page for HTML.
"""

from __future__ import annotations

# Importing the modules registers their routes on the blueprint.
from instance.ap import actors, discovery, inbox, objects, replies
from instance.ap.blueprint import AP_CONTENT_TYPE, ap_response, blueprint
from instance.negotiation import AP_TYPES, wants_activity_json

__all__ = [
    "AP_CONTENT_TYPE",
    "AP_TYPES",
    "actors",
    "ap_response",
    "blueprint",
    "discovery",
    "inbox",
    "objects",
    "replies",
    "wants_activity_json",
]
