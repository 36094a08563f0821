"""What the converter tests share: settings, a fixed moment, fixtures, actors (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import InstanceSettings, Settings
from federation.models import Actor

PAYLOADS = Path(__file__).parent.parent / "fixtures" / "payloads"
SETTINGS = Settings(instance=InstanceSettings(domain="a.test", name="Territoire A"))
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def payload(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return document


def actor(name: str, host: str = "a.test", kind: str = "Organization") -> Actor:
    """A transient actor row: local on ``a.test``, remote elsewhere."""
    uri = f"https://{host}/actors/{name}"
    return Actor(
        uri=uri,
        handle=name,
        domain=host,
        type=kind,
        url=f"https://{host}/@{name}",
        followers_url=f"{uri}/followers",
        local=host == "a.test",
    )
