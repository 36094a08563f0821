"""The inboxes: ``POST /inbox`` (shared) and ``POST /actors/<handle>/inbox``.

Fast and boring, in this order, cheapest refusal first:

1. size (Quart refuses a body over ``MAX_CONTENT_LENGTH`` with 413), content
   type, decompression, JSON depth/width (``federation.payload``);
2. the actor's domain: our own → 403; refused by policy → 403, before any
   key is fetched;
3. the HTTP signature (draft-cavage or RFC 9421), with the key fetched or
   read from the cache and refetched on failure (key rotation; at most once
   per key in a while, see ``federation.remote``). A key on another host than
   the actor's is refused before it is fetched: it cannot be the actor's;
4. origin rules (``federation.origin``): the key's owner is the actor;
5. store the raw activity idempotently (``federation.inbox_store.GroupCommit``:
   concurrent requests share a transaction) and answer 202 once it is committed;
   a worker processes it.
   An activity without an id (GoToSocial's Delete) is stored under one made
   from its content.

A ``Delete`` from an actor whose key is gone (410) and whom we never knew is
answered 202 and dropped: there is nothing of theirs to delete.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from quart import Response, request
from sqlalchemy import select

from config.database import utcnow
from federation.errors import DomainBlocked, KeyFetchError, OriginMismatch, PayloadError, RemoteGone
from federation.inbox_store import VerifiedActivity
from federation.keys import host_of
from federation.models import URI_LENGTH, Actor
from federation.origin import actor_id, check_origin, object_id
from federation.payload import parse_activity
from instance.ap.blueprint import blueprint
from instance.ap.signed import verify_signed_request
from instance.errors import ApiError
from instance.node import Node, current_node
from instance.ratelimits import check_inbox_domain


def _accepted() -> Response:
    return Response("", status=202)


async def _receive(node: Node, recipient: str | None) -> Response:
    arrived = utcnow()
    settings = node.settings
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    activity = parse_activity(
        body,
        request.headers.get("Content-Type"),
        request.headers.get("Content-Encoding"),
        max_bytes=settings.federation.max_body_bytes,
    )
    anonymous = activity.get("id") is None
    if not (anonymous or isinstance(activity.get("id"), str)) or not isinstance(
        activity.get("type"), str | list
    ):
        raise PayloadError("an activity needs an id and a type")
    actor = actor_id(activity)
    for what, value in (("id", activity.get("id")), ("actor", actor)):
        if isinstance(value, str) and len(value) > URI_LENGTH:
            raise PayloadError(f"the activity's {what} is longer than {URI_LENGTH} characters")
    domain = host_of(actor)
    own = settings.instance.domain.lower()
    if domain == own:
        raise OriginMismatch("the activity claims to come from this node")
    snapshot = await node.remote.policy()
    if not snapshot.permits(domain, settings.federation.mode):
        raise DomainBlocked(f"{domain} is not permitted to deliver here")
    if actor in snapshot.blocked_actors:
        raise DomainBlocked("this actor is blocked by this node's moderators")

    owners: dict[str, Actor] = {}

    async def resolve_key(key_id: str, refresh: bool) -> Any:
        # The actor's keys live on its host (federation.actor_doc): a keyId elsewhere
        # cannot pass the origin rules, so it is not worth a request to that host.
        if host_of(key_id) != domain:
            raise OriginMismatch("the request was signed by an actor of another server")
        public, owner = await node.remote.public_key(key_id, refresh)
        owners[key_id] = owner
        return public

    try:
        key_id = await verify_signed_request(settings, resolve_key, body=body)
    except KeyFetchError as exc:
        deletes_itself = (
            activity.get("type") == "Delete" and object_id(activity.get("object")) == actor
        )
        if (
            deletes_itself
            and isinstance(exc.__cause__, RemoteGone)
            and await node.remote.cached_actor(actor) is None
        ):
            return _accepted()
        raise
    if len(key_id) > URI_LENGTH:
        raise PayloadError(f"the signature's keyId is longer than {URI_LENGTH} characters")
    check_origin(activity, key_owner=owners[key_id].uri, own_domain=own)
    await check_inbox_domain(domain)
    if anonymous:
        # GoToSocial sends its Deletes without an id (tests/fixtures/payloads/SOURCES.md).
        # Named by their content, a replay is still recognised as one; the origin rules
        # above held for their actor and object as for any activity.
        canonical = json.dumps(activity, sort_keys=True, separators=(",", ":"))
        activity["id"] = "urn:entraide:sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    await node.inbox_writer.store(
        VerifiedActivity(
            activity=activity,
            actor_uri=actor,
            domain=domain,
            key_id=key_id,
            recipient=recipient,
            received_at=arrived,
        )
    )
    return _accepted()


@blueprint.post("/inbox")
async def shared_inbox() -> Response:
    return await _receive(current_node(), None)


@blueprint.post("/actors/<handle>/inbox")
async def personal_inbox(handle: str) -> Response:
    node = current_node()
    async with node.db.read() as session:
        found = await session.execute(
            select(Actor.uri).where(Actor.local.is_(True), Actor.handle == handle)
        )
        uri = found.scalar_one_or_none()
    if uri is None:
        raise ApiError(404, "no such actor")
    return await _receive(node, uri)
