"""Control characters: XML cannot carry them, PostgreSQL refuses NUL.

Attack: a listing title or description carrying ``\\x01`` (or ``&#1;`` in remote
HTML, or NUL) used to turn both feeds into a 500 for everyone, and a NUL made
PostgreSQL refuse the row. Such characters are now dropped from what we store
(API input, remote listings) and from what feeds write (text stored earlier).
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from domain.models import Listing
from domain.sanitize import html_to_text, plain_text
from inbox.from_ap import listing_from_ap
from tests.search.test_search import _post, _setup
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # PostgreSQL refuses NUL


async def test_api_input_is_stored_without_control_characters(node: TestNode) -> None:
    token = await _setup(node)
    created = await _post(node, token, "Perceuse\x01 à prêter", description="Bonne\x00 état\x0b.")
    assert created["title"] == "Perceuse à prêter"
    assert created["description"] == "Bonne état."


async def test_feeds_survive_control_characters_stored_earlier(node: TestNode) -> None:
    token = await _setup(node)
    created = await _post(node, token, "Perceuse")
    async with node.node.db.session() as session:  # as written before the filter existed
        await session.execute(
            update(Listing)
            .where(Listing.id == created["id"])
            .values(title="Per\x01ceuse", description="Bonne\x1f affaire")
        )
    for path in ("/feeds/listings.atom", "/feeds/listings.rss", "/@atelier/feed.atom"):
        response = await node.client().get(path)
        assert response.status_code == 200, path
        body = (await response.get_data()).decode()
        assert "Perceuse" in body and "Bonne affaire" in body, path


def test_remote_listing_text_is_filtered() -> None:
    data = listing_from_ap(
        {
            "type": "Note",
            "id": "https://other.example/notes/1",
            "attributedTo": "https://other.example/users/u",
            "name": "Per\x01ceuse",
            "content": "<p>Bonne&#1; affaire</p>",
            "entraide:description": "Bonne\x00 affaire",
            "purpose": "offer",
            "publishes": {"type": "Intent", "action": "transfer"},
        }
    )
    assert data is not None
    assert (data.title, data.description) == ("Perceuse", "Bonne affaire")
    assert html_to_text("<p>a&#1;b&#0;c</p>") == "ab\ufffdc"  # &#0; is U+FFFD by HTML5
    assert plain_text("tab\tnew\nline\r\x7fé\ud800") == "tab\tnew\nline\r\x7fé"
