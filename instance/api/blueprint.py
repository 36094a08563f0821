"""The blueprint of the JSON API, ``/api/v1``; its routes are in the modules of ``instance.api``.

It lives in a module of its own so that those modules import it without importing
the package, which imports them all to register their routes.
"""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
