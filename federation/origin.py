"""Origin rules for incoming activities: who may say what about which object.

The HTTP signature proves which actor sent a request (the owner of the key,
as its own document publishes it); these rules make sure it only speaks for
itself:

* the activity's actor must not be on our own host (only we speak for it);
* the key's owner **is** the activity's actor. Being on the same server is
  not enough: an account of a shared server must not post, follow, unfollow,
  delete or move in the name of another account of that server;
* the id of an activity must be on its actor's host;
* ``Create``, ``Update`` and ``Delete`` may only touch objects on the actor's
  host, and an embedded object's ``attributedTo`` must be on it too (which
  object of that host belongs to the actor is for each handler to check,
  against ``actor``: by these rules, the verified signer).

``Announce`` may name foreign objects (that is what a boost is); the object is
then fetched from its own origin, never trusted from the embedding.

**Relayed activities** (signed by someone else than their actor: a relay, a
reply forwarded by the server of the account it answers) are refused with
403 ``origin_mismatch`` and nothing is stored. Mastodon accepts them only
when they carry a Linked Data signature of their actor
(``app/services/activitypub/process_collection_service.rb``: when
``different_actor?``, ``verify_account!`` checks the LD signature, remembers
the signer as ``relayed_through_actor``, and the activity is dropped without
one; an ``Announce``'s object that is not already known is then fetched from
its origin, ``app/lib/activitypub/activity.rb``, ``status_from_object`` →
``fetch_remote_original_status``). We verify no LD signatures, so for us such
a request proves nothing about its actor; rather than store it and fetch its
object later, we refuse it at the door and the sender learns why at once
instead of believing it delivered. Every server we know of signs its own
deliveries with the key of the activity's actor — Mastodon's instance actor
signs only its own activities (``Flag``) and its fetches — so refusing costs
no honest delivery; a relay's ``Announce`` (its own activity) still passes.
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
    if key_owner != actor:
        # Mastodon: ProcessCollectionService#different_actor? (see the module docstring).
        raise OriginMismatch(
            "the request was signed by another actor than the activity's"
            if _host(key_owner, "the key owner") == actor_host
            else "the request was signed by an actor of another server"
        )
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
