"""A structure's profile edited by its people: the form, the logo, the API, a rejected
structure corrected and submitted again."""

from __future__ import annotations

import io
import re
import struct
import zlib

from PIL import Image
from werkzeug.datastructures import FileStorage

from domain.logos import MAX_BYTES
from tests.support import TestNode
from tests.web.browser import Browser, Page

FORM = {
    "name": "Menuiserie Lasserre",
    "kind": "association",
    "description": "Atelier de menuiserie.\n\n<script>alert(1)</script>",
    "website": "https://menuiserie.example",
    "commune": "Orthez",
    "lat": "",
    "lon": "",
    "contact_email": "contact@menuiserie.example",
    "contact_phone": "05 59 00 00 00",
    "accepts_messages": "on",
}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (800, 600), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 1 if mode == "1" else (200, 60, 20)).save(out, fmt)
    return out.getvalue()


def png_bomb(side: int = 8_000) -> bytes:
    """A valid 1-bit PNG of ``side`` x ``side`` white pixels: a few KB that would decode to
    ``side``² pixels (built by hand: Pillow takes seconds to encode it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    pixels = zlib.compress(row * side, 1)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_with_exif() -> bytes:
    picture = Image.new("RGB", (1024, 768), (20, 90, 200))
    exif = picture.getexif()
    exif[0x010F] = "CameraMakerSecret"  # Make
    exif[0x8825] = {2: (43.0, 29.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def post_profile(
    browser: Browser, handle: str, form: dict[str, str], logo: bytes | None = None
) -> Page:
    data = {**form, "csrf_token": (await browser.get(f"/@{handle}/profile")).csrf}
    files = {}
    if logo is not None:
        files["logo"] = FileStorage(io.BytesIO(logo), filename="logo.png")
    response = await browser.client.post(
        f"/@{handle}/profile", form=data, files=files, headers=browser.headers, scheme="https"
    )
    return Page(response.status_code, await response.get_data(as_text=True), response.headers)


async def test_its_people_edit_the_profile_and_the_logo_is_reencoded(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example")
    browser = Browser(node)
    await browser.login("m@a.example")
    page = await post_profile(browser, "menuiserie", FORM, jpeg_with_exif())
    assert page.status == 302, page.text
    shown = await browser.get("/@menuiserie")
    assert "Menuiserie Lasserre" in shown
    assert "05 59 00 00 00" in shown
    assert "&lt;script&gt;" in shown.text and "<script>alert" not in shown.text
    logo_url = re.search(r'src="(/@menuiserie/logo\?v=\d+)"', shown.text)
    assert logo_url

    served = await Browser(node).client.get(logo_url.group(1), scheme="https")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    body = await served.get_data()
    assert b"CameraMakerSecret" not in body and b"Exif" not in body
    with Image.open(io.BytesIO(body)) as kept:
        assert kept.format == "WEBP"
        assert max(kept.size) == 512
        assert not dict(kept.getexif())

    actor = await node.client().get(
        "/actors/menuiserie", headers={"Accept": "application/activity+json"}
    )
    document = await actor.get_json()
    assert document["name"] == "Menuiserie Lasserre"
    assert document["icon"]["mediaType"] == "image/webp"
    assert document["icon"]["url"] == node.base_url + logo_url.group(1)
    assert {"type": "PropertyValue", "name": "Téléphone", "value": "05 59 00 00 00"} in document[
        "attachment"
    ]

    # Messages off: the « write a message » button is gone for the others.
    await node.structure("ressourcerie", owner="r@a.example")
    other = Browser(node)
    await other.login("r@a.example")
    assert "/messages/new?to=menuiserie" in (await other.get("/@menuiserie")).text
    page = await post_profile(browser, "menuiserie", {**FORM, "accepts_messages": ""})
    assert page.status == 302
    assert "/messages/new?to=menuiserie" not in (await other.get("/@menuiserie")).text
    token = await node.token("r@a.example")
    refused = await node.api(
        "POST",
        "/api/v1/messages",
        token=token,
        json={"from": "ressourcerie", "to": "menuiserie", "content": "Bonjour"},
    )
    assert refused.status_code == 422
    assert (await refused.get_json())["fields"] == {"to": "this structure does not take messages"}


async def test_a_bad_logo_is_refused_with_its_reason(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example")
    browser = Browser(node)
    await browser.login("m@a.example")
    bomb = png_bomb()  # 64 Mpx in 45 KB
    assert len(bomb) < MAX_BYTES
    too_large = image_bytes("BMP", size=(1200, 1200))  # 4.3 MB
    assert len(too_large) > MAX_BYTES
    cases = [
        (b"<svg onload=alert(1)></svg>", "N’est pas une image que ce nœud accepte"),
        (b"GIF89a not really", "N’est pas une image que ce nœud accepte"),
        (too_large, "Est trop volumineux : au plus 2 Mo"),
        (bomb, "A trop de pixels pour être décodé sans risque"),
    ]
    for upload, reason in cases:
        page = await post_profile(browser, "menuiserie", FORM, upload)
        assert page.status == 422, reason
        assert reason in page, reason
    english = Browser(node, headers={"Accept-Language": "en"})
    await english.login("m@a.example")
    page = await post_profile(english, "menuiserie", FORM, bomb)
    assert page.status == 422
    assert "Has too many pixels to be decoded safely." in page
    # Nothing was saved, and there is no logo.
    assert "Menuiserie Lasserre" not in await browser.get("/@menuiserie")
    assert (await browser.get("/@menuiserie/logo")).status == 404


async def test_a_stranger_cannot_edit_another_structure(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example")
    await node.structure("ressourcerie", owner="r@a.example")
    await node.person("admin@a.example", role="admin")
    for email in ("r@a.example", "admin@a.example"):
        stranger = Browser(node)
        await stranger.login(email)
        assert (await stranger.get("/@menuiserie/profile")).status == 403
        page = await stranger.post("/@menuiserie/profile", FORM, csrf_from="/@ressourcerie")
        assert page.status == 403
    token = await node.token("r@a.example")
    response = await node.api(
        "PATCH", "/api/v1/structures/menuiserie", token=token, json={"name": "Pirate"}
    )
    assert response.status_code == 403
    assert (await node.api("PATCH", "/api/v1/structures/menuiserie", json={})).status_code == 401
    missing = await node.api("PATCH", "/api/v1/structures/nobody", token=token, json={})
    assert missing.status_code == 404
    assert "Pirate" not in (await Browser(node).get("/@menuiserie")).text


async def test_the_api_edits_the_profile(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example", commune="Orthez")
    token = await node.token("m@a.example")
    response = await node.api(
        "PATCH",
        "/api/v1/structures/menuiserie",
        token=token,
        json={"description": "Nouvelle description", "commune": "Mourenx", "contact_phone": ""},
    )
    assert response.status_code == 200, await response.get_data()
    profile = await response.get_json()
    assert profile["description"] == "Nouvelle description"
    assert (profile["commune"], profile["placed"]) == ("Mourenx", "commune")
    assert profile["name"] == "Menuiserie"  # left out: unchanged
    assert profile["accepts_messages"] is True and profile["logo"] is None
    bad = await node.api(
        "PATCH",
        "/api/v1/structures/menuiserie",
        token=token,
        json={"website": "javascript:alert(1)", "kind": "castle", "accepts_messages": "maybe"},
    )
    assert bad.status_code == 422
    assert set((await bad.get_json())["fields"]) == {"website", "kind", "accepts_messages"}


async def test_a_rejected_structure_is_corrected_and_submitted_again(node: TestNode) -> None:
    await node.structure("menuiserie", owner="m@a.example", approved=False, commune="Orthez")
    await node.person("admin@a.example", role="admin")
    admin = Browser(node)
    await admin.login("admin@a.example")
    page = await admin.get("/admin/structures")
    structure_id = re.search(r'action="/admin/structures/(\d+)/reject"', page.text)
    assert structure_id
    rejected = await admin.post(
        f"/admin/structures/{structure_id.group(1)}/reject",
        {"reason": "Précisez votre activité."},
        csrf_from="/admin/structures",
    )
    assert rejected.status == 302

    member = Browser(node)
    await member.login("m@a.example")
    assert "/@menuiserie/profile" in (await member.get("/account")).text
    page = await post_profile(
        member,
        "menuiserie",
        {**FORM, "name": "Menuiserie", "description": "Nous fabriquons des meubles."},
    )
    assert page.status == 302
    page = await member.post("/@menuiserie/submit", csrf_from="/@menuiserie/profile")
    assert page.status == 302
    assert "En attente" in await member.get("/account")
    # Twice is a conflict: it is pending now.
    again = await member.post("/@menuiserie/submit", csrf_from="/@menuiserie/profile")
    assert again.status == 409

    queue = await admin.get("/admin/structures")
    assert "Soumise à nouveau après un refus" in queue
    assert "Précisez votre activité." in queue
    assert "<ins>Nous fabriquons des meubles.</ins>" in queue.text
    assert "<del>contact@menuiserie.example</del>" not in queue.text  # unchanged: not shown
    assert "<ins>contact@menuiserie.example</ins>" in queue.text  # it had none
    notices = await admin.get("/notifications")
    assert "Menuiserie a été corrigée et attend à nouveau d’être validée." in notices
    english = await admin.get("/admin/structures?lang=en")
    assert "Submitted again after a rejection" in english

    approved = await admin.post(
        f"/admin/structures/{structure_id.group(1)}/approve", csrf_from="/admin/structures"
    )
    assert approved.status == 302
    assert "Nous fabriquons des meubles." in await Browser(node).get("/@menuiserie")
