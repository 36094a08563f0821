"""A structure's profile: the fields its people edit, and what changed since a rejection.

The profile is what a structure says of itself: name, kind, description (plain
text, like a listing's: escaped wherever it is shown or federated), website,
commune (placed from the gazetteer, ``domain.places``), contact preferences (a
public e-mail and phone, both optional, and whether it takes messages) and its
logo (``domain.logos``). The handle never changes: it is the actor's id.

When an administrator rejects a structure, :func:`snapshot` keeps its profile as
it was; once its people correct it and submit it again, :func:`changes` lists
every field that differs, which the approval page shows as a before/after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.models import STRUCTURE_KINDS, Structure
from domain.validation import Collector

EMAIL_RE = r"[^@\s]+@[^@\s]+\.[^@\s]+"
PHONE_RE = r"\+?[0-9][0-9 .()\-]{3,38}"
DESCRIPTION_MAX = 5000

# The profile fields, in the order a page shows them.
PROFILE_FIELDS = (
    "name",
    "kind",
    "description",
    "website",
    "commune",
    "lat",
    "lon",
    "contact_email",
    "contact_phone",
    "accepts_messages",
)
COMPARED = (*PROFILE_FIELDS, "logo")


def _flag(c: Collector, data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "off", "0", "no", ""):
        return False
    c.add(name, "must be true or false")
    return None


def validate_profile(data: Mapping[str, Any], c: Collector) -> dict[str, Any]:
    """The profile fields present in ``data``, checked (errors go to ``c``). A field
    left out stays as it is; an empty text field is cleared (``name`` is required)."""
    values: dict[str, Any] = {}
    present = set(data) & set(PROFILE_FIELDS)
    if "name" in present:
        values["name"] = c.text(data, "name", required=True, min_length=2, max_length=200)
    if "kind" in present:
        values["kind"] = c.choice(data, "kind", STRUCTURE_KINDS, required=True)
    texts = {
        "description": (DESCRIPTION_MAX, None),
        "commune": (200, None),
        "website": (500, r"https?://\S+"),
        "contact_email": (320, EMAIL_RE),
        "contact_phone": (40, PHONE_RE),
    }
    for name, (max_length, pattern) in texts.items():
        if name in present:
            values[name] = c.text(data, name, max_length=max_length, pattern=pattern) or ""
    for name, bound in (("lat", 90), ("lon", 180)):
        if name in present:
            values[name] = c.number(data, name, minimum=-bound, maximum=bound)
    one_sided = ("lat" in values) != ("lon" in values) or (
        "lat" in values and (values["lat"] is None) != (values["lon"] is None)
    )
    if one_sided and "lat" not in c.errors and "lon" not in c.errors:
        c.add("lon" if values.get("lat") is not None else "lat", "lat and lon go together")
    if "accepts_messages" in present:
        values["accepts_messages"] = _flag(c, data, "accepts_messages")
    return {k: v for k, v in values.items() if not (v is None and k not in ("lat", "lon"))}


def snapshot(structure: Structure) -> dict[str, object]:
    """The profile as it is now (JSON-safe), to compare with later."""
    shown: dict[str, object] = {name: getattr(structure, name) for name in PROFILE_FIELDS}
    logo = structure.logo_updated_at
    shown["logo"] = logo.isoformat() if logo is not None else ""
    return shown


@dataclass(frozen=True)
class Change:
    """One field that differs: its name, and its value before and after."""

    field: str
    before: object
    after: object


def changes(structure: Structure) -> list[Change]:
    """The fields that changed since the structure was rejected (none if it never was)."""
    before = structure.rejected_profile
    if not before:
        return []
    now = snapshot(structure)
    return [
        Change(name, before.get(name), now[name])
        for name in COMPARED
        if name in before and before.get(name) != now[name]
    ]


__all__ = ["COMPARED", "PROFILE_FIELDS", "Change", "changes", "snapshot", "validate_profile"]
