"""Helpers shared by the test_federation_flows modules."""

from __future__ import annotations

AS = "https://www.w3.org/ns/activitystreams"
AP_JSON = "application/activity+json"
LISTING = {
    "kind": "offer",
    "title": "Bétonnière",
    "description": "Bétonnière électrique 140 L à prêter.",
    "category": "equipment",
    "modality": "lend",
}
