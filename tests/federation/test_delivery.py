"""The delivery queue (``federation.delivery``) and its retry policy (``federation.retry``).

The policy is tabled as a pure function; the queue is exercised between real
nodes of the in-process network, where a peer can be taken down, made to
answer 400 or 429 (``net.hooks``), and brought back. Time never passes by
sleeping: a test moves a delivery's ``next_attempt_at`` into the past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from federation.retry import (
    MAX_RETRY_AFTER,
    MAX_TRIES,
    backoff,
    next_attempt,
)
from tests.federation.delivery_support import ALMOST_ONE

pytestmark = pytest.mark.dialect  # queue claims (FOR UPDATE SKIP LOCKED), leases, upserts


NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RETRIED = [500, 502, 503, None, 401, 408, 429]
FINAL = [400, 403, 404, 410, 422]


# ------------------------------------------------------------------ the policy, tabled


@pytest.mark.parametrize("status", RETRIED)
def test_retried_statuses_until_the_sixteenth_try(status: int | None) -> None:
    """No answer, 5xx, 401 (a key not yet refreshed), 408 and 429 are retried after tries
    1 to 15; the 16th failure (and any later) gives up."""
    for tries in range(1, MAX_TRIES):
        when = next_attempt(tries, status, NOW, jitter=0.5)
        assert when is not None and when > NOW, tries
    assert MAX_TRIES == 16
    assert next_attempt(16, status, NOW, jitter=0.5) is None
    assert next_attempt(17, status, NOW, jitter=0.5) is None


@pytest.mark.parametrize("status", FINAL)
def test_final_statuses_are_never_retried(status: int) -> None:
    """400, 403, 404, 410, 422 will not change by waiting: no retry, whatever the try."""
    assert [next_attempt(t, status, NOW, jitter=0.5) for t in range(1, 17)] == [None] * 16


# tries → (shortest, longest) wait in seconds: n**4 + 15 + (0..9) * n
SCHEDULE = [
    (1, 16, 25),
    (2, 31, 49),
    (3, 96, 123),
    (4, 271, 307),
    (5, 640, 685),
    (8, 4111, 4183),
    (10, 10015, 10105),
    (15, 50640, 50775),
]


@pytest.mark.parametrize(("tries", "shortest", "longest"), SCHEDULE)
def test_schedule_and_jitter_bounds(tries: int, shortest: int, longest: int) -> None:
    """The wait after each try, with the smallest and the largest jitter, and every jitter in
    between stays inside the bounds."""
    low = next_attempt(tries, 503, NOW, jitter=0.0)
    high = next_attempt(tries, 503, NOW, jitter=ALMOST_ONE)
    assert low == NOW + timedelta(seconds=shortest)
    assert high == NOW + timedelta(seconds=longest)
    for step in range(100):
        when = next_attempt(tries, 503, NOW, jitter=step / 100)
        assert when is not None and low <= when <= high
    for _ in range(50):  # the real random jitter
        when = next_attempt(tries, 503, NOW)
        assert when is not None and low <= when <= high


def test_first_retry_within_thirty_seconds() -> None:
    """A blip is retried quickly: the first retry comes within 30 s, whatever the jitter."""
    assert backoff(1, ALMOST_ONE) <= timedelta(seconds=30)
    assert backoff(1, 0.0) >= timedelta(seconds=15)


def test_sixteen_tries_span_two_to_three_days() -> None:
    """The 15 waits between 16 tries add up to more than two days and less than three, so a
    peer down for a weekend still gets its activities."""
    for jitter in (0.0, ALMOST_ONE):
        span = sum((backoff(t, jitter) for t in range(1, MAX_TRIES)), timedelta())
        assert timedelta(days=2) < span < timedelta(days=3), span


@pytest.mark.parametrize(
    ("tries", "retry_after", "expected"),
    [
        (1, "3600", timedelta(hours=1)),  # more patience than the schedule: honoured
        (1, " 120 ", timedelta(seconds=120)),
        (5, "10", timedelta(seconds=640)),  # less than the schedule: the schedule wins
        (1, "172800", timedelta(days=1)),  # two days asked: capped at one
        (1, "9" * 40, timedelta(days=1)),  # absurd: capped, does not overflow
        (1, format_datetime(NOW + timedelta(hours=2), usegmt=True), timedelta(hours=2)),
        (1, format_datetime(NOW + timedelta(days=30), usegmt=True), timedelta(days=1)),
        (1, format_datetime(NOW - timedelta(hours=2), usegmt=True), timedelta(seconds=16)),
        (1, "demain", timedelta(seconds=16)),  # unreadable: ignored
        (1, "²", timedelta(seconds=16)),  # a Unicode digit is not a delay
        (1, "", timedelta(seconds=16)),
    ],
)
def test_retry_after(tries: int, retry_after: str, expected: timedelta) -> None:
    """Retry-After, in seconds or as an HTTP date, is honoured when longer than the schedule,
    capped at a day; what cannot be read is ignored."""
    assert next_attempt(tries, 429, NOW, retry_after=retry_after, jitter=0.0) == NOW + expected
    assert timedelta(days=1) == MAX_RETRY_AFTER
