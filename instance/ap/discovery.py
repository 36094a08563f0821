"""WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

import re

from quart import Response, jsonify, request
from sqlalchemy import func, select

from actors.local import territory_actor
from domain.models import Listing, Structure
from federation.discovery import host_meta, jrd, nodeinfo, nodeinfo_links
from federation.models import Actor
from instance.ap.blueprint import blueprint
from instance.errors import ApiError
from instance.node import SOFTWARE, VERSION, current_node

RESOURCE_RE = re.compile(r"^(?:acct:)?@?([^@\s]+)@([^@\s]+)$")


def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/.well-known/webfinger")
async def webfinger() -> Response:
    """``acct:HANDLE@HOST`` (or an actor id) → JRD of the territory, a structure or a community."""
    node = current_node()
    resource = request.args.get("resource", "").strip()
    if not resource:
        raise ApiError(400, "the resource parameter is required")
    domain = node.settings.instance.domain.lower()
    async with node.db.read() as session:
        if resource.startswith(("http://", "https://")):
            query = select(Actor).where(Actor.uri == resource, Actor.local.is_(True))
        else:
            match = RESOURCE_RE.match(resource)
            host = match.group(2).lower() if match else ""
            # Mastodon strips the port from WebFinger resources; accept both forms.
            if not match or host not in {domain, domain.split(":")[0]}:
                raise ApiError(404, "no such account here")
            query = select(Actor).where(
                Actor.local.is_(True), func.lower(Actor.handle) == match.group(1).lower()
            )
        actor = (await session.execute(query)).scalar_one_or_none()
        if actor is None or actor.suspended_at is not None:
            raise ApiError(404, "no such account here")
        if actor.type == "Organization":
            visible = await session.scalar(
                select(Structure.is_visible).where(Structure.actor_id == actor.id)
            )
            if not visible:
                raise ApiError(404, "no such account here")
    body = jrd(f"acct:{actor.handle}@{domain}", actor.uri, actor.url)
    response = jsonify(body)
    response.content_type = "application/jrd+json"
    return _cors(response)


@blueprint.get("/.well-known/host-meta")
async def well_known_host_meta() -> Response:
    node = current_node()
    return _cors(Response(host_meta(node.settings.base_url), content_type="application/xrd+xml"))


@blueprint.get("/.well-known/nodeinfo")
async def well_known_nodeinfo() -> Response:
    return _cors(jsonify(nodeinfo_links(current_node().settings.base_url)))


@blueprint.get("/nodeinfo/2.1")
async def nodeinfo_21() -> Response:
    node = current_node()
    async with node.db.read() as session:
        territory = await territory_actor(session)
        structures = await session.scalar(
            select(func.count()).select_from(Structure).where(Structure.is_visible)
        )
        posts = await session.scalar(
            select(func.count()).select_from(Listing).where(Listing.local.is_(True))
        )
    body = nodeinfo(
        software=SOFTWARE,
        version=VERSION,
        open_registrations=True,
        users=int(structures or 0),
        local_posts=int(posts or 0),
        metadata={
            "territory": territory.uri,
            "nodeName": node.settings.instance.name,
            "federation": node.settings.federation.mode,
        },
    )
    response = jsonify(body)
    response.content_type = (
        'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'
    )
    return _cors(response)
