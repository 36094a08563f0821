"""A report forwarded to the reported actor's node, as a ``Flag``.

Sent by the territory actor, as Mastodon sends Flags from its instance
actor (so that the reporting person stays anonymous to the other node):
``object`` lists the reported actor first, then the reported objects;
``content`` carries the reason. The reverse is ``inbox/from_ap/flags.py``.
"""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from domain.social import Report
from federation.models import Actor
from outbox.to_ap.activities import new_activity


def flag_activity(
    settings: Settings, territory: Actor, report: Report, target: Actor
) -> dict[str, Any]:
    objects = [target.uri, *[o for o in report.objects if o != target.uri]]
    return new_activity(
        settings, "Flag", territory, objects, to=[target.uri], content=report.reason
    )
