"""``GET`` and ``PUT /api/v1/notifications/email``: how one of your structures receives
its notifications by e-mail — ``now`` (at once, the default), ``digest`` (once a day) or
``never`` (``instance.services.mail_notifications``; the page is
``/@HANDLE/notifications/settings``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import request
from quart_schema import document_querystring, document_request, document_response

from domain.validation import FieldError, Invalid
from instance.api.blueprint import blueprint
from instance.api.body import json_body
from instance.auth import api_person
from instance.node import current_node
from instance.services import mail_notifications
from instance.services import notifications as notices


class MailChoiceQuery(BaseModel):
    actor: str = Field(description="a structure you act for")


class MailChoice(BaseModel):
    actor: str
    email: Literal["now", "digest", "never"]


def _actor(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid({"actor": FieldError("is required")})
    return value


@blueprint.get("/notifications/email")
@document_querystring(MailChoiceQuery)
@document_response(MailChoice)
async def get_mail_choice() -> dict[str, Any]:
    """How one of your structures receives its notifications by e-mail."""
    actor = _actor(request.args.get("actor"))
    async with current_node().db.read() as session:
        person = await api_person(session)
        assert person is not None
        structure_id = await notices.member_structure(session, person, actor)
        assert structure_id is not None
        value = await mail_notifications.frequency(session, structure_id)
    return {"actor": actor, "email": value}


@blueprint.put("/notifications/email")
@document_request(MailChoice)
@document_response(MailChoice)
async def put_mail_choice() -> dict[str, Any]:
    """Choose how one of your structures receives its notifications by e-mail."""
    data = await json_body()
    actor = _actor(data.get("actor"))
    value = data.get("email")
    async with current_node().transaction() as session:
        person = await api_person(session)
        assert person is not None
        structure_id = await notices.member_structure(session, person, actor)
        assert structure_id is not None
        try:
            await mail_notifications.set_frequency(session, structure_id, str(value))
        except Invalid:
            raise Invalid({"email": FieldError("must be one of: now, digest, never")}) from None
    return {"actor": actor, "email": value}
