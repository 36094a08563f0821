"""``/notifications``: what a person should know, as sentences in their language.

Each kind (``domain.notify.KINDS``) has its sentence (``instance.notice_text``,
shared with the e-mails), filled from the data the event recorded; names that
came from other servers are escaped like any text. Opening one marks it read
and follows its link; a button marks them all read. The header shows the
unread count. An administrator's « awaiting approval » notice says once it is
handled, whoever decided.
"""

from __future__ import annotations

from quart import Response, flash, render_template

from domain.social import Notification
from instance.i18n import gettext as _
from instance.i18n import select_locale
from instance.node import current_node
from instance.notice_text import sentence
from instance.services import mail_notifications
from instance.services import notifications as notices
from instance.web.blueprint import blueprint
from instance.web.common import deny, redirect_to, require_person, safe_next

SHOWN = 100


def notification_sentence(notification: Notification) -> str:
    """The notification as a sentence in the page's language (the template escapes it)."""
    domain = current_node().settings.instance.domain
    return sentence(notification, lang=select_locale(), local_domain=domain)


def handled(notification: Notification) -> str:
    """For an administrator's « awaiting approval » notice: what was decided since, by
    whoever decided (empty while nobody did)."""
    if notification.kind != "structure_pending":
        return ""
    decided = (notification.data or {}).get("decided")
    if decided == "approved":
        return _("Handled: approved")
    if decided == "rejected":
        return _("Handled: rejected")
    return ""


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
    async with current_node().db.read() as session:
        person = await require_person(session)
        items = [
            {
                "id": n.id,
                "kind": n.kind,
                "text": notification_sentence(n),
                "unread": n.read_at is None,
                "handled": handled(n),
                "at": n.created_at,
            }
            for n in await notices.latest(session, person, SHOWN)
        ]
        mail_choices = await mail_notifications.structures_with_choice(session, person)
    return await render_template("notifications.html", items=items, mail_choices=mail_choices)


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
