"""What the node's e-mails say, in French or English (the person's language).

Plain text, short, with the link to follow; every mail ends with where it comes from.
The strings are the catalogues' (``instance/translations``); a notification's sentence
is the notifications page's (``instance.notice_text``), so a mail and the page say
the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.settings import Settings
from domain.social import Notification
from instance.notice_text import Translate, sentence, translator


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues; it is translated when the mail is written."""
    return message


SUBJECTS = {
    "message": N_("New message"),
    "follower": N_("New follower"),
    "follow_request": N_("Follow request"),
    "follow_accepted": N_("Follow accepted"),
    "peering_request": N_("Peering request"),
    "structure_pending": N_("Structure awaiting approval"),
    "report": N_("New report"),
    "match": N_("A listing matches yours"),
    "saved_search": N_("New listing for your search"),
    "exchange": N_("Exchange"),
    "structure_approved": N_("Your structure is approved"),
    "structure_rejected": N_("Your structure was not approved"),
    "signup_attempt": N_("Sign-up with your address"),
}


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def _subject(settings: Settings, text: str) -> str:
    return f"{settings.instance.name} — {text}"


def _link(settings: Settings, url: str) -> str:
    if url.startswith("/"):
        return f"{settings.base_url}{url}"
    return url or f"{settings.base_url}/notifications"


def _footer(settings: Settings, _: Translate, choice_url: str = "") -> str:
    lines = [
        "-- ",
        _(
            "This e-mail was sent by %(site)s (%(url)s).",
            site=settings.instance.name,
            url=settings.base_url,
        ),
    ]
    if choice_url:
        lines.append(
            _(
                "To choose when your structure receives these e-mails (at once, a daily "
                "digest, or never): %(url)s",
                url=choice_url,
            )
        )
    return "\n".join(lines) + "\n"


def choice_url(settings: Settings, handle: str) -> str:
    return f"{settings.base_url}/@{handle}/notifications/settings"


def notification_mail(
    settings: Settings, note: Notification, lang: str, handle: str | None = None
) -> Mail:
    """The mail of one notification (``handle``: the structure it concerns, if any)."""
    _ = translator(lang)
    text = sentence(note, lang=lang, local_domain=settings.instance.domain)
    subject = _(SUBJECTS[note.kind]) if note.kind in SUBJECTS else text
    body = "\n\n".join(
        [
            _("Hello,"),
            text,
            _link(settings, note.url),
            _footer(settings, _, choice_url(settings, handle) if handle else ""),
        ]
    )
    return Mail(_subject(settings, subject), body)


def digest_mail(settings: Settings, notes: Sequence[Notification], lang: str, total: int) -> Mail:
    """One mail with the day's notifications (the first ``notes`` of ``total``) of the
    structures that chose a digest."""
    _ = translator(lang)
    items = [
        f"* {sentence(note, lang=lang, local_domain=settings.instance.domain)}\n"
        f"  {_link(settings, note.url)}"
        for note in notes
    ]
    if total > len(notes):
        more = _(
            "… and %(count)d more: %(url)s",
            count=total - len(notes),
            url=f"{settings.base_url}/notifications",
        )
        items.append(more)
    body = "\n\n".join(
        [
            _("Hello,"),
            _("Here is what happened for your structures since the last summary:"),
            *items,
            _footer(settings, _, f"{settings.base_url}/account"),
        ]
    )
    return Mail(_subject(settings, _("Your daily summary")), body)


def signup_received_mail(settings: Settings, structure_name: str, lang: str) -> Mail:
    """To a person who signed up: the sign-up is received and awaits an administrator."""
    _ = translator(lang)
    body = "\n\n".join(
        [
            _("Hello,"),
            _(
                "We received the sign-up of « %(name)s ». An administrator of %(site)s will "
                "review it; you will receive an e-mail when it is decided. Meanwhile you "
                "can log in: %(url)s",
                name=structure_name,
                site=settings.instance.name,
                url=f"{settings.base_url}/login",
            ),
            _footer(settings, _),
        ]
    )
    return Mail(_subject(settings, _("Sign-up received")), body)


def password_reset_mail(settings: Settings, link: str, lang: str, minutes: int) -> Mail:
    """The password-reset link (single use, ``minutes`` long)."""
    _ = translator(lang)
    body = "\n\n".join(
        [
            _("Hello,"),
            _(
                "Someone asked to reset the password of your account on %(site)s. To "
                "choose a new password, open this link within %(minutes)d minutes (it "
                "works once):",
                site=settings.instance.name,
                minutes=minutes,
            ),
            link,
            _(
                "If it was not you, ignore this e-mail: your password does not change "
                "and nobody can use the link without this mailbox."
            ),
            _footer(settings, _),
        ]
    )
    return Mail(_subject(settings, _("Reset your password")), body)
