"""Notes that are not listings: direct messages and community posts.

* A direct message is a ``Note`` addressed only to its recipient: ``to`` the
  recipient, ``cc`` empty, no Public, and a ``Mention`` tag of the recipient
  (Mastodon classifies a Note as a direct message when every addressed actor
  is mentioned; docs/research-verified.md §4). Threads use ``context`` and
  ``inReplyTo``; a message about a listing names it in ``entraide:listing``.
* A community post (FEP-1b12) is a ``Note`` with ``audience`` and ``to``
  naming the group, ``cc`` its author's followers; its ``Create`` carries the
  same ``audience``.

The reverse conversions are ``inbox/from_ap/notes.py``.
"""

from __future__ import annotations

import html
from typing import Any

from config.settings import Settings
from domain.models import Listing
from domain.social import Message, Post
from federation.models import Actor
from federation.vocab import PUBLIC
from outbox.to_ap.activities import iso, new_activity, paragraphs


def _mention(actor: Actor) -> str:
    href = html.escape(actor.url or actor.uri, quote=True)
    return (
        f'<span class="h-card"><a href="{href}" class="u-url mention">'
        f"@<span>{html.escape(actor.handle)}</span></a></span>"
    )


def message_html(recipient: Actor, text: str, listing: Listing | None) -> str:
    """The HTML of a message: the mention, the text as paragraphs, the listing link."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    parts = ["<br>".join(html.escape(line) for line in block.split("\n")) for block in blocks] or [
        ""
    ]
    parts[0] = f"{_mention(recipient)} {parts[0]}"
    if listing is not None:
        href = html.escape(listing.url or listing.ap_id, quote=True)
        parts.append(f'Annonce : <a href="{href}">{html.escape(listing.title)}</a>')
    return "".join(f"<p>{p}</p>" for p in parts)


def introduction_html(recipients: list[Actor], text: str, listings: list[Listing]) -> str:
    """The HTML of an introduction: both mentions, the text, a link to each listing."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    parts = ["<br>".join(html.escape(line) for line in block.split("\n")) for block in blocks] or [
        ""
    ]
    parts[0] = " ".join([*(_mention(r) for r in recipients), parts[0]])
    for listing in listings:
        href = html.escape(listing.url or listing.ap_id, quote=True)
        parts.append(f'Annonce : <a href="{href}">{html.escape(listing.title)}</a>')
    return "".join(f"<p>{p}</p>" for p in parts)


def note_of(message: Message, recipients: list[Actor], listing: Listing | None) -> dict[str, Any]:
    """The ``Note`` of a direct message."""
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


def create_message(
    settings: Settings, message: Message, recipient: Actor, listing: Listing | None
) -> dict[str, Any]:
    """``Create`` of a direct message, addressed like its Note."""
    note = note_of(message, [recipient], listing)
    return new_activity(settings, "Create", message.author, note, to=note["to"], cc=[])


def create_group_message(
    settings: Settings, message: Message, recipients: list[Actor], listing: Listing | None
) -> dict[str, Any]:
    """``Create`` of a message to several actors (an introduction): each addressed and
    mentioned, so Mastodon shows it as a direct message to all of them."""
    note = note_of(message, recipients, listing)
    return new_activity(settings, "Create", message.author, note, to=note["to"], cc=[])


def post_html(text: str) -> str:
    return paragraphs(text)


def post_note(post: Post, group: Actor, author: Actor) -> dict[str, Any]:
    """The ``Note`` of a community post."""
    return {
        "id": post.ap_id,
        "type": "Note",
        "attributedTo": author.uri,
        "audience": group.uri,
        "to": [PUBLIC, group.uri],
        "cc": [author.followers_url] if author.followers_url else [],
        "content": post.content_html,
        "published": iso(post.published_at),
    }


def create_post(settings: Settings, post: Post, group: Actor, author: Actor) -> dict[str, Any]:
    """``Create`` of a community post by its author, with the group as ``audience``."""
    note = post_note(post, group, author)
    return new_activity(
        settings, "Create", author, note, to=note["to"], cc=note["cc"], audience=group.uri
    )
