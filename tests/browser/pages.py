"""What every browser test checks on every page it visits.

A :class:`Tab` is one Playwright page of one context (a language and a screen size)
on one node:

* every request the page makes must go to the node itself (or to an address listed in
  ``also``): a request listener records any other, and :meth:`Tab.check` fails on it;
* a page script error, or a Content-Security-Policy refusal logged in the console, fails
  the visit too (the policy is never bypassed: axe is evaluated through the DevTools
  protocol, which the page's policy does not govern);
* axe-core (``vendor/axe-core-4.14.1``, the npm package's ``axe.min.js``, served to the
  test only) runs on the page: no ``serious`` or ``critical`` violation;
* the page is no wider than the screen (nothing cut off or scrolling sideways on a phone);
* a screenshot of the whole page lands in :data:`SCREENSHOTS`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).parent
AXE = HERE / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SCREENSHOTS = Path(
    os.environ.get("ENTRAIDE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "entraide-screenshots"
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

_AXE_RUN = """async (skip) => {
  const rules = Object.fromEntries(skip.map(id => [id, {enabled: false}]));
  const result = await axe.run(document, {resultTypes: ["violations"], rules});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


def chromium_path() -> str | None:
    """The system's Chromium: ``PLAYWRIGHT_CHROMIUM``, the ``PATH``, ``/usr/bin/chromium``."""
    given = os.environ.get("PLAYWRIGHT_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, in one line (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: Playwright is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "browser tests skipped: no Chromium (set PLAYWRIGHT_CHROMIUM or install chromium)"
    return None


@dataclass
class Tab:
    """One page of a browser context on one node, checked at every visit."""

    page: Any
    base_url: str
    name: str
    also: tuple[str, ...] = ()
    javascript: bool = True
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    shots: int = 0

    def __post_init__(self) -> None:
        allowed = {urlsplit(self.base_url).netloc, *(urlsplit(u).netloc for u in self.also)}

        def on_request(request: Any) -> None:
            parts = urlsplit(request.url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc not in allowed:
                self.foreign.append(request.url)

        def on_console(message: Any) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                self.errors.append(message.text)

        def refuse(route: Any) -> None:
            # Nothing leaves 127.0.0.1, even when a check is about to fail.
            if urlsplit(route.request.url).netloc in allowed:
                route.continue_()
            else:
                on_request(route.request)
                route.abort()

        self.page.route(re.compile(r"^(https?|wss?)://"), refuse)
        self.page.on("request", on_request)
        self.page.on("console", on_console)
        self.page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))

    def goto(self, path: str, *, status: int = 200) -> Any:
        """Open ``path`` of the node and check the page (see :meth:`check`)."""
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == status, (path, response)
        self.check(path)
        return response

    def check(self, label: str, *, axe_skip: tuple[str, ...] = ()) -> None:
        """The checks of the module doc on the page as it is now (``axe_skip``: axe rules
        not run, for markup that is not ours)."""
        self.page.wait_for_load_state("load")
        assert not self.foreign, f"{label}: requests to other hosts: {self.foreign}"
        assert not self.errors, f"{label}: {self.errors}"
        if not self.javascript:  # the same markup as with it: axe has checked it there
            self.screenshot(label)
            return
        self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
        violations = self.page.evaluate(_AXE_RUN, list(axe_skip))
        assert not violations, f"{label}: axe: {violations}"
        # Nothing wider than the screen (a phone would scroll sideways, or cut it off).
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{label}: {overflow} px wider than the screen"
        self.screenshot(label)

    def screenshot(self, label: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "home"
        path = SCREENSHOTS / f"{self.name}-{self.shots:02d}-{slug}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def new_tab(
    browser: Any,
    base_url: str,
    *,
    lang: str,
    size: str,
    name: str = "",
    also: tuple[str, ...] = (),
    javascript: bool = True,
) -> Tab:
    """A fresh context (no cookies) in ``lang`` at ``size`` (``desktop`` or ``phone``)."""
    context = browser.new_context(
        viewport=SIZES[size],
        locale={"fr": "fr-FR", "en": "en-GB"}[lang],
        extra_http_headers={"Accept-Language": lang},
        is_mobile=size == "phone",
        has_touch=size == "phone",
        device_scale_factor=1,
        java_script_enabled=javascript,
    )
    context.set_default_timeout(15_000)
    return Tab(context.new_page(), base_url, name or f"{lang}-{size}", also, javascript)


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG image of one colour (zlib and struct only)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class TileServer:
    """A tile server on 127.0.0.1 answering every ``/{z}/{x}/{y}.png`` with a plain tile,
    counting the tiles it served (the map's background, without the Internet)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        tile = _png(256, 256, (226, 232, 226))
        served: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(tile)))
                self.end_headers()
                self.wfile.write(tile)

            def log_message(self, *args: Any) -> None:
                pass

        self.served = served
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base_url + "/{z}/{x}/{y}.png"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
