"""A structure's profile, for its own people: ``/@<handle>/profile``; its logo,
``/@<handle>/logo``; a rejected structure submitted again, ``/@<handle>/submit``.

The form posts ``multipart/form-data`` (the logo): the body may be larger than the
other forms' (``domain.logos.UPLOAD_BODY_MAX``, raised before the form is read by
``instance.app.Request``) so that a logo over its own limit gets a 422 with its reason
rather than a bare 413. The logo is served as this node re-encoded it, with its own
type, ``nosniff`` and a policy that runs nothing.
"""

from __future__ import annotations

from typing import Any

from quart import Response, flash, render_template, request

from domain.logos import MAX_BYTES
from domain.models import Structure
from domain.profiles import PROFILE_FIELDS
from domain.validation import Invalid
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import profiles
from instance.services.placing import check_commune
from instance.web.blueprint import blueprint
from instance.web.common import deny, load_viewer, redirect_to, require_person
from instance.web.forms import field_errors

TEXT_FIELDS = tuple(f for f in PROFILE_FIELDS if f != "accepts_messages")


def _values(structure: Structure) -> dict[str, str]:
    values = {name: getattr(structure, name) for name in TEXT_FIELDS}
    values = {k: ("" if v is None else str(v)) for k, v in values.items()}
    values["accepts_messages"] = "on" if structure.accepts_messages else ""
    return values


async def _form(
    structure: Structure, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    page = await render_template(
        "structure_profile.html",
        structure=structure,
        values=values,
        errors=errors,
        max_mb=MAX_BYTES // (1024 * 1024),
    )
    return page, status


async def _editable(session: Any, handle: str) -> Structure:
    person = await require_person(session)
    try:
        return await profiles.editable_structure(session, person, handle)
    except ApiError as exc:
        deny(exc.status, _(exc.message))


@blueprint.get("/@<handle>/profile")
async def edit_profile(handle: str) -> Any:
    async with current_node().db.read() as session:
        structure = await _editable(session, handle)
        return await _form(structure, _values(structure), {})


@blueprint.post("/@<handle>/profile")
async def edit_profile_post(handle: str) -> Any:
    node = current_node()
    form = await request.form
    files = await request.files
    values = {name: form.get(name, "").strip() for name in TEXT_FIELDS}
    values["accepts_messages"] = "on" if form.get("accepts_messages") else ""
    data: dict[str, Any] = {**values, "accepts_messages": bool(values["accepts_messages"])}
    upload = files.get("logo")
    logo = upload.read() if upload is not None and upload.filename else None
    async with node.transaction() as session:
        structure = await _editable(session, handle)
        person = await require_person(session)
        try:
            await check_commune(session, values["commune"], values["lat"], values["lon"])
            changed = await profiles.update_profile(
                session,
                node,
                person,
                structure,
                data,
                logo=logo,
                remove_logo=bool(form.get("remove_logo")),
            )
        except Invalid as exc:
            return await _form(structure, values, field_errors(exc), 422)
        federated = structure.is_visible
    if changed:
        message = (
            _("The profile is saved; the structure's followers receive the change.")
            if federated
            else _("The profile is saved.")
        )
        await flash(message, "success")
    return redirect_to(f"/@{handle}/profile")


@blueprint.post("/@<handle>/submit")
async def submit_again(handle: str) -> Response:
    """A rejected structure, corrected, goes back to the administrators."""
    node = current_node()
    async with node.transaction() as session:
        structure = await _editable(session, handle)
        person = await require_person(session)
        await profiles.resubmit(session, person, structure)
    await flash(_("Your structure is submitted again: an administrator will check it."), "success")
    return redirect_to("/account")


@blueprint.get("/@<handle>/logo")
async def structure_logo(handle: str) -> Response:
    async with current_node().db.read() as session:
        viewer = await load_viewer(session)
        stored = await profiles.logo(session, handle, viewer)
        if stored is None:
            deny(404)
        data, content_type = stored.data, stored.content_type
    response = Response(data, content_type=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
