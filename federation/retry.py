"""When to try a failed delivery again: a pure function, tabled in the tests.

The curve is Sidekiq's (``count**4 + 15 + rand(10) * (count + 1)`` seconds
for the retry numbered ``count`` from 0), which Mastodon's delivery worker
uses. We number from the first failure: after the ``n``-th failed try, wait
``n**4 + 15 + random(0..9) * n`` seconds. The 16th failed try gives up, so
the 15 waits span just over two days (about 2.07), the first retry comes
within 25 seconds, and the jitter spreads a burst of failures to one server.

No retry for answers that will not change by waiting: 4xx other than 401
(a key we just rotated may not be known yet), 408 and 429. ``Retry-After``
(seconds or an HTTP date) is honoured when it asks for more patience than the
schedule, up to a day; whatever a server writes there never raises.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_TRIES = 16
RETRYABLE_4XX = frozenset({401, 408, 429})
MAX_RETRY_AFTER = timedelta(days=1)
UNAVAILABLE_AFTER = timedelta(days=2)
"""A domain whose deliveries failed without a success for this long is marked unavailable."""


def backoff(tries: int, jitter: float) -> timedelta:
    """The wait after the ``tries``-th failure (1-based); ``jitter`` in [0, 1)."""
    return timedelta(seconds=tries**4 + 15 + int(jitter * 10) * tries)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay (RFC 9110 §10.2.3: seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() alone accepts "²" and "١"
        # Bounded before timedelta sees it: a 30-digit delay would overflow it.
        seconds = int(value) if len(value) <= 10 else 10**10
        return min(timedelta(seconds=seconds), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(when - now, timedelta(0)), MAX_RETRY_AFTER)


def should_retry(status: int | None) -> bool:
    """Whether a failure with this status (None: no answer) is worth another try."""
    if status is None or status >= 500:
        return True
    if 400 <= status < 500:
        return status in RETRYABLE_4XX
    return False  # 1xx/3xx: a misbehaving server; redirects are not followed for POSTs


def next_attempt(
    tries: int,
    status: int | None,
    now: datetime,
    *,
    retry_after: str | None = None,
    jitter: float | None = None,
) -> datetime | None:
    """When to try again after the ``tries``-th failed attempt, or None to give up."""
    if not should_retry(status) or tries >= MAX_TRIES:
        return None
    delay = backoff(tries, random.random() if jitter is None else jitter)
    asked = parse_retry_after(retry_after, now)
    if asked is not None:
        delay = max(delay, min(asked, MAX_RETRY_AFTER))
    return now + delay
