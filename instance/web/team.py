"""« Équipe » of a structure (``/@<handle>/team``) and the invitation links
(``/invitations/<token>``).

The team page is for the structure's people: everyone sees who acts for it and
can leave; owners invite by e-mail, cancel an invitation, remove a person and
hand the ownership over (``instance.services.teams``). A link that opens nothing —
forged, used, cancelled or expired — gets a page that says which, never an error.
"""

from __future__ import annotations

from typing import Any

from quart import Response, flash, render_template, request

from domain.validation import Invalid
from instance.api_errors import ApiError
from instance.auth import log_in
from instance.i18n import gettext as _
from instance.i18n import select_locale
from instance.node import current_node
from instance.services import team_mail, teams
from instance.web.blueprint import blueprint
from instance.web.common import deny, load_viewer, redirect_to, require_person
from instance.web.errors import api_message
from instance.web.forms import field_errors


def _key() -> str:
    return current_node().settings.web.secret_key


async def _team_page(
    handle: str, *, errors: dict[str, str] | None = None, email: str = "", link: str = ""
) -> Any:
    async with current_node().db.session() as session:
        person = await require_person(session)
        try:
            found = await teams.team(session, person, handle)
        except ApiError as exc:
            deny(exc.status, api_message(exc.message))
    page = await render_template(
        "team.html",
        team=found,
        me=person.id,
        errors=errors or {},
        email=email,
        link=link,
        mails=bool(current_node().settings.mail.smtp_host),
    )
    return page, 422 if errors else 200


@blueprint.get("/@<handle>/team")
async def team_page(handle: str) -> Any:
    return await _team_page(handle)


@blueprint.post("/@<handle>/team/invite")
async def team_invite(handle: str) -> Any:
    node = current_node()
    email = (await request.form).get("email", "").strip()
    try:
        async with node.transaction() as session:
            person = await require_person(session)
            sent = await teams.invite(
                session, person, handle, email, key=_key(), base_url=node.settings.base_url
            )
            address = sent.invitation.email
            await team_mail.invitation_sent(session, node.settings, sent, select_locale())
    except Invalid as exc:
        return await _team_page(handle, errors=field_errors(exc), email=email)
    except ApiError as exc:
        deny(exc.status, api_message(exc.message))
    if node.settings.mail.smtp_host:
        await flash(_("An invitation is sent to %(email)s.", email=address), "success")
        return redirect_to(f"/@{handle}/team")
    # Without e-mail, the owner passes the link on themselves.
    await flash(_("An invitation is ready for %(email)s.", email=address), "success")
    return await _team_page(handle, link=sent.link)


async def _act(handle: str, action: Any, done: str = "") -> Response:
    """Run one owner/member action; its outcome is flashed on the team page."""
    try:
        async with current_node().transaction() as session:
            person = await require_person(session)
            message = await action(session, person)
    except ApiError as exc:
        if exc.status == 403 and exc.message == "you do not act for this structure":
            deny(403, api_message(exc.message))
        await flash(api_message(exc.message), "error")
        return redirect_to(f"/@{handle}/team")
    await flash(message, "success")
    return redirect_to(done or f"/@{handle}/team")


@blueprint.post("/@<handle>/team/invitations/<int:invitation_id>/cancel")
async def team_cancel(handle: str, invitation_id: int) -> Response:
    async def action(session: Any, person: Any) -> str:
        if await teams.cancel(session, person, handle, invitation_id):
            return _("The invitation is cancelled: its link no longer opens anything.")
        return _("This invitation was already used, cancelled or expired.")

    return await _act(handle, action)


@blueprint.post("/@<handle>/team/<int:member_id>/remove")
async def team_remove(handle: str, member_id: int) -> Response:
    async def action(session: Any, person: Any) -> str:
        removed = await teams.remove(session, person, handle, member_id)
        who = removed.display_name or removed.email
        return _("%(who)s no longer acts for this structure.", who=who)

    return await _act(handle, action)


@blueprint.post("/@<handle>/team/<int:member_id>/role")
async def team_role(handle: str, member_id: int) -> Response:
    role = (await request.form).get("role", "")

    async def action(session: Any, person: Any) -> str:
        changed = await teams.set_role(session, person, handle, member_id, role)
        who = changed.display_name or changed.email
        if role == "owner":
            return _("%(who)s is now an owner of this structure.", who=who)
        return _("%(who)s is now a member of this structure.", who=who)

    return await _act(handle, action)


@blueprint.post("/@<handle>/team/leave")
async def team_leave(handle: str) -> Response:
    async def action(session: Any, person: Any) -> str:
        await teams.leave(session, person, handle)
        return _("You no longer act for this structure.")

    return await _act(handle, action, done="/account")


# --- the invitation link ------------------------------------------------------------


def _refused(reason: str) -> Any:
    """A clear page for a link that opens nothing, saying why."""
    if reason == "used":
        message = _(
            "This invitation link was already used: an invitation opens the door once. "
            "If it was not you, ask the structure for a new invitation."
        )
    elif reason == "cancelled":
        message = _("This invitation was cancelled by the structure. Ask it for a new one.")
    elif reason == "expired":
        message = _(
            "This invitation link has expired (links are good for 7 days). "
            "Ask the structure for a new invitation."
        )
    else:
        deny(
            404,
            _(
                "This invitation link is not valid. Check that it was copied whole, "
                "or ask the structure for a new invitation."
            ),
        )
    deny(410, message)


async def _invitation_page(
    token: str, *, errors: dict[str, str] | None = None, display_name: str = ""
) -> Any:
    async with current_node().db.session() as session:
        person = await load_viewer(session)
        try:
            invitation = await teams.open_invitation(session, token, key=_key())
        except teams.InvitationRefused as exc:
            _refused(exc.reason)
        member = person is not None and any(
            m.structure_id == invitation.structure_id for m in person.memberships
        )
    page = await render_template(
        "invitation.html",
        invitation=invitation,
        person=person,
        member=member,
        token=token,
        errors=errors or {},
        display_name=display_name,
    )
    return page, 422 if errors else 200


@blueprint.get("/invitations/<token>")
async def invitation_page(token: str) -> Any:
    return await _invitation_page(token)


@blueprint.post("/invitations/<token>")
async def invitation_answer(token: str) -> Any:
    form = await request.form
    display_name = form.get("display_name", "").strip()
    try:
        async with current_node().transaction() as session:
            person = await load_viewer(session)
            if person is not None:
                structure = await teams.accept(session, token, person, key=_key())
            else:
                person, structure = await teams.sign_up_and_accept(
                    session, token, form.get("password", ""), display_name, key=_key()
                )
                await log_in(session, person)
            name, handle = structure.name, structure.handle
    except teams.InvitationRefused as exc:
        _refused(exc.reason)
    except Invalid as exc:
        return await _invitation_page(token, errors=field_errors(exc), display_name=display_name)
    await flash(_("Welcome: you now act for %(name)s.", name=name), "success")
    return redirect_to(f"/@{handle}/team")
