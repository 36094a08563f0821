"""A listing's description reaches another Entraide node as written.

The ``content`` of a listing is HTML for Mastodon readers (the title in bold,
the kind, the hashtags). Another Entraide node reads the plain description
from ``entraide:description`` instead of rebuilding it from that HTML; servers
that send only ``content`` still get a description made from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from inbox.from_ap import listing_from_ap
from tests.federation.test_listings_federation import peer, publish, remote_listings
from tests.fedinet import network


async def test_description_arrives_as_written(
    tmp_path: Path, new_db_url: Callable[[], str]
) -> None:
    async with network(tmp_path, new_db_url, ["a.test", "b.test"]) as (net, (a, b)):
        await peer(net, a, b)
        description = "Chutes de chêne.\n\nÀ prendre à l'atelier, le samedi <matin>."
        _, created = await publish(a, description=description)
        await net.settle()
        path = created["ap_id"].removeprefix("https://a.test")
        document = await a.api("GET", path, headers={"Accept": "application/activity+json"})
        assert json.loads(await document.get_data())["entraide:description"] == description
        (seen,) = await remote_listings(b)
        assert seen["description"] == description


def test_a_note_without_our_term_gets_its_description_from_content() -> None:
    note = {
        "type": "Note",
        "id": "https://other.example/notes/1",
        "attributedTo": "https://other.example/users/u",
        "name": "Perceuse",
        "content": "<p>Perceuse <strong>à prêter</strong></p>",
        "purpose": "offer",
        "publishes": {"type": "Intent", "action": "transfer"},
    }
    data = listing_from_ap(note)
    assert data is not None
    assert data.description == "Perceuse à prêter"
