"""``/@<handle>/notifications/settings``: how a structure wants its notifications by
e-mail — at once, a daily digest, or never (``instance.services.mail_notifications``).

Its members only (anyone else: 404, as for a pending structure's page). The page says
when this node sends no e-mail at all (no ``mail.smtp_host``): the choice is kept for
when it does.
"""

from __future__ import annotations

from typing import Any

from quart import flash, render_template, request

from domain.models import Structure
from domain.people import can_act_for
from domain.validation import Invalid
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import mail_notifications
from instance.services.structures import structure_by_handle
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_person
from instance.web.forms import field_errors


def _choices() -> list[tuple[str, str]]:
    return [
        ("now", _("At once: one e-mail per notification")),
        ("digest", _("A daily digest: one e-mail a day, if anything happened")),
        ("never", _("Never: notifications on this site only")),
    ]


async def _page(structure: Structure, value: str, errors: dict[str, str], status: int) -> Any:
    page = await render_template(
        "mail_settings.html",
        structure=structure,
        values={"frequency": value},
        errors=errors,
        choices=_choices(),
        mail_configured=bool(current_node().settings.mail.smtp_host),
    )
    return page, status


@blueprint.get("/@<handle>/notifications/settings")
async def mail_settings(handle: str) -> Any:
    async with current_node().db.read() as session:
        person = await require_person(session)
        structure = await structure_by_handle(session, handle)
        if structure is None or not can_act_for(person, structure):
            deny(404)
        value = await mail_notifications.frequency(session, structure.id)
        return await _page(structure, value, {}, 200)


@blueprint.post("/@<handle>/notifications/settings")
async def mail_settings_post(handle: str) -> Any:
    value = (await request.form).get("frequency", "")
    async with current_node().transaction() as session:
        person = await require_person(session)
        structure = await structure_by_handle(session, handle)
        if structure is None or not can_act_for(person, structure):
            deny(404)
        try:
            await mail_notifications.set_frequency(session, structure.id, value)
        except Invalid as exc:
            return await _page(structure, value, field_errors(exc), 422)
    await flash(_("Your e-mail choice is saved."), "success")
    return redirect_to(f"/@{handle}/notifications/settings")
