"""Actor documents and their collections (outbox, followers, following)."""

from __future__ import annotations

from typing import Any

from quart import current_app, redirect, request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Structure
from domain.visibility import activity_shown
from federation.models import Activity, Actor, Follow
from instance.ap.blueprint import ap_response, blueprint
from instance.ap.paging import page_document, read_cursor
from instance.errors import ApiError
from instance.negotiation import wants_activity_json
from instance.node import current_node
from outbox.to_ap import tombstone
from outbox.to_ap.actors import actor_document, ordered_collection

PAGE_SIZE = 50


async def local_actor(session: AsyncSession, handle: str) -> tuple[Actor, Structure | None]:
    """A visible local actor by handle (404 otherwise; 410 when suspended or deleted)."""
    result = await session.execute(
        select(Actor).where(Actor.local.is_(True), Actor.handle == handle)
    )
    actor = result.scalar_one_or_none()
    if actor is None:
        raise ApiError(404, "no such actor")
    if actor.deleted_at is not None:
        raise ApiError(410, "this actor has been deleted", code="gone")
    structure = None
    if actor.type == "Organization":
        found = await session.execute(select(Structure).where(Structure.actor_id == actor.id))
        structure = found.scalar_one_or_none()
        if structure is None or structure.status not in ("approved", "suspended"):
            raise ApiError(404, "no such actor")
    if actor.suspended_at is not None or (structure and structure.status == "suspended"):
        raise ApiError(410, "this actor has been suspended", code="gone")
    return actor, structure


async def render_page(path: str) -> Any:
    """The web UI's answer for ``path`` (the HTML side of content negotiation)."""
    adapter = current_app.create_url_adapter(request)
    assert adapter is not None
    endpoint, args = adapter.match(path, method="GET")
    view = current_app.view_functions[endpoint]
    return await current_app.ensure_async(view)(**args)


@blueprint.get("/actors/<handle>")
async def actor(handle: str) -> Any:
    node = current_node()
    async with node.db.read() as session:
        try:
            found, structure = await local_actor(session, handle)
        except ApiError as exc:
            if exc.status == 410 and wants_activity_json():
                uri = node.urls.actor(handle)
                return ap_response(tombstone(uri, "Organization"), 410)
            raise
        if wants_activity_json():
            return ap_response(actor_document(found, node.settings, structure))
    # The page is rendered once this session is closed: the view opens its own, and on
    # SQLite (every transaction BEGIN IMMEDIATE) it would wait on ours for busy_timeout.
    if found.is_territory:
        return redirect("/")
    return await render_page(f"/@{handle}")


def _follow_rows(actor: Actor, *, followers: bool) -> tuple[Any, tuple[Any, ...]]:
    me = Follow.followed_id if followers else Follow.follower_id
    other = Follow.follower_id if followers else Follow.followed_id
    condition = (me == actor.id, Follow.state == "accepted")
    return select(Follow.id, Actor.uri).join(Follow, other == Actor.id).where(*condition), condition


async def _follow_collection(handle: str, *, followers: bool) -> Any:
    node = current_node()
    cursor = read_cursor()
    async with node.db.read() as session:
        found, _ = await local_actor(session, handle)
        uri = node.urls.followers(handle) if followers else node.urls.following(handle)
        rows, condition = _follow_rows(found, followers=followers)
        if cursor is None:
            total = await session.scalar(select(func.count()).select_from(Follow).where(*condition))
            return ap_response(ordered_collection(uri, int(total or 0), first=f"{uri}?page=1"))
        page = await page_document(session, rows, Follow.id, uri, cursor, PAGE_SIZE)
    return ap_response(page)


@blueprint.get("/actors/<handle>/followers")
async def followers(handle: str) -> Any:
    return await _follow_collection(handle, followers=True)


@blueprint.get("/actors/<handle>/following")
async def following(handle: str) -> Any:
    return await _follow_collection(handle, followers=False)


@blueprint.get("/actors/<handle>/outbox")
async def outbox(handle: str) -> Any:
    """The actor's public activities, newest first, without those of content taken down
    (``domain.visibility.activity_shown``)."""
    node = current_node()
    cursor = read_cursor()
    uri = node.urls.outbox(handle)
    async with node.db.read() as session:
        found, _ = await local_actor(session, handle)
        condition = (Activity.actor_id == found.id, Activity.public.is_(True), activity_shown())
        if cursor is None:
            total = await session.scalar(
                select(func.count()).select_from(Activity).where(*condition)
            )
            return ap_response(ordered_collection(uri, int(total or 0), first=f"{uri}?page=1"))
        rows = select(Activity.id, Activity.body).where(*condition)
        page = await page_document(session, rows, Activity.id, uri, cursor, PAGE_SIZE)
    return ap_response(page)
