"""``/api/v1/communities``: communities (``Group`` actors) led by animators, and their posts.

The use cases are ``instance.services.communities``; this module reads
requests and writes the JSON of INTERFACE.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_request, document_response

from domain.models import Person
from domain.people import HANDLE_RE
from domain.social import Community, Post
from domain.validation import FieldError, Invalid
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from instance.services import communities as groups
from instance.services.communities import animates_itself
from instance.services.structures import acting_structure


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
        community = await groups.create(session, node.settings, person, data)
        return community_json(community, person, 0), 201


@blueprint.get("/communities")
async def list_communities() -> dict[str, Any]:
    node = current_node()
    async with node.db.read() as session:
        viewer = await api_person(session, required=False)
        communities = await groups.all_communities(session)
        return {"items": [community_json(c, viewer) for c in communities]}


@blueprint.post("/communities/<handle>/members")
@document_request(MemberChange)
async def add_member(handle: str) -> tuple[dict[str, Any], int]:
    """Admit a member: animators admit anyone; a structure may join an open community itself."""
    node = current_node()
    data = await json_body()
    ref = data.get("actor")
    if not isinstance(ref, str) or not ref:
        raise Invalid({"actor": FieldError("is required")})
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        community = await groups.community_by_handle(session, handle)
        actor = await groups.admit_member(session, person, community, ref)
        return {"community": community.handle, "member": actor.uri}, 201


@blueprint.delete("/communities/<handle>/members")
async def remove_member(handle: str) -> tuple[str, int]:
    """Remove a member (``?actor=HANDLE or URL``); animators only."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        community = await groups.community_by_handle(session, handle)
        await groups.remove_member(session, person, community, request.args.get("actor", ""))
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
    problem = groups.post_problem(content)
    if problem is not None:
        message = "is required" if problem == "missing" else "is too long"
        raise Invalid({"content": FieldError(message)})
    assert isinstance(content, str)
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
            post = await groups.post_remote(session, node.settings, remote_group, author, content)
            return post_json(post), 202
        community = await groups.community_by_handle(session, handle)
        post = await groups.post_local(session, node.settings, community, author, content)
        return post_json(post), 201


@blueprint.get("/communities/<handle>/posts")
async def list_posts(handle: str) -> dict[str, Any]:
    node = current_node()
    async with node.db.read() as session:
        await api_person(session, required=False)
        community = await groups.community_by_handle(session, handle)
        return {"items": [post_json(p) for p in await groups.posts(session, community.actor_id)]}


@blueprint.post("/communities/<handle>/posts/<int:post_id>/<any(pin, unpin, remove):action>")
async def moderate_post(
    handle: str, post_id: int, action: groups.ModerationAction
) -> dict[str, Any]:
    """Animators pin an announcement, or remove a post (federates an Undo/Delete)."""
    node = current_node()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        community = await groups.community_by_handle(session, handle)
        post = await groups.moderate_post(
            session, node.settings, person, community, post_id, action
        )
        return post_json(post)
