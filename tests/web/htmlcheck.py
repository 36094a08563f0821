"""A small HTML checker: nothing executable in a page, whatever text it shows.

Parses the page with ``html.parser`` (as a browser would split tags and
attributes, entities decoded) and reports every element or attribute that
could run script: ``<script>`` other than ours (JSON data or a ``src``),
``<iframe>``, ``<svg>``, ``<math>``, ``<object>``, ``<embed>``, ``<base>``,
``<style>``, a refreshing ``<meta>``, any ``on…=`` attribute, any
``style=`` attribute (``expression(``, ``url(javascript:``), and any URL
attribute whose scheme, once entities are decoded and blanks removed, is
``javascript:``, ``vbscript:`` or ``data:``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

FORBIDDEN_TAGS = {
    "iframe",
    "frame",
    "frameset",
    "svg",
    "math",
    "object",
    "embed",
    "base",
    "applet",
    "style",
    "template",
    "portal",
}
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
    "srcset",
    "ping",
    "cite",
}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
# Our own scripts: the map's data and files served by us (Leaflet included).
OUR_SCRIPT_SOURCES = ("/static/",)


def _scheme_of(value: str) -> str:
    # Entities are already decoded by the parser; browsers drop tabs, newlines and
    # leading blanks from a URL before reading its scheme (WHATWG URL). A percent-escape
    # in the scheme makes it a relative URL, which is harmless.
    return re.sub(r"[\x00-\x20]+", "", value).lower()


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            src = found.get("src") or ""
            if found.get("type") != "application/json" and not src.startswith(OUR_SCRIPT_SOURCES):
                self.problems.append(f"<script {attrs}>")
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "meta" and (found.get("http-equiv") or "").lower() == "refresh":
            self.problems.append("<meta http-equiv=refresh>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            if name in URL_ATTRIBUTES and value and _scheme_of(value).startswith(BAD_SCHEMES):
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def executable_parts(page: str) -> list[str]:
    """What in ``page`` could run script (empty when the page is safe)."""
    checker = _Checker()
    checker.feed(page)
    checker.close()
    return checker.problems
