"""Matching waits for a quiet inbox (``instance.workers.matching_may_run``), as a table.

The attack it answers: a peer (or anyone able to make one) sends a burst of listings;
matching each costs tens of milliseconds of CPU in the process that accepts them, so
without this the burst's own matching slows its acceptance down (issue 14: acceptance
within 10 % of the same burst without matching)."""

from __future__ import annotations

import pytest

from instance.workers import MATCHING_QUIET, MATCHING_WAIT_MAX, matching_may_run

NOW = 1_000.0


@pytest.mark.parametrize(
    ("accepted_ago", "waiting_for", "runs"),
    [
        (1e9, 0.0, True),  # nothing accepted since start: at once
        (MATCHING_QUIET, 0.0, True),  # quiet long enough
        (MATCHING_QUIET / 2, 0.0, False),  # the inbox is busy: wait
        (0.0, MATCHING_WAIT_MAX / 2, False),  # still busy, not waited too long
        (0.0, MATCHING_WAIT_MAX, True),  # a burst that does not end: one batch anyway
    ],
)
def test_matching_yields_to_a_busy_inbox(
    accepted_ago: float, waiting_for: float, runs: bool
) -> None:
    assert matching_may_run(NOW - accepted_ago, NOW - waiting_for, NOW) is runs
