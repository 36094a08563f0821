"""Public replies under a listing, as ActivityPub.

An answer is a public ``Note`` (``to`` Public, ``cc`` the author's followers and
the actor it answers) whose ``inReplyTo`` is the reply it answers, or the
listing; it mentions the actor it answers (a ``Mention`` tag and the h-card
link Mastodon writes first in the content), so that the thread shows in
Mastodon, and carries the thread's ``context`` (and Mastodon's older
``conversation``): the one the first reply named, else the listing's
(``<listing id>#replies``). The reverse conversion is ``inbox/from_ap/notes.py``.
"""

from __future__ import annotations

import html
from typing import Any

from config.settings import Settings
from domain.replies import Reply
from federation.models import Actor
from federation.vocab import PUBLIC
from outbox.to_ap.activities import iso, new_activity, paragraphs


def thread_context(listing_ap_id: str) -> str:
    """The ``context`` of a listing's thread when no reply named one."""
    return f"{listing_ap_id}#replies"


def mention_html(actor: Actor) -> str:
    href = html.escape(actor.url or actor.uri, quote=True)
    return (
        f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
        f"@<span>{html.escape(actor.handle)}</span></a></span>"
    )


def answer_html(text: str, answered: Actor | None) -> str:
    """The HTML of an answer: the mention of the actor answered, then the text."""
    body = paragraphs(text) or "<p></p>"
    if answered is None:
        return body
    return body.replace("<p>", f"<p>{mention_html(answered)} ", 1)


def reply_note(reply: Reply, answered: Actor | None) -> dict[str, Any]:
    """The ``Note`` of a reply written here."""
    author = reply.author
    cc = [author.followers_url] if author.followers_url else []
    note: dict[str, Any] = {
        "id": reply.ap_id,
        "type": "Note",
        "attributedTo": author.uri,
        "inReplyTo": reply.in_reply_to,
        "to": [PUBLIC],
        "cc": cc,
        "content": reply.content_html,
        "published": iso(reply.published_at),
        "url": f"{reply.listing.url or reply.listing.ap_id}#reply-{reply.id}",
        "context": reply.context,
        "conversation": reply.context,
        "tag": [],
    }
    if answered is not None and answered.uri != author.uri:
        cc.append(answered.uri)
        note["tag"].append(
            {
                "type": "Mention",
                "href": answered.uri,
                "name": f"@{answered.handle}@{answered.domain}",
            }
        )
    if reply.updated_at > reply.published_at:
        note["updated"] = iso(reply.updated_at)
    return note


def create_reply(settings: Settings, reply: Reply, answered: Actor | None) -> dict[str, Any]:
    """``Create`` of an answer, addressed like its Note."""
    note = reply_note(reply, answered)
    return new_activity(settings, "Create", reply.author, note, to=note["to"], cc=note["cc"])
