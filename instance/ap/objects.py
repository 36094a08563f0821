"""Objects and activities at their ids: listings (negotiated), activities, our JSON-LD context."""

from __future__ import annotations

import re
from typing import Any

from quart import redirect, request
from sqlalchemy import select

from domain.models import Listing
from domain.visibility import activity_shown
from federation.models import Activity, Tombstone
from federation.vocab import AS_CONTEXT
from instance.ap.blueprint import ap_response, blueprint
from instance.errors import ApiError
from instance.negotiation import wants_activity_json
from instance.node import current_node
from outbox.to_ap import listing_object, tombstone

LISTING_PATH = re.compile(r"^/listings/(\d+)$")


async def listing_document(listing_id: int) -> Any:
    node = current_node()
    async with node.db.read() as session:
        listing = await session.get(Listing, listing_id)
        if listing is None or not listing.local:
            raise ApiError(404, "no such listing")
        gone = await session.get(Tombstone, listing.ap_id)
        if gone is not None or listing.status == "withdrawn" or listing.hidden:
            # (a listing of a deleted structure too: it has no structure any more)
            return ap_response(
                tombstone(listing.ap_id, "Note", gone.deleted_at if gone else None), 410
            )
        if listing.structure is None or not listing.structure.is_visible:
            raise ApiError(404, "no such listing")
        return ap_response(listing_object(listing, node.settings, with_context=True))


@blueprint.before_app_request
async def negotiate() -> Any:
    """Answer ActivityPub clients at ids whose HTML is served by the web UI."""
    if request.method not in ("GET", "HEAD") or not wants_activity_json():
        return None
    match = LISTING_PATH.match(request.path)
    if match:
        return await listing_document(int(match.group(1)))
    return None


@blueprint.get("/activities/<activity_id>")
async def activity(activity_id: str) -> Any:
    """One of our public activities, while what it carries is still shown.

    The ``Create`` of a listing holds its whole text: once the listing is hidden,
    withdrawn or its structure suspended (a post removed or hidden), the activity is
    404 like one that never existed (``domain.visibility.activity_shown``).
    """
    node = current_node()
    uri = f"{node.settings.base_url}/activities/{activity_id}"
    async with node.db.read() as session:
        found = (
            await session.execute(
                select(Activity).where(
                    Activity.uri == uri, Activity.public.is_(True), activity_shown()
                )
            )
        ).scalar_one_or_none()
        if found is None:
            raise ApiError(404, "no such activity")
    if wants_activity_json():
        return ap_response(found.body)
    # A browser is shown the page of what the activity is about (a listing, an actor).
    base = node.settings.base_url
    if found.object_uri and found.object_uri.startswith(f"{base}/"):
        return redirect(found.object_uri.removeprefix(base))
    raise ApiError(404, "no page for this activity")


@blueprint.get("/ns")
async def namespace() -> Any:
    """The JSON-LD context of Entraide's own terms."""
    node = current_node()
    ns = f"{node.settings.base_url}/ns#"
    return ap_response(
        {
            "@context": {
                "entraide": ns,
                "territory": "entraide:territory",
                "category": "entraide:category",
                "modality": "entraide:modality",
                "status": "entraide:status",
                "unit": "entraide:unit",
                "description": "entraide:description",
            }
        }
    )


@blueprint.get("/posts/<post_id>")
async def post_document(post_id: str) -> Any:
    """A community post (public), or 410 once removed."""
    from domain.social import Post
    from outbox.to_ap.notes import post_note

    node = current_node()
    uri = f"{node.settings.base_url}/posts/{post_id}"
    async with node.db.read() as session:
        post = (await session.execute(select(Post).where(Post.ap_id == uri))).scalar_one_or_none()
        if post is None or not post.local:
            raise ApiError(404, "no such post")
        if post.removed or post.hidden:
            return ap_response(tombstone(uri, "Note"), 410)
        if post.author.suspended_at is not None:
            # Like the suspended structure's listings: not shown while it is suspended.
            raise ApiError(404, "no such post")
        note = post_note(post, post.group, post.author)
        if not wants_activity_json():
            from quart import redirect

            community = post.group.handle
            return redirect(f"/communities/{community}#post-{post.id}")
        return ap_response({"@context": AS_CONTEXT, **note})


@blueprint.get("/messages/<message_id>")
async def message_document(message_id: str) -> Any:
    """A direct message: only for a signed fetch by one of its participants (else 404).

    The HTML page of the conversation is in the web UI and also requires being a
    participant. Nothing here says whether a message exists to anyone else.
    """
    from domain.social import Message, Participant
    from federation.errors import FederationError
    from instance.ap.signed import verify_signed_request
    from outbox.to_ap.notes import note_of

    node = current_node()
    uri = f"{node.settings.base_url}/messages/{message_id}"
    async with node.db.read() as session:
        message = (
            await session.execute(select(Message).where(Message.ap_id == uri))
        ).scalar_one_or_none()
        if message is None or not wants_activity_json():
            raise ApiError(404, "no such message")
        participants = (
            (
                await session.execute(
                    select(Participant).where(
                        Participant.conversation_id == message.conversation_id
                    )
                )
            )
            .scalars()
            .all()
        )
        participant_uris = {p.actor.uri for p in participants}
    owners: dict[str, str] = {}

    async def resolve_key(key_id: str, refresh: bool) -> Any:
        public, owner = await node.remote.public_key(key_id, refresh)
        owners[key_id] = owner.uri
        return public

    try:
        key_id = await verify_signed_request(node.settings, resolve_key, method="GET")
    except FederationError:  # unsigned or badly signed: for this client, no such message
        raise ApiError(404, "no such message") from None
    if owners.get(key_id) not in participant_uris:
        raise ApiError(404, "no such message")
    async with node.db.read() as session:
        message = (await session.execute(select(Message).where(Message.ap_id == uri))).scalar_one()
        recipients = [p.actor for p in participants if p.actor.uri != message.author.uri]
        note = note_of(message, recipients, message.conversation.listing)
    # Only its participants may see it: no shared cache (a CDN, a caching proxy) may keep
    # this answer and hand it to the next client asking for the same URL.
    return ap_response(
        {"@context": AS_CONTEXT, **note},
        Cache_Control="private, no-store",
    )
