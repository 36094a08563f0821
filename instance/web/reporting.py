"""Reporting from the pages: ``/report?target=URL`` and its form.

A person acting for an approved structure reports a listing, a community
post, a message of one of their conversations or an actor, by its
ActivityPub id (the « Signaler » links of the pages carry it). The page shows
what is reported, as the person may see it: only things this node knows, and
only those the person's pages would show (a hidden listing or post, a
message of someone else's conversation, a structure not yet approved are
"nothing to report"), so the form never reveals more than the pages do and
never makes the node fetch an address somebody typed.

Sending goes through :func:`instance.services.moderation.create_report`, like the JSON
API: this node's moderators get a notification and, for content of another
node (when ``federation.forward_reports`` allows it), that node receives a
``Flag`` from the territory actor — without the reporting structure's name.
The person is then sent back to the page they came from, a path of this site
only (``safe_next``), else to the reported thing's page.
"""

from __future__ import annotations

from typing import Any

from quart import flash, render_template, request
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Person, Structure
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import moderation
from instance.services.reports import Reported, find_reported
from instance.web.blueprint import blueprint
from instance.web.common import (
    acting_structures,
    deny,
    pick_structure,
    redirect_to,
    require_person,
    safe_next,
)
from instance.web.errors import N_

MAX_REASON = 5000  # what instance.services.moderation keeps of a reason
NOTHING_TO_REPORT = N_("There is nothing to report at this address: it may have been removed.")
TOO_MANY_REPORTS = N_(
    "Your structure has sent many reports in the last hour: the moderators have them. "
    "Please try again later."
)


async def _reporters(session: AsyncSession, person: Person) -> list[Structure]:
    structures = await acting_structures(session, person)
    if not structures:
        deny(403, _("Only the members of an approved structure can report."))
    return structures


async def _page(
    structures: list[Structure],
    reported: Reported | None,
    values: dict[str, str],
    errors: dict[str, str],
    problem: str | None = None,
) -> str:
    settings = current_node().settings
    return await render_template(
        "report.html",
        structures=structures,
        reported=reported,
        values=values,
        errors=errors,
        problem=problem,
        forwarded=settings.federation.forward_reports,
        max_reason=MAX_REASON,
    )


@blueprint.get("/report")
async def report_form() -> str:
    target = request.args.get("target", "").strip()
    async with current_node().db.read() as session:
        person = await require_person(session)
        structures = await _reporters(session, person)
        reported = await find_reported(session, target, structures)
        if reported is None:
            deny(404, _(NOTHING_TO_REPORT))
        structure = pick_structure(structures, request.args.get("as"))
        assert structure is not None
        values = {
            "target": target,
            "next": safe_next(request.args.get("next"), reported.page),
            "structure": structure.handle,
            "reason": "",
        }
        return await _page(structures, reported, values, {})


def _check_reason(reason: str) -> str | None:
    if not reason:
        return _("Say in a few words what is wrong.")
    if len(reason) > MAX_REASON:
        return _("Your reason is too long: at most %(max)d characters.", max=MAX_REASON)
    return None


@blueprint.post("/report")
async def report_post() -> Any:
    node = current_node()
    form = await request.form
    values = {name: form.get(name, "").strip() for name in ("target", "next", "structure")}
    values["reason"] = form.get("reason", "").strip()
    errors: dict[str, str] = {}
    problem = None
    async with node.db.session() as session:
        person = await require_person(session)
        structures = await _reporters(session, person)
        structure = pick_structure(structures, values["structure"])
        assert structure is not None and structure.actor is not None
        values["structure"] = structure.handle
        reported = await find_reported(session, values["target"], structures)
        reason_error = _check_reason(values["reason"])
        if reason_error:
            errors["reason"] = reason_error
        if reported is None:
            problem = _(NOTHING_TO_REPORT)
        if errors or problem:
            values["next"] = safe_next(values["next"], reported.page if reported else "/")
            return await _page(structures, reported, values, errors, problem), 422
        assert reported is not None
        reporter = structure.actor
    try:
        report = await moderation.create_report(
            node, person, reporter, reported.target, values["reason"]
        )
    except ApiError as exc:
        async with node.db.session() as session:
            person = await require_person(session)
            structures = await _reporters(session, person)
            if exc.status == 429:  # moderation.REPORTS_PER_STRUCTURE_PER_HOUR
                page = await _page(structures, reported, values, {}, _(TOO_MANY_REPORTS))
                return page, 429, exc.headers
            # Gone between the check and the report (deleted meanwhile): say so on the form.
            page = await _page(structures, None, values, {}, _(NOTHING_TO_REPORT))
        return page, 422
    if report.forwarded:
        message = _(
            "Thank you: the moderators of this territory will look at your report. "
            "The moderators of %(domain)s are told too, without the name of your structure.",
            domain=reported.author.domain,
        )
    else:
        message = _("Thank you: the moderators of this territory will look at your report.")
    await flash(message, "success")
    return redirect_to(safe_next(values["next"], reported.page))


__all__ = ["Reported", "find_reported", "report_form", "report_post"]
