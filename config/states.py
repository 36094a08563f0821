"""Typed states: a column type that stores a state as the same short string as ever, and
a table of allowed changes that every write of that state goes through.

Each aggregate with a state declares one :class:`StateMachine` next to its model
(``federation.follow_states``, ``federation.delivery_states``,
``domain.structure_states``, ``domain.listing_states``, ``domain.report_states``):
its states, and which changes are allowed, as ``{from: {to, ...}}`` where ``None``
is a row being created. Its ``transition(row, to)`` is the only way a state changes;
a change not in the table raises :class:`StateError` (an HTTP 409 where a person
asked for it). Bulk ``UPDATE`` statements go through :meth:`StateMachine.bulk`,
which filters on the states the change is allowed from.

Changing to the state a row is already in is not a change: it is refused too, and
callers that may repeat themselves check first (``if row.state != to``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, String, Update, false, or_
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator

S = TypeVar("S", bound=str)

STATE_LENGTH = 16


class StateError(Exception):
    """A change of state that the aggregate's table does not allow."""

    status = 409

    def __init__(self, message: str, *, current: str | None = None, to: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.current = current
        self.to = to


class StateType(TypeDecorator[str]):
    """A state column: ``VARCHAR(16)`` as before; an unknown value is refused on write."""

    impl = String(STATE_LENGTH)
    cache_ok = True

    def __init__(self, states: Iterable[str]) -> None:
        super().__init__()
        self.states = tuple(states)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None and value not in self.states:
            raise ValueError(f"{value!r} is not one of the states {', '.join(self.states)}")
        return value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return value


class StateMachine(Generic[S]):
    """The states of one aggregate and the changes allowed between them."""

    def __init__(
        self,
        name: str,
        states: tuple[S, ...],
        transitions: Mapping[S | None, Iterable[S]],
        *,
        attribute: str = "state",
    ) -> None:
        self.name = name
        self.states = states
        self.attribute = attribute
        self.transitions: dict[S | None, frozenset[S]] = {
            current: frozenset(targets) for current, targets in transitions.items()
        }
        for current, targets in self.transitions.items():
            assert current is None or current in states, current
            assert targets <= set(states), targets

    def parse(self, value: str) -> S:
        """``value`` as one of the states, or :class:`StateError`."""
        for state in self.states:
            if state == value:
                return state
        raise StateError(f"{value!r} is not a state of a {self.name}", to=value)

    def column_type(self) -> StateType:
        return StateType(self.states)

    def allowed(self, current: S | None, to: S) -> bool:
        return to in self.transitions.get(current, frozenset())

    def pairs(self) -> list[tuple[S | None, S]]:
        """Every allowed (from, to), ``None`` being a new row."""
        return [
            (current, to) for current, targets in self.transitions.items() for to in sorted(targets)
        ]

    def sources(self, to: S) -> tuple[S, ...]:
        """The states from which ``to`` may be reached (existing rows only)."""
        return tuple(s for s in self.states if self.allowed(s, to))

    def check(self, current: S | None, to: S) -> None:
        self.parse(to)
        if not self.allowed(current, to):
            start = "a new one" if current is None else current
            raise StateError(
                f"a {self.name} cannot go from {start} to {to}", current=current, to=to
            )

    def transition(self, row: Any, to: S) -> None:
        """Change ``row``'s state to ``to``, or raise :class:`StateError` (nothing changed)."""
        current = getattr(row, self.attribute)
        self.check(current, to)
        setattr(row, self.attribute, to)

    def may_move(self, column: InstrumentedAttribute[Any], to: S) -> ColumnElement[bool]:
        """SQL: the row's state (``column``) is one that may change to ``to`` (plain
        comparisons, not ``IN``: the statement may be run with many parameter sets)."""
        return or_(false(), *(column == source for source in self.sources(to)))

    def bulk(self, stmt: Update, column: InstrumentedAttribute[Any], to: S) -> Update:
        """``stmt`` (an ``update(...)`` of this aggregate's table) moving the rows that may
        go to ``to``, and only those, to ``to``."""
        return stmt.where(self.may_move(column, to)).values({self.attribute: to})
