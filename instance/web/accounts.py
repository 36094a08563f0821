"""Sign up, log in and out, the account page, its sessions and its API tokens.

Signing up makes a person (role ``member``) and a **pending** structure in
one transaction: an administrator must approve the structure before it is
visible or can publish (no anonymous free riders).

Sign-up must not tell who has an account, any more than the login form does
(SECURITY.md). So it answers the same for an address that is new and for one
already registered — the same redirect to ``/signup/done``, which says both
honestly: "if the address is new, your account exists, log in; if it already
had one, nothing was changed, log in with it" — and it logs nobody in (being
logged in, or not, would tell). For a known address nothing is created; the
account's owner is told in their notifications (and by e-mail when the node
sends mail), so that a person who forgot they had signed up learns it, and a
stranger's attempt does not go unseen. Both ways cost one Argon2 hash, so
the time taken does not tell either. A taken structure handle is still
reported: handles are public.
"""

from __future__ import annotations

from typing import Any

from quart import Response, flash, make_response, render_template, request

from domain.notify import notify_roles, notify_signup_attempt
from domain.people import (
    authenticate,
    create_person,
    create_structure,
    create_token,
    find_person,
    handle_taken,
    hash_password,
    list_tokens,
    revoke_token,
    structures_of,
    validate_person,
    validate_structure,
)
from domain.validation import Collector, Invalid
from instance.auth import count_sessions, end_all_sessions, log_in, log_out
from instance.i18n import gettext as _
from instance.i18n import select_locale
from instance.node import current_node
from instance.services import account_mail, second_factor
from instance.web.blueprint import blueprint
from instance.web.common import load_viewer, redirect_to, require_person, safe_next
from instance.web.forms import (
    PERSON_FIELDS,
    STRUCTURE_FIELDS,
    field_errors,
    form_values,
    sentence,
)
from instance.web.two_factor import await_code

TOKEN_NAME_MAX = 100


# --- sign up ------------------------------------------------------------------


async def _signup_form(values: dict[str, str], errors: dict[str, str], status: int) -> Any:
    values = {**values, "password": ""}  # never sent back
    return await render_template("signup.html", values=values, errors=errors), status


@blueprint.get("/signup")
async def signup() -> Any:
    async with current_node().db.read() as session:
        person = await load_viewer(session)
    if person is not None:
        return redirect_to("/account")
    return await _signup_form({"kind": "business"}, {}, 200)


@blueprint.post("/signup")
async def signup_post() -> Any:
    node = current_node()
    values = form_values(await request.form, PERSON_FIELDS + STRUCTURE_FIELDS)
    values["handle"] = values["handle"].lower()
    c = Collector()
    validate_person(values, c)
    validate_structure(values, c)
    try:
        c.raise_if_any()
        async with node.transaction() as session:
            await load_viewer(session)
            if await handle_taken(session, values["handle"], node.settings.instance.handle):
                c.add("handle", "is already taken")
            c.raise_if_any()
            known = await find_person(session, values["email"])
            if known is not None:
                hash_password(values["password"])  # the time a new account takes
                await notify_signup_attempt(session, known)
            else:
                person = await create_person(
                    session,
                    values["email"],
                    values["password"],
                    display_name=values["display_name"],
                )
                person.locale = select_locale()  # the language of its e-mails
                structure = await create_structure(
                    session, values, person, territory_handle=node.settings.instance.handle
                )
                await account_mail.signup_received(session, node.settings, person, structure)
                await notify_roles(
                    session,
                    ("admin",),
                    "structure_pending",
                    {"name": structure.name, "handle": structure.handle},
                    "/admin/structures",
                )
    except Invalid as exc:
        return await _signup_form(values, field_errors(exc), 422)
    return redirect_to("/signup/done")


@blueprint.get("/signup/done")
async def signup_done() -> str:
    async with current_node().db.read() as session:
        await load_viewer(session)
    return await render_template("signup_done.html")


# --- log in and out -------------------------------------------------------------


@blueprint.get("/login")
async def login() -> str:
    async with current_node().db.read() as session:
        await load_viewer(session)
    next_url = safe_next(request.args.get("next"), "")
    return await render_template("login.html", email="", next_url=next_url, failed=False)


@blueprint.post("/login")
async def login_post() -> Any:
    form = await request.form
    email = form.get("email", "").strip()
    password = form.get("password", "")
    next_url = safe_next(form.get("next"), "")
    second_step = False
    async with current_node().transaction() as session:
        await load_viewer(session)
        person = await authenticate(session, email, password) if email and password else None
        if person is not None:
            second_step = await second_factor.is_enabled(session, person)
            if second_step:
                await_code(person, next_url)
            else:
                await log_in(session, person)
    if second_step:
        return redirect_to("/login/code")
    if person is None:
        # One message whatever was wrong, so that the form does not tell who has an account.
        page = await render_template("login.html", email=email, next_url=next_url, failed=True)
        return page, 401, {"WWW-Authenticate": 'FormBased realm="entraide"'}
    await flash(_("You are logged in."), "success")
    return redirect_to(next_url or "/")


@blueprint.post("/logout")
async def logout() -> Response:
    async with current_node().transaction() as session:
        await log_out(session)
    await flash(_("You are logged out."), "success")
    return redirect_to("/")


@blueprint.post("/account/sessions/end")
async def end_sessions() -> Response:
    """Log out everywhere: every session of the person ends, this one included."""
    async with current_node().transaction() as session:
        person = await require_person(session)
        await end_all_sessions(session, person)
        await log_out(session)
    await flash(_("You are logged out everywhere."), "success")
    return redirect_to("/login")


# --- account and API tokens -------------------------------------------------------


@blueprint.get("/account")
async def account() -> str:
    async with current_node().db.read() as session:
        person = await require_person(session)
        structures = await structures_of(session, person)
        tokens = await list_tokens(session, person)
        sessions = await count_sessions(session, person)
    return await render_template(
        "account.html",
        person=person,
        structures=structures,
        tokens=tokens,
        sessions=sessions,
        roles={m.structure_id: m.role for m in person.memberships},
        errors={},
    )


@blueprint.post("/account/tokens")
async def create_api_token() -> Any:
    form = await request.form
    name = form.get("name", "").strip()
    async with current_node().transaction() as session:
        person = await require_person(session)
        if len(name) > TOKEN_NAME_MAX:
            structures = await structures_of(session, person)
            tokens = await list_tokens(session, person)
            too_long = _("must be at most %(max)d characters", max=TOKEN_NAME_MAX)
            errors = {"name": sentence(too_long)}
            page = await render_template(
                "account.html",
                person=person,
                structures=structures,
                tokens=tokens,
                sessions=await count_sessions(session, person),
                roles={m.structure_id: m.role for m in person.memberships},
                errors=errors,
            )
            return page, 422
        token = await create_token(session, person, name)
    page = await render_template("token_created.html", token=token, name=name or "token")
    response = await make_response(page)
    # The clear token exists only in this response: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/account/tokens/<int:token_id>/revoke")
async def revoke_api_token(token_id: int) -> Response:
    async with current_node().transaction() as session:
        person = await require_person(session)
        revoked = await revoke_token(session, person, token_id)
    if revoked:
        await flash(_("The token is revoked: it no longer opens the API."), "success")
    else:
        await flash(_("This token does not exist or was already revoked."), "error")
    return redirect_to("/account#tokens")
