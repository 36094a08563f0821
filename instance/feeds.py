"""Atom and RSS feeds of listings: the node's and each structure's.

Routes: ``/feeds/listings.atom`` (and ``.rss``), ``/@HANDLE/feed.atom`` (and ``.rss``).

Feeds accept the listing filters of the JSON API as query parameters
(``/feeds/listings.atom?category=vehicles&kind=offer``) and carry the newest
50 matching listings, local and remote (a structure's feed: its own). They
are made with feedgen, so they are well-formed Atom 1.0 and RSS 2.0.

A feed is a search anyone can ask for: it reads through the read-only
connections (on SQLite, never holding the writer's lock while it searches),
under the search time limit (422 ``query_too_expensive`` past it).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from feedgen.feed import FeedGenerator
from quart import Blueprint, Response, request
from sqlalchemy import select

from domain.categories import BY_ID
from domain.models import Listing, Structure
from domain.sanitize import plain_text
from instance.errors import ApiError
from instance.node import Node, current_node
from instance.search import SearchQuery, parse_query, search_listings

blueprint = Blueprint("feeds", __name__)
FEED_SIZE = 50
KIND_LABELS = {"offer": "Offre", "need": "Besoin"}


def _query(args: Mapping[str, str], **forced: str) -> SearchQuery:
    merged = {k: v for k, v in args.items() if k not in ("cursor", "limit")}
    merged.update(forced)
    query = parse_query(merged)
    query.limit = FEED_SIZE
    if query.sort == "relevance" and not query.q:
        query.sort = "recent"
    return query


def _limit(node: Node) -> float:
    return node.settings.listings.search_time_limit


def _feed(
    node: Node, title: str, self_url: str, page_url: str, listings: list[Listing], fmt: str
) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(plain_text(title))
    fg.subtitle(f"Offres et besoins — {node.settings.instance.name}")
    fg.link(href=page_url, rel="alternate")
    fg.link(href=self_url, rel="self")
    fg.language("fr")
    fg.generator("Entraide")
    for listing in listings:
        entry = fg.add_entry(order="append")
        entry.id(listing.ap_id)
        kind = KIND_LABELS.get(listing.kind, listing.kind)
        # Stored text may predate the filtering of control characters, which XML cannot
        # carry: one such character must not turn the whole feed into a 500.
        entry.title(plain_text(f"{kind} : {listing.title}"))
        entry.link(href=listing.url or listing.ap_id)
        entry.published(listing.published_at)
        entry.updated(listing.updated_at)
        entry.author(
            {
                "name": plain_text(listing.author.name or listing.author.handle or ""),
                "uri": listing.author.uri,
            }
        )
        category = BY_ID.get(listing.category)
        if category:
            entry.category(term=category.id, label=category.label_fr)
        place = f" — {listing.commune}" if listing.commune else ""
        text = plain_text(f"{listing.description}{place} ({listing.origin})")
        # RSS <description> is HTML that readers render: our text must be escaped into
        # it (Atom says type="text" instead).
        entry.description(html.escape(text) if fmt == "rss" else text)
    return fg


def _respond(fg: FeedGenerator, fmt: str) -> Response:
    if fmt == "rss":
        return Response(fg.rss_str(pretty=True), content_type="application/rss+xml; charset=utf-8")
    return Response(fg.atom_str(pretty=True), content_type="application/atom+xml; charset=utf-8")


@blueprint.get("/feeds/listings.<any(atom, rss):fmt>")
async def node_feed(fmt: str) -> Response:
    node = current_node()
    query = _query(request.args)
    async with node.db.read() as session:
        page = await search_listings(session, node.db.dialect, query, time_limit=_limit(node))
    base = node.settings.base_url
    fg = _feed(
        node,
        f"Annonces — {node.settings.instance.name}",
        f"{base}/feeds/listings.{fmt}",
        f"{base}/search",
        [hit.listing for hit in page.items],
        fmt,
    )
    return _respond(fg, fmt)


@blueprint.get("/@<handle>/feed.<any(atom, rss):fmt>")
async def structure_feed(handle: str, fmt: str) -> Response:
    node = current_node()
    async with node.db.read() as session:
        structure = (
            await session.execute(select(Structure).where(Structure.handle == handle))
        ).scalar_one_or_none()
        if structure is None or not structure.is_visible:
            raise ApiError(404, "no such structure")
        query = _query(request.args, structure=handle)
        page = await search_listings(session, node.db.dialect, query, time_limit=_limit(node))
        name = structure.name
    base = node.settings.base_url
    fg = _feed(
        node,
        f"Annonces — {name}",
        f"{base}/@{handle}/feed.{fmt}",
        f"{base}/@{handle}",
        [hit.listing for hit in page.items],
        fmt,
    )
    return _respond(fg, fmt)
