"""``/api/v1/reports`` and the moderators' actions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart_schema import document_request

from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.auth import api_person
from instance.errors import ApiError
from instance.node import current_node
from instance.services import listings, moderation, reports
from instance.services import replies as replying
from instance.services.structures import acting_structure, structure_by_handle


class ReportCreate(BaseModel):
    actor: str = Field(description="Handle of the reporting local structure")
    target: str = Field(description="URL of the reported actor or object")
    reason: str


class ModerationAction(BaseModel):
    reason: str = ""


@blueprint.post("/reports")
@document_request(ReportCreate)
async def create_report() -> tuple[dict[str, Any], int]:
    """Report an actor or object: reaches our moderators, and its node as a Flag."""
    node = current_node()
    data = await json_body()
    target, reason = data.get("target"), data.get("reason")
    errors = {}
    if not isinstance(target, str) or not target.strip():
        errors["target"] = "is required"
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = "is required"
    if errors:
        raise ApiError(422, "some fields are invalid", fields=errors)
    assert isinstance(target, str) and isinstance(reason, str)
    async with node.db.session() as session:
        person = await api_person(session)
        assert person is not None
        structure = await acting_structure(session, person, data.get("actor"))
        reporter = structure.actor
        assert reporter is not None
    report = await moderation.create_report(node, person, reporter, target.strip(), reason)
    async with node.db.session() as session:
        fresh = await reports.report_by_id(session, report.id)
        assert fresh is not None
        return moderation.report_json(fresh), 201


@blueprint.get("/reports")
async def list_reports() -> dict[str, Any]:
    """Open reports, made here and received from other nodes (moderators only)."""
    node = current_node()
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        rows = await reports.open_reports(session)
        return {"items": [moderation.report_json(r) for r in rows]}


@blueprint.post("/reports/<int:report_id>/resolve")
async def resolve_report(report_id: int) -> dict[str, Any]:
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        report = await reports.report_by_id(session, report_id)
        if report is None:
            raise ApiError(404, "no such report")
        await moderation.resolve_report(session, person, report, str(data.get("note", "")))
        return moderation.report_json(report)


@blueprint.post("/moderation/listings/<int:listing_id>/hide")
@document_request(ModerationAction)
async def hide_listing(listing_id: int) -> dict[str, Any]:
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        listing = await listings.listing_by_id(session, listing_id)
        if listing is None:
            raise ApiError(404, "no such listing")
        await moderation.hide_listing(session, node, person, listing, str(data.get("reason", "")))
        return {"listing": listing.id, "hidden": True}


@blueprint.post("/moderation/posts/<int:post_id>/hide")
async def hide_post(post_id: int) -> dict[str, Any]:
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        post = await reports.post_by_id(session, post_id)
        if post is None:
            raise ApiError(404, "no such post")
        await moderation.hide_post(session, person, post, str(data.get("reason", "")))
        return {"post": post.id, "hidden": True}


@blueprint.post("/moderation/replies/<int:reply_id>/hide")
async def hide_reply(reply_id: int) -> dict[str, Any]:
    """Hide a public reply under a listing (moderators)."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        reply = await replying.reply_by_id(session, reply_id)
        if reply is None:
            raise ApiError(404, "no such reply")
        await moderation.hide_reply(session, person, reply, str(data.get("reason", "")))
        return {"reply": reply.id, "hidden": True}


@blueprint.post("/moderation/structures/<handle>/<any(suspend, unsuspend):action>")
async def suspend_structure(handle: str, action: str) -> dict[str, Any]:
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        structure = await structure_by_handle(session, handle)
        if structure is None:
            raise ApiError(404, "no such structure")
        if action == "suspend":
            await moderation.suspend_structure(
                session, node, person, structure, str(data.get("reason", ""))
            )
        else:
            await moderation.unsuspend_structure(session, person, structure)
        return {"structure": handle, "status": structure.status}


@blueprint.post("/moderation/actors")
async def moderate_actor() -> dict[str, Any]:
    """Silence, block or clear a remote actor: ``{"actor": URL, "level": "silenced"}``."""
    node = current_node()
    data = await json_body()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        actor = await reports.actor_by_uri(session, str(data.get("actor", "")))
        if actor is None:
            raise ApiError(404, "unknown actor")
        await moderation.moderate_actor(
            session, person, actor, str(data.get("level", "")), str(data.get("reason", ""))
        )
        return {"actor": actor.uri, "level": actor.moderation}


@blueprint.post("/moderation/domains")
async def moderate_domain() -> dict[str, Any]:
    """Silence, block or clear a domain: ``{"domain": HOST, "policy": "block"}``.

    Moderators may only make a policy stricter (``silence``, ``block``); allowing a
    domain or lifting its policy is for administrators (``moderation.moderate_domain``).
    """
    node = current_node()
    data = await json_body()
    domain = str(data.get("domain", "")).strip().lower()
    async with node.transaction() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        if not domain or "/" in domain:
            raise ApiError(
                422, "some fields are invalid", fields={"domain": "expected HOST[:PORT]"}
            )
        if domain == node.settings.instance.domain.lower():
            raise ApiError(422, "some fields are invalid", fields={"domain": "is this node's"})
        await moderation.moderate_domain(
            session, person, domain, str(data.get("policy", "")), str(data.get("reason", ""))
        )
        return {"domain": domain, "policy": data.get("policy", "")}


@blueprint.get("/moderation/audit")
async def audit_log() -> dict[str, Any]:
    node = current_node()
    async with node.db.read() as session:
        person = await api_person(session)
        assert person is not None
        moderation.require_moderator(person)
        entries = await reports.audit_entries(session, 500)
        return {
            "items": [
                {
                    "id": e.id,
                    "person": e.person.email if e.person else None,
                    "action": e.action,
                    "target": e.target,
                    "detail": e.detail,
                    "at": e.created_at.isoformat(),
                }
                for e in entries
            ]
        }
