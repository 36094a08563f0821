"""Two-step login for administrators and moderators (``instance.services.second_factor``).

* ``/account/two-factor`` — set up (scan the QR code, type a code: the recovery codes are
  shown once), or turn off with the password and a code.
* ``/login/code`` — after a right password, a person with the second factor on is not
  logged in yet: the browser's signed session remembers who passed the first step (for
  :data:`STEP_SECONDS`), and this page asks for a code of the app or a recovery code.
"""

from __future__ import annotations

import time
from typing import Any

from quart import flash, make_response, render_template, request
from quart import session as browser_session

from domain.models import Person
from domain.validation import Invalid
from instance.api_errors import ApiError
from instance.auth import log_in
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import second_factor
from instance.web.blueprint import blueprint
from instance.web.common import deny, load_viewer, redirect_to, require_person, safe_next
from instance.web.errors import api_message
from instance.web.forms import field_errors

STEP_SECONDS = 300
_PENDING = "second_step"


def _moderator(person: Person) -> None:
    if not person.is_moderator:
        deny(403, _("Two-step login is for administrators and moderators."))


async def _no_store(page: str, status: int = 200) -> Any:
    response = await make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # a secret or recovery codes
    return response


async def _settings_page(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    node = current_node()
    async with node.transaction() as db:
        person = await require_person(db)
        factor = await second_factor.factor_of(db, person)
        if factor is None or factor.confirmed_at is None:
            _moderator(person)  # one whose role was taken away may still turn it off
        enrolment = None
        left = 0
        if factor is not None and factor.confirmed_at is None:
            enrolment = await second_factor.start(db, person, node.settings.instance.name)
        elif factor is not None:
            left = await second_factor.recovery_codes_left(db, person)
        enabled = factor is not None and factor.confirmed_at is not None
    page = await render_template(
        "account_two_factor.html",
        person=person,
        enabled=enabled,
        enrolment=enrolment,
        left=left,
        errors=errors or {},
    )
    return await _no_store(page, 422 if errors else status)


@blueprint.get("/account/two-factor")
async def two_factor_page() -> Any:
    return await _settings_page()


@blueprint.post("/account/two-factor/start")
async def two_factor_start() -> Any:
    async with current_node().transaction() as db:
        person = await require_person(db)
        _moderator(person)
        try:
            await second_factor.start(db, person, current_node().settings.instance.name)
        except ApiError as exc:
            await flash(api_message(exc.message), "error")
    return redirect_to("/account/two-factor")


@blueprint.post("/account/two-factor/cancel")
async def two_factor_cancel() -> Any:
    async with current_node().transaction() as db:
        person = await require_person(db)
        await second_factor.cancel_enrolment(db, person)
    return redirect_to("/account/two-factor")


@blueprint.post("/account/two-factor/confirm")
async def two_factor_confirm() -> Any:
    code = (await request.form).get("code", "")
    error: Invalid | None = None
    codes: list[str] = []
    try:
        async with current_node().transaction() as db:
            person = await require_person(db)
            _moderator(person)
            try:
                codes = await second_factor.confirm(db, person, code)
            except Invalid as exc:
                error = exc  # the wrong attempt is counted: commit it
    except second_factor.Locked:
        deny(429, _("Too many wrong codes. Wait a quarter of an hour and try again."))
    except ApiError as exc:
        await flash(api_message(exc.message), "error")
        return redirect_to("/account/two-factor")
    if error is not None:
        return await _settings_page(field_errors(error))
    page = await render_template("recovery_codes.html", codes=codes)
    return await _no_store(page)


@blueprint.post("/account/two-factor/disable")
async def two_factor_disable() -> Any:
    form = await request.form
    error: Invalid | None = None
    try:
        async with current_node().transaction() as db:
            person = await require_person(db)
            try:
                await second_factor.disable(
                    db, person, form.get("password", ""), form.get("code", "")
                )
            except Invalid as exc:
                error = exc
    except second_factor.Locked:
        deny(429, _("Too many wrong codes. Wait a quarter of an hour and try again."))
    if error is not None:
        return await _settings_page(field_errors(error))
    await flash(_("Two-step login is off."), "success")
    return redirect_to("/account/two-factor")


# --- the login's second step -------------------------------------------------------


def await_code(person: Person, next_url: str) -> None:
    """Remember, in the browser's signed session, that ``person`` gave the right
    password: the code is asked next."""
    browser_session[_PENDING] = {"p": person.id, "t": int(time.time()), "n": next_url}


def _pending() -> tuple[int, str] | None:
    value = browser_session.get(_PENDING)
    if not isinstance(value, dict):
        return None
    started = value.get("t")
    if not isinstance(started, int) or time.time() - started > STEP_SECONDS:
        browser_session.pop(_PENDING, None)
        return None
    person_id, next_url = value.get("p"), value.get("n")
    if not isinstance(person_id, int) or not isinstance(next_url, str):
        return None
    return person_id, next_url


@blueprint.get("/login/code")
async def login_code() -> Any:
    async with current_node().db.session() as db:
        await load_viewer(db)
    if _pending() is None:
        return redirect_to("/login")
    return await render_template("login_code.html", failed=False)


@blueprint.post("/login/code")
async def login_code_post() -> Any:
    pending = _pending()
    if pending is None:
        await flash(_("The login took too long: give your password again."), "error")
        return redirect_to("/login")
    person_id, next_url = pending
    code = (await request.form).get("code", "")
    try:
        async with current_node().transaction() as db:
            await load_viewer(db)
            person = await second_factor.person_at_second_step(db, person_id)
            ok = person is not None and await second_factor.check(db, person, code)
            if ok and person is not None:
                await log_in(db, person)
    except second_factor.Locked:
        deny(429, _("Too many wrong codes. Wait a quarter of an hour and try again."))
    if not ok:
        page = await render_template("login_code.html", failed=True)
        return page, 401
    browser_session.pop(_PENDING, None)
    await flash(_("You are logged in."), "success")
    return redirect_to(safe_next(next_url, "/"))
