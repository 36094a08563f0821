"""An incoming activity as typed values, read once from the stored JSON.

Handlers get an :class:`Incoming` instead of the raw dict: the id, type and
actor are strings, the object is split into its id and (when embedded) its
document. The raw JSON stays available as ``raw`` for converters. (What the
inbox endpoint hands to storage, before this, is a
:class:`federation.inbox_store.VerifiedActivity`.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from federation.errors import PayloadError
from federation.origin import object_id


def _uris(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [u for u in (object_id(i) for i in items) if u]


@dataclass(frozen=True)
class Incoming:
    id: str
    type: str
    actor: str
    object_id: str | None
    object: dict[str, Any] | None
    target: str | None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    recipient: str | None = None
    received_at: datetime | None = None  # when our inbox got it

    @property
    def object_type(self) -> str | None:
        if self.object is None:
            return None
        kind = self.object.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if isinstance(k, str)), None)
        return kind if isinstance(kind, str) else None

    @property
    def addressed(self) -> list[str]:
        return self.to + self.cc

    @classmethod
    def parse(
        cls,
        body: str | dict[str, Any],
        recipient: str | None = None,
        received_at: datetime | None = None,
    ) -> Incoming:
        raw = json.loads(body) if isinstance(body, str) else body
        if not isinstance(raw, dict):
            raise PayloadError("not an activity")
        kind = raw.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if isinstance(k, str)), None)
        actor = object_id(raw.get("actor"))
        if not isinstance(raw.get("id"), str) or not isinstance(kind, str) or not actor:
            raise PayloadError("an activity needs an id, a type and an actor")
        obj = raw.get("object")
        return cls(
            id=raw["id"],
            type=kind,
            actor=actor,
            object_id=object_id(obj),
            object=obj if isinstance(obj, dict) else None,
            target=object_id(raw.get("target")),
            to=_uris(raw.get("to")),
            cc=_uris(raw.get("cc")),
            raw=raw,
            recipient=recipient,
            received_at=received_at,
        )
