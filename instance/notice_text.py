"""Notifications as sentences, in a given language: for the notifications page and for
the e-mails that carry them (``instance.mail_text``).

Each kind (``domain.notify.KINDS``) has its sentence, filled from the data the event
recorded; names that came from other servers are plain text here, escaped by the page
(Jinja) and harmless in a ``text/plain`` mail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.social import Notification
from instance.i18n import translations

Translate = Callable[..., str]


def translator(lang: str) -> Translate:
    """``_(message, **params)`` in ``lang``, whatever the request's language."""
    catalogue = translations(lang)

    def _(message: str, **params: Any) -> str:
        text = catalogue.ugettext(message)
        return text % params if params else text

    return _


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return str(value) if value not in (None, "") else ""


def sentence(notification: Notification, *, lang: str, local_domain: str) -> str:
    """The notification as a sentence in ``lang`` (plain text: pages and mails escape it
    as they need); ``local_domain`` is this node's (its people are named without it)."""
    _ = translator(lang)
    data = notification.data or {}
    name = _text(data, "name") or _text(data, "from") or _text(data, "domain")
    domain = _text(data, "domain")
    if domain == local_domain.lower():
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
        if data.get("again"):
            return _("%(name)s was corrected and awaits approval again.", name=name)
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
        return exchange_sentence(data, name, domain, _)
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
    return _("Something new concerns you (%(kind)s).", kind=kind)


def exchange_sentence(data: Mapping[str, object], name: str, domain: str, _: Translate) -> str:
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
