"""Server-rendered pages (Jinja2), French by default and English.

One module per area: ``home`` (home, search), ``accounts`` (sign up, log in,
account, tokens), ``structures`` (profiles), ``listings`` (view, create,
edit, withdraw), ``admin`` (approval queue). Pages load the logged-in person
with :func:`instance.auth.load_current_person` in their own session.
"""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("web", __name__)

from instance.web import home  # noqa: E402

__all__ = ["blueprint", "home"]
