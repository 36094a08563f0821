"""Helpers shared by the test_properties modules."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HOST = "https://remote.test"

# ------------------------------------------------------------------ JSON values

NUMERIC_STRINGS = [
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "-inf",
    "1e400",
    "-1e400",
    "1e-400",
    "1E+999999999",
    "0x10",
    "1_000",
    "١٢٣",
    "   7  ",
    "",
    "-0",
    "-1",
    "0.0001",
    "999999999.9999",
    "999999999.994",
    "1000000000",
    "12,50",
    "3 EUR",
    "9" * 400,
    "0." + "9" * 60,
]
huge_ints = st.integers(min_value=1, max_value=4300).map(lambda digits: int("9" * digits))
numbers = st.one_of(
    st.integers(),
    huge_ints,
    huge_ints.map(lambda n: -n),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 90.0000001, -180.5, 2**63, 2**64 + 1]),
)
long_text = st.builds(
    lambda char, count: char * count,
    st.characters(codec="utf-8"),
    st.sampled_from([199, 200, 201, 2049, 10_001, 40_001]),
)
html = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<p>" * 500 + "deep" + "</p>" * 500,
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        "&lt;script&gt;",
        "<![CDATA[x]]>",
        "<!-- " * 100,
        "\x00\x01\u202e\ufeff",
        "<p>" + "é" * 20_000 + "</p>",
    ]
)
urls = st.one_of(
    st.sampled_from(
        [
            f"{HOST}/objects/1",
            "https://other.test/x",
            "javascript:alert(1)",
            "http://[::1]/x",
            "https://xn--e1afmkfd.test/",
            "https://bücher.test/x",
            "//remote.test/x",
            "https://remote.test:99999/x",
            "https://",
            "",
            f"{HOST}/" + "a" * 3000,
        ]
    ),
    st.text(max_size=40).map(lambda tail: f"{HOST}/{tail}"),
)
strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from(NUMERIC_STRINGS),
    html,
    urls,
    long_text,
    st.sampled_from(
        ["2025-05-01T09:00:00Z", "9999-12-31T23:59:59+14:00", "0001-01-01", "2025-13-45"]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, strings)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
