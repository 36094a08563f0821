"""Property tests: the retry policy and the signature parser under arbitrary input.

``next_attempt`` must be a well-behaved schedule whatever the tries, status,
jitter and ``Retry-After`` a remote server sends back; ``parse_signature``
must turn any header value an attacker can write into a ``SignatureError``
(a 401), never another exception (a 500, or a crashed worker).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from federation.errors import SignatureError
from federation.retry import MAX_RETRY_AFTER, MAX_TRIES, next_attempt, should_retry
from federation.signature_parsing import parse_signature

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RETRYABLE = [None, 401, 408, 429, 500, 502, 503, 504, 599]
statuses = st.one_of(st.none(), st.integers(min_value=100, max_value=599))
jitters = st.floats(min_value=0, max_value=1, exclude_max=True)
retry_afters = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(min_value=0, max_value=10**40).map(str),
    st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    tries=st.integers(min_value=1, max_value=MAX_TRIES - 2),
    status=st.sampled_from(RETRYABLE),
    jitter=jitters,
    retry_after=retry_afters,
)
def test_next_attempt_is_monotone_in_tries(
    tries: int, status: int | None, jitter: float, retry_after: str | None
) -> None:
    """For a fixed jitter (and Retry-After), one more failure never means an earlier retry."""
    first = next_attempt(tries, status, NOW, retry_after=retry_after, jitter=jitter)
    second = next_attempt(tries + 1, status, NOW, retry_after=retry_after, jitter=jitter)
    assert first is not None and second is not None
    assert first <= second


@FAST
@given(
    tries=st.integers(min_value=-5, max_value=100),
    status=statuses,
    jitter=jitters,
    retry_after=retry_afters,
)
@example(tries=1, status=503, jitter=0.5, retry_after="9" * 5000)
@example(tries=1, status=429, jitter=0.5, retry_after="²")
@example(tries=1, status=429, jitter=0.5, retry_after="Fri, 31 Dec 99999 23:59:59 GMT")
def test_next_attempt_is_never_in_the_past_and_none_exactly_when_giving_up(
    tries: int, status: int | None, jitter: float, retry_after: str | None
) -> None:
    """Never before now, never more than a day past the schedule's own wait, and None exactly
    for statuses not worth a retry or after the last try; nothing a server writes in
    Retry-After raises."""
    when = next_attempt(tries, status, NOW, retry_after=retry_after, jitter=jitter)
    if not should_retry(status) or tries >= MAX_TRIES:
        assert when is None
        return
    assert when is not None
    assert when >= NOW
    schedule = next_attempt(tries, status, NOW, jitter=jitter)
    assert schedule is not None
    assert when <= max(schedule, NOW + MAX_RETRY_AFTER)


@FAST
@given(status=statuses)
def test_retryable_statuses(status: int | None) -> None:
    """Retried: no answer, 5xx, 401, 408, 429. Everything else is final."""
    expected = status is None or status >= 500 or status in (401, 408, 429)
    assert should_retry(status) is expected


# ---------------------------------------------------------------- signatures

header_text = st.text(max_size=300)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
cavage_like = st.builds(
    lambda key, alg, names, sig, extra: (
        f'keyId="{key}",algorithm="{alg}",headers="{names}",signature="{sig}"{extra}'
    ),
    ascii_text,
    st.sampled_from(["rsa-sha256", "hs2019", "ed25519", "hmac-sha256", ""]),
    st.lists(
        st.sampled_from(
            ["(request-target)", "host", "date", "digest", "(created)", "(expires)", "(x)", "a"]
        ),
        max_size=6,
    ).map(" ".join),
    st.one_of(ascii_text, st.binary(max_size=64).map(lambda b: b.hex())),
    st.sampled_from(["", ",created=1", ",created=99999999999999999999", ",expires=0"]),
)
sf_input_like = st.builds(
    lambda label, comps, params: f"{label}=({comps}){params}",
    st.sampled_from(["sig1", "x", "Sig", "1"]),
    st.lists(
        st.sampled_from(
            [
                '"@method"',
                '"@target-uri"',
                '"@authority"',
                '"@path"',
                '"@query"',
                '"content-digest"',
                '"date"',
                '"@status"',
                '"@method";req',
                "tok",
                "1",
            ]
        ),
        max_size=5,
    ).map(" ".join),
    st.lists(
        st.sampled_from(
            [
                ";created=1740830400",
                ";created=-1",
                ";created=99999999999999",
                ";expires=1",
                ";expires=253402300799",
                ';keyid="https://x.test/k"',
                ";keyid=1",
                ';alg="ed25519"',
                ";alg=?1",
                ';created="x"',
                ";nonce=:AAAA:",
            ]
        ),
        max_size=5,
    ).map("".join),
)
signature_values = st.one_of(header_text, cavage_like, st.just("sig1=:AAAA:"), ascii_text)
dates = st.one_of(
    header_text,
    st.just("Sat, 01 Mar 2025 12:00:00 GMT"),
    st.just("Fri, 31 Dec 99999999 23:59:59 GMT"),
    st.just("Sat, 01 Mar 2025 12:00:00 -9999"),
)
digests = st.one_of(
    header_text,
    st.just("SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="),
    st.just("sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:"),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    signature=st.one_of(st.none(), signature_values),
    signature_input=st.one_of(st.none(), header_text, sf_input_like),
    date=st.one_of(st.none(), dates),
    digest=st.one_of(st.none(), digests),
    content_digest=st.one_of(st.none(), digests),
    method=st.sampled_from(["POST", "GET", "post"]),
    query=st.sampled_from(["", "a=1"]),
)
@example(
    signature="sig1=:AAAA:",
    signature_input='sig1=("@method" "@target-uri");created=1740830400;expires=253402300799;'
    'keyid="https://x.test/k"',
    date=None,
    digest=None,
    content_digest=None,
    method="GET",
    query="",
)
@example(
    signature='keyId="k",algorithm="hs2019",headers="(request-target) host (created) (expires)",'
    'signature="AAAA",created=1740830400,expires=253402300799',
    signature_input=None,
    date=None,
    digest=None,
    content_digest=None,
    method="GET",
    query="",
)
def test_parse_signature_raises_only_signature_error(
    signature: str | None,
    signature_input: str | None,
    date: str | None,
    digest: str | None,
    content_digest: str | None,
    method: str,
    query: str,
) -> None:
    """Whatever the Signature, Signature-Input, Date, Digest and Content-Digest headers say,
    parsing either succeeds or raises SignatureError (answered 401)."""
    headers = {"Host": "a.test", "Content-Type": "application/activity+json"}
    for name, value in (
        ("Signature", signature),
        ("Signature-Input", signature_input),
        ("Date", date),
        ("Digest", digest),
        ("Content-Digest", content_digest),
    ):
        if value is not None:
            headers[name] = value
    body = b'{"type": "Create"}' if method.upper() == "POST" else None
    with contextlib.suppress(SignatureError):
        parse_signature(method, "/inbox", query, headers, body, now=NOW, window=3600)
