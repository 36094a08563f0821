"""Follow, Accept, Reject, Undo: the activities of following.

Each is addressed only to the other actor (``to``: its id). An answer
(``Accept``/``Reject``) and an ``Undo`` embed the Follow as the follower sent
it (:func:`follow_object`), which is how Mastodon finds the follow answered.
"""

from __future__ import annotations

from typing import Any, Literal

from config.settings import Settings
from federation.models import Actor, Follow
from outbox.to_ap.activities import new_activity


def follow_object(follow: Follow) -> dict[str, Any]:
    """The Follow activity as the follower sent it (embedded in Accept/Reject/Undo)."""
    return {
        "id": follow.activity_uri,
        "type": "Follow",
        "actor": follow.follower.uri,
        "object": follow.followed.uri,
    }


def follow_activity(settings: Settings, follower: Actor, target: Actor) -> dict[str, Any]:
    """``follower`` asks to follow ``target``."""
    return new_activity(settings, "Follow", follower, target.uri, to=[target.uri])


def answer_follow(
    settings: Settings, follow: Follow, kind: Literal["Accept", "Reject"]
) -> dict[str, Any]:
    """The followed actor's answer to a Follow (a Reject also removes a follower)."""
    return new_activity(
        settings, kind, follow.followed, follow_object(follow), to=[follow.follower.uri]
    )


def undo_follow(settings: Settings, follow: Follow) -> dict[str, Any]:
    """The follower takes its Follow back."""
    return new_activity(
        settings, "Undo", follow.follower, follow_object(follow), to=[follow.followed.uri]
    )
