"""``/api/v1/communities``: communities (``Group`` actors) led by animators, and their posts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart_schema import document_request, document_response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import create_community_actor
from domain.models import Person, Structure
from domain.people import HANDLE_RE, RESERVED_HANDLES, can_act_for, find_person
from domain.social import Community, CommunityAnimator, CommunityMember, Post
from domain.visibility import post_shown
from federation.models import Actor, Follow
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.api.follows import acting_structure
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import Node, current_node
from instance.services.moderation import audit
from outbox import communities as community_activities


class CommunityCreate(BaseModel):
    handle: str = Field(pattern=HANDLE_RE)
    name: str
    description: str = ""
    animator: str | None = Field(default=None, description="E-mail of a person to animate it")


class PostCreate(BaseModel):
    from_: str = Field(alias="from", description="Handle of the posting local structure")
    content: str = Field(max_length=10_000)


class MemberChange(BaseModel):
    actor: str = Field(description="A local structure's handle, or a remote actor's id")


class CommunityOut(BaseModel):
    handle: str
    name: str
    description: str
    actor: str = Field(description="ActivityPub id of the community's Group actor")
    open: bool
    animator_names: list[str] = Field(description="Names of its animators (those who gave one)")
    animators: list[str] | None = Field(
        description="E-mails of its animators — their logins: shown to its own animators and"
        " to administrators only, null for everyone else"
    )
    members: int | None


def animates_itself(person: Person | None, community: Community) -> bool:
    """Whether ``person`` is one of the community's own animators (not by role)."""
    return person is not None and any(a.person_id == person.id for a in community.animators)


def community_json(
    community: Community, viewer: Person | None, members: int | None = None
) -> dict[str, Any]:
    """A community as the API shows it to ``viewer``.

    An animator's e-mail address is their login: anonymous readers and the other
    people of the node get the names the animators gave, as on the community's page;
    the addresses go to the community's own animators and to administrators.
    """
    people = [a.person for a in community.animators]
    private = viewer is not None and (viewer.is_admin or animates_itself(viewer, community))
    return {
        "handle": community.handle,
        "name": community.name,
        "description": community.description,
        "actor": community.actor.uri,
        "open": community.open,
        "animator_names": [p.display_name for p in people if p.display_name],
        "animators": [p.email for p in people] if private else None,
        "members": members,
    }


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "ap_id": post.ap_id,
        "community": post.group.uri,
        "author": post.author.uri,
        "author_name": post.author.name or post.author.handle,
        "content": post.content_text,
        "content_html": post.content_html,
        "pinned": post.pinned,
        "published": post.published_at.isoformat(),
    }


async def create(
    session: AsyncSession, node: Node, creator: Person, data: dict[str, Any]
) -> Community:
    """A new community with its Group actor; the creator (and ``animator``) animate it."""
    if not creator.is_animator:
        raise ApiError(403, "only animators, moderators and administrators create communities")
    import re

    handle, name = data.get("handle"), data.get("name")
    errors = {}
    if not isinstance(handle, str) or not re.fullmatch(HANDLE_RE, handle):
        errors["handle"] = "must be 2-64 lower-case letters, digits or _"
    elif handle in RESERVED_HANDLES or handle == node.settings.instance.handle:
        errors["handle"] = "is reserved"
    if not isinstance(name, str) or not 2 <= len(name.strip()) <= 200:
        errors["name"] = "must be 2-200 characters"
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 5000:
        errors["description"] = "must be text of at most 5000 characters"
    if errors:
        raise ApiError(422, "some fields are invalid", fields=errors)
    assert isinstance(handle, str) and isinstance(name, str)
    taken = await session.scalar(
        select(Actor.id).where(Actor.local.is_(True), Actor.handle == handle)
    )
    taken = taken or await session.scalar(select(Structure.id).where(Structure.handle == handle))
    if taken:
        raise ApiError(409, "this handle is already taken")
    animators = [creator]
    if data.get("animator"):
        # Naming a person by e-mail would tell whoever tries whether that address has an
        # account: administrators (who see people anyway) only, refused before looking.
        if not creator.is_admin:
            raise ApiError(403, "only administrators give a community to another animator")
        other = await find_person(session, str(data["animator"]))
        if other is None:
            raise ApiError(422, "some fields are invalid", fields={"animator": "unknown person"})
        animators.append(other)
    actor = await create_community_actor(
        session, node.settings, handle=handle, name=name.strip(), summary=description
    )
    community = Community(
        actor_id=actor.id,
        handle=handle,
        name=name.strip(),
        description=description,
        created_by_id=creator.id,
    )
    community.actor = actor
    for person in {p.id: p for p in animators}.values():
        community.animators.append(CommunityAnimator(person_id=person.id, person=person))
    session.add(community)
    await session.flush()
    audit(session, creator, "community.create", actor.uri)
    return community


async def community_by_handle(session: AsyncSession, handle: str) -> Community:
    community = (
        await session.execute(select(Community).where(Community.handle == handle))
    ).scalar_one_or_none()
    if community is None:
        raise ApiError(404, "no such community")
    return community


async def admit(session: AsyncSession, person: Person, community: Community, actor: Actor) -> bool:
    """Make ``actor`` a member (audited); False when it already was one."""
    if await session.get(CommunityMember, (community.id, actor.id)) is not None:
        return False
    session.add(CommunityMember(community_id=community.id, actor_id=actor.id))
    audit(session, person, "community.member.add", actor.uri, community.handle)
    return True


async def dismiss(
    session: AsyncSession, person: Person, community: Community, actor: Actor
) -> bool:
    """End ``actor``'s membership (audited); False when it was not a member."""
    member = await session.get(CommunityMember, (community.id, actor.id))
    if member is None:
        return False
    await session.delete(member)
    audit(session, person, "community.member.remove", actor.uri, community.handle)
    return True


def animates(person: Person, community: Community) -> bool:
    """Whether ``person`` may animate ``community``: its animators, and moderators (who
    moderate every community of the node; this is no membership of a structure)."""
    return person.is_moderator or animates_itself(person, community)


@blueprint.post("/communities")
@document_request(CommunityCreate)
@document_response(CommunityOut, 201)
async def create_community() -> tuple[dict[str, Any], int]:
    """Create a community (animators, moderators, admins)."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        community = await create(session, node, person, data)
        return community_json(community, person, 0), 201


@blueprint.get("/communities")
async def list_communities() -> dict[str, Any]:
    node = current_node()
    async with node.db.session() as session:
        viewer = await api_person(session, required=False)
        rows = await session.execute(select(Community).order_by(Community.name))
        return {"items": [community_json(c, viewer) for c in rows.scalars().unique()]}


async def _resolve_member(
    session: AsyncSession, node: Node, ref: str, *, admitting: bool = True
) -> Actor:
    """The actor ``ref`` names: a remote actor we know, or a local structure's.

    To admit, a local one must be an approved structure, by handle or by URL alike
    (not a suspended structure, a community, the territory); any member may be removed.
    """
    if ref.startswith(("http://", "https://")):
        actor = (await session.execute(select(Actor).where(Actor.uri == ref))).scalar_one_or_none()
        if actor is None:
            raise ApiError(
                422,
                "some fields are invalid",
                fields={"actor": "unknown actor: it must follow the community first"},
            )
        if admitting and actor.local and not await _approved_structure(session, actor):
            raise ApiError(422, "some fields are invalid", fields={"actor": "unknown structure"})
        return actor
    structure = (
        await session.execute(select(Structure).where(Structure.handle == ref))
    ).scalar_one_or_none()
    if structure is None or structure.actor is None:
        raise ApiError(422, "some fields are invalid", fields={"actor": "unknown structure"})
    if admitting and not await _approved_structure(session, structure.actor):
        raise ApiError(422, "some fields are invalid", fields={"actor": "unknown structure"})
    return structure.actor


async def _approved_structure(session: AsyncSession, actor: Actor) -> bool:
    visible = await session.scalar(
        select(Structure.is_visible).where(Structure.actor_id == actor.id)
    )
    return bool(visible) and actor.suspended_at is None


@blueprint.post("/communities/<handle>/members")
@document_request(MemberChange)
async def add_member(handle: str) -> tuple[dict[str, Any], int]:
    """Admit a member: animators admit anyone; a structure may join an open community itself."""
    node = current_node()
    data = await json_body()
    ref = data.get("actor")
    if not isinstance(ref, str) or not ref:
        raise ApiError(422, "some fields are invalid", fields={"actor": "is required"})
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        community = await community_by_handle(session, handle)
        actor = await _resolve_member(session, node, ref)
        own = actor.local and any(
            can_act_for(person, s)
            for s in (
                await session.execute(select(Structure).where(Structure.actor_id == actor.id))
            ).scalars()
        )
        if not (animates(person, community) or (own and community.open)):
            raise ApiError(403, "only the community's animators admit members")
        await admit(session, person, community, actor)
        return {"community": community.handle, "member": actor.uri}, 201


@blueprint.delete("/communities/<handle>/members")
async def remove_member(handle: str) -> tuple[str, int]:
    """Remove a member (``?actor=HANDLE or URL``); animators only."""
    from quart import request

    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        community = await community_by_handle(session, handle)
        if not animates(person, community):
            raise ApiError(403, "only the community's animators remove members")
        ref = request.args.get("actor", "")
        actor = await _resolve_member(session, node, ref, admitting=False)
        if not await dismiss(session, person, community, actor):
            raise ApiError(404, "not a member")
    return "", 204


@blueprint.post("/communities/<handle>/posts")
@document_request(PostCreate)
async def create_post(handle: str) -> tuple[dict[str, Any], int]:
    """A post by a member structure; the Group announces it to its followers.

    ``handle`` may also name another node's community (``name@host``): the post
    is then sent to that Group, which announces it if the structure is a member.
    """
    node = current_node()
    data = await json_body()
    content = data.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ApiError(422, "some fields are invalid", fields={"content": "is required"})
    if len(content) > community_activities.MAX_LENGTH:
        raise ApiError(422, "some fields are invalid", fields={"content": "is too long"})
    # Who asks, and for which structure, before anything else: the remote community is
    # looked up (WebFinger, then a fetch) only for a member of the posting structure.
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        sender = (await acting_structure(session, person, data.get("from"))).handle
    remote_group = None
    if "@" in handle:
        remote_group = await node.remote.resolve(handle)
        if remote_group.type != "Group":
            raise ApiError(422, "this actor is not a community")
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, sender)
        author = structure.actor
        assert author is not None
        if remote_group is not None:
            group = await session.merge(remote_group)
            follows = await session.scalar(
                select(Follow.id).where(
                    Follow.follower_id == author.id,
                    Follow.followed_id == group.id,
                    Follow.state == "accepted",
                )
            )
            if not follows:
                raise ApiError(403, "follow this community before posting in it")
            post = await community_activities.publish_remote(
                session, node.settings, group, author, content.strip()
            )
            return post_json(post), 202
        community = await community_by_handle(session, handle)
        if await session.get(CommunityMember, (community.id, author.id)) is None:
            raise ApiError(403, "only members of the community may post in it")
        post = await community_activities.publish_local(
            session, node.settings, community, author, content.strip()
        )
        return post_json(post), 201


@blueprint.get("/communities/<handle>/posts")
async def list_posts(handle: str) -> dict[str, Any]:
    node = current_node()
    async with node.db.session() as session:
        await api_person(session, required=False)
        community = await community_by_handle(session, handle)
        rows = await session.execute(
            select(Post)
            .where(Post.group_id == community.actor_id, post_shown())
            .order_by(Post.pinned.desc(), Post.published_at.desc())
            .limit(100)
        )
        return {"items": [post_json(p) for p in rows.scalars().unique()]}


@blueprint.post("/communities/<handle>/posts/<int:post_id>/<any(pin, unpin, remove):action>")
async def moderate_post(handle: str, post_id: int, action: str) -> dict[str, Any]:
    """Animators pin an announcement, or remove a post (federates an Undo/Delete)."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        community = await community_by_handle(session, handle)
        if not animates(person, community):
            raise ApiError(403, "only the community's animators moderate posts")
        post = await session.get(Post, post_id)
        if post is None or post.group_id != community.actor_id:
            raise ApiError(404, "no such post in this community")
        if action == "remove":
            await community_activities.remove(session, node.settings, post)
        else:
            post.pinned = action == "pin"
        audit(session, person, f"post.{action}", post.ap_id, community.handle)
        return post_json(post)
