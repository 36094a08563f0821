"""The states of a report and the change allowed: ``open`` until a moderator resolves it.

====================  =====================================================
from                  to
====================  =====================================================
(new)                 open (made here, or received as a ``Flag``)
open                  resolved (a moderator resolves it)
resolved              (none: final)
====================  =====================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from config.states import StateError, StateMachine

if TYPE_CHECKING:
    from domain.social import Report

ReportState = Literal["open", "resolved"]
REPORT_STATES: tuple[ReportState, ...] = ("open", "resolved")

# from -> the states it may change to; None is a report being made.
TRANSITIONS: dict[ReportState | None, set[ReportState]] = {
    None: {"open"},
    "open": {"resolved"},
    "resolved": set(),
}

REPORT = StateMachine[ReportState]("report", REPORT_STATES, TRANSITIONS)


def transition(report: Report, to: ReportState) -> None:
    """Change ``report``'s state to ``to``; raises :class:`StateError` on a refused change."""
    REPORT.transition(report, to)


__all__ = ["REPORT", "REPORT_STATES", "TRANSITIONS", "ReportState", "StateError", "transition"]
