"""Places: the communes gazetteer, ``GET /api/v1/places``, and listings placed by commune.

The gazetteer (``domain/data/communes.csv.gz``) is loaded by a migration, so every
test node has it; these run on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.places import name_key, parse_query
from tests.api.helpers import OWNER, Api, assert_error, listing_body

pytestmark = pytest.mark.dialect  # the gazetteer's text matching


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Saint-Jean-de-Luz", "saintjeandeluz"),
        ("st jean de luz", "saintjeandeluz"),
        ("SAINT JEAN DE LUZ", "saintjeandeluz"),
        ("Sainte-Énimie", "sainteenimie"),
        ("L'Hôpital", "lhopital"),
        ("Œuilly", "oeuilly"),
    ],
)
def test_names_fold_to_one_key(typed: str, key: str) -> None:
    assert name_key(typed) == key


def test_typed_forms_are_read() -> None:
    assert parse_query("Pau (64)") == parse_query("pau(64)")
    assert parse_query("Pau (64)").department == "64"
    assert parse_query("64000 Pau").postcode == "64000"
    assert parse_query("64000 Pau").key == "pau"
    assert parse_query("640").postcode == "640"
    assert parse_query("Ajaccio (2A)").department == "2A"


async def places(api: Api, q: str, **args: str) -> list[dict[str, Any]]:
    status, body, _ = await api.call("GET", "/api/v1/places", query_string={"q": q, **args})
    assert status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


async def test_autocomplete_puts_the_exact_name_first(api: Api) -> None:
    found = await places(api, "pau")
    assert found[0]["name"] == "Pau"
    assert found[0]["code"] == "64445"
    assert found[0]["postcodes"] == ["64000"]
    assert found[0]["department"] == "64"
    assert found[0]["lat"] == pytest.approx(43.30, abs=0.05)
    assert found[0]["lon"] == pytest.approx(-0.37, abs=0.05)
    assert all(item["name"].lower().startswith("pau") for item in found)
    assert len(found) == 10  # the default limit; many communes start with « pau »


async def test_autocomplete_folds_accents_case_and_hyphens(api: Api) -> None:
    for typed in ("saint chely d apcher", "SAINT-CHÉLY-D'APCHER", "St Chély d’Apcher"):
        found = await places(api, typed)
        assert [p["code"] for p in found] == ["48140"], typed
        assert found[0]["name"] == "Saint-Chély-d'Apcher"
        assert found[0]["department"] == "48"


async def test_small_rural_communes_are_placed(api: Api) -> None:
    """Lozère and Aveyron (the field reports' territories): small communes have a position."""
    for name, department in (("Le Pompidou", "48"), ("Sainte-Eulalie-de-Cernon", "12")):
        found = await places(api, name)
        match = [p for p in found if p["name"] == name and p["department"] == department]
        assert match, (name, found)
        assert match[0]["lat"] is not None and match[0]["lon"] is not None


async def test_autocomplete_by_postcode_and_department(api: Api) -> None:
    by_code = await places(api, "64000")
    assert [p["name"] for p in by_code] == ["Pau"]
    prefix = await places(api, "6400")
    assert {p["name"] for p in prefix} >= {"Pau"}
    assert all(any(code.startswith("6400") for code in p["postcodes"]) for p in prefix)
    in_64 = await places(api, "saint martin (64)", limit="20")
    assert in_64 and all(p["department"] == "64" for p in in_64)


async def test_unknown_or_empty_queries_find_nothing(api: Api) -> None:
    assert await places(api, "zzzzqx") == []
    assert await places(api, "") == []
    assert await places(api, "  - ' ") == []


async def test_bad_paging_and_oversized_queries_are_refused(api: Api) -> None:
    for args, field in (
        ({"q": "pau", "limit": "0"}, "limit"),
        ({"q": "pau", "limit": "x"}, "limit"),
        ({"q": "p" * 101}, "q"),
    ):
        status, body, _ = await api.call("GET", "/api/v1/places", query_string=args)
        assert_error(status, body, 422, "invalid", fields={field})


async def test_a_listing_with_a_commune_only_is_placed(api: Api) -> None:
    body = await api.publish(location={"commune": "Orthez"})
    assert body["location"]["placed"] == "commune"
    assert body["location"]["lat"] == pytest.approx(43.49, abs=0.05)
    assert body["location"]["lon"] == pytest.approx(-0.77, abs=0.05)
    by_department = await api.publish(location={"commune": "Pau (64)"})
    assert by_department["location"]["placed"] == "commune"
    by_postcode = await api.publish(location={"commune": "64000"})
    assert by_postcode["location"]["placed"] == "commune"
    assert by_postcode["location"]["commune"] == "64000"
    # Found by distance, where before it had no coordinates and fell out of every search.
    status, found, _ = await api.call(
        "GET", "/api/v1/listings", query_string={"near": "43.30,-0.37", "radius_km": "60"}
    )
    assert status == 200
    assert body["id"] in [item["id"] for item in found["items"]]


async def test_given_coordinates_win_and_say_so(api: Api) -> None:
    body = await api.publish(location={"commune": "Orthez", "lat": 43.0, "lon": -0.5})
    assert body["location"] == {"commune": "Orthez", "lat": 43.0, "lon": -0.5, "placed": "given"}


async def test_unknown_or_ambiguous_communes_are_not_placed(api: Api) -> None:
    """A commune that does not exist, or a name many communes share: ``placed: none``."""
    unknown = await api.publish(location={"commune": "Nulle-Part-sur-Mer"})
    assert unknown["location"] == {
        "commune": "Nulle-Part-sur-Mer",
        "lat": None,
        "lon": None,
        "placed": "none",
    }
    ambiguous = await api.publish(location={"commune": "Saint-Martin"})
    assert ambiguous["location"]["placed"] == "none"
    told = await api.publish(location={"commune": "Saint-Martin (64)"})
    assert told["location"]["placed"] == "none"  # no commune of 64 is named just that
    assert told["location"]["commune"] == "Saint-Martin (64)"


async def test_editing_the_commune_places_the_listing_again(api: Api) -> None:
    body = await api.publish(location={"commune": "Orthez"})
    status, edited, _ = await api.call(
        "PATCH",
        f"/api/v1/listings/{body['id']}",
        token=api.owner,
        json={"location": {"commune": "Mende"}},
    )
    assert status == 200, edited
    assert edited["location"]["placed"] == "commune"
    assert edited["location"]["lat"] == pytest.approx(44.52, abs=0.05)
    status, kept, _ = await api.call(
        "PATCH", f"/api/v1/listings/{body['id']}", token=api.owner, json={"title": "Autre"}
    )
    assert kept["location"] == edited["location"]


async def test_a_structure_with_a_commune_is_placed(api: Api) -> None:
    structure = await api.node.structure("fromagerie", commune="Roquefort-sur-Soulzon")
    assert structure.placed == "commune"
    assert structure.lat == pytest.approx(43.97, abs=0.05)
    # Its listings without a place of their own take the structure's.
    status, body, _ = await api.call(
        "POST",
        "/api/v1/listings",
        token=await api.node.token("owner@example.org"),
        json=listing_body(structure="fromagerie"),
    )
    assert status == 201, body
    assert body["location"]["placed"] == "commune"
    assert body["location"]["commune"] == "Roquefort-sur-Soulzon"


async def test_search_near_a_commune(api: Api) -> None:
    """``near=COMMUNE`` (a name, ``Name (dd)`` or a postcode) is placed like a listing."""
    orthez = await api.publish(location={"commune": "Orthez"})
    far = await api.publish(location={"commune": "Mende"})
    for near in ("Orthez", "orthez (64)", "64300"):
        status, body, _ = await api.call(
            "GET",
            "/api/v1/listings",
            query_string={"near": near, "radius_km": "20", "sort": "distance"},
        )
        assert status == 200, (near, body)
        ids = [item["id"] for item in body["items"]]
        assert orthez["id"] in ids and far["id"] not in ids, near
        assert body["items"][0]["distance_km"] < 5


@pytest.mark.parametrize(
    ("near", "message"), [("Nulle-Part-sur-Mer", "not a known"), ("Saint-Martin", "several")]
)
async def test_search_near_an_unknown_or_ambiguous_commune_is_refused(
    api: Api, near: str, message: str
) -> None:
    status, body, _ = await api.call(
        "GET", "/api/v1/listings", query_string={"near": near, "radius_km": "20"}
    )
    assert_error(status, body, 422, "invalid", fields={"near"})
    assert message in body["fields"]["near"]


async def test_the_listing_form_asks_which_commune_when_a_name_is_shared(api: Api) -> None:
    """Without JavaScript: a shared name is answered with the choices, an unknown one with a
    message; a name that places, or coordinates typed, publish."""
    from tests.web.browser import Browser

    browser = Browser(api.node, headers={"Accept-Language": "fr"})
    await browser.login(OWNER)
    base = {
        "structure": "menuiserie", "kind": "offer", "title": "Raboteuse",
        "description": "Une raboteuse.", "category": "equipment", "modality": "lend",
    }  # fmt: skip
    page = await browser.post(
        "/listings/new", {**base, "commune": "Saint-Martin"}, csrf_from="/listings/new"
    )
    assert page.status == 422
    assert "Plusieurs communes portent ce nom" in page, page.text[
        page.text.find("has-error") - 200 :
    ][:1500]
    assert "Saint-Martin (" in page
    page = await browser.post(
        "/listings/new", {**base, "commune": "Nulle-Part-sur-Mer"}, csrf_from="/listings/new"
    )
    assert page.status == 422 and "commune française connue" in page
    page = await browser.post(
        "/listings/new", {**base, "commune": "Orthez (64)"}, csrf_from="/listings/new"
    )
    assert page.status in (302, 303, 200), page
