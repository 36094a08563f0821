"""The activity envelope, and the values every outgoing shape writes the same way.

:func:`new_activity` wraps an object (or the id of one) in an activity of a
local actor with a fresh id under the node's domain; the other modules of
this package build their activities with it. Dates are written by
:func:`iso` (UTC, to the second, ``Z``), decimals by :func:`number`, text
typed by a person becomes HTML by :func:`paragraphs`, and a deleted object is
a :func:`tombstone`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from actors.urls import Urls
from config.settings import Settings
from federation.models import Actor
from federation.vocab import AS_CONTEXT


def new_activity(
    settings: Settings,
    type_: str,
    actor: Actor,
    obj: Any,
    *,
    to: Iterable[str] = (),
    cc: Iterable[str] = (),
    context: Any = AS_CONTEXT,
    **extra: Any,
) -> dict[str, Any]:
    """An activity document with a fresh id under the node's domain."""
    body: dict[str, Any] = {
        "@context": context,
        "id": Urls(settings.base_url).new_activity(),
        "type": type_,
        "actor": actor.uri,
        "object": obj,
    }
    if to:
        body["to"] = list(to)
    if cc:
        body["cc"] = list(cc)
    body.update(extra)
    return body


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def number(value: Decimal) -> str:
    """A decimal as plain digits, without trailing zeros or exponent (``"12.5"``)."""
    return format(value.normalize(), "f")


def paragraphs(text: str) -> str:
    """Plain text as escaped HTML: blank lines part paragraphs, newlines are ``<br>``."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>"
        for block in blocks
    )


def tombstone(
    ap_id: str, former_type: str = "Note", deleted: datetime | None = None
) -> dict[str, Any]:
    """What a deleted object's id serves (and what a Delete carries)."""
    body: dict[str, Any] = {"id": ap_id, "type": "Tombstone", "formerType": former_type}
    if deleted is not None:
        body["deleted"] = iso(deleted)
    return body
