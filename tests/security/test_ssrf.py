"""The SSRF guard: every spelling of a forbidden address, DNS answers (rebinding included)
and redirects through the real connection path, the client, and private addresses named
by an activity posted to the inbox."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from federation.errors import UnsafeAddress
from federation.net import (
    check_url,
    forbidden_reason,
    parse_ip_literal,
)

FORBIDDEN_URLS = [
    "https://127.0.0.1/",
    "https://2130706433/",  # decimal
    "https://0177.0.0.1/",  # octal
    "https://0x7f.0.0.1/",  # hex
    "https://0x7f000001/",
    "https://127.1/",  # short form
    "https://127.0.0.1./",  # trailing dot
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/",  # IPv4-compatible
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "https://10.1.2.3/",
    "https://172.16.5.4/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "https://169.254.169.254/",  # cloud metadata
    "https://100.64.0.1/",  # CGNAT
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://255.255.255.255/",
    "https://240.0.0.1/",
    "https://192.0.2.1/",
    "https://localhost/",
    "https://api.localhost/",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_forbidden_address_is_refused(url: str) -> None:
    """Attack (SSRF): a URL naming a forbidden address in any spelling a resolver accepts:
    refused before any lookup."""
    with pytest.raises(UnsafeAddress, match="refusing"):
        check_url(url, allow_private=False, allow_http=True)


@pytest.mark.parametrize("url", [u for u in FORBIDDEN_URLS if "0177" not in u])
def test_forbidden_address_is_allowed_with_allow_private(url: str) -> None:
    check_url(url, allow_private=True, allow_http=True)


def test_refusal_names_the_address() -> None:
    with pytest.raises(UnsafeAddress, match=r"^refusing loopback address 127\.0\.0\.1$"):
        check_url("https://2130706433/actor", allow_private=False, allow_http=False)
    with pytest.raises(UnsafeAddress, match=r"^refusing loopback address 127\.0\.0\.1$"):
        check_url("https://0177.0.0.1/actor", allow_private=False, allow_http=False)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0", "0.0.0.0"),  # noqa: S104 (a parsed value, not a bind)
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("4294967296", None),
        ("08.1.1.1", None),
        ("", None),
    ],
)
def test_parse_ip_literal(host: str, expected: str | None) -> None:
    """Every spelling of an IPv4/IPv6 literal is read as the address a resolver would use."""
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed is not None else None) == expected


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:4700::1",
        "::ffff:93.184.216.34",
        "2002:5db8:d822::",  # 6to4 of a public address
        "64:ff9b::5db8:d822",  # NAT64 of a public address
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ip_address(address)) is None


def test_only_https_unless_allowed() -> None:
    """Attack: plain http, ftp: or file: URLs handed to the fetcher: only https (http in local
    setups)."""
    with pytest.raises(UnsafeAddress, match="only https URLs may be fetched"):
        check_url("http://example.com/actor", allow_private=False, allow_http=False)
    check_url("http://example.com/actor", allow_private=False, allow_http=True)
    with pytest.raises(UnsafeAddress):
        check_url("ftp://example.com/actor", allow_private=True, allow_http=True)
    with pytest.raises(UnsafeAddress):
        check_url("file:///etc/passwd", allow_private=True, allow_http=True)


def test_userinfo_and_empty_host_are_refused() -> None:
    """Attack: credentials in a URL (``user:pw@``, which confuse parsers about the host) or no
    host: refused."""
    with pytest.raises(UnsafeAddress, match="credentials"):
        check_url("https://user:pw@example.com/", allow_private=True, allow_http=True)
    with pytest.raises(UnsafeAddress, match="without a host"):
        check_url("https:///actor", allow_private=True, allow_http=True)
