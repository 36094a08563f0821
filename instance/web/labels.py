"""Words the pages show for the codes the data holds (kinds, modalities, statuses…).

Each label is looked up in the catalogue when the page is rendered, so it
follows the reader's language. Category labels come from
``domain.categories`` (they are part of the shared taxonomy), not from the
catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from babel.numbers import format_currency, format_decimal

from domain.categories import CATEGORIES, get_category
from domain.models import LISTING_KINDS, MODALITIES, STRUCTURE_KINDS
from instance.i18n import gettext as _
from instance.i18n import select_locale

Choices = list[tuple[str, str]]


def kind_label(kind: str) -> str:
    return {"offer": _("Offer"), "need": _("Need")}.get(kind, kind)


def modality_label(modality: str) -> str:
    return {
        "lend": _("Lend or share"),
        "mutualise": _("Mutualise"),
        "give": _("Give or reuse"),
        "sell": _("Sell"),
        "barter": _("Barter"),
    }.get(modality, modality)


def listing_status_label(status: str) -> str:
    return {
        "open": _("Open"),
        "fulfilled": _("Concluded"),
        "expired": _("Expired"),
        "withdrawn": _("Withdrawn"),
    }.get(status, status)


def structure_kind_label(kind: str) -> str:
    return {
        "business": _("Business"),
        "association": _("Association"),
        "public": _("Public body"),
        "other": _("Other structure"),
    }.get(kind, kind)


def structure_status_label(status: str) -> str:
    return {
        "pending": _("Awaiting approval"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "suspended": _("Suspended"),
    }.get(status, status)


def role_label(role: str) -> str:
    return {
        "admin": _("Administrator"),
        "moderator": _("Moderator"),
        "animator": _("Network animator"),
        "member": _("Member"),
    }.get(role, role)


def member_role_label(role: str) -> str:
    """A person's role within a structure's team."""
    return {"owner": _("Owner"), "member": _("Member")}.get(role, role)


def audit_action_label(action: str) -> str:
    """What a line of the audit log records, in words."""
    return {
        "community.create": _("Community created"),
        "community.member.add": _("Member admitted"),
        "community.member.remove": _("Member removed"),
        "post.pin": _("Post pinned"),
        "post.unpin": _("Post unpinned"),
        "post.remove": _("Post removed"),
        "post.hide": _("Post hidden"),
        "report.resolve": _("Report resolved"),
        "listing.hide": _("Listing hidden"),
        "structure.suspend": _("Structure suspended"),
        "structure.unsuspend": _("Suspension lifted"),
        "actor.silenced": _("Remote actor silenced"),
        "actor.blocked": _("Remote actor blocked"),
        "actor.clear": _("Remote actor cleared"),
        "domain.block": _("Domain blocked"),
        "domain.silence": _("Domain silenced"),
        "domain.allow": _("Domain allowed"),
        "domain.clear": _("Domain policy cleared"),
        "peering.request": _("Peering requested"),
        "peering.approve": _("Peering approved"),
        "peering.reject": _("Peering rejected"),
        "peering.remove": _("Peering removed"),
    }.get(action, action)


def policy_label(policy: str) -> str:
    return {
        "block": _("Blocked"),
        "silence": _("Silenced"),
        "allow": _("Allowed"),
        "": _("No policy"),
    }.get(policy, policy)


def mode_label(mode: str) -> str:
    """The federation mode (``federation.mode``) in words."""
    return {
        "open": _("open"),
        "allowlist": _("allowlist"),
        "blocklist": _("blocklist"),
    }.get(mode, mode)


def domain_state_label(state: str) -> str:
    return {
        "ok": _("Delivering"),
        "failing": _("Failing"),
        "unavailable": _("Unavailable"),
        "unknown": _("No delivery yet"),
    }.get(state, state)


def peering_label(value: str) -> str:
    """A peering's direction or state."""
    return {
        "incoming": _("Incoming"),
        "outgoing": _("Outgoing"),
        "pending": _("Pending"),
        "accepted": _("Accepted"),
        "rejected": _("Rejected"),
    }.get(value, value)


def follow_state_label(state: str) -> str:
    return {
        "pending": _("Request sent"),
        "accepted": _("Following"),
        "rejected": _("Refused"),
    }.get(state, state)


def actor_kind_label(actor_type: str, is_territory: bool = False) -> str:
    if is_territory:
        return _("Territory")
    return {
        "Organization": _("Structure"),
        "Group": _("Community"),
        "Application": _("Territory"),
        "Service": _("Service"),
        "Person": _("Person"),
    }.get(actor_type, actor_type)


def category_label(category_id: str) -> str:
    category = get_category(category_id)
    return category.label(select_locale()) if category else category_id


def category_choices() -> Choices:
    locale = select_locale()
    return [(c.id, c.label(locale)) for c in CATEGORIES]


def kind_choices() -> Choices:
    return [(k, kind_label(k)) for k in LISTING_KINDS]


def modality_choices() -> Choices:
    return [(m, modality_label(m)) for m in MODALITIES]


def structure_kind_choices() -> Choices:
    return [(k, structure_kind_label(k)) for k in STRUCTURE_KINDS]


def format_number(value: Decimal | float | None) -> str:
    """A quantity or distance in the reader's notation (``1 234,5`` in French)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        value = value.normalize()
    return format_decimal(value, locale=select_locale())


def format_price(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    return format_currency(amount, currency or "EUR", locale=select_locale())


TEMPLATE_HELPERS: dict[str, Callable[..., object]] = {
    "kind_label": kind_label,
    "modality_label": modality_label,
    "listing_status_label": listing_status_label,
    "structure_kind_label": structure_kind_label,
    "structure_status_label": structure_status_label,
    "role_label": role_label,
    "member_role_label": member_role_label,
    "audit_action_label": audit_action_label,
    "policy_label": policy_label,
    "domain_state_label": domain_state_label,
    "mode_label": mode_label,
    "peering_label": peering_label,
    "follow_state_label": follow_state_label,
    "actor_kind_label": actor_kind_label,
    "category_label": category_label,
    "category_choices": category_choices,
    "kind_choices": kind_choices,
    "modality_choices": modality_choices,
    "structure_kind_choices": structure_kind_choices,
    "format_number": format_number,
    "format_price": format_price,
}
