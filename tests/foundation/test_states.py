"""The state tables of follows, structures, listings, reports and deliveries
(``config.states`` and one module per aggregate): every (from, to) in a table is an
allowed change, every other one raises ``StateError`` and changes nothing."""

from __future__ import annotations

import ast
from itertools import product
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.dialects import sqlite

from config.states import StateError, StateMachine, StateType
from domain import listing_states, mail_states, report_states, structure_states
from domain.listing_states import LISTING
from domain.mail_states import MAIL
from domain.models import Listing, Structure
from domain.outgoing_mail import OutgoingMail
from domain.report_states import REPORT
from domain.social import Report
from domain.structure_states import STRUCTURE
from federation import delivery_states, follow_states
from federation.delivery_states import DELIVERY
from federation.follow_states import FOLLOW
from federation.models import Delivery, Follow

MACHINES: dict[str, StateMachine[Any]] = {
    "follow": FOLLOW,
    "structure": STRUCTURE,
    "listing": LISTING,
    "report": REPORT,
    "delivery": DELIVERY,
    "mail": MAIL,
}

# The tables as the modules document them, written out again: a change to a table is
# a decision, made in both places.
EXPECTED: dict[str, set[tuple[str | None, str]]] = {
    "follow": {
        (None, "pending"),
        (None, "accepted"),
        ("pending", "accepted"),
        ("pending", "rejected"),
        ("accepted", "rejected"),
        ("rejected", "pending"),
    },
    "structure": {
        (None, "pending"),
        ("pending", "approved"),
        ("pending", "rejected"),
        ("rejected", "approved"),
        ("approved", "suspended"),
        ("suspended", "approved"),
    },
    "listing": {
        (None, "open"),
        ("open", "fulfilled"),
        ("open", "expired"),
        ("open", "withdrawn"),
        ("fulfilled", "open"),
        ("fulfilled", "expired"),
        ("fulfilled", "withdrawn"),
        ("expired", "open"),
        ("expired", "fulfilled"),
        ("expired", "withdrawn"),
    },
    "report": {(None, "open"), ("open", "resolved")},
    "delivery": {(None, "pending"), ("pending", "done"), ("pending", "dead")},
    "mail": {(None, "pending"), ("pending", "sent"), ("pending", "failed")},
}


def _row(machine: StateMachine[Any], state: str | None) -> SimpleNamespace:
    return SimpleNamespace(**{machine.attribute: state})


def _all_pairs(name: str) -> list[tuple[str, str | None, str]]:
    machine = MACHINES[name]
    return [(name, current, to) for current, to in product((None, *machine.states), machine.states)]


ALL_PAIRS = [pair for name in MACHINES for pair in _all_pairs(name)]
ALLOWED = [pair for pair in ALL_PAIRS if (pair[1], pair[2]) in EXPECTED[pair[0]]]
REFUSED = [pair for pair in ALL_PAIRS if (pair[1], pair[2]) not in EXPECTED[pair[0]]]


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_each_table_is_as_documented(name: str) -> None:
    assert set(MACHINES[name].pairs()) == EXPECTED[name]


@pytest.mark.parametrize(("name", "current", "to"), ALLOWED)
def test_allowed_change(name: str, current: str | None, to: str) -> None:
    machine = MACHINES[name]
    row = _row(machine, current)
    machine.transition(row, to)
    assert getattr(row, machine.attribute) == to


@pytest.mark.parametrize(("name", "current", "to"), REFUSED)
def test_refused_change_raises_and_changes_nothing(name: str, current: str | None, to: str) -> None:
    machine = MACHINES[name]
    row = _row(machine, current)
    with pytest.raises(StateError) as caught:
        machine.transition(row, to)
    assert getattr(row, machine.attribute) == current
    assert (caught.value.current, caught.value.to, caught.value.status) == (current, to, 409)


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_an_unknown_state_is_refused(name: str) -> None:
    machine = MACHINES[name]
    row = _row(machine, machine.states[0])
    with pytest.raises(StateError):
        machine.transition(row, "bogus")
    assert getattr(row, machine.attribute) == machine.states[0]


def test_each_module_transition_works_on_its_model() -> None:
    """The per-aggregate functions change the real mapped attribute, and refuse the same."""
    follow = Follow()
    follow_states.transition(follow, "pending")
    follow_states.transition(follow, "accepted")
    with pytest.raises(StateError):
        follow_states.transition(follow, "pending")
    assert follow.state == "accepted"

    structure = Structure()
    structure_states.transition(structure, "pending")
    with pytest.raises(StateError):
        structure_states.transition(structure, "suspended")
    structure_states.transition(structure, "approved")
    assert structure.status == "approved" and structure.is_visible

    listing = Listing()
    listing_states.transition(listing, "open")
    listing_states.transition(listing, "withdrawn")
    with pytest.raises(StateError):
        listing_states.transition(listing, "open")
    listing_states.mirror(listing, "open")  # a remote listing: its node's word
    assert listing.status == "open"
    with pytest.raises(StateError):
        listing_states.mirror(listing, "gone")

    report = Report()
    report_states.transition(report, "open")
    report_states.transition(report, "resolved")
    with pytest.raises(StateError):
        report_states.transition(report, "resolved")

    delivery = Delivery()
    delivery_states.transition(delivery, "pending")
    delivery_states.transition(delivery, "dead")
    with pytest.raises(StateError):
        delivery_states.transition(delivery, "done")
    assert delivery.state == "dead"

    mail = OutgoingMail()
    mail_states.transition(mail, "pending")
    mail_states.transition(mail, "sent")
    with pytest.raises(StateError):
        mail_states.transition(mail, "failed")
    assert mail.state == "sent"


def test_the_column_type_stores_the_same_strings_and_refuses_others() -> None:
    column = StateType(("pending", "accepted", "rejected"))
    dialect = sqlite.dialect()
    assert column.process_bind_param("accepted", dialect) == "accepted"
    assert column.process_bind_param(None, dialect) is None
    with pytest.raises(ValueError, match="not one of the states"):
        column.process_bind_param("removed", dialect)
    assert Follow.__table__.c.state.type.impl.length == 16  # type: ignore[attr-defined]


def test_bulk_changes_move_only_rows_allowed_to_change() -> None:
    stmt = DELIVERY.bulk(update(Delivery), Delivery.state, "dead")
    sql = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    assert "WHERE deliveries.state = 'pending'" in sql
    assert "SET state='dead'" in sql
    expired = str(
        LISTING.bulk(update(Listing), Listing.status, "expired").compile(
            dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert "listings.status = 'open' OR listings.status = 'fulfilled'" in expired


def test_visible_is_one_predicate_in_python_and_sql() -> None:
    assert Structure(status="approved").is_visible
    assert not Structure(status="suspended").is_visible
    sql = str(
        Structure.is_visible.compile(  # type: ignore[attr-defined]
            dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert sql == "structures.status = 'approved'"


ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "federation", "domain", "actors", "outbox", "inbox", "instance")
MODELS = {"Follow", "Structure", "Listing", "Report", "Delivery", "OutgoingMail"}
# Writes of an attribute named state/status that are not one of the five aggregates'.
OTHERS = {
    ("domain/exchanges.py", "self.state"),  # Exchange.apply, after domain.exchanges.transition
    ("instance/errors.py", "self.status"),
    ("instance/api_errors.py", "self.status"),  # an HTTP status
    ("instance/search_query.py", "query.status"),  # a search filter
    ("domain/listings.py", "out.status"),  # validated input, applied by apply_listing
}


def _state_writes(path: Path) -> list[str]:
    """``x.state = …`` / ``x.status = …``, ``Model(state=…)`` and ``.values(state=…)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr in ("state", "status"):
                found.append(ast.unparse(target))
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in MODELS or name == "values":
                for keyword in node.keywords:
                    if keyword.arg in ("state", "status"):
                        found.append(f"{name}({keyword.arg}=…)")
    return found


def test_nothing_but_the_transition_functions_writes_a_state() -> None:
    """Every write of a follow's, structure's, listing's, report's or delivery's state goes
    through its module's ``transition`` (or a ``StateMachine.bulk`` statement)."""
    state_modules = {
        "config/states.py",
        "federation/follow_states.py",
        "federation/delivery_states.py",
        "domain/structure_states.py",
        "domain/listing_states.py",
        "domain/report_states.py",
        "domain/mail_states.py",
    }
    bad = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name in state_modules or "/migrations/" in name:
                continue
            bad += [(name, w) for w in _state_writes(path) if (name, w) not in OTHERS]
    assert bad == []
