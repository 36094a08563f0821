"""Helpers shared by the test_payload_fixtures modules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from federation.actor_doc import ACTOR_TYPES

HERE = Path(__file__).parent.parent / "fixtures" / "payloads"
FILES = sorted(HERE.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def kind_of(document: dict[str, Any]) -> str:
    if document.get("type") in ACTOR_TYPES:
        return "actor"
    if "actor" in document:
        return "activity"
    return "object" if "type" in document else "other"


ACTORS = [p for p in FILES if kind_of(load(p)) == "actor"]
ACTIVITIES = [p for p in FILES if kind_of(load(p)) == "activity"]


def names(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]
