"""Leaving for good (``instance.services.leaving``): ``/account/delete`` (a person deletes
their account), ``/@<handle>/delete`` (its owner, or an administrator, deletes a
structure) and ``/admin/people/delete`` (an administrator deletes an account on request).
Each asks for the password of whoever is acting, and explains what goes and what stays."""

from __future__ import annotations

from typing import Any

from quart import flash, render_template, request

from instance.auth import log_out
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import leaving
from instance.services.structures import structure_by_handle
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_admin, require_person
from instance.web.errors import api_message


async def _page(kind: str, status: int = 200, **values: Any) -> Any:
    page = await render_template("leave.html", kind=kind, **values)
    return page, status


@blueprint.get("/account/delete")
async def delete_account() -> Any:
    async with current_node().db.read() as session:
        person = await require_person(session)
        alone = await leaving.structures_alone(session, person)
    return await _page("account", person=person, alone=alone, error="")


@blueprint.post("/account/delete")
async def delete_account_post() -> Any:
    node = current_node()
    form = await request.form
    try:
        async with node.transaction() as session:
            person = await require_person(session)
            await leaving.leave(session, node.settings, person, form.get("password", ""))
            await log_out(session)
    except ApiError as exc:
        async with node.db.session() as session:
            person = await require_person(session)
        return await _page("account", 403, person=person, alone=[], error=api_message(str(exc)))
    await flash(_("Your account is deleted. Goodbye!"), "success")
    return redirect_to("/")


@blueprint.get("/@<handle>/delete")
async def delete_structure(handle: str) -> Any:
    async with current_node().db.read() as session:
        person = await require_person(session)
        try:
            structure = await leaving.structure_to_delete(session, person, handle)
        except ApiError as exc:
            deny(exc.status)
    return await _page("structure", structure=structure, error="")


@blueprint.post("/@<handle>/delete")
async def delete_structure_post(handle: str) -> Any:
    node = current_node()
    form = await request.form
    try:
        async with node.transaction() as session:
            person = await require_person(session)
            name = (await leaving.structure_to_delete(session, person, handle)).name
            await leaving.owner_deletes(
                session, node.settings, person, handle, form.get("password", "")
            )
    except ApiError as exc:
        if exc.status == 404:
            deny(404)
        async with node.db.session() as session:
            structure = await structure_by_handle(session, handle)
        return await _page("structure", 403, structure=structure, error=api_message(str(exc)))
    await flash(_("The structure %(name)s is deleted.", name=name), "success")
    return redirect_to("/account")


@blueprint.get("/admin/people/delete")
async def admin_delete_person() -> Any:
    async with current_node().db.read() as session:
        await require_admin(session)
    return await _page("admin", email="", error="")


@blueprint.post("/admin/people/delete")
async def admin_delete_person_post() -> Any:
    node = current_node()
    form = await request.form
    email = form.get("email", "").strip()
    try:
        async with node.transaction() as session:
            admin = await require_admin(session)
            await leaving.admin_deletes_person(
                session, node.settings, admin, email, form.get("password", "")
            )
    except ApiError as exc:
        return await _page("admin", 422, email=email, error=api_message(str(exc)))
    await flash(_("The account of %(email)s is deleted.", email=email), "success")
    return redirect_to("/admin")
