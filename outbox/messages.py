"""Direct messages between structures, shaped as Mastodon sends and shows them.

A message is a ``Note`` addressed only to its recipient (its shape:
``outbox/to_ap/notes.py``): ``to`` the recipient, ``cc`` empty, no Public, and a
``Mention`` tag of the recipient (Mastodon classifies a Note as a direct message when
every addressed actor is mentioned; docs/research-verified.md §4). Threads use
``context`` (the conversation's id, ours or the one a remote server started) and
``inReplyTo`` (the previous message). A message about a listing links it in the text
and names it in ``entraide:listing``.

A message is never public: its activity is stored with ``public=False`` (not
in outboxes), it is not in feeds or search, and its id answers only signed
fetches by a participant (``instance/ap/objects.py``).

This module only addresses and queues the ``Create`` delivered to a remote
recipient. Which conversation a message goes to, who may write to whom, and the
rows are ``instance.services.messages``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from domain.models import Listing
from domain.social import Message
from federation.models import Actor
from outbox.publish import emit
from outbox.to_ap.notes import create_group_message, create_message
from outbox.to_ap.notes import introduction_html as introduction_html
from outbox.to_ap.notes import message_html as message_html
from outbox.to_ap.notes import note_of as note_of


async def deliver(
    session: AsyncSession,
    settings: Settings,
    message: Message,
    recipient: Actor,
    listing: Listing | None,
) -> None:
    """Queue the ``Create(Note)`` of a message for its remote recipient's inbox only
    (never public, never to followers)."""
    body = create_message(settings, message, recipient, listing)
    await emit(
        session,
        settings,
        message.author,
        body,
        to_followers=False,
        recipients=[recipient],
        public=False,
    )


async def deliver_to_all(
    session: AsyncSession,
    settings: Settings,
    message: Message,
    recipients: list[Actor],
    listing: Listing | None,
) -> None:
    """Queue the ``Create(Note)`` of a message to several actors (an introduction) for
    those of them that are remote: one activity, addressed to all of them."""
    remote = [r for r in recipients if not r.local]
    if not remote:
        return
    body = create_group_message(settings, message, recipients, listing)
    await emit(
        session, settings, message.author, body, to_followers=False, recipients=remote, public=False
    )
