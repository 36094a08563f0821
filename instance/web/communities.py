"""Communities: the list, a community's feed, creating one, and what animators do.

* ``/communities`` — this node's communities, and those of other nodes that
  the person's structures follow.
* ``/communities/<handle>`` — a local community: its posts (pinned
  announcements first, each with the anchor ``#post-<id>`` that a post's id
  redirects to), a post form for member structures, a join button when it is
  open; its animators also pin, unpin and remove posts, remove members and
  admit followers (remote structures become members only this way).
* ``/communities/<name>@<host>`` — a community of another node that one of
  the person's structures follows: the posts received, and a post form
  (``outbox.communities.publish_remote``; its group decides).
* ``/communities/new`` — animators, moderators and administrators.

Every use case goes through ``instance.services.communities`` (which writes
membership changes and moderation to the audit log, as for the API); this
module shows its answers and refusals as pages.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from quart import Response, flash, render_template, request
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Person, Structure
from domain.social import Community, Post
from federation.models import Actor
from instance.errors import ApiError, NotFound
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import communities as groups
from instance.services import community_views as views
from instance.services.communities import ModerationAction, animates
from instance.web.blueprint import blueprint
from instance.web.common import (
    acting_structures,
    deny,
    load_viewer,
    redirect_to,
    require_person,
)
from instance.web.errors import api_message

MAX_LENGTH = groups.MAX_LENGTH


# --- the list ---------------------------------------------------------------------------


@blueprint.get("/communities")
async def communities() -> str:
    async with current_node().db.read() as session:
        person = await load_viewer(session)
        seen = await views.overview(session, person)
        structures = await acting_structures(session, person) if person else []
    return await render_template(
        "communities.html",
        local=seen.local,
        counts=seen.counts,
        remote=seen.remote,
        joined=seen.joined,
        structures=structures,
        may_create=person is not None and person.is_animator,
    )


# --- creating ---------------------------------------------------------------------------------


async def _animator(session: AsyncSession) -> Person:
    person = await require_person(session)
    if not person.is_animator:
        deny(403, _("Only network animators, moderators and administrators create communities."))
    return person


@blueprint.get("/communities/new")
async def new_community() -> str:
    async with current_node().db.read() as session:
        await _animator(session)
    return await render_template("community_form.html", values={}, errors={}, problem=None)


@blueprint.post("/communities/new")
async def new_community_post() -> Any:
    node = current_node()
    form = await request.form
    values = {k: form.get(k, "").strip() for k in ("handle", "name", "description")}
    values["handle"] = values["handle"].lower()
    try:
        async with node.transaction() as session:
            person = await _animator(session)
            community = await groups.create(session, node.settings, person, values)
            handle = community.handle
    except ApiError as exc:
        errors = {k: api_message(v) for k, v in (exc.fields or {}).items()}
        problem = None if errors else api_message(exc.message)
        page = await render_template(
            "community_form.html", values=values, errors=errors, problem=problem
        )
        return page, 409 if exc.status == 409 else 422
    await flash(_("The community is created. Invite structures to join it."), "success")
    return redirect_to(f"/communities/{handle}")


# --- a community of this node -------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityPage:
    """What ``community.html`` shows: a community of this node, or one followed elsewhere."""

    community: Community | None  # None for a community of another node
    remote: Actor | None  # its Group actor, for a community of another node
    posts: list[Post]
    members: list[Actor]
    member_ids: set[int]
    followers: list[Actor]  # who follows without being a member (animators see them)
    animator: bool
    posting: list[Structure]  # the person's structures that may post
    joinable: list[Structure]
    pending: list[Structure]  # the person's structures whose follow is not yet accepted

    def context(self) -> dict[str, Any]:
        """The template's variables (one per field)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


async def _page_data(
    session: AsyncSession, person: Person | None, community: Community
) -> CommunityPage:
    members = await views.members(session, community)
    member_ids = {m.id for m in members}
    structures = await acting_structures(session, person) if person else []
    is_animator = person is not None and animates(person, community)
    followers = await views.followers(session, community) if is_animator else []
    return CommunityPage(
        community=community,
        posts=await groups.posts(session, community.actor_id),
        members=members,
        member_ids=member_ids,
        followers=[f for f in followers if f.id not in member_ids],
        animator=is_animator,
        posting=[s for s in structures if s.actor_id in member_ids],
        joinable=[s for s in structures if s.actor_id not in member_ids],
        remote=None,
        pending=[],
    )


@blueprint.get("/communities/<handle>")
async def community_page(handle: str) -> str:
    if "@" in handle:
        return await _remote_page(handle)
    async with current_node().db.read() as session:
        person = await load_viewer(session)
        community = await _community(session, handle)
        data = await _page_data(session, person, community)
    return await render_template("community.html", values={}, error=None, **data.context())


async def _community(session: AsyncSession, handle: str) -> Community:
    try:
        return await groups.community_by_handle(session, handle)
    except NotFound:
        deny(404)


async def _own(session: AsyncSession, person: Person, handle: str) -> Structure:
    """The person's approved structure ``handle`` (403 otherwise)."""
    for structure in await acting_structures(session, person):
        if structure.handle == handle:
            return structure
    deny(403, _("You do not act for this structure."))


def _check_post(content: str) -> str | None:
    problem = groups.post_problem(content)
    if problem == "missing":
        return _("Write your post.")
    if problem == "too_long":
        return _("Your post is too long: at most %(max)d characters.", max=MAX_LENGTH)
    return None


@blueprint.post("/communities/<handle>/posts")
async def community_post(handle: str) -> Any:
    if "@" in handle:
        return await _remote_post(handle)
    node = current_node()
    form = await request.form
    content = form.get("content", "").strip()
    async with node.transaction() as session:
        person = await require_person(session)
        community = await _community(session, handle)
        structure = await _own(session, person, form.get("structure", ""))
        assert structure.actor is not None
        if not await groups.is_member(session, community, structure.actor):
            deny(403, _("Only the member structures of this community may post in it."))
        error = _check_post(content)
        if error:
            data = await _page_data(session, person, community)
            values = {"content": content, "structure": structure.handle}
            page = await render_template(
                "community.html", values=values, error=error, **data.context()
            )
            return page, 422
        post = await groups.post_local(session, node.settings, community, structure.actor, content)
        post_id = post.id
    await flash(_("Your post is published."), "success")
    return redirect_to(f"/communities/{handle}#post-{post_id}")


@blueprint.post("/communities/<handle>/join")
async def join(handle: str) -> Response:
    async with current_node().transaction() as session:
        person = await require_person(session)
        community = await _community(session, handle)
        structure = await _own(session, person, (await request.form).get("structure", ""))
        assert structure.actor is not None
        if not groups.may_admit(person, community, own=True):
            deny(403, _("This community is closed: its animators admit the members."))
        await groups.admit(session, person, community, structure.actor)
        name = structure.name
    await flash(_("%(name)s is now a member of the community.", name=name), "success")
    return redirect_to(f"/communities/{handle}")


@blueprint.post("/communities/<handle>/leave")
async def leave(handle: str) -> Response:
    async with current_node().transaction() as session:
        person = await require_person(session)
        community = await _community(session, handle)
        structure = await _own(session, person, (await request.form).get("structure", ""))
        assert structure.actor is not None
        await groups.dismiss(session, person, community, structure.actor)
        name = structure.name
    await flash(_("%(name)s left the community.", name=name), "success")
    return redirect_to(f"/communities/{handle}")


async def _animated(session: AsyncSession, handle: str) -> tuple[Person, Community]:
    person = await require_person(session)
    community = await _community(session, handle)
    if not animates(person, community):
        deny(403, _("Only the animators of this community may do this."))
    return person, community


@blueprint.post("/communities/<handle>/posts/<int:post_id>/<any(pin, unpin, remove):action>")
async def moderate_post(handle: str, post_id: int, action: ModerationAction) -> Response:
    node = current_node()
    async with node.transaction() as session:
        person, community = await _animated(session, handle)
        try:
            await groups.moderate_post(session, node.settings, person, community, post_id, action)
        except NotFound:
            deny(404)
    message = {
        "pin": _("The post is pinned as an announcement."),
        "unpin": _("The post is no longer pinned."),
        "remove": _("The post is removed from the community."),
    }[action]
    await flash(message, "success")
    anchor = "" if action == "remove" else f"#post-{post_id}"
    return redirect_to(f"/communities/{handle}{anchor}")


@blueprint.post("/communities/<handle>/members/<any(add, remove):action>")
async def change_member(handle: str, action: str) -> Response:
    """Animators admit a follower (or any approved local structure) or remove a member."""
    async with current_node().transaction() as session:
        person, community = await _animated(session, handle)
        actor = await groups.actor_by_uri(session, (await request.form).get("actor", ""))
        if actor is None:
            deny(404)
        if action == "add":
            # A local actor is admitted as the approved structure it is, or not at all
            # (a suspended structure may still follow; a community or the territory too).
            if not await groups.admissible(session, community, actor):
                deny(
                    422,
                    _(
                        "Only a follower of the community or a structure of this territory"
                        " can be admitted."
                    ),
                )
            await groups.admit(session, person, community, actor)
            message = _("%(name)s is admitted as a member.", name=actor.name or actor.handle)
        else:
            await groups.dismiss(session, person, community, actor)
            message = _("%(name)s is no longer a member.", name=actor.name or actor.handle)
    await flash(message, "success")
    return redirect_to(f"/communities/{handle}#members")


# --- a community of another node ------------------------------------------------------------------


async def _remote_group(session: AsyncSession, address: str) -> Actor:
    group = await views.remote_group(session, address)
    if group is None:
        deny(404)
    return group


async def _remote_data(session: AsyncSession, person: Person, group: Actor) -> CommunityPage:
    structures = await acting_structures(session, person)
    follows = await views.follow_states(session, group, [s.actor_id for s in structures])
    if not follows:
        # Only what the person's structures follow is shown as a community page.
        deny(404)
    return CommunityPage(
        community=None,
        remote=group,
        posts=await groups.posts(session, group.id),
        members=[],
        member_ids=set(),
        followers=[],
        animator=False,
        posting=[s for s in structures if follows.get(s.actor_id or 0) == "accepted"],
        joinable=[],
        pending=[s for s in structures if follows.get(s.actor_id or 0) == "pending"],
    )


async def _remote_page(address: str) -> str:
    async with current_node().db.session() as session:
        person = await require_person(session)
        group = await _remote_group(session, address)
        data = await _remote_data(session, person, group)
    return await render_template("community.html", values={}, error=None, **data.context())


async def _remote_post(address: str) -> Any:
    node = current_node()
    form = await request.form
    content = form.get("content", "").strip()
    async with node.transaction() as session:
        person = await require_person(session)
        group = await _remote_group(session, address)
        data = await _remote_data(session, person, group)
        structure = next((s for s in data.posting if s.handle == form.get("structure", "")), None)
        if structure is None or structure.actor is None:
            deny(403, _("Follow this community with your structure before posting in it."))
        error = _check_post(content)
        if error:
            values = {"content": content, "structure": structure.handle}
            page = await render_template(
                "community.html", values=values, error=error, **data.context()
            )
            return page, 422
        await groups.post_remote(session, node.settings, group, structure.actor, content)
    await flash(
        _("Your post is sent to the community; its animators decide who may post in it."),
        "success",
    )
    return redirect_to(f"/communities/{address}")
