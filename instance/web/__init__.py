"""Server-rendered pages (Jinja2), French by default and English.

One module per area: ``home`` (home page), ``accounts`` (sign up, log in,
account, API tokens), ``structures`` (public pages), ``profiles`` (a
structure's profile edited by its people, its logo), ``followers`` (a
structure's follow requests and followers), ``listings`` (view, create,
edit, withdraw), ``my_listings`` (« Mes annonces »: renew, close, duplicate,
withdraw), ``search`` (filters and map), ``messages`` (direct
messages), ``notifications``, ``communities``, ``timeline`` (and following),
edit, withdraw), ``replies`` (answering under a listing), ``search``
(filters and map), ``messages`` (direct messages), ``notifications``,
``communities``, ``timeline`` (and following),
``admin`` (hub, approval queue), ``reports`` (reports, audit log),
``reporting`` (the « Report » form of the pages), ``team`` (a structure's people and
the invitation links), ``security`` (password change), ``two_factor`` (two-step login),
``federation`` (peerings, domain health and policy),
``mail_settings`` (a structure's choice of e-mail), ``password_reset``.
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
    leaving,
    listings,
    mail_settings,
    matches,
    messages,
    moving,
    my_listings,
    notifications,
    opendata_page,
    password_reset,
    profiles,
    replies,
    reporting,
    reports,
    search,
    security,
    structures,
    team,
    territory,
    timeline,
    two_factor,
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
    "leaving",
    "listings",
    "mail_settings",
    "matches",
    "messages",
    "moving",
    "my_listings",
    "notifications",
    "opendata_page",
    "password_reset",
    "profiles",
    "replies",
    "reporting",
    "reports",
    "search",
    "security",
    "structures",
    "team",
    "territory",
    "timeline",
    "two_factor",
]
