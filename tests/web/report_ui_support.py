"""Helpers shared by the test_report_ui modules."""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

from sqlalchemy import select

from domain.social import Report
from tests.support import TestNode
from tests.web.browser import Browser, Page


async def _publish(node: TestNode, title: str = "Broyeur de végétaux") -> tuple[int, str]:
    """A listing of La Menuiserie (m@a.example); its id and ActivityPub id."""
    token = await node.token("m@a.example")
    response = await node.api(
        "POST",
        "/api/v1/listings",
        token=token,
        json={
            "structure": "menuiserie",
            "kind": "offer",
            "title": title,
            "description": "À prêter",
            "category": "equipment",
            "modality": "lend",
        },
    )
    assert response.status_code == 201, await response.get_data()
    listing = await response.get_json()
    return int(listing["id"]), str(listing["ap_id"])


async def _territory(node: TestNode) -> tuple[Browser, Browser]:
    """Two structures with their members logged in (menuiserie, ressourcerie), a moderator."""
    await node.structure("menuiserie", owner="m@a.example", name="Menuiserie Lasserre")
    await node.structure("ressourcerie", owner="r@a.example", name="Ressourcerie du Gave")
    await node.person("mod@a.example", role="moderator")
    menuiserie, ressourcerie = Browser(node), Browser(node)
    await menuiserie.login("m@a.example")
    await ressourcerie.login("r@a.example")
    return menuiserie, ressourcerie


def _form_path(target: str, next_path: str | None = None) -> str:
    path = f"/report?target={quote(target, safe='')}"
    return path + (f"&next={quote(next_path, safe='')}" if next_path else "")


def _field(page: Page, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert found, name
    return html.unescape(found.group(1))


def _report_href(page: Page) -> str | None:
    found = re.search(r'<p class="report-link"><a href="([^"]+)"', page.text)
    return found.group(1).replace("&amp;", "&") if found else None


async def _reports(node: TestNode) -> list[Report]:
    async with node.node.db.session() as session:
        return list((await session.execute(select(Report))).scalars().unique())


def _stays_here(page: Page) -> str:
    """The redirect's target, asserted to be a path of this site."""
    assert page.status == 302, page.text
    location = page.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "a.test"), location
    assert "evil" not in location
    return parts.path
