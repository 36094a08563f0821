"""``/notifications``: what a person should know, as sentences in their language.

Each kind (``domain.notify.KINDS``) has its sentence, filled from the data
the event recorded; names that came from other servers are escaped like any
text. Opening one marks it read and follows its link; a button marks them all
read. The header shows the unread count.
"""

from __future__ import annotations

from collections.abc import Mapping

from quart import Response, flash, render_template

from domain.social import Notification
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import notifications as notices
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_person, safe_next

SHOWN = 100


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return str(value) if value not in (None, "") else ""


def notification_sentence(notification: Notification) -> str:
    """The notification as a sentence (plain text: the template escapes it)."""
    data = notification.data or {}
    name = _text(data, "name") or _text(data, "from") or _text(data, "domain")
    domain = _text(data, "domain")
    if domain == current_node().settings.instance.domain.lower():
        domain = ""  # someone of this territory: the name is enough
    kind = notification.kind
    if kind == "message":
        if domain:
            return _("%(name)s (%(domain)s) sent you a message.", name=name, domain=domain)
        return _("%(name)s sent you a message.", name=name)
    if kind == "follower":
        if domain:
            return _("%(name)s (%(domain)s) now follows your structure.", name=name, domain=domain)
        return _("%(name)s now follows your structure.", name=name)
    if kind == "follow_request":
        if domain:
            return _(
                "%(name)s (%(domain)s) asks to follow your structure.", name=name, domain=domain
            )
        return _("%(name)s asks to follow your structure.", name=name)
    if kind == "follow_accepted":
        if domain:
            return _("%(name)s (%(domain)s) accepted your follow.", name=name, domain=domain)
        return _("%(name)s accepted your follow.", name=name)
    if kind == "peering_request":
        return _("The territory %(domain)s asks to peer with this one.", domain=domain)
    if kind == "structure_pending":
        return _("%(name)s signed up and awaits approval.", name=name)
    if kind == "signup_attempt":
        return _(
            "The sign-up form was sent with your e-mail address. Nothing was changed: you "
            "already have an account. If it was not you, no action is needed."
        )
    if kind == "report":
        origin = _text(data, "origin")
        if origin and origin != "local":
            return _("A report received from %(origin)s awaits the moderators.", origin=origin)
        return _("A structure of this territory made a report; it awaits the moderators.")
    if kind == "structure_approved":
        return _("%(name)s is approved: it is visible and can publish.", name=name)
    if kind == "structure_rejected":
        reason = _text(data, "reason")
        return _("%(name)s was not approved. Reason given: %(reason)s", name=name, reason=reason)
    if kind == "saved_search":
        return _(
            "New listing for your search « %(name)s »: « %(title)s ».",
            name=name,
            title=_text(data, "listing_title"),
        )
    if kind == "exchange":
        return exchange_sentence(data, name, domain)
    if kind == "reply":
        who = _("%(name)s (%(domain)s)", name=name, domain=domain) if domain else name
        return _(
            "%(who)s replied publicly under your listing « %(title)s ».",
            who=who,
            title=_text(data, "listing_title"),
        )
    if kind == "mention":
        who = _("%(name)s (%(domain)s)", name=name, domain=domain) if domain else name
        return _("%(who)s mentioned your structure in a public post.", who=who)
    if kind == "match":
        return _(
            "« %(other)s » may answer your listing « %(mine)s ».",
            other=_text(data, "match_title"),
            mine=_text(data, "listing_title"),
        )
    return kind


def exchange_sentence(data: Mapping[str, object], name: str, domain: str) -> str:
    """What the other side of an exchange did (``outbox.exchanges.after_change``)."""
    who = _("%(name)s (%(domain)s)", name=name, domain=domain) if domain else name
    title = _text(data, "listing_title")
    action = _text(data, "action")
    if action == "propose":
        return _("%(who)s proposes an exchange on « %(title)s ».", who=who, title=title)
    if action == "accept":
        return _("%(who)s accepted the exchange on « %(title)s ».", who=who, title=title)
    if action == "decline":
        return _("%(who)s declined the exchange on « %(title)s ».", who=who, title=title)
    if action == "withdraw":
        return _("%(who)s withdrew the exchange on « %(title)s ».", who=who, title=title)
    if action == "cancel":
        return _("%(who)s cancelled the exchange on « %(title)s ».", who=who, title=title)
    if _text(data, "state") == "done":
        return _("The exchange on « %(title)s » is done: thank you!", title=title)
    return _(
        "%(who)s marked the exchange on « %(title)s » done: confirm it once it happened.",
        who=who,
        title=title,
    )


def notification_link(notification: Notification) -> str:
    """Where a notification leads (a path of this site)."""
    fallback = {
        "follow_accepted": "/timeline",
        "peering_request": "/admin/peers",
        "structure_pending": "/admin/structures",
        "report": "/admin/reports",
    }.get(notification.kind, "/notifications")
    return safe_next(notification.url, fallback)


@blueprint.get("/notifications")
async def notifications() -> str:
    async with current_node().db.session() as session:
        person = await require_person(session)
        items = [
            {
                "id": n.id,
                "kind": n.kind,
                "text": notification_sentence(n),
                "unread": n.read_at is None,
                "at": n.created_at,
            }
            for n in await notices.latest(session, person, SHOWN)
        ]
    return await render_template("notifications.html", items=items)


@blueprint.get("/notifications/<int:notification_id>")
async def open_notification(notification_id: int) -> Response:
    """Mark one notification read and go where it points."""
    async with current_node().transaction() as session:
        person = await require_person(session)
        notification = await notices.open_one(session, person, notification_id)
        if notification is None:
            deny(404)
        target = notification_link(notification)
    return redirect_to(target)


@blueprint.post("/notifications/read")
async def read_all() -> Response:
    async with current_node().transaction() as session:
        person = await require_person(session)
        await notices.mark_read(session, person)
    await flash(_("All your notifications are marked as read."), "success")
    return redirect_to("/notifications")
