"""``POST /@<handle>/move``: the « Move to another territory » form of a structure's page,
for its people (``instance.services.moving``, shared with ``entraide structure move``),
and ``GET /@<handle>/export``: its archive, to keep or to take along."""

from __future__ import annotations

from quart import Response, flash, request

from federation.errors import FederationError
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import moving
from instance.services.export import export_structure as export_structure_archive
from instance.services.structures import acting_structure, is_member, structure_by_handle
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_person


@blueprint.post("/@<handle>/move")
async def move_structure(handle: str) -> Response:
    node = current_node()
    back = f"/@{handle}"
    target = str((await request.form).get("target", "")).strip()
    async with node.db.session() as session:
        person = await require_person(session)
        try:
            await acting_structure(session, person, handle)
        except ApiError:
            deny(403, _("You do not act for this structure."))
    try:
        new = await moving.move(node, handle, target)
    except moving.NotAnAlias:
        await flash(
            _(
                "The new account does not name this structure as its former account: "
                "declare the alias on its node first (entraide structure alias)."
            ),
            "error",
        )
        return redirect_to(back)
    except (ApiError, FederationError):
        await flash(_("The new account could not be found: check the address."), "error")
        return redirect_to(back)
    await flash(_("The structure has moved to %(new)s.", new=new), "success")
    return redirect_to(back)


@blueprint.get("/@<handle>/export")
async def export_structure(handle: str) -> Response:
    """The archive of the structure (``instance.services.export``), for its people."""
    node = current_node()
    async with node.db.session() as session:
        person = await require_person(session)
        structure = await structure_by_handle(session, handle)
        if structure is None:
            deny(404)
        if not await is_member(session, person, structure.id):
            deny(403, _("You do not act for this structure."))
        try:
            data = await export_structure_archive(session, node.settings, structure)
        except ApiError:
            deny(409)
    name = f"{handle}-export.tar.gz"
    return Response(
        data,
        mimetype="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
