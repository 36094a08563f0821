"""ActivityStreams documents to typed values: notes that are not listings.

* :func:`note_from_ap` — a ``Note`` an actor sends (a direct message, or a
  post in one of our communities): its id, author, addresses, sanitised HTML
  and the thread it names (``inReplyTo``; ``context``, or Pleroma's
  ``conversation``; our ``entraide:listing``).
* :func:`post_from_ap` — a ``Note`` a community of another node announced,
  fetched from its origin (FEP-1b12): it must be attributed to an actor of
  the note's own server and name the group in ``audience``, ``to`` or ``cc``.

Both raise :class:`MalformedObject` with the reason the inbox item records.
The HTML is cleaned (``domain.sanitize.clean_html``) before anything reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.sanitize import clean_html, html_to_text
from federation.origin import object_id
from inbox.from_ap.values import MalformedObject, same_host, uris

POST_TEXT_MAX = 10_000
ADDRESS_KEYS = ("to", "cc", "audience")


def _addresses(obj: dict[str, Any]) -> tuple[str, ...]:
    return tuple(u for key in ADDRESS_KEYS for u in uris(obj.get(key)))


def _html(obj: dict[str, Any]) -> str:
    raw = obj.get("content")
    return clean_html(raw) if isinstance(raw, str) else ""


@dataclass(frozen=True)
class NoteData:
    """A note received from its author, validated; ``content_html`` is sanitised."""

    id: str
    author: str
    addresses: tuple[str, ...]  # to, cc and audience of the note itself
    content_html: str
    in_reply_to: str | None = None
    context: str | None = None  # the thread: ``context``, else ``conversation``
    listing: str | None = None  # our ``entraide:listing`` (a message about a listing)
    mentions: tuple[str, ...] = field(default=(), compare=False)  # ``Mention`` tags' ``href``

    def text(self, max_length: int) -> str:
        """The content as plain text, at most ``max_length`` characters."""
        return html_to_text(self.content_html, max_length=max_length)


def note_from_ap(obj: dict[str, Any], actor: str) -> NoteData:
    """The note ``obj`` that ``actor`` sent; it must be attributed to ``actor``."""
    if object_id(obj.get("attributedTo")) != actor:
        raise MalformedObject("note attributed to another actor")
    note_id = object_id(obj.get("id"))
    if not note_id:
        raise MalformedObject("note without id")
    listing = obj.get("entraide:listing") or obj.get("listing")
    return NoteData(
        id=note_id,
        author=actor,
        addresses=_addresses(obj),
        content_html=_html(obj),
        in_reply_to=object_id(obj.get("inReplyTo")),
        context=object_id(obj.get("context")) or object_id(obj.get("conversation")),
        listing=listing if isinstance(listing, str) else None,
        mentions=_mentions(obj),
    )


def _mentions(obj: dict[str, Any]) -> tuple[str, ...]:
    tags = obj.get("tag")
    if isinstance(tags, dict):
        tags = [tags]
    if not isinstance(tags, list):
        return ()
    found = []
    for tag in tags[:50]:
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            href = object_id(tag.get("href"))
            if href:
                found.append(href)
    return tuple(found)


@dataclass(frozen=True)
class PostData:
    """A post of a remote community, as its author's server serves it."""

    id: str
    author: str
    content_html: str  # sanitised
    content_text: str


def post_from_ap(obj: dict[str, Any], *, fetched_at: str, group: str) -> PostData:
    """The post ``obj`` of the community ``group``, fetched from ``fetched_at`` (its id)."""
    note_id = fetched_at
    author = object_id(obj.get("attributedTo"))
    if not author or not same_host(author, note_id):
        raise MalformedObject("announced note attributed to another server")
    if group not in _addresses(obj):
        raise MalformedObject("announced note is not addressed to this group")
    content_html = _html(obj)
    return PostData(
        id=note_id,
        author=author,
        content_html=content_html,
        content_text=html_to_text(content_html, max_length=POST_TEXT_MAX),
    )
