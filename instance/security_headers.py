"""Headers that tell browsers what a page of ours may do (one place for all of them).

Every response carries:

* ``Content-Security-Policy`` — :func:`content_security_policy`: scripts,
  styles and everything else from this node only (images from the tile
  server too, below), no inline script or style element, no ``eval``, no plug-in, no
  ``<base>``; forms post to this node only; nothing may frame our pages
  (``frame-ancestors 'none'``, the modern form of ``X-Frame-Options``);
* ``X-Frame-Options: DENY`` — the same for browsers older than CSP level 2;
* ``X-Content-Type-Options: nosniff`` — a JSON document or an uploaded text is
  never run as a script or a style because it looks like one;
* ``Referrer-Policy: strict-origin-when-cross-origin`` — another site learns
  at most that a visitor came from this node, never which page (a search,
  a message thread); OpenStreetMap's tile servers require a referrer, which
  this still sends (the origin).

No third party: Leaflet (with its marker clustering) and Swagger UI are
served by the node itself from ``static/vendor/`` (versions and licences in
its README), so scripts and styles come from ``'self'`` only. The one host a
page may reach besides the node is the map's tile server, the setting
``map.tile_url`` (default OpenStreetMap's): its origin is added to
``img-src``; with an empty setting, or a tile address on this node
(``/tiles/{z}/{x}/{y}.png``), the policy names no other host at all.

Inline scripts: there are none; the map's points travel in a
``<script type="application/json">`` block, which is data that CSP lets
through and the browser never runs. Leaflet and Swagger UI set styles
through the DOM (``element.style``), which ``style-src`` does not govern.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import Quart, Response, current_app, render_template

# Swagger UI's files under static/ (static/vendor/README.md).
SWAGGER_UI = "vendor/swagger-ui-dist-5.36.0"

# data: for the icons in Swagger UI's and Leaflet's style sheets.
_IMAGES_TOO = ("data:",)

_DIRECTIVES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("default-src", ("'self'",)),
    ("script-src", ("'self'",)),
    ("style-src", ("'self'",)),
    ("img-src", ("'self'", *_IMAGES_TOO)),
    ("font-src", ("'self'",)),
    ("connect-src", ("'self'",)),
    ("manifest-src", ("'self'",)),
    ("object-src", ("'none'",)),
    ("base-uri", ("'none'",)),
    ("form-action", ("'self'",)),
    ("frame-ancestors", ("'none'",)),
)


def tile_origin(tile_url: str) -> str | None:
    """The origin of a tile address (``https://tile.example.org``), or None when the
    address is empty or on this node (a path)."""
    if not tile_url or not tile_url.startswith(("https://", "http://")):
        return None
    parts = urlsplit(tile_url.replace("{s}", "a"))
    host = tile_url.split("://", 1)[1].split("/", 1)[0]
    if "{s}" in host:  # tile.example.org with subdomains a, b, c: all of them
        return f"{parts.scheme}://*.{host.split('.', 1)[1]}"
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(tile_url: str = "") -> str:
    """The policy of every response, e.g. ``default-src 'self'; script-src 'self' …``;
    the tile server of ``tile_url`` (the setting ``map.tile_url``) is the only other host,
    for images."""
    origin = tile_origin(tile_url)
    extra = {"img-src": (origin,)} if origin else {}
    return "; ".join(
        " ".join((name, *sources, *extra.get(name, ()))) for name, sources in _DIRECTIVES
    )


def headers_for(tile_url: str) -> dict[str, str]:
    """Every header of :mod:`this module <instance.security_headers>`, for one node."""
    return {
        "Content-Security-Policy": content_security_policy(tile_url),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


async def _add_headers(response: Response) -> Response:
    for name, value in current_app.config["ENTRAIDE_SECURITY_HEADERS"].items():
        response.headers.setdefault(name, value)
    return response


async def api_docs() -> str:
    """``/api/docs``: Swagger UI on the OpenAPI document, without inline script."""
    return await render_template("api_docs.html", swagger_ui=SWAGGER_UI)


def init_security_headers(app: Quart, tile_url: str) -> None:
    """Add the headers to every response (the policy allowing the tile server of
    ``tile_url``), and serve ``/api/docs`` (see the module doc)."""
    app.config["ENTRAIDE_SECURITY_HEADERS"] = headers_for(tile_url)
    app.after_request(_add_headers)
    app.add_url_rule("/api/docs", "api_docs", api_docs, methods=["GET"])
