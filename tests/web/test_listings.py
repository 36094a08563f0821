"""Publishing, viewing, editing and withdrawing a listing through the forms."""

from __future__ import annotations

import re

from domain.models import Actor
from tests.support import TestNode
from tests.web.browser import Browser
from tests.web.data import listing_form, remote_listing


async def _owner(node: TestNode, **fields: str) -> Browser:
    await node.structure(
        "menuiserie", owner="ana@example.org", name="Menuiserie Lasserre", **fields
    )
    browser = Browser(node)
    await browser.login("ana@example.org")
    return browser


async def _publish(browser: Browser, **changes: str) -> int:
    form = listing_form(structure="menuiserie", **changes)
    page = await browser.post("/listings/new", form, csrf_from="/listings/new")
    assert page.status == 302, page.text
    found = re.fullmatch(r"/listings/(\d+)", page.location)
    assert found
    return int(found.group(1))


async def test_publish_and_view(node: TestNode) -> None:
    owner = await _owner(node, contact_email="contact@menuiserie.example")
    form = await owner.get("/listings/new")
    assert 'name="structure" value="menuiserie"' in form  # the only structure, preselected
    assert "Matériel et outillage" in form  # category labels from the taxonomy

    listing_id = await _publish(
        owner,
        quantity="2",
        unit="pièces",
        price_amount="12,50",
        available_from="2030-01-10",
        available_until="2030-02-20",
    )
    page = await Browser(node).get(f"/listings/{listing_id}")
    assert page.status == 200
    for text in (
        "Perceuse à percussion",
        "Une perceuse Bosch, avec sa mallette.",
        "Offre",
        "Prêt ou partage",
        "Matériel et outillage",
        "Ouverte",
        "2 pièces",
        "12,50",
        "Orthez",
        "Menuiserie Lasserre",
        "Territoire : Territoire A",
        "20 km",
        "10 janv. 2030",
        "20 févr. 2030",
    ):
        assert text in page, text
    assert 'href="mailto:contact@menuiserie.example?subject=Perceuse%20%C3%A0%20percussion"' in page
    assert "Modifier" not in page  # not for visitors

    shown = await owner.get(f"/listings/{listing_id}")
    assert f'href="/listings/{listing_id}/edit"' in shown

    api = await node.api("GET", f"/api/v1/listings/{listing_id}")
    body = await api.get_json()
    assert body["price"] == {"amount": "12.5", "currency": "EUR"}
    assert body["location"] == {
        "commune": "Orthez",
        "lat": 43.4886,
        "lon": -0.7722,
        "placed": "given",
    }
    assert body["radius_km"] == 20


async def test_contact_writes_a_message_without_a_public_address(node: TestNode) -> None:
    owner = await _owner(node)
    listing_id = await _publish(owner)
    page = await Browser(node).get(f"/listings/{listing_id}")
    assert f'href="/messages/new?to=menuiserie&amp;listing={listing_id}"' in page
    assert "mailto:" not in page
    # Its own structure does not write to itself.
    assert "/messages/new" not in await owner.get(f"/listings/{listing_id}")


async def test_validation_errors_are_shown_in_french(node: TestNode) -> None:
    owner = await _owner(node)
    page = await owner.post(
        "/listings/new",
        listing_form(
            structure="menuiserie",
            title="ab",
            category="",
            lat="95",
            lon="",
            available_until="2020-01-01",
            available_from="2021-01-01",
            price_amount="abc",
        ),
        csrf_from="/listings/new",
    )
    assert page.status == 422
    for message in (
        "Doit comporter au moins 3 caractères.",
        "Ce champ est obligatoire.",
        "Doit être compris entre -90",
        "Ne peut pas précéder la date de début de disponibilité.",
        "Doit être un nombre décimal.",
    ):
        assert message in page, message
    assert re.search(r'id="f-title"[^>]*aria-describedby="[^"]*f-title-error"', page.text)
    assert re.search(r'id="f-price_amount"[^>]*aria-invalid="true"', page.text)
    assert 'value="ab"' in page  # what was typed is kept
    assert "Certains champs sont à corriger" in page


async def test_edit_and_withdraw(node: TestNode) -> None:
    owner = await _owner(node)
    listing_id = await _publish(owner)

    form = await owner.get(f"/listings/{listing_id}/edit")
    assert form.status == 200
    assert 'value="Perceuse à percussion"' in form
    assert 'value="43.4886"' in form

    page = await owner.post(
        f"/listings/{listing_id}/edit",
        listing_form(title="Perceuse et visseuse", status="fulfilled", lat="", lon="", commune=""),
        csrf_from=f"/listings/{listing_id}/edit",
    )
    assert page.status == 302
    shown = await owner.get(f"/listings/{listing_id}")
    assert "Perceuse et visseuse" in shown
    assert "Conclue" in shown
    assert "Vos modifications sont enregistrées." in shown
    api = await (await node.api("GET", f"/api/v1/listings/{listing_id}")).get_json()
    assert api["status"] == "fulfilled"
    assert api["location"] is None

    page = await owner.post(
        f"/listings/{listing_id}/edit", listing_form(title="x"), csrf_from="/account"
    )
    assert page.status == 422
    assert "Doit comporter au moins 3 caractères." in page

    confirm = await owner.get(f"/listings/{listing_id}/withdraw")
    assert "Retirer l’annonce ?" in confirm
    page = await owner.post(f"/listings/{listing_id}/withdraw", csrf_from="/account")
    assert page.status == 302
    assert page.location == "/@menuiserie"
    assert "L’annonce est retirée" in await owner.get("/@menuiserie")

    assert (await Browser(node).get(f"/listings/{listing_id}")).status == 410
    assert "Retirée" in await owner.get(f"/listings/{listing_id}")
    page = await owner.get(f"/listings/{listing_id}/edit")
    assert page.status == 302
    token = await node.token("ana@example.org")
    api = await (await node.api("GET", f"/api/v1/listings/{listing_id}", token=token)).get_json()
    assert api["status"] == "withdrawn"


async def test_only_the_structure_may_change_its_listing(node: TestNode) -> None:
    owner = await _owner(node)
    listing_id = await _publish(owner)
    await node.structure("ressourcerie", owner="bob@example.org")
    other = Browser(node)
    await other.login("bob@example.org")
    assert (await other.get(f"/listings/{listing_id}/edit")).status == 403
    page = await other.post(f"/listings/{listing_id}/withdraw", csrf_from="/account")
    assert page.status == 403
    anonymous = Browser(node)
    page = await anonymous.get(f"/listings/{listing_id}/edit")
    assert page.status == 302
    assert page.location == f"/login?next=%2Flistings%2F{listing_id}%2Fedit"
    assert (await anonymous.get("/listings/999")).status == 404


async def test_remote_listing_shows_its_origin(node: TestNode) -> None:
    listing_id = await remote_listing(node)
    home = await Browser(node).get("/")
    assert "Cherche bâche agricole" in home
    assert "Depuis b.test" in home
    page = await Browser(node).get(f"/listings/{listing_id}")
    assert page.status == 200
    assert "Territoire : b.test" in page
    assert "Ferme du Gave" in page
    assert 'href="https://b.test/listings/7"' in page
    # Contact writes to the remote author through the fediverse, about this listing.
    assert f'href="/messages/new?to=acct%3Aferme%40b.test&amp;listing={listing_id}"' in page


async def test_a_peer_is_named_by_its_territory_not_its_host(node: TestNode) -> None:
    """Pages name the territory a listing comes from once this node knows its actor."""
    listing_id = await remote_listing(node)
    async with node.node.db.session() as session:
        session.add(
            Actor(
                uri="https://b.test/actors/territory",
                local=False,
                type="Organization",
                handle="territory",
                domain="b.test",
                name="Pays du Gave",
                is_territory=True,
                inbox_url="https://b.test/actors/territory/inbox",
            )
        )
    assert "Depuis Pays du Gave" in await Browser(node).get("/")
    search = await Browser(node).get("/search")
    assert '<option value="b.test">Pays du Gave</option>' in search
    page = await Browser(node).get(f"/listings/{listing_id}")
    assert "Territoire : Pays du Gave" in page
    assert "Territoire : b.test" not in page


async def test_the_open_data_page_explains_the_datasets(node: TestNode) -> None:
    """``/data``, linked from every page's footer: each dataset, what none ever holds,
    ``since=``, the licence of the setting; a dataset's catalogue id leads to its part."""
    for language, title, never in (
        ("fr", "Données ouvertes", "Ce qu’ils ne contiennent jamais"),
        ("en", "Open data", "What they never contain"),
    ):
        page = await Browser(node).get("/data", headers={"Accept-Language": language})
        assert page.status == 200
        assert title in page and never in page
        for dataset in ("listings.csv", "listings.geojson", "structures.csv", "structures.geojson"):
            assert f'href="/data/{dataset}"' in page
        assert 'href="/data/catalog.jsonld"' in page and "since=" in page
        assert "Licence Ouverte / Etalab 2.0" in page
    assert 'href="/data"' in await Browser(node).get("/")
    moved = await Browser(node).get("/data/structures")
    assert (moved.status, moved.headers["Location"]) == (303, "/data#structures")
