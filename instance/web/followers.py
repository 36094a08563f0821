"""``/@<handle>/followers``: a structure's follow requests and followers, for its people.

When the structure approves its followers by hand
(``federation.auto_accept_follows = false``) the requests wait here with
« Accepter » and « Refuser »; the accepted followers are listed below, each
with « Retirer ». The answers are ``instance.services.follows``' (shared with the
JSON API): an ``Accept`` or ``Reject`` goes to the follower's server through
the delivery queue.
"""

from __future__ import annotations

from quart import Response, flash, render_template
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import approves_followers_manually
from domain.models import Person, Structure
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import follows as followers
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_person

SHOWN = 200


async def _managed(session: AsyncSession, person: Person, handle: str) -> Structure:
    try:
        return await followers.managed_structure(session, person, handle)
    except ApiError as exc:
        if exc.status == 403:
            deny(403, _("You do not act for this structure."))
        deny(404)


@blueprint.get("/@<handle>/followers")
async def structure_followers(handle: str) -> str:
    node = current_node()
    async with node.db.read() as session:
        person = await require_person(session)
        structure = await _managed(session, person, handle)
        assert structure.actor is not None
        manual = approves_followers_manually(structure.actor, node.settings)
        pending = await followers.followers_of(session, structure, "pending", limit=SHOWN)
        accepted = await followers.followers_of(session, structure, "accepted", limit=SHOWN)
        counts = await followers.counts(session, structure)
    return await render_template(
        "structure_followers.html",
        structure=structure,
        manual=manual,
        pending=pending,
        accepted=accepted,
        counts=counts,
        shown=SHOWN,
    )


@blueprint.post("/@<handle>/followers/<int:follow_id>/<any(accept, reject):action>")
async def answer_follower(handle: str, follow_id: int, action: followers.Answer) -> Response:
    node = current_node()
    back = f"/@{handle}/followers"
    async with node.transaction() as session:
        person = await require_person(session)
        structure = await _managed(session, person, handle)
        name = structure.name
        try:
            before = await followers.follow_by_id(session, follow_id)
            was = before.state if before is not None else ""
            follower = await followers.answer(session, node.settings, structure, follow_id, action)
        except ApiError:
            await flash(_("This follow request no longer exists."), "error")
            return redirect_to(back)
    who = follower.name if follower.local else f"{follower.name} ({follower.domain})"
    if action == "accept":
        message = _("%(who)s now follows %(name)s.", who=who, name=name)
    elif was == "pending":
        message = _("The follow request of %(who)s is refused.", who=who)
    else:
        message = _("%(who)s no longer follows %(name)s.", who=who, name=name)
    await flash(message, "success")
    return redirect_to(back)
