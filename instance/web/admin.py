"""The administration hub, ``/admin``, and the approval queue of new structures,
``/admin/structures`` (administrators only).

The hub links to every administration page the person may open: moderators
see the reports and the audit log; administrators also the approval queue,
peerings and federation health (``instance.web.federation``,
``instance.web.reports``).

No anonymous free riders: a structure is invisible and cannot publish until
an administrator approves it. A rejection needs a reason, which the owner
reads on their account page and on the structure's page. A structure submitted
again after a rejection shows what its people changed since (before/after).
"""

from __future__ import annotations

from typing import Any

from quart import Response, flash, render_template, request
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Structure
from domain.profiles import changes as profile_changes
from domain.validation import Invalid
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import outgoing_mail, structures
from instance.services.stats import open_counts
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_admin, require_moderator
from instance.web.forms import field_errors


async def _queue_page(
    session: AsyncSession,
    errors: dict[int, str] | None = None,
    reasons: dict[int, str] | None = None,
) -> str:
    queue = await structures.approval_queue(session)
    return await render_template(
        "admin_structures.html",
        pending=queue.pending,
        changes={s.id: profile_changes(s) for s in queue.pending},
        decided=queue.decided,
        errors=errors or {},
        reasons=reasons or {},
    )


async def _structure(session: AsyncSession, structure_id: int) -> Structure:
    structure = await structures.structure_by_id(session, structure_id)
    if structure is None:
        deny(404)
    return structure


@blueprint.get("/admin")
async def admin_hub() -> str:
    node = current_node()
    async with node.db.read() as session:
        await require_moderator(session)
        counts = await open_counts(session)
        mail = await outgoing_mail.status(session, bool(node.settings.mail.smtp_host))
    return await render_template(
        "admin_hub.html", counts=counts, mode=node.settings.federation.mode, mail=mail
    )


@blueprint.get("/admin/structures")
async def admin_structures() -> str:
    async with current_node().db.read() as session:
        await require_admin(session)
        return await _queue_page(session)


@blueprint.post("/admin/structures/<int:structure_id>/approve")
async def admin_approve(structure_id: int) -> Response:
    node = current_node()
    async with node.transaction() as session:
        admin = await require_admin(session)
        structure = await _structure(session, structure_id)
        await structures.approve(session, node, admin, structure)
        name = structure.name
    await flash(
        _("%(name)s is approved: it is now visible and can publish.") % {"name": name}, "success"
    )
    await _flash_if_no_mail()
    return redirect_to("/admin/structures")


@blueprint.post("/admin/structures/<int:structure_id>/reject")
async def admin_reject(structure_id: int) -> Any:
    node = current_node()
    reason = (await request.form).get("reason", "").strip()
    async with node.transaction() as session:
        admin = await require_admin(session)
        structure = await _structure(session, structure_id)
        try:
            await structures.reject(session, admin, structure, reason)
        except Invalid as exc:
            message = field_errors(exc).get("reason", "")
            page = await _queue_page(session, {structure_id: message}, {structure_id: reason})
            return page, 422
        name = structure.name
    await flash(_("%(name)s is rejected; its owner will read your reason.", name=name), "success")
    await _flash_if_no_mail()
    return redirect_to("/admin/structures")


async def _flash_if_no_mail() -> None:
    """Say that the decision's e-mail waits, when this node sends none."""
    if not current_node().settings.mail.smtp_host:
        await flash(
            _(
                "E-mail is not configured: no e-mail was sent. Its people will see the "
                "decision when they log in."
            ),
            "warning",
        )
