"""ActivityStreams documents to typed values: reports (``Flag``).

:func:`flag_from_ap` reads a ``Flag`` as Mastodon, GoToSocial and our own
``outbox/to_ap/reports.py`` send it: ``object`` one id or a list of them (the
reported actor and objects, the first :data:`MAX_OBJECTS` kept), ``content``
the reason (at most :data:`REASON_MAX` characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from federation.origin import object_id
from inbox.from_ap.values import MalformedObject, types_of, uris

MAX_OBJECTS = 50
REASON_MAX = 5000


@dataclass(frozen=True)
class FlagData:
    """A report received: who filed it and what it names."""

    id: str
    actor: str
    objects: tuple[str, ...]
    reason: str


def flag_from_ap(activity: dict[str, Any]) -> FlagData:
    """The report a ``Flag`` activity carries."""
    flag_id = activity.get("id")
    actor = object_id(activity.get("actor"))
    if "Flag" not in types_of(activity) or not isinstance(flag_id, str) or not actor:
        raise MalformedObject("a Flag needs an id and an actor")
    raw = activity.get("object")
    items = raw if isinstance(raw, list) else [raw]
    content = activity.get("content")
    return FlagData(
        id=flag_id,
        actor=actor,
        objects=tuple(uris(items[:MAX_OBJECTS])),
        reason=content[:REASON_MAX] if isinstance(content, str) else "",
    )
