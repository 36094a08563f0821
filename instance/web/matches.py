"""``/territoire/correspondances``: every match of the territory, for its animators,
moderators and administrators, with « Mettre en relation » (one message to both
structures, in one conversation: ``instance.services.introductions``)."""

from __future__ import annotations

from quart import Response, flash, render_template, request

from domain.categories import get_category
from instance.api_errors import ApiError
from instance.i18n import gettext as _
from instance.ids import parse_id
from instance.node import current_node
from instance.services import introductions
from instance.web.blueprint import blueprint
from instance.web.common import acting_structures, deny, redirect_to, require_person

PAGE = 30
PATH = "/territoire/correspondances"


@blueprint.get(PATH)
async def territory_matches() -> str:
    node = current_node()
    category = request.args.get("category", "").strip()
    if category and get_category(category) is None:
        category = ""
    before = parse_id(request.args.get("before")) if request.args.get("before") else None
    async with node.db.read() as session:
        person = await require_person(session)
        if not introductions.may_see_territory_matches(person):
            deny(403, _("Only the territory's animators, moderators and administrators see this."))
        items, more = await introductions.territory_matches(session, PAGE, before, category)
        senders = await acting_structures(session, person)
        return await render_template(
            "territory_matches.html",
            matches=items,
            more=more,
            values={"category": category},
            errors={},
            senders=senders,
        )


@blueprint.post(f"{PATH}/<int:match_id>/introduce")
async def introduce(match_id: int) -> Response:
    node = current_node()
    form = await request.form
    back = PATH + (
        f"?category={form['category']}" if get_category(form.get("category", "")) else ""
    )
    try:
        async with node.transaction() as session:
            person = await require_person(session)
            if not introductions.may_see_territory_matches(person):
                deny(403)
            sender = await introductions.sender_for(session, person, form.get("actor") or None)
            await introductions.introduce(
                session, node.settings, person, match_id, sender, form.get("message") or None
            )
    except ApiError as error:
        if error.code != "introduced":
            raise
        await flash(_("These two structures were already introduced."), "error")
        return redirect_to(back)
    await flash(_("Introduced: both structures received your message."), "success")
    return redirect_to(back)
