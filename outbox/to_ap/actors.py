"""ActivityStreams documents of local actors and their collections, and their
``Update`` and ``Delete``.

Every local actor publishes an RSA ``publicKey`` (Mastodon verifies only
RSA) and an Ed25519 ``Multikey`` in ``assertionMethod`` (FEP-521a), the
shared inbox in ``endpoints``, and ``manuallyApprovesFollowers``. Structures
(``Organization``) carry their commune, website and contact as
``PropertyValue`` attachments, which Mastodon shows as profile fields, and
their logo as ``icon`` (served by this node, re-encoded: ``domain.logos``). The
territory (``Application``) says ``"territory": true`` under the ``entraide``
namespace, which is how another Entraide node knows that a follow from it is
a peering request.
"""

from __future__ import annotations

import html
from typing import Any

from actors.keys import current_key
from actors.local import approves_followers_manually
from actors.urls import Urls
from config.settings import Settings
from domain.models import Structure
from federation.models import Actor
from federation.vocab import AS_CONTEXT, PUBLIC
from outbox.to_ap.activities import new_activity

SECURITY_CONTEXT = "https://w3id.org/security/v1"
CID_CONTEXT = "https://www.w3.org/ns/cid/v1"


def actor_context(settings: Settings) -> list[Any]:
    return [
        AS_CONTEXT,
        SECURITY_CONTEXT,
        CID_CONTEXT,
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value",
            "movedTo": {"@id": "as:movedTo", "@type": "@id"},
            "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
            "entraide": f"{settings.base_url}/ns#",
            "territory": "entraide:territory",
        },
    ]


def _field(name: str, value: str) -> dict[str, str]:
    return {"type": "PropertyValue", "name": name, "value": value}


def _link(url: str) -> str:
    safe = html.escape(url, quote=True)
    label = html.escape(url.split("://", 1)[-1])
    return f'<a href="{safe}" rel="me nofollow noopener" target="_blank">{label}</a>'


def actor_document(
    actor: Actor, settings: Settings, structure: Structure | None = None
) -> dict[str, Any]:
    """The JSON-LD document served at a local actor's id."""
    rsa = current_key(actor, "rsa")
    doc: dict[str, Any] = {
        "@context": actor_context(settings),
        "id": actor.uri,
        "type": actor.type,
        "preferredUsername": actor.handle,
        "name": actor.name,
        "summary": "".join(f"<p>{html.escape(p)}</p>" for p in actor.summary.split("\n\n") if p),
        "url": actor.url,
        "inbox": actor.inbox_url,
        "outbox": actor.outbox_url,
        "followers": actor.followers_url,
        "following": actor.following_url,
        "endpoints": {"sharedInbox": actor.shared_inbox_url},
        "manuallyApprovesFollowers": approves_followers_manually(actor, settings),
        "discoverable": True,
        "published": actor.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publicKey": {"id": rsa.key_id, "owner": actor.uri, "publicKeyPem": rsa.public_key},
    }
    try:
        ed = current_key(actor, "ed25519")
        doc["assertionMethod"] = [
            {
                "id": ed.key_id,
                "type": "Multikey",
                "controller": actor.uri,
                "publicKeyMultibase": ed.public_key,
            }
        ]
    except LookupError:
        pass
    if actor.is_territory:
        doc["territory"] = True
    if actor.moved_to:
        doc["movedTo"] = actor.moved_to
    if actor.also_known_as:
        doc["alsoKnownAs"] = list(actor.also_known_as)
    if structure is not None:
        doc["entraide:kind"] = structure.kind  # business, association, public, other
        fields = []
        if structure.commune:
            fields.append(_field("Commune", html.escape(structure.commune)))
        if structure.website:
            fields.append(_field("Site web", _link(structure.website)))
        if structure.contact_email:
            fields.append(_field("Contact", html.escape(structure.contact_email)))
        if structure.contact_phone:
            fields.append(_field("Téléphone", html.escape(structure.contact_phone)))
        if fields:
            doc["attachment"] = fields
        if structure.logo_updated_at is not None and structure.logo_type:
            doc["icon"] = {
                "type": "Image",
                "mediaType": structure.logo_type,
                "url": Urls(settings.base_url).logo(
                    structure.handle, int(structure.logo_updated_at.timestamp())
                ),
            }
        if structure.lat is not None and structure.lon is not None:
            doc["location"] = {
                "type": "Place",
                "name": structure.commune,
                "latitude": structure.lat,
                "longitude": structure.lon,
            }
    return doc


def ordered_collection(
    uri: str, total: int, first: str | None = None, items: list[Any] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": uri,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if items is not None:
        doc["orderedItems"] = items
    elif first:
        doc["first"] = first
    return doc


def collection_page(
    uri: str, part_of: str, items: list[Any], next_page: str | None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": uri,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": items,
    }
    if next_page:
        doc["next"] = next_page
    return doc


def update_actor(
    settings: Settings, actor: Actor, structure: Structure | None = None
) -> dict[str, Any]:
    """``Update`` of a local actor, carrying its whole document."""
    document = actor_document(actor, settings, structure)
    context = document.pop("@context")
    return new_activity(
        settings,
        "Update",
        actor,
        document,
        to=[PUBLIC],
        cc=[actor.followers_url or ""],
        context=context,
    )


def delete_actor(settings: Settings, actor: Actor) -> dict[str, Any]:
    """``Delete`` of a local actor (a suspended structure): by id, to its followers."""
    return new_activity(
        settings, "Delete", actor, actor.uri, to=[PUBLIC], cc=[actor.followers_url or ""]
    )


def move_actor(settings: Settings, actor: Actor, target: str) -> dict[str, Any]:
    """``Move`` of a local actor to its new account (FEP-7628, as Mastodon sends it):
    ``object`` is the actor itself, ``target`` the new actor, to its followers."""
    return new_activity(
        settings, "Move", actor, actor.uri, to=[actor.followers_url or ""], target=target
    )


__all__ = [
    "Urls",
    "actor_context",
    "actor_document",
    "collection_page",
    "delete_actor",
    "move_actor",
    "ordered_collection",
    "update_actor",
]
