"""Moderation pages: open reports (``/admin/reports``) and the audit log (``/admin/audit``).

Moderators and administrators. Each report — made here, or received from
another node as a ``Flag`` — shows what it points at with the actions that
fit it: hide the listing or the post, suspend a local structure, silence or
block a remote actor, and resolve the report. Every action goes through
``instance.services.moderation``, which writes the audit log.
"""

from __future__ import annotations

from quart import Response, flash, render_template, request

from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import listings, moderation, reports
from instance.services import replies as replying
from instance.services.structures import structure_by_handle
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_moderator

AUDIT_PAGE = 100
RESOLVED_SHOWN = 20


@blueprint.get("/admin/reports")
async def admin_reports() -> str:
    async with current_node().db.read() as session:
        await require_moderator(session)
        open_reports = await reports.report_views(session, "open")
        resolved = await reports.report_views(session, "resolved", RESOLVED_SHOWN)
    return await render_template(
        "admin_reports.html",
        reports=open_reports,
        resolved=resolved,
        own_domain=current_node().settings.instance.domain.lower(),
    )


async def _reason() -> str:
    reason: str = (await request.form).get("reason", "")
    return reason.strip()


@blueprint.post("/admin/reports/<int:report_id>/resolve")
async def resolve_report(report_id: int) -> Response:
    note = await _reason()
    async with current_node().transaction() as session:
        person = await require_moderator(session)
        report = await reports.report_by_id(session, report_id)
        if report is None:
            deny(404)
        await moderation.resolve_report(session, person, report, note)
    await flash(_("The report is resolved."), "success")
    return redirect_to("/admin/reports")


@blueprint.post("/admin/moderation/listings/<int:listing_id>/hide")
async def hide_listing(listing_id: int) -> Response:
    node = current_node()
    reason = await _reason()
    async with node.transaction() as session:
        person = await require_moderator(session)
        listing = await listings.listing_by_id(session, listing_id)
        if listing is None:
            deny(404)
        await moderation.hide_listing(session, node, person, listing, reason)
    await flash(_("The listing is hidden."), "success")
    return redirect_to("/admin/reports")


@blueprint.post("/admin/moderation/posts/<int:post_id>/hide")
async def hide_post(post_id: int) -> Response:
    reason = await _reason()
    async with current_node().transaction() as session:
        person = await require_moderator(session)
        post = await reports.post_by_id(session, post_id)
        if post is None:
            deny(404)
        await moderation.hide_post(session, person, post, reason)
    await flash(_("The post is hidden."), "success")
    return redirect_to("/admin/reports")


@blueprint.post("/admin/moderation/replies/<int:reply_id>/hide")
async def hide_reply(reply_id: int) -> Response:
    reason = await _reason()
    async with current_node().transaction() as session:
        person = await require_moderator(session)
        reply = await replying.reply_by_id(session, reply_id)
        if reply is None:
            deny(404)
        await moderation.hide_reply(session, person, reply, reason)
    await flash(_("The reply is hidden."), "success")
    return redirect_to("/admin/reports")


@blueprint.post("/admin/moderation/structures/<handle>/<any(suspend, unsuspend):action>")
async def suspend_structure(handle: str, action: str) -> Response:
    node = current_node()
    reason = await _reason()
    async with node.transaction() as session:
        person = await require_moderator(session)
        structure = await structure_by_handle(session, handle)
        if structure is None:
            deny(404)
        try:
            if action == "suspend":
                await moderation.suspend_structure(session, node, person, structure, reason)
                message = _("%(name)s is suspended.", name=structure.name)
            else:
                await moderation.unsuspend_structure(session, person, structure)
                message = _("%(name)s is no longer suspended.", name=structure.name)
        except ApiError:
            # Pending and rejected structures are the administrators' to decide.
            refused = _(
                "Only an approved structure can be suspended, and only a suspended one"
                " unsuspended: %(name)s waits for, or received, an administrator's decision.",
                name=structure.name,
            )
            await flash(refused, "error")
            return redirect_to("/admin/reports")
    await flash(message, "success")
    return redirect_to("/admin/reports")


@blueprint.post("/admin/moderation/actors/<int:actor_id>/<any(silence, block, clear):action>")
async def moderate_actor(actor_id: int, action: str) -> Response:
    reason = await _reason()
    level = {"silence": "silenced", "block": "blocked", "clear": ""}[action]
    async with current_node().transaction() as session:
        person = await require_moderator(session)
        actor = await reports.actor_by_id(session, actor_id)
        if actor is None or actor.local:
            deny(404)
        await moderation.moderate_actor(session, person, actor, level, reason)
        name = actor.name or actor.handle or actor.uri
    message = {
        "silenced": _("%(name)s is silenced."),
        "blocked": _("%(name)s is blocked."),
        "": _("%(name)s is no longer silenced or blocked."),
    }[level]
    await flash(message % {"name": name}, "success")
    return redirect_to("/admin/reports")


@blueprint.get("/admin/audit")
async def admin_audit() -> str:
    before = request.args.get("before", "")
    async with current_node().db.read() as session:
        await require_moderator(session)
        entries = await reports.audit_entries(
            session, AUDIT_PAGE + 1, int(before) if before.isdigit() else None
        )
    older = None
    if len(entries) > AUDIT_PAGE:
        entries = entries[:AUDIT_PAGE]
        older = f"/admin/audit?before={entries[-1].id}"
    return await render_template("admin_audit.html", entries=entries, older=older)
