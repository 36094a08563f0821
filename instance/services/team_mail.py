"""The e-mail that carries an invitation to join a structure (queued in the same
transaction as the invitation, sent by the mail worker: ``instance.services.outgoing_mail``).

Written in the invitee's language when they already have an account here, else in the
language of the page the owner invited from."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from domain.people import find_person
from instance.notice_text import translator
from instance.services.outgoing_mail import enqueue, person_lang
from instance.services.teams import Sent


async def invitation_sent(
    session: AsyncSession, settings: Settings, sent: Sent, page_lang: str
) -> None:
    """Queue the invitation's e-mail, with its link, to the invited address."""
    invitation = sent.invitation
    known = await find_person(session, invitation.email)
    lang = person_lang(known, page_lang) if known is not None else page_lang
    if lang not in ("fr", "en"):
        lang = person_lang(None, settings.web.default_locale)
    _ = translator(lang)
    inviter = invitation.invited_by
    who = (inviter.display_name or inviter.email) if inviter is not None else ""
    name = invitation.structure.name
    intro = (
        _(
            "%(who)s invites you to act for %(name)s on %(site)s: publish its offers and "
            "needs, write and answer in its name.",
            who=who,
            name=name,
            site=settings.instance.name,
        )
        if who
        else _(
            "You are invited to act for %(name)s on %(site)s: publish its offers and needs, "
            "write and answer in its name.",
            name=name,
            site=settings.instance.name,
        )
    )
    body = "\n\n".join(
        [
            _("Hello,"),
            intro,
            _(
                "To accept, open this link within 7 days (it works once); you will create "
                "your account, or log in with the one you have:"
            ),
            sent.link,
            _("If you do not know this structure, ignore this e-mail: nothing happens."),
            "-- \n"
            + _(
                "This e-mail was sent by %(site)s (%(url)s).",
                site=settings.instance.name,
                url=settings.base_url,
            )
            + "\n",
        ]
    )
    subject = f"{settings.instance.name} — " + _("Invitation to join %(name)s", name=name)
    await enqueue(
        session,
        to=invitation.email,
        subject=subject,
        body=body,
        lang=lang,
        kind="invitation",
        dedupe_key=f"invitation:{invitation.id}",
    )
