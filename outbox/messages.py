"""Direct messages between structures, shaped as Mastodon sends and shows them.

A message is a ``Note`` addressed only to its recipient: ``to`` the
recipient, ``cc`` empty, no Public, and a ``Mention`` tag of the recipient
(Mastodon classifies a Note as a direct message when every addressed actor
is mentioned; docs/research-verified.md §4). Threads use ``context`` (the
conversation's id, ours or the one a remote server started) and ``inReplyTo``
(the previous message). A message about a listing links it in the text and
names it in ``entraide:listing``.

A message is never public: its activity is stored with ``public=False`` (not
in outboxes), it is not in feeds or search, and its id answers only signed
fetches by a participant (``instance/ap/objects.py``).

This module only builds and addresses: the HTML of a message, its ``Note``
and the ``Create`` delivered to a remote recipient. Which conversation a
message goes to, who may write to whom, and the rows are
``instance.services.messages``.
"""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from domain.models import Listing
from domain.social import Message
from federation.models import Actor
from outbox.publish import emit, new_activity
from outbox.to_ap import iso


def _mention(actor: Actor) -> str:
    href = html.escape(actor.url or actor.uri, quote=True)
    return (
        f'<span class="h-card"><a href="{href}" class="u-url mention">'
        f"@<span>{html.escape(actor.handle)}</span></a></span>"
    )


def message_html(recipient: Actor, text: str, listing: Listing | None) -> str:
    """The HTML of a message: the mention, the text as paragraphs, the listing link."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    paragraphs = [
        "<br>".join(html.escape(line) for line in block.split("\n")) for block in blocks
    ] or [""]
    paragraphs[0] = f"{_mention(recipient)} {paragraphs[0]}"
    if listing is not None:
        href = html.escape(listing.url or listing.ap_id, quote=True)
        paragraphs.append(f'Annonce : <a href="{href}">{html.escape(listing.title)}</a>')
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def note_of(message: Message, recipients: list[Actor], listing: Listing | None) -> dict[str, Any]:
    note: dict[str, Any] = {
        "id": message.ap_id,
        "type": "Note",
        "attributedTo": message.author.uri,
        "to": [r.uri for r in recipients],
        "cc": [],
        "content": message.content_html,
        "published": iso(message.published_at),
        "tag": [
            {"type": "Mention", "href": r.uri, "name": f"@{r.handle}@{r.domain}"}
            for r in recipients
        ],
        "context": message.conversation.context,
    }
    if message.in_reply_to:
        note["inReplyTo"] = message.in_reply_to
    if listing is not None:
        note["entraide:listing"] = listing.ap_id
    return note


async def deliver(
    session: AsyncSession,
    settings: Settings,
    message: Message,
    recipient: Actor,
    listing: Listing | None,
) -> None:
    """Queue the ``Create(Note)`` of a message for its remote recipient's inbox only
    (never public, never to followers)."""
    note = note_of(message, [recipient], listing)
    body = new_activity(settings, "Create", message.author, note, to=note["to"], cc=[])
    await emit(
        session,
        settings,
        message.author,
        body,
        to_followers=False,
        recipients=[recipient],
        public=False,
    )
