"""Server-rendered pages (Jinja2), French by default and English.

One module per area: ``home`` (home page), ``accounts`` (sign up, log in,
account, API tokens), ``structures`` (profiles), ``followers`` (a
structure's follow requests and followers), ``listings`` (view, create,
edit, withdraw), ``replies`` (answering under a listing), ``search``
(filters and map), ``messages`` (direct messages), ``notifications``,
``communities``, ``timeline`` (and following),
``admin`` (hub, approval queue), ``reports`` (reports, audit log),
``reporting`` (the « Report » form of the pages),
``federation`` (peerings, domain health and policy).
``blueprint`` holds the blueprint and the hooks every page shares;
``forms`` turns posted fields into the API's shape and back; ``common``
knows who is looking; ``labels`` names codes in the reader's language;
``queries`` holds the reads the pages need; ``remote`` resolves a typed
address; ``errors`` translates the back end's messages.

Views open their own session and load the viewer in it
(:func:`instance.web.common.load_viewer`); templates never touch the
database.
"""

from __future__ import annotations

# Importing the modules registers their routes on the blueprint.
from instance.web import (
    accounts,
    admin,
    communities,
    directory,
    exchanges,
    federation,
    followers,
    home,
    listings,
    messages,
    notifications,
    replies,
    reporting,
    reports,
    search,
    structures,
    territory,
    timeline,
)
from instance.web.blueprint import blueprint, lang_url

__all__ = [
    "accounts",
    "admin",
    "blueprint",
    "communities",
    "directory",
    "exchanges",
    "federation",
    "followers",
    "home",
    "lang_url",
    "listings",
    "messages",
    "notifications",
    "replies",
    "reporting",
    "reports",
    "search",
    "structures",
    "territory",
    "timeline",
]
