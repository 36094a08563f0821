"""The bounds of a text query: 8 words, prefixes of 3 letters or more.

A word of one or two letters as a prefix (``pa*``) matches most of the index
and narrows nothing; such words match whole words only. Past the eighth
distinct word, words are ignored. Both databases follow the same rules.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.textsearch import MAX_QUERY_WORDS, fts5_query, query_words
from tests.support import TestNode

pytestmark = pytest.mark.dialect  # search plans and limits per dialect

SEVENTY_TWO = " ".join(a + b for a in "pbcvtmlsdfgrnh" for b in "aeiou")


def test_a_query_keeps_its_first_eight_distinct_words() -> None:
    assert query_words("bois bois palette Bois tuiles") == ["bois", "palette", "tuiles"]
    many = " ".join(f"mot{i}" for i in range(20))
    assert query_words(many) == [f"mot{i}" for i in range(MAX_QUERY_WORDS)]


def test_short_words_are_not_prefixes() -> None:
    match = fts5_query(SEVENTY_TWO)
    assert match is not None
    clauses = match.split(" AND ")
    assert len(clauses) <= MAX_QUERY_WORDS
    assert "*" not in match  # every word has two letters
    assert fts5_query("tracteurs pc") == '("tracteur"*) AND ("pc")'


async def _post(node: TestNode, token: str, title: str) -> None:
    body: dict[str, Any] = {
        "structure": "atelier",
        "kind": "offer",
        "title": title,
        "description": "Disponible rapidement.",
        "category": "equipment",
        "modality": "lend",
    }
    response = await node.api("POST", "/api/v1/listings", token=token, json=body)
    assert response.status_code == 201, await response.get_data()


async def _titles(node: TestNode, q: str) -> list[str]:
    response = await node.api("GET", "/api/v1/listings", query_string={"q": q})
    assert response.status_code == 200, await response.get_data()
    return sorted(item["title"] for item in (await response.get_json())["items"])


async def test_prefixes_of_three_letters_and_whole_short_words(node: TestNode) -> None:
    await node.structure("atelier", owner="s@a.example")
    token = await node.token("s@a.example")
    await _post(node, token, "Tracteur agricole")
    await _post(node, token, "PC portable")
    await _post(node, token, "Pcb électroniques")
    assert await _titles(node, "tra") == ["Tracteur agricole"]
    assert await _titles(node, "tr") == []  # not a prefix of « tracteur »
    assert await _titles(node, "pc") == ["PC portable"]  # the word, not « pcb »
    assert await _titles(node, "pcb") == ["Pcb électroniques"]


async def test_words_past_the_eighth_are_ignored(node: TestNode) -> None:
    await node.structure("atelier", owner="s@a.example")
    token = await node.token("s@a.example")
    await _post(node, token, "Tracteur agricole rouge vert bleu jaune noir blanc")
    eight = "tracteur agricole rouge vert bleu jaune noir blanc"
    assert await _titles(node, eight) == ["Tracteur agricole rouge vert bleu jaune noir blanc"]
    assert await _titles(node, f"{eight} zzzinconnu") == [
        "Tracteur agricole rouge vert bleu jaune noir blanc"
    ]
    assert re.search(r"\bzzzinconnu\b", fts5_query(f"{eight} zzzinconnu") or "") is None
