"""``/password/reset``: a forgotten password, reset by e-mail
(``instance.services.password_reset``).

Asking answers the same for every address — the same redirect to
``/password/reset/sent``, which says « if an account uses this address, a link is on
its way » — and costs the same work. The link (``/password/reset/<secret>``) shows a
form for the new password; a link unknown, used or expired shows a page that says so
and offers a new one. After a reset every session of the person ends, this browser's
too: they log in again with the new password.
"""

from __future__ import annotations

from typing import Any

from quart import flash, render_template, request
from quart_auth import logout_user

from domain.validation import Invalid
from instance.csrf import rotate_csrf
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import password_reset
from instance.web.blueprint import blueprint
from instance.web.common import load_viewer, redirect_to
from instance.web.forms import field_errors, sentence

MINUTES = int(password_reset.LINK_LIFETIME.total_seconds() // 60)


async def _page(step: str, status: int = 200, **context: Any) -> Any:
    page = await render_template(
        "password_reset.html",
        step=step,
        minutes=MINUTES,
        mail_configured=bool(current_node().settings.mail.smtp_host),
        errors=context.pop("errors", {}),
        **context,
    )
    return page, status


@blueprint.get("/password/reset")
async def password_reset_form() -> Any:
    async with current_node().db.read() as session:
        await load_viewer(session)
    return await _page("ask", email="")


@blueprint.post("/password/reset")
async def password_reset_ask() -> Any:
    node = current_node()
    email = (await request.form).get("email", "").strip()[:320]
    if not email:
        errors = {"email": sentence(_("is required"))}
        return await _page("ask", 422, email=email, errors=errors)
    try:
        async with node.transaction() as session:
            await load_viewer(session)
            await password_reset.request_reset(session, node.settings, email)
    except password_reset.TooManyResets as exc:
        page, _status = await _page("too_many", 429, email=email)
        return page, 429, {"Retry-After": str(exc.retry_after)}
    return redirect_to("/password/reset/sent")


@blueprint.get("/password/reset/sent")
async def password_reset_sent() -> Any:
    async with current_node().db.read() as session:
        await load_viewer(session)
    return await _page("sent")


@blueprint.get("/password/reset/<secret>")
async def password_reset_link(secret: str) -> Any:
    async with current_node().db.session() as session:
        await load_viewer(session)
        usable = await password_reset.check_link(session, secret)
    if not usable:
        return await _page("invalid", 400)
    return await _page("new", secret=secret)


@blueprint.post("/password/reset/<secret>")
async def password_reset_complete(secret: str) -> Any:
    password = (await request.form).get("password", "")
    try:
        async with current_node().transaction() as session:
            await load_viewer(session)
            person = await password_reset.complete_reset(session, secret, password)
    except Invalid as exc:
        return await _page("new", 422, secret=secret, errors=field_errors(exc))
    if person is None:
        return await _page("invalid", 400)
    logout_user()  # this browser's session ended with the others
    rotate_csrf()
    await flash(_("Your password is changed. Log in with it."), "success")
    return redirect_to("/login")
