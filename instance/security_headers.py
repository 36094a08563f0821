"""Headers that tell browsers what a page of ours may do (one place for all of them).

Every response carries:

* ``Content-Security-Policy`` — :func:`content_security_policy`, built from
  :data:`THIRD_PARTY`: scripts and styles from this node (and the two hosts
  below), no inline script or style element, no ``eval``, no plug-in, no
  ``<base>``; forms post to this node only; nothing may frame our pages
  (``frame-ancestors 'none'``, the modern form of ``X-Frame-Options``);
* ``X-Frame-Options: DENY`` — the same for browsers older than CSP level 2;
* ``X-Content-Type-Options: nosniff`` — a JSON document or an uploaded text is
  never run as a script or a style because it looks like one;
* ``Referrer-Policy: strict-origin-when-cross-origin`` — another site learns
  at most that a visitor came from this node, never which page (a search,
  a message thread); OpenStreetMap's tile servers require a referrer, which
  this still sends (the origin).

Third parties, for now: the search page's map loads Leaflet from ``unpkg.com``
(with Subresource Integrity) and its tiles from ``tile.openstreetmap.org``;
``/api/docs`` loads Swagger UI from ``cdnjs.cloudflare.com``
(:func:`api_docs`, which replaces quart-schema's page: that one holds an
inline script). Once these are served by the node itself, their hosts leave
:data:`THIRD_PARTY` and the policy is ``'self'`` only.

Inline scripts: there are none; the map's points travel in a
``<script type="application/json">`` block, which is data that CSP lets
through and the browser never runs. Leaflet and Swagger UI set styles
through the DOM (``element.style``), which ``style-src`` does not govern.
"""

from __future__ import annotations

from quart import Quart, Response, current_app, render_template

LEAFLET = "https://unpkg.com"
SWAGGER_UI = "https://cdnjs.cloudflare.com"
OSM_TILES = "https://tile.openstreetmap.org"

# The hosts each kind of resource may come from besides this node.
THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "script-src": (LEAFLET, SWAGGER_UI),
    "style-src": (LEAFLET, SWAGGER_UI),
    "img-src": (OSM_TILES, "data:"),  # data: for the icons in Swagger UI's style sheet
}

_DIRECTIVES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("default-src", ("'self'",)),
    ("script-src", ("'self'",)),
    ("style-src", ("'self'",)),
    ("img-src", ("'self'",)),
    ("font-src", ("'self'",)),
    ("connect-src", ("'self'",)),
    ("object-src", ("'none'",)),
    ("base-uri", ("'none'",)),
    ("form-action", ("'self'",)),
    ("frame-ancestors", ("'none'",)),
)


def content_security_policy() -> str:
    """The policy of every response, e.g. ``default-src 'self'; script-src 'self' …``."""
    return "; ".join(
        " ".join((name, *sources, *THIRD_PARTY.get(name, ()))) for name, sources in _DIRECTIVES
    )


HEADERS = {
    "Content-Security-Policy": content_security_policy(),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


async def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def api_docs() -> str:
    """``/api/docs``: Swagger UI on the OpenAPI document, without inline script."""
    return await render_template(
        "api_docs.html",
        js_url=current_app.config["QUART_SCHEMA_SWAGGER_JS_URL"],
        css_url=current_app.config["QUART_SCHEMA_SWAGGER_CSS_URL"],
    )


def init_security_headers(app: Quart) -> None:
    """Add the headers to every response, and serve ``/api/docs`` (see the module doc)."""
    app.after_request(_add_headers)
    app.add_url_rule("/api/docs", "api_docs", api_docs, methods=["GET"])
