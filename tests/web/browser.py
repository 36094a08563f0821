"""A small browser for page tests: cookies, CSRF tokens taken from the forms, logging in.

It drives a node's app through Quart's test client over ``https`` (the test
nodes' cookies are ``Secure``), and reads pages as text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers

from tests.support import PASSWORD, TestNode

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
MAP_DATA = re.compile(r'<script type="application/json" id="map-data">(.*?)</script>', re.S)


def plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@dataclass
class Page:
    status: int
    text: str
    headers: Headers

    @property
    def location(self) -> str:
        """The path a redirect points to."""
        target = self.headers.get("Location", "")
        parts = urlsplit(target)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    @property
    def csrf(self) -> str:
        found = CSRF_RE.search(self.text)
        assert found, "no CSRF token in the page"
        return html.unescape(found.group(1))

    def __contains__(self, needle: str) -> bool:
        """Whether the page shows ``needle``, French no-break spaces read as spaces."""
        return plain(needle) in plain(self.text)


class Browser:
    """One visitor: a cookie jar and optional default headers (e.g. Accept-Language)."""

    def __init__(self, node: TestNode, headers: dict[str, str] | None = None) -> None:
        self.node = node
        self.client = node.client()
        self.headers = dict(headers or {})

    async def _page(self, response: Any) -> Page:
        return Page(response.status_code, await response.get_data(as_text=True), response.headers)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Page:
        response = await self.client.get(
            path, headers={**self.headers, **(headers or {})}, scheme="https"
        )
        return await self._page(response)

    async def post(
        self,
        path: str,
        form: dict[str, str] | None = None,
        *,
        csrf_from: str | None = "/",
        csrf: str | None = None,
    ) -> Page:
        """POST a form; the CSRF token is read from ``csrf_from`` unless given."""
        data = dict(form or {})
        if csrf is not None:
            data["csrf_token"] = csrf
        elif csrf_from is not None:
            data["csrf_token"] = (await self.get(csrf_from)).csrf
        response = await self.client.post(path, form=data, headers=self.headers, scheme="https")
        return await self._page(response)

    async def login(self, email: str, password: str = PASSWORD) -> Page:
        page = await self.post("/login", {"email": email, "password": password}, csrf_from="/login")
        assert page.status == 302, page.text
        return page

    async def logout(self) -> Page:
        return await self.post("/logout")
