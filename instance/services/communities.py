"""Communities (``Group`` actors) led by animators, their members and their posts.

What a person can do, for the JSON API (``instance.api.communities``) and the
pages (``instance.web.communities``) alike:

* :func:`create` — animators, moderators and administrators create one;
* :func:`admit_member` / :func:`remove_member` — animators admit and remove
  members; a structure joins an open community itself (:func:`may_admit`);
* :func:`post_local` / :func:`post_remote` — a member structure posts (in a
  community of another node: a structure that follows it, the group decides);
* :func:`moderate_post` — animators pin, unpin or remove a post.

Membership changes and moderation are written to the audit log. The activities
are built and addressed by ``outbox.communities``; what the community pages
show besides is ``instance.services.community_views``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.local import create_community_actor
from config.settings import Settings
from domain.models import Person, Structure
from domain.people import HANDLE_RE, RESERVED_HANDLES, can_act_for, find_person
from domain.social import Community, CommunityAnimator, CommunityMember, Post
from domain.validation import FieldError, Invalid
from domain.visibility import post_shown
from federation.models import Actor, Follow
from instance.errors import ApiError, Forbidden, NotFound
from instance.services.moderation import audit
from outbox import communities as community_activities

MAX_LENGTH = community_activities.MAX_LENGTH
PostProblem = Literal["missing", "too_long"]
ModerationAction = Literal["pin", "unpin", "remove"]


def animates_itself(person: Person | None, community: Community) -> bool:
    """Whether ``person`` is one of the community's own animators (not by role)."""
    return person is not None and any(a.person_id == person.id for a in community.animators)


def animates(person: Person, community: Community) -> bool:
    """Whether ``person`` may animate ``community``: its animators, and moderators (who
    moderate every community of the node; this is no membership of a structure)."""
    return person.is_moderator or animates_itself(person, community)


def may_admit(person: Person, community: Community, *, own: bool) -> bool:
    """Whether ``person`` may make an actor a member: animators admit anyone; the
    people of a structure (``own``) join an open community with it."""
    return animates(person, community) or (own and community.open)


def post_problem(content: object) -> PostProblem | None:
    """Why ``content`` cannot be a post (blank, or longer than :data:`MAX_LENGTH`)."""
    if not isinstance(content, str) or not content.strip():
        return "missing"
    if len(content) > MAX_LENGTH:
        return "too_long"
    return None


def _check_post(content: str) -> None:
    problem = post_problem(content)
    if problem == "missing":
        raise Invalid({"content": FieldError("is required")})
    if problem == "too_long":
        raise Invalid({"content": FieldError("is too long")})


# --- creating -------------------------------------------------------------------------------


async def create(
    session: AsyncSession, settings: Settings, creator: Person, data: Mapping[str, Any]
) -> Community:
    """A new community with its Group actor; the creator (and ``animator``) animate it."""
    if not creator.is_animator:
        raise ApiError(403, "only animators, moderators and administrators create communities")
    handle, name = data.get("handle"), data.get("name")
    errors = {}
    if not isinstance(handle, str) or not re.fullmatch(HANDLE_RE, handle):
        errors["handle"] = "must be 2-64 lower-case letters, digits or _"
    elif handle in RESERVED_HANDLES or handle == settings.instance.handle:
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
        session, settings, handle=handle, name=name.strip(), summary=description
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


# --- reading --------------------------------------------------------------------------------


async def all_communities(session: AsyncSession) -> list[Community]:
    """This node's communities, by name."""
    rows = await session.execute(select(Community).order_by(Community.name))
    return list(rows.scalars().unique())


async def community_by_handle(session: AsyncSession, handle: str) -> Community:
    community = await session.scalar(select(Community).where(Community.handle == handle))
    if community is None:
        raise NotFound("no such community")
    return community


async def posts(session: AsyncSession, group_id: int, limit: int = 100) -> list[Post]:
    """Visible posts of a community, pinned ones first, then newest first."""
    rows = await session.execute(
        select(Post)
        .where(Post.group_id == group_id, post_shown())
        .order_by(Post.pinned.desc(), Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return list(rows.scalars().unique())


async def is_member(session: AsyncSession, community: Community, actor: Actor) -> bool:
    return await session.get(CommunityMember, (community.id, actor.id)) is not None


# --- members --------------------------------------------------------------------------------


async def admit(session: AsyncSession, person: Person, community: Community, actor: Actor) -> bool:
    """Make ``actor`` a member (audited); False when it already was one."""
    if await is_member(session, community, actor):
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


async def _approved_structure(session: AsyncSession, actor: Actor) -> bool:
    status = await session.scalar(select(Structure.status).where(Structure.actor_id == actor.id))
    return status == "approved" and actor.suspended_at is None


async def actor_by_uri(session: AsyncSession, uri: str) -> Actor | None:
    return await session.scalar(select(Actor).where(Actor.uri == uri))


async def resolve_member(session: AsyncSession, ref: str, *, admitting: bool = True) -> Actor:
    """The actor ``ref`` names: a remote actor we know, or a local structure's.

    To admit, a local one must be an approved structure, by handle or by URL alike
    (not a suspended structure, a community, the territory); any member may be removed.
    """
    if ref.startswith(("http://", "https://")):
        actor = await actor_by_uri(session, ref)
        if actor is None:
            raise Invalid(
                {"actor": FieldError("unknown actor: it must follow the community first")}
            )
        if admitting and actor.local and not await _approved_structure(session, actor):
            raise Invalid({"actor": FieldError("unknown structure")})
        return actor
    structure = await session.scalar(select(Structure).where(Structure.handle == ref))
    if structure is None or structure.actor is None:
        raise Invalid({"actor": FieldError("unknown structure")})
    if admitting and not await _approved_structure(session, structure.actor):
        raise Invalid({"actor": FieldError("unknown structure")})
    return structure.actor


async def admit_member(
    session: AsyncSession, person: Person, community: Community, ref: str
) -> Actor:
    """Admit the actor ``ref`` names (animators), or join with one's own structure
    (an open community)."""
    actor = await resolve_member(session, ref)
    own = actor.local and any(
        can_act_for(person, s)
        for s in (
            await session.execute(select(Structure).where(Structure.actor_id == actor.id))
        ).scalars()
    )
    if not may_admit(person, community, own=own):
        raise Forbidden("only the community's animators admit members")
    await admit(session, person, community, actor)
    return actor


async def remove_member(
    session: AsyncSession, person: Person, community: Community, ref: str
) -> Actor:
    """End the membership of the actor ``ref`` names (animators only)."""
    if not animates(person, community):
        raise Forbidden("only the community's animators remove members")
    actor = await resolve_member(session, ref, admitting=False)
    if not await dismiss(session, person, community, actor):
        raise NotFound("not a member")
    return actor


async def admissible(session: AsyncSession, community: Community, actor: Actor) -> bool:
    """Whether animators may admit ``actor`` from the community's page: a remote
    follower of it, or a local actor that is an approved structure (a suspended
    structure may still follow; a community or the territory too)."""
    if actor.local:
        return bool(
            await session.scalar(
                select(Structure.id).where(
                    Structure.actor_id == actor.id, Structure.status == "approved"
                )
            )
        )
    return await _follows(session, actor, community.actor_id)


async def _follows(session: AsyncSession, follower: Actor, group_id: int) -> bool:
    return bool(
        await session.scalar(
            select(Follow.id).where(
                Follow.follower_id == follower.id,
                Follow.followed_id == group_id,
                Follow.state == "accepted",
            )
        )
    )


# --- posts ----------------------------------------------------------------------------------


async def post_local(
    session: AsyncSession, settings: Settings, community: Community, author: Actor, content: str
) -> Post:
    """A member structure posts in a community of this node; its group announces it."""
    if not await is_member(session, community, author):
        raise Forbidden("only members of the community may post in it")
    _check_post(content)
    return await community_activities.publish_local(
        session, settings, community, author, content.strip()
    )


async def post_remote(
    session: AsyncSession, settings: Settings, group: Actor, author: Actor, content: str
) -> Post:
    """A structure that follows a community of another node posts in it (sent to its
    group, which announces it if the structure is a member)."""
    group = await session.merge(group)  # it may come from a lookup outside this session
    if not await _follows(session, author, group.id):
        raise Forbidden("follow this community before posting in it")
    _check_post(content)
    post = await community_activities.publish_remote(
        session, settings, group, author, content.strip()
    )
    post.group = group  # loaded: the post is shown after this session's lookups end
    return post


async def moderate_post(
    session: AsyncSession,
    settings: Settings,
    person: Person,
    community: Community,
    post_id: int,
    action: ModerationAction,
) -> Post:
    """Animators pin an announcement, unpin it, or remove a post (federates an Undo/Delete)."""
    if not animates(person, community):
        raise Forbidden("only the community's animators moderate posts")
    post = await session.get(Post, post_id)
    if post is None or post.group_id != community.actor_id:
        raise NotFound("no such post in this community")
    if action == "remove":
        await community_activities.remove(session, settings, post)
    else:
        post.pinned = action == "pin"
    audit(session, person, f"post.{action}", post.ap_id, community.handle)
    return post
