"""``/account/password``: a person changes their password.

The current password is asked for (a session left open on a shared computer
must not be enough to take the account over). Once changed, every other
session of the person ends; this browser stays logged in.
"""

from __future__ import annotations

from typing import Any

from quart import flash, render_template, request

from domain.people import change_password
from domain.validation import Invalid
from instance.auth import end_other_sessions
from instance.i18n import gettext as _
from instance.node import current_node
from instance.web.blueprint import blueprint
from instance.web.common import redirect_to, require_person
from instance.web.forms import field_errors


@blueprint.get("/account/password")
async def password_page() -> str:
    async with current_node().db.read() as session:
        person = await require_person(session)
    return await render_template("account_password.html", person=person, errors={})


@blueprint.post("/account/password")
async def password_change() -> Any:
    form = await request.form
    async with current_node().transaction() as session:
        person = await require_person(session)
        try:
            change_password(person, form.get("current_password", ""), form.get("password", ""))
        except Invalid as exc:
            page = await render_template(
                "account_password.html", person=person, errors=field_errors(exc)
            )
            return page, 422
        ended = await end_other_sessions(session, person)
    message = _("Your password is changed.")
    if ended:
        message += " " + _(
            "Your other sessions have ended: log in again there with the new password."
        )
    await flash(message, "success")
    return redirect_to("/account")
