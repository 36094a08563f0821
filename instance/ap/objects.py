"""Objects and activities at their ids: listings (negotiated), activities, our JSON-LD context."""

from __future__ import annotations

import re
from typing import Any

from quart import request
from sqlalchemy import select

from domain.models import Listing
from federation.models import Activity, Tombstone
from instance.ap import ap_response, blueprint, wants_activity_json
from instance.errors import ApiError
from instance.node import current_node
from outbox.to_ap import listing_object, tombstone

LISTING_PATH = re.compile(r"^/listings/(\d+)$")


async def listing_document(listing_id: int) -> Any:
    node = current_node()
    async with node.db.session() as session:
        listing = await session.get(Listing, listing_id)
        if listing is None or not listing.local or listing.structure is None:
            raise ApiError(404, "no such listing")
        gone = await session.get(Tombstone, listing.ap_id)
        if gone is not None or listing.status == "withdrawn" or listing.hidden:
            return ap_response(
                tombstone(listing.ap_id, "Note", gone.deleted_at if gone else None), 410
            )
        if listing.structure.status != "approved":
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
    node = current_node()
    uri = f"{node.settings.base_url}/activities/{activity_id}"
    async with node.db.session() as session:
        found = (
            await session.execute(select(Activity).where(Activity.uri == uri))
        ).scalar_one_or_none()
        if found is None or not found.public:
            raise ApiError(404, "no such activity")
        return ap_response(found.body)


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
            }
        }
    )
