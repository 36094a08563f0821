"""What every page needs: who is looking, where to send the anonymous, safe redirects.

A view opens its own session and calls :func:`load_viewer` (anyone) or
:func:`require_person` (a login is needed: :class:`LoginRequired` becomes a
redirect to ``/login?next=…``). Either one records a small :class:`Viewer`
in ``g`` for the layout, so that rendering never opens a second session —
on SQLite a second writer would wait for the first one (``BEGIN
IMMEDIATE``), which is waiting for the page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlencode, urlsplit
from weakref import WeakKeyDictionary

from quart import Response, g, redirect, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from werkzeug.exceptions import default_exceptions

from config.database import Database
from domain.models import Person, Structure
from domain.people import structures_of
from instance.auth import load_current_person, login_cookie
from instance.node import current_node
from instance.services.directory import territory_names
from instance.services.people import waiting_counts

log = logging.getLogger(__name__)


class LoginRequired(Exception):
    """The page needs a logged-in person; answered by a redirect to the login page."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in person as the layout sees them (detached from any session)."""

    id: int
    email: str
    display_name: str
    is_admin: bool
    is_moderator: bool
    unread_messages: int = 0
    unread_notifications: int = 0


async def remember_viewer(session: AsyncSession, person: Person | None) -> None:
    """Record ``person`` and their unread counts (header badges) for the layout."""
    if person is None:
        g.viewer = None
        return
    messages, notifications = await waiting_counts(session, person)
    g.viewer = Viewer(
        id=person.id,
        email=person.email,
        display_name=person.display_name,
        is_admin=person.is_admin,
        is_moderator=person.is_moderator,
        unread_messages=messages,
        unread_notifications=notifications,
    )


async def load_viewer(session: AsyncSession) -> Person | None:
    """The logged-in person (or None), remembered in ``g`` for the layout."""
    person = await load_current_person(session)
    await remember_viewer(session, person)
    return person


async def require_person(session: AsyncSession) -> Person:
    """The logged-in person, or raise :class:`LoginRequired`."""
    person = await load_viewer(session)
    if person is None:
        raise LoginRequired
    return person


async def require_admin(session: AsyncSession) -> Person:
    """The logged-in administrator; anonymous people log in, others get 403."""
    person = await require_person(session)
    if not person.is_admin:
        deny(403)
    return person


async def require_moderator(session: AsyncSession) -> Person:
    """The logged-in moderator (administrators are moderators too); others get 403."""
    person = await require_person(session)
    if not person.is_moderator:
        deny(403)
    return person


async def acting_structures(session: AsyncSession, person: Person) -> list[Structure]:
    """The approved structures ``person`` acts for (those that can talk and follow)."""
    return [s for s in await structures_of(session, person) if s.is_visible and s.actor is not None]


def pick_structure(structures: list[Structure], handle: str | None) -> Structure | None:
    """The structure named ``handle`` among ``structures``, else the first one."""
    for structure in structures:
        if structure.handle == handle:
            return structure
    return structures[0] if structures else None


async def viewer_for_layout() -> Viewer | None:
    """The viewer for pages whose view did not load one (error pages)."""
    if "viewer" in g:
        viewer: Viewer | None = g.viewer
        return viewer
    if login_cookie() is None:
        g.viewer = None
        return None
    try:
        async with current_node().db.session() as session:
            await load_viewer(session)
    except SQLAlchemyError:
        # The layout of an error page must render even when the database does not answer.
        log.warning("could not load the logged-in person for the layout", exc_info=True)
        g.viewer = None
    result: Viewer | None = g.viewer
    return result


TERRITORY_NAMES_FOR = 30.0
_territory_names: WeakKeyDictionary[Database, tuple[float, dict[str, str]]] = WeakKeyDictionary()


async def territory_names_for_pages() -> dict[str, str]:
    """The names of the other territories this node knows, by domain, for the layout.

    Pages name a peer by its territory's name rather than its host. Read with the
    read-only session (a view's own session may hold SQLite's writer) and kept
    :data:`TERRITORY_NAMES_FOR` seconds per database: a peer's name changes rarely, and a
    page must not pay a query for it. A database that does not answer leaves hosts.
    """
    db = current_node().db
    kept = _territory_names.get(db)
    now = time.monotonic()
    if kept is not None and now - kept[0] < TERRITORY_NAMES_FOR:
        return kept[1]
    try:
        async with db.read() as session:
            names = await territory_names(session)
    except SQLAlchemyError:
        log.warning("could not read the names of the other territories", exc_info=True)
        return kept[1] if kept is not None else {}
    _territory_names[db] = (now, names)
    return names


def deny(status: int, message: str | None = None) -> NoReturn:
    """Stop with an HTTP error; ``message`` (translated) is shown on the error page."""
    error = default_exceptions[status]()
    if message:
        error.description = message
        error.web_message = message  # type: ignore[attr-defined]
    raise error


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect)."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or parts.scheme
        or parts.netloc
        or any(ch in target for ch in "\\\r\n\t")
    ):
        return default
    return target


def redirect_to(location: str) -> Response:
    """A 302 to a path of this site (typed as Quart's response, which it is at runtime)."""
    return redirect(location)  # type: ignore[return-value]


def login_url_for_here() -> str:
    """The login page, with a ``next`` that brings the person back to this page."""
    if request.method == "GET":
        here = request.full_path.rstrip("?")
        return "/login?" + urlencode({"next": here})
    return "/login"
