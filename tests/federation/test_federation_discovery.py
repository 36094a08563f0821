"""What other servers see of a node: WebFinger, host-meta, NodeInfo, documents, tombstones."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from domain.models import Listing
from federation.models import Activity, Actor, Follow
from tests.federation.federation_flows_support import AP_JSON, AS, LISTING
from tests.support import TestNode, make_settings, running_node

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.dialect,
]  # the whole flow: inbox and delivery claims, upserts

LD_JSON = f'application/ld+json; profile="{AS}"'


# ------------------------------------------------------------------ what others see

DOMAIN = "a.test:8443"
BASE = f"https://{DOMAIN}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seen(
    module_db: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestNode]:
    """One node on a non-default port, shared by the tests below: two approved structures
    (``menuiserie`` publishes, ``ebenisterie`` has followers) and a pending one."""
    settings = make_settings(tmp_path_factory.mktemp("seen"), module_db(), domain=DOMAIN)
    async with running_node(settings) as node:
        await node.structure("menuiserie", owner="m@a.example", commune="Orthez")
        await node.structure("ebenisterie", owner="m@a.example")
        await node.structure("attente", owner="m@a.example", approved=False)
        yield node


async def test_webfinger(seen: TestNode) -> None:
    """JRD with subject and a self link of type activity+json, open to browsers (CORS), for
    acct: with and without the port; 404 for unknown and pending structures."""
    client = seen.client()
    for resource in (f"acct:menuiserie@{DOMAIN}", "acct:menuiserie@a.test", "menuiserie@a.test"):
        response = await client.get(f"/.well-known/webfinger?resource={resource}")
        assert response.status_code == 200, resource
        assert response.content_type.startswith("application/jrd+json")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        jrd = await response.get_json()
        assert jrd["subject"] == f"acct:menuiserie@{DOMAIN}"
        (self_link,) = [link for link in jrd["links"] if link["rel"] == "self"]
        assert self_link == {"rel": "self", "type": AP_JSON, "href": f"{BASE}/actors/menuiserie"}
    response = await client.get(f"/.well-known/webfinger?resource=acct:territory@{DOMAIN}")
    assert (await response.get_json())["links"][0]["href"] == f"{BASE}/actors/territory"
    for resource in (
        f"acct:inconnu@{DOMAIN}",
        f"acct:attente@{DOMAIN}",
        "acct:menuiserie@b.test",
        f"acct:menuiserie@{DOMAIN}9",
    ):
        response = await client.get(f"/.well-known/webfinger?resource={resource}")
        assert response.status_code == 404, resource
        assert (await response.get_json())["error"] == "not_found"
    response = await client.get("/.well-known/webfinger")
    assert response.status_code == 400


async def test_host_meta_and_nodeinfo(seen: TestNode) -> None:
    """host-meta is an XRD pointing at WebFinger; NodeInfo 2.1 says entraide, names the
    territory actor in metadata and has exactly the schema's seven top-level keys."""
    client = seen.client()
    response = await client.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.content_type.startswith("application/xrd+xml")
    root = ET.fromstring(await response.get_data())  # noqa: S314 - our own document
    (link,) = root.findall("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link.get("rel") == "lrdd"
    assert link.get("template") == f"{BASE}/.well-known/webfinger?resource={{uri}}"

    links = await (await client.get("/.well-known/nodeinfo")).get_json()
    (entry,) = links["links"]
    assert entry["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    assert entry["href"] == f"{BASE}/nodeinfo/2.1"
    response = await client.get("/nodeinfo/2.1")
    assert response.status_code == 200
    assert "nodeinfo.diaspora.software/ns/schema/2.1" in response.headers["Content-Type"]
    info = await response.get_json()
    assert set(info) == {
        "version",
        "software",
        "protocols",
        "services",
        "openRegistrations",
        "usage",
        "metadata",
    }
    assert info["version"] == "2.1"
    assert info["software"]["name"] == "entraide"
    assert set(info["software"]) <= {"name", "version", "repository", "homepage"}
    assert "activitypub" in info["protocols"]
    assert set(info["services"]) == {"inbound", "outbound"}
    assert isinstance(info["openRegistrations"], bool)
    assert info["usage"]["users"]["total"] == 2  # the approved structures
    assert set(info["usage"]) <= {"users", "localPosts", "localComments"}
    assert info["metadata"]["territory"] == f"{BASE}/actors/territory"


async def test_content_negotiation(seen: TestNode) -> None:
    """An actor id, a listing id and an activity id answer ActivityPub JSON for both media
    types of the spec, and a page for a browser."""
    token = await seen.token("m@a.example")
    response = await seen.api(
        "POST", "/api/v1/listings", token=token, json={**LISTING, "structure": "menuiserie"}
    )
    listing = await response.get_json()
    async with seen.node.db.session() as session:
        create = await session.scalar(
            select(Activity.uri).where(
                Activity.type == "Create", Activity.object_uri == listing["ap_id"]
            )
        )
    assert create is not None
    client = seen.client()
    for uri, kind in (
        (f"{BASE}/actors/menuiserie", "Organization"),
        (listing["ap_id"], "Note"),
        (create, "Create"),
    ):
        path = uri.removeprefix(BASE)
        for accept in (AP_JSON, LD_JSON):
            response = await client.get(path, headers={"Accept": accept})
            assert response.status_code == 200, (path, accept)
            assert response.content_type.startswith(AP_JSON), (path, accept)
            document = json.loads(await response.get_data())
            assert (document["id"], document["type"]) == (uri, kind)
        response = await client.get(
            path, headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=True
        )
        assert response.status_code == 200, path
        assert response.content_type.startswith("text/html"), path
        assert b"<html" in (await response.get_data()).lower(), path


async def test_actor_document_and_collections(seen: TestNode) -> None:
    """The actor has an RSA publicKey (PEM), an Ed25519 Multikey (z6Mk…), a shared inbox, and
    followers, following and outbox collections that page 50 by 50."""
    client = seen.client()
    response = await client.get("/actors/ebenisterie", headers={"Accept": AP_JSON})
    doc = await response.get_json()
    actor = f"{BASE}/actors/ebenisterie"
    assert doc["publicKey"]["owner"] == actor
    assert isinstance(
        load_pem_public_key(doc["publicKey"]["publicKeyPem"].encode()), rsa.RSAPublicKey
    )
    (multikey,) = doc["assertionMethod"]
    assert multikey["type"] == "Multikey"
    assert multikey["controller"] == actor
    assert multikey["publicKeyMultibase"].startswith("z6Mk")
    assert doc["endpoints"]["sharedInbox"] == f"{BASE}/inbox"
    assert doc["inbox"] == f"{actor}/inbox"
    assert AS in doc["@context"]

    # 51 remote followers and 51 public activities.
    async with seen.node.db.session() as session:
        me = (await session.execute(select(Actor).where(Actor.uri == actor))).scalar_one()
        for i in range(51):
            fan = Actor(
                uri=f"https://fans.test/users/{i}",
                local=False,
                handle=str(i),
                domain="fans.test",
                inbox_url=f"https://fans.test/users/{i}/inbox",
            )
            session.add(fan)
            await session.flush()
            session.add(Follow(follower_id=fan.id, followed_id=me.id, state="accepted"))
            session.add(
                Activity(
                    uri=f"{BASE}/activities/old-{i}",
                    actor_id=me.id,
                    type="Create",
                    body={"id": f"{BASE}/activities/old-{i}", "type": "Create"},
                )
            )

    for name, total in (("followers", 51), ("following", 0), ("outbox", 51)):
        uri = doc[name]
        assert uri == f"{actor}/{name}"
        path = uri.removeprefix(BASE)
        collection = await (await client.get(path, headers={"Accept": AP_JSON})).get_json()
        assert (collection["id"], collection["type"]) == (uri, "OrderedCollection")
        assert collection["totalItems"] == total
        items: list[Any] = []
        page_url = collection["first"]
        pages = 0
        while page_url:
            page = await (
                await client.get(page_url.removeprefix(BASE), headers={"Accept": AP_JSON})
            ).get_json()
            assert page["type"] == "OrderedCollectionPage"
            assert page["partOf"] == uri
            assert len(page["orderedItems"]) <= 50
            items.extend(page["orderedItems"])
            page_url = page.get("next")
            pages += 1
            if total == 0:
                break
        assert len(items) == total, name
        assert pages == (2 if total == 51 else 1), name
    response = await client.get("/actors/ebenisterie/followers?page=0", headers={"Accept": AP_JSON})
    assert response.status_code == 400


async def test_withdrawn_listing_is_a_tombstone(seen: TestNode) -> None:
    """A withdrawn listing's id answers 410 Gone with a Tombstone (so that servers that cached
    it delete it), not 404."""
    token = await seen.token("m@a.example")
    response = await seen.api(
        "POST", "/api/v1/listings", token=token, json={**LISTING, "structure": "menuiserie"}
    )
    listing = await response.get_json()
    response = await seen.api("DELETE", f"/api/v1/listings/{listing['id']}", token=token)
    assert response.status_code == 200
    response = await seen.client().get(f"/listings/{listing['id']}", headers={"Accept": AP_JSON})
    assert response.status_code == 410
    tomb = json.loads(await response.get_data())
    assert (tomb["id"], tomb["type"]) == (listing["ap_id"], "Tombstone")
    async with seen.node.db.session() as session:
        stored = await session.scalar(select(Listing.status).where(Listing.id == listing["id"]))
    assert stored == "withdrawn"
