"""Federation administration: peerings (``/admin/peers``) and domain health
(``/admin/federation``), for administrators.

* Peerings are ``instance.services.peering``'s: a table HOST / DIRECTION / STATE with
  approve, reject and remove, and a form to ask a territory to peer (its
  address is resolved over the network, outside any transaction; an error is
  shown on the page).
* The « Fédération » page lists every remote domain we deliver to or hold a
  policy for: last success, consecutive failures, deliveries waiting in the
  queue, unavailable since, policy — failing domains first — with block,
  silence, allow and clear (``instance.services.moderation.moderate_domain``, audited).
"""

from __future__ import annotations

import logging
from typing import Any

from quart import flash, render_template, request

from federation.errors import FederationError
from instance.errors import ApiError
from instance.i18n import gettext as _
from instance.node import current_node
from instance.services import peering
from instance.services.moderation import audit, moderate_domain
from instance.web.blueprint import blueprint
from instance.web.common import redirect_to, require_admin
from instance.web.remote import explain

log = logging.getLogger(__name__)

POLICIES = ("block", "silence", "allow", "")


def _peering_error(error: peering.PeeringError) -> str:
    text = str(error)
    if text.startswith("no peering with"):
        return _("There is no peering with this territory.")
    if "has not asked" in text:
        return _("This territory has not asked to peer with us.")
    if "is blocked" in text:
        return _("This territory's domain is blocked: unblock it on the Federation page first.")
    return _("This peering operation is not possible.")


# --- peerings -----------------------------------------------------------------------------


async def _peers_page(target: str = "", error: str | None = None) -> str:
    async with current_node().db.session() as session:
        await require_admin(session)
        peerings = await peering.list_peerings(session)
    return await render_template("admin_peers.html", peerings=peerings, target=target, error=error)


@blueprint.get("/admin/peers")
async def admin_peers() -> str:
    return await _peers_page()


@blueprint.post("/admin/peers/request")
async def admin_peer_request() -> Any:
    node = current_node()
    target = (await request.form).get("target", "").strip()
    async with node.db.session() as session:
        admin = await require_admin(session)
    if not target:
        return await _peers_page(target, _("Give the territory's address.")), 422
    try:
        result = await peering.request(node, target)
    except peering.PeeringError as exc:
        return await _peers_page(target, _peering_error(exc)), 422
    except FederationError as exc:
        log.info("peering request to %s failed: %s", target, exc.message)
        return await _peers_page(target, explain(exc)), 422
    async with node.transaction() as session:
        audit(session, admin, "peering.request", result.actor)
    await flash(
        _(
            "The peering request is sent to %(host)s; it waits for its administrators.",
            host=result.host,
        ),
        "success",
    )
    return redirect_to("/admin/peers")


@blueprint.post("/admin/peers/<host>/<any(approve, reject, remove):action>")
async def admin_peer_action(host: str, action: str) -> Any:
    node = current_node()
    async with node.db.session() as session:
        admin = await require_admin(session)
    try:
        if action == "approve":
            await peering.approve(node, host)
            message = _("The peering with %(host)s is approved.", host=host)
        elif action == "reject":
            await peering.reject_request(node, host)
            message = _("The peering request of %(host)s is rejected.", host=host)
        else:
            await peering.remove(node, host)
            message = _("The peering with %(host)s is removed.", host=host)
    except peering.PeeringError as exc:
        await flash(_peering_error(exc), "error")
        return redirect_to("/admin/peers")
    async with node.transaction() as session:
        audit(session, admin, f"peering.{action}", host)
    await flash(message, "success")
    return redirect_to("/admin/peers")


# --- federation health and domain policy ---------------------------------------------------


async def _federation_page(values: dict[str, str] | None = None, error: str | None = None) -> str:
    node = current_node()
    async with node.db.session() as session:
        await require_admin(session)
        rows = await peering.domain_rows(session)
    return await render_template(
        "admin_federation.html",
        rows=rows,
        mode=node.settings.federation.mode,
        values=values or {},
        error=error,
    )


@blueprint.get("/admin/federation")
async def admin_federation() -> str:
    return await _federation_page()


@blueprint.post("/admin/federation/policy")
async def admin_domain_policy() -> Any:
    form = await request.form
    domain = form.get("domain", "").strip().lower()
    policy = form.get("policy", "")
    reason = form.get("reason", "").strip()
    values = {"domain": domain, "policy": policy, "reason": reason}
    if not domain or domain == current_node().settings.instance.domain.lower():
        return await _federation_page(values, _("Give a domain such as territory.example.")), 422
    if policy not in POLICIES:
        return await _federation_page(values, _("Choose block, silence, allow or clear.")), 422
    try:
        async with current_node().transaction() as session:
            admin = await require_admin(session)
            # The host is checked there, as for the API and the command line.
            await moderate_domain(session, admin, domain, policy, reason)
    except ApiError:
        return await _federation_page(values, _("Give a domain such as territory.example.")), 422
    message = {
        "block": _("%(domain)s is blocked: nothing is received from it or sent to it."),
        "silence": _("%(domain)s is silenced: its content stays out of search and timelines."),
        "allow": _("%(domain)s is allowed."),
        "": _("The policy of %(domain)s is cleared."),
    }[policy]
    await flash(message % {"domain": domain}, "success")
    return redirect_to("/admin/federation")
