"""The ActivityStreams terms every layer writes, defined once.

``AS_CONTEXT`` is the ``@context`` of a plain activity (and the JSON-LD
profile of ``application/ld+json``); ``PUBLIC`` the collection an object
addressed to everyone names. ``PUBLIC_ALIASES`` are the forms in which other
servers write it (compacted ``as:Public`` and bare ``Public`` are both valid
JSON-LD), for the incoming side.
"""

from __future__ import annotations

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS_CONTEXT}#Public"
PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})
