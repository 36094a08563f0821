"""The timeline of a structure, ``/timeline``, and following (``/follow``, ``/unfollow``).

The timeline shows what the chosen structure receives from what it follows —
listings, community posts, pinned announcements — through
``instance.services.timeline``, with a cursor for the next page.
Beside it: a form to follow a structure, a community or a territory by its
address, and what the structure follows, each with a button to stop.

Following goes through ``instance.services.timeline`` (pending until a remote
server accepts). The address is resolved before the transaction opens
(``instance.web.remote``): an unreachable, unsafe or unknown address is told
to the person on the page they came from, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from quart import Response, flash, render_template, request
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Listing, Person, Structure
from domain.social import Post
from domain.validation import Invalid
from federation.models import Actor, Follow
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import timeline as timelines
from instance.web.blueprint import blueprint
from instance.web.common import (
    acting_structures,
    pick_structure,
    redirect_to,
    require_person,
    safe_next,
)
from instance.web.remote import TargetError, resolve

PAGE = 20


@dataclass(frozen=True)
class Entry:
    """A timeline entry for the template: a listing or a community post."""

    type: timelines.Kind
    row: Listing | Post


async def _items(
    session: AsyncSession, actor: Actor, cursor_text: str | None
) -> tuple[list[Entry], str | None, bool]:
    """Timeline entries (listing or post rows) for the templates, and the next cursor."""
    try:
        cursor = timelines.parse_cursor(cursor_text)
    except Invalid:
        return [], None, True
    items, next_cursor = await timelines.page(session, actor, PAGE, cursor)
    return [Entry(type=i.kind, row=i.row) for i in items], next_cursor, False


@blueprint.get("/timeline")
async def timeline() -> str:
    async with current_node().db.read() as session:
        person = await require_person(session)
        structures = await acting_structures(session, person)
        current = pick_structure(structures, request.args.get("as"))
        entries: list[Entry] = []
        next_url = None
        bad_cursor = False
        following: list[Follow] = []
        if current is not None and current.actor is not None:
            entries, next_cursor, bad_cursor = await _items(
                session, current.actor, request.args.get("cursor")
            )
            if next_cursor:
                next_url = "/timeline?" + urlencode({"as": current.handle, "cursor": next_cursor})
            following = await timelines.following(session, current.actor)
    return await render_template(
        "timeline.html",
        structures=structures,
        current=current,
        entries=entries,
        next_url=next_url,
        bad_cursor=bad_cursor,
        following=following,
        target=request.args.get("target", ""),
        own_domain=current_node().settings.instance.domain.lower(),
    )


async def _acting(session: AsyncSession, person: Person, handle: str) -> Structure | None:
    """The person's approved structure ``handle`` (their only one when none is named)."""
    structures = await acting_structures(session, person)
    if not handle:
        return structures[0] if len(structures) == 1 else None
    return next((s for s in structures if s.handle == handle), None)


@blueprint.post("/follow")
async def follow_post() -> Response:
    """One of the person's structures follows the actor at ``target``."""
    node = current_node()
    form = await request.form
    target = form.get("target", "").strip()
    handle = form.get("structure", "").strip()
    back = safe_next(form.get("next"), "/timeline")
    async with node.db.session() as session:
        person = await require_person(session)
        structure = await _acting(session, person, handle)
    if structure is None:
        await flash(_("Choose one of your approved structures to follow with."), "error")
        return redirect_to(back)
    try:
        actor = await resolve(node, target)
    except TargetError as exc:
        await flash(
            _("%(target)s cannot be followed: %(why)s", target=target, why=exc.message), "error"
        )
        return redirect_to(_with_target(back, target))
    async with node.transaction() as session:
        person = await require_person(session)
        structure = await _acting(session, person, structure.handle)
        assert structure is not None and structure.actor is not None
        started = await timelines.start_following(session, node.settings, structure.actor, actor)
        if started is None:
            await flash(_("A structure cannot follow itself."), "error")
            return redirect_to(back)
        row, followed = started
        name = followed.name or followed.handle
        state = row.state
        who = structure.name
    if state == "accepted":
        await flash(_("%(who)s now follows %(name)s.", who=who, name=name), "success")
    else:
        await flash(
            _("%(who)s asked to follow %(name)s; it shows here once accepted.", who=who, name=name),
            "success",
        )
    return redirect_to(back)


def _with_target(back: str, target: str) -> str:
    """Back to the timeline with the typed address kept in its form."""
    if back.split("?", 1)[0] != "/timeline" or "target=" in back:
        return back
    return back + ("&" if "?" in back else "?") + urlencode({"target": target})


@blueprint.post("/unfollow")
async def unfollow_post() -> Response:
    node = current_node()
    form = await request.form
    back = safe_next(form.get("next"), "/timeline")
    async with node.transaction() as session:
        person = await require_person(session)
        structure = await _acting(session, person, form.get("structure", "").strip())
        target = None
        if structure is not None and structure.actor is not None:
            target = await timelines.stop_following(
                session, node.settings, structure.actor, form.get("target", "")
            )
        if structure is None or target is None:
            await flash(_("This follow does not exist."), "error")
            return redirect_to(back)
        name = target.name or target.handle
    await flash(_("%(who)s no longer follows %(name)s.", who=structure.name, name=name), "success")
    return redirect_to(back)
