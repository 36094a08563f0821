"""Origin rules for incoming activities: who may say what about which object.

The HTTP signature proves which actor (or at least which server) sent a
request; these rules make sure it only speaks for itself:

* the activity's actor must not be on our own host (only we speak for it);
* the key's owner must be the actor, or on the actor's host (instance actors
  sign for their server, as Mastodon's does for some deliveries);
* the id of an activity must be on its actor's host;
* ``Create``, ``Update`` and ``Delete`` may only touch objects on the actor's
  host, and an embedded object's ``attributedTo`` must be on it too.

``Announce`` may name foreign objects (that is what a boost is); the object is
then fetched from its own origin, never trusted from the embedding.
"""

from __future__ import annotations

from typing import Any

from federation.errors import OriginMismatch, PayloadError
from federation.keys import host_of

OWN_OBJECT_TYPES = frozenset({"Create", "Update", "Delete"})


def object_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("id")
        return inner if isinstance(inner, str) else None
    return None


def actor_id(activity: dict[str, Any]) -> str:
    found = object_id(activity.get("actor"))
    if not found:
        raise PayloadError("the activity has no actor")
    return found


def _host(url: str, what: str) -> str:
    try:
        return host_of(url)
    except PayloadError as exc:
        raise PayloadError(f"{what} is not an http(s) URL") from exc


def check_origin(activity: dict[str, Any], *, key_owner: str, own_domain: str) -> None:
    """Raise ``OriginMismatch`` when the activity speaks for someone else."""
    actor = actor_id(activity)
    actor_host = _host(actor, "the actor")
    if actor_host == own_domain.lower():
        raise OriginMismatch("the activity claims to come from this node")
    if key_owner != actor and _host(key_owner, "the key owner") != actor_host:
        raise OriginMismatch("the request was signed by an actor of another server")
    activity_id = activity.get("id")
    if isinstance(activity_id, str) and _host(activity_id, "the activity id") != actor_host:
        raise OriginMismatch("the activity id is not on its actor's server")
    if activity.get("type") in OWN_OBJECT_TYPES:
        obj = activity.get("object")
        target = object_id(obj)
        if target is None:
            raise PayloadError("the activity has no object")
        if _host(target, "the object id") != actor_host:
            raise OriginMismatch("the object is not on the actor's server")
        if isinstance(obj, dict):
            author = object_id(obj.get("attributedTo"))
            if author and _host(author, "attributedTo") != actor_host:
                raise OriginMismatch("the object is attributed to an actor of another server")
