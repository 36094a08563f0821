"""Answering publicly under a listing, from its page (``POST /listings/<id>/replies``).

The use case (who may answer, the federated ``Note``) is
``instance.services.replies.answer``, the same as ``POST /api/v1/listings/{id}/replies``;
a refusal it raises (403, or 422 for an empty or too long text) is shown as the
error pages show any other.
"""

from __future__ import annotations

from quart import Response, flash, request

from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import replies as replying
from instance.web.blueprint import blueprint
from instance.web.common import redirect_to, require_person


@blueprint.post("/listings/<int:listing_id>/replies")
async def answer(listing_id: int) -> Response:
    node = current_node()
    form = await request.form
    data: dict[str, object] = {
        "from": form.get("structure", ""),
        "content": form.get("content", ""),
    }
    if form.get("in_reply_to"):
        data["in_reply_to"] = form.get("in_reply_to")
    async with node.transaction() as session:
        person = await require_person(session)
        reply = await replying.answer(session, node.settings, person, listing_id, data)
        reply_id = reply.id
    await flash(_("Your answer is published."), "success")
    return redirect_to(f"/listings/{listing_id}#reply-{reply_id}")
