"""A proposal to someone on Mastodon reads as a message there.

Mastodon drops activity types it does not know (``ActivityPub::Activity.factory``
has no ``Offer``), so the FEP-0837 ``Offer{Agreement}`` alone shows nothing. A
recipient whose actor does not declare the Entraide namespace also gets a direct
``Create(Note)`` mentioning it, with the proposal in words and a link to its post;
an Entraide node gets the ``Offer`` only (``test_exchanges.py`` checks that).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from domain.models import Listing
from federation.models import Actor
from federation.vocab import PUBLIC_ALIASES
from outbox.to_ap.exchanges import speaks_entraide
from tests.federation.test_exchanges import atelier, post
from tests.fedinet import FakeActor, network


@cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _mastodon_actor(uri: str) -> FakeActor:
    return FakeActor(
        uri,
        _key(),
        extra={
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                {"toot": "http://joinmastodon.org/ns#", "discoverable": "toot:discoverable"},
            ],
            "url": "https://masto.test/@ana",
            "discoverable": True,
        },
    )


async def test_a_mastodon_user_receives_the_proposal_as_a_direct_message(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test"]) as (net, (a,)):
        ana = _mastodon_actor("https://masto.test/users/ana")
        net.hooks.append(ana)
        post_uri = "https://masto.test/users/ana/statuses/1"
        async with a.node.db.session() as session:
            actor = Actor(
                uri=ana.uri, local=False, type="Person", handle="ana", domain="masto.test",
                name="Ana", url="https://masto.test/@ana", inbox_url=f"{ana.uri}/inbox",
                shared_inbox_url="https://masto.test/inbox", document=ana.document(),
            )  # fmt: skip
            session.add(actor)
            await session.flush()
            listing = Listing(
                ap_id=post_uri, url="https://masto.test/@ana/1", local=False,
                origin="masto.test", author_id=actor.id, kind="offer",
                title="Palettes à donner", category="materials", modality="give",
            )  # fmt: skip
            session.add(listing)
            await session.commit()
        token = await atelier(a)
        response = await post(
            a, "/api/v1/exchanges", token,
            {"listing": post_uri, "from": "atelier", "quantity": "4",
             "message": "Bonjour Ana, nous passerions <samedi>."},
        )  # fmt: skip
        assert response.status_code == 201, await response.get_data()
        await net.settle()

        received = [json.loads(r.content) for r in ana.received]
        assert sorted(r["type"] for r in received) == ["Create", "Offer"]
        (create,) = [r for r in received if r["type"] == "Create"]
        note = create["object"]
        assert note["type"] == "Note" and note["attributedTo"] == "https://a.test/actors/atelier"
        # A direct message as Mastodon classifies one: addressed to Ana only, mentioned.
        assert note["to"] == create["to"] == [ana.uri]
        assert not PUBLIC_ALIASES & {*note["cc"], *create.get("cc", [])}
        assert note["tag"] == [{"type": "Mention", "href": ana.uri, "name": "@ana@masto.test"}]
        content = note["content"]
        assert "Palettes à donner" in content and f'href="{post_uri}"' in content
        assert "Quantité : 4" in content
        assert "Bonjour Ana, nous passerions &lt;samedi&gt;." in content
        assert "@<span>ana</span>" in content


def test_entraide_actors_are_told_from_others() -> None:
    ours = Actor(uri="https://b.test/actors/x", document={
        "@context": ["https://www.w3.org/ns/activitystreams",
                     {"entraide": "https://b.test/ns#", "territory": "entraide:territory"}],
    })  # fmt: skip
    assert speaks_entraide(ours)
    assert speaks_entraide(Actor(uri="u", document={"entraide:kind": "association"}))
    assert not speaks_entraide(Actor(uri="u", document=_mastodon_actor("https://m/u").document()))
    assert not speaks_entraide(Actor(uri="u", document=None))
