"""The documented bounds of matching's candidates (``instance.services.match_candidates``):
common words bring no candidates, and only the CANDIDATES best by text rank are scored.

The bounds are lowered for the test (a node of a few listings has no common word at the
real bound of 5,000 listings), and each test first shows what the node finds without it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text

from domain.matches import Match
from domain.models import Listing
from instance.services import match_candidates
from instance.services.matching import match_listing
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # the index's statistics differ per database


async def _listings(node: TestNode, rows: list[tuple[str, str, str, str]]) -> list[int]:
    """Open listings of two structures (``handle, kind, title, description``); their ids."""
    structures = {}
    for handle in dict.fromkeys(handle for handle, *_ in rows):
        structures[handle] = await node.structure(handle, owner=f"{handle}@example.org")
    ids = []
    async with node.node.transaction() as session:
        for handle, kind, title, description in rows:
            structure = structures[handle]
            assert structure.actor_id is not None
            listing = Listing(
                ap_id=f"https://{node.domain}/listings/{len(ids)}-{handle}",
                origin=node.domain,
                structure_id=structure.id,
                author_id=structure.actor_id,
                kind=kind,
                title=title,
                description=description,
                category="materials",
                modality="give",
            )
            session.add(listing)
            await session.flush()
            ids.append(listing.id)
        if node.node.db.dialect == "postgresql":
            await session.execute(text("ANALYZE listings"))  # the statistics it reads
    return ids


async def _matched(node: TestNode, listing_id: int) -> set[int]:
    """Match ``listing_id`` afresh: the listings on the other side of its pairs."""
    match_candidates._sqlite_common.clear()
    match_candidates._pg_common.clear()
    async with node.node.transaction() as session:
        await session.execute(delete(Match))
        pairs = await match_listing(session, node.node.db.dialect, listing_id)
    return {need if need != listing_id else offer for need, offer in pairs}


async def test_common_words_bring_no_candidates(
    node: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    *offers, palettes, need, vague = await _listings(
        node,
        [
            *[("ferme", "offer", f"Outil {n} disponible", "Le samedi.") for n in range(6)],
            ("ferme", "offer", "Palettes en bois", "Une trentaine."),
            ("atelier", "need", "Palettes disponibles", "Pour un chantier."),
            ("atelier", "need", "Disponible", ""),
        ],
    )
    # Without the bound, a word every listing holds makes them all fit.
    assert await _matched(node, need) == {*offers, palettes}
    monkeypatch.setattr(match_candidates, "COMMON_WORD", 4)
    # « disponible » (9 listings) is common: only the rarer word looks candidates up.
    assert await _matched(node, need) == {palettes}
    # A listing whose words are all common looks its first words up anyway.
    assert await _matched(node, vague) == set(offers)


async def test_only_the_best_candidates_by_text_rank_are_scored(
    node: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_title, in_both, in_text, need = await _listings(
        node,
        [
            ("ferme", "offer", "Palettes", "Une trentaine, à prendre sur place."),
            ("ferme", "offer", "Palettes de bois", "Des palettes de chêne."),
            ("ferme", "offer", "Bois de chauffage", "Et quelques palettes."),
            ("atelier", "need", "Palettes", "Pour un chantier."),
        ],
    )
    assert await _matched(node, need) == {in_title, in_both, in_text}
    monkeypatch.setattr(match_candidates, "CANDIDATES", 2)
    # The title weighs more than the description: the one that names it in its text only
    # is the one left out.
    assert await _matched(node, need) == {in_title, in_both}
