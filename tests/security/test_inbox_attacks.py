"""Attacks on the inbox, through the real HTTP endpoints of a node in the in-process network.

One node, ``a.test``, receives; the senders are :class:`~tests.fedinet.FakeActor`
hooks whose private keys the tests hold, so every request can be forged at
will: unsigned, signed for another request, stale, oversized, impersonating,
replayed. Each attack is sent to the shared inbox and to a personal inbox
and must be refused with the right status and error ``code``, leaving no
``inbox_items`` row behind. The network lives for the whole module (one per
database backend, ``module_db`` of ``tests/security/conftest.py``); each test
uses fresh activity ids. SECURITY.md maps each attack to its threat.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation.keys import SigningKey, public_key_pem
from federation.signatures import sign_request
from tests.security import inbox_attacks_support
from tests.security.helpers import inbox_count, new_id
from tests.security.inbox_attacks_support import (
    INBOXES,
    TARGET,
    Request,
    World,
    _body,
    note_create,
    send,
    signed,
    signs_for_another_server,
)

world = inbox_attacks_support.world

pytestmark = pytest.mark.asyncio(loop_scope="module")


def raw_cavage(
    key: SigningKey,
    lines: list[tuple[str, str]],
    *,
    algorithm: str = "rsa-sha256",
    signature: bytes | None = None,
) -> str:
    """A draft-cavage ``Signature`` header over exactly ``lines`` (for malformed variants)."""
    text = "\n".join(f"{name}: {value}" for name, value in lines).encode()
    if signature is None:
        assert isinstance(key.private_key, rsa.RSAPrivateKey)
        signature = key.private_key.sign(text, padding.PKCS1v15(), hashes.SHA256())
    names = " ".join(name for name, _ in lines)
    return (
        f'keyId="{key.key_id}",algorithm="{algorithm}",headers="{names}",'
        f'signature="{base64.b64encode(signature).decode()}"'
    )


def http_date(when: datetime | None = None) -> str:
    return format_datetime(when or datetime.now(UTC), usegmt=True)


def digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


Attack = Callable[[World, str], Request]


def unsigned(w: World, path: str) -> Request:
    """A POST without any signature."""
    body = _body(note_create(w.alice.uri))
    return path, body, {"Content-Type": "application/activity+json"}


def digest_not_signed(w: World, path: str) -> Request:
    """A valid signature over (request-target) host date that leaves the body unbound:
    anyone replaying the headers could attach any body."""
    body = _body(note_create(w.alice.uri))
    date = http_date()
    lines = [("(request-target)", f"post {path}"), ("host", TARGET), ("date", date)]
    headers = {
        "Content-Type": "application/activity+json",
        "Date": date,
        "Digest": digest(body),
        "Signature": raw_cavage(w.alice.signing_key, lines),
    }
    return path, body, headers


def body_altered(w: World, path: str) -> Request:
    """A correctly signed request whose body is changed in transit (a proxy, a MITM)."""
    activity = note_create(w.alice.uri)
    headers = signed(f"https://{TARGET}{path}", _body(activity), w.alice.signing_key)
    activity["object"]["content"] = "<p>Virez 500 € ici</p>"
    return path, _body(activity), headers


def body_altered_with_its_digest(w: World, path: str) -> Request:
    """The body and its Digest both replaced: the signature no longer covers the new digest."""
    body = _body(note_create(w.alice.uri))
    headers = signed(f"https://{TARGET}{path}", body, w.alice.signing_key)
    forged = _body(note_create(w.alice.uri))
    headers["Digest"] = digest(forged)
    return path, forged, headers


def date_too_old(w: World, path: str) -> Request:
    """A captured request replayed two hours later."""
    body = _body(note_create(w.alice.uri))
    then = datetime.now(UTC) - timedelta(hours=2)
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key, now=then)


def date_in_future(w: World, path: str) -> Request:
    """A request pre-signed for later use (it would stay valid long after a key rotation)."""
    body = _body(note_create(w.alice.uri))
    later = datetime.now(UTC) + timedelta(hours=2)
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key, now=later)


def date_unparsable(w: World, path: str) -> Request:
    """A signed Date that is not a date, hoping the time check is skipped."""
    body = _body(note_create(w.alice.uri))
    date = "le jour de la Saint-Glinglin"
    lines = [
        ("(request-target)", f"post {path}"),
        ("host", TARGET),
        ("date", date),
        ("digest", digest(body)),
    ]
    headers = {
        "Content-Type": "application/activity+json",
        "Date": date,
        "Digest": digest(body),
        "Signature": raw_cavage(w.alice.signing_key, lines),
    }
    return path, body, headers


def other_path(w: World, path: str) -> Request:
    """A signature made for another inbox, replayed on this one."""
    body = _body(note_create(w.alice.uri))
    elsewhere = "/actors/someone-else/inbox"
    return path, body, signed(f"https://{TARGET}{elsewhere}", body, w.alice.signing_key)


def other_method(w: World, path: str) -> Request:
    """A signature made for a PUT, sent as a POST."""
    body = _body(note_create(w.alice.uri))
    headers = {"Content-Type": "application/activity+json"}
    headers.update(
        sign_request("PUT", f"https://{TARGET}{path}", headers, body, w.alice.signing_key)
    )
    return path, body, headers


def other_query(w: World, path: str) -> Request:
    """A signature made for ``?page=1``, sent with ``?page=2``."""
    body = _body(note_create(w.alice.uri))
    headers = signed(f"https://{TARGET}{path}?page=1", body, w.alice.signing_key)
    return f"{path}?page=2", body, headers


def other_host(w: World, path: str) -> Request:
    """A signature made for a request to another server, replayed here."""
    body = _body(note_create(w.alice.uri))
    headers = signed(f"https://other.test{path}", body, w.alice.signing_key)
    headers.pop("Host")
    return path, body, headers


def rfc9421_other_path(w: World, path: str) -> Request:
    """The same with RFC 9421: @target-uri of another inbox."""
    body = _body(note_create(w.alice.uri))
    url = f"https://{TARGET}/actors/someone-else/inbox"
    return path, body, signed(url, body, w.alice.signing_key, scheme="rfc9421")


def algorithm_hmac(w: World, path: str) -> Request:
    """Algorithm swap: HMAC-SHA256 keyed with the sender's *public* PEM, which anyone has."""
    body = _body(note_create(w.alice.uri))
    date = http_date()
    lines = [
        ("(request-target)", f"post {path}"),
        ("host", TARGET),
        ("date", date),
        ("digest", digest(body)),
    ]
    text = "\n".join(f"{n}: {v}" for n, v in lines).encode()
    secret = public_key_pem(w.alice.private_key.public_key()).encode()
    mac = hmac.new(secret, text, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/activity+json",
        "Date": date,
        "Digest": digest(body),
        "Signature": raw_cavage(w.alice.signing_key, lines, algorithm="hmac-sha256", signature=mac),
    }
    return path, body, headers


def algorithm_ed25519_named(w: World, path: str) -> Request:
    """Algorithm swap: a genuine RSA signature announced as ``ed25519``."""
    body = _body(note_create(w.alice.uri))
    date = http_date()
    lines = [
        ("(request-target)", f"post {path}"),
        ("host", TARGET),
        ("date", date),
        ("digest", digest(body)),
    ]
    headers = {
        "Content-Type": "application/activity+json",
        "Date": date,
        "Digest": digest(body),
        "Signature": raw_cavage(w.alice.signing_key, lines, algorithm="ed25519"),
    }
    return path, body, headers


def claims_our_host(w: World, path: str) -> Request:
    """An activity claiming to come from the receiving node's own territory."""
    activity = note_create(f"https://{TARGET}/actors/territory")
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.mallory.signing_key)


def object_on_another_host(w: World, path: str) -> Request:
    """Mallory Creates an object whose id is on Alice's server (to squat or overwrite it)."""
    activity = note_create(w.mallory.uri, id=new_id("remote.test", "notes"))
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.mallory.signing_key)


def object_attributed_elsewhere(w: World, path: str) -> Request:
    """Mallory Creates, on her server, a note attributed to Alice (putting words in her mouth)."""
    activity = note_create(w.mallory.uri, attributedTo=w.alice.uri)
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.mallory.signing_key)


def activity_id_elsewhere(w: World, path: str) -> Request:
    """An activity whose own id is on another server (to pre-empt that server's activity id)."""
    activity = note_create(w.mallory.uri)
    activity["id"] = new_id("remote.test")
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.mallory.signing_key)


def too_large(w: World, path: str) -> Request:
    """A body over ``federation.max_body_bytes`` (1 MiB by default)."""
    activity = note_create(w.alice.uri, content="x" * 2_000_000)
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key)


def gzip_bomb(w: World, path: str) -> Request:
    """A 20 kB gzip body that inflates to 20 MB."""
    head = json.dumps(note_create(w.alice.uri))[:-1]
    body = gzip.compress(head.encode() + b', "padding": "' + b" " * 20_000_000 + b'"}')
    headers = signed(f"https://{TARGET}{path}", body, w.alice.signing_key)
    headers["Content-Encoding"] = "gzip"
    return path, body, headers


def wrong_content_type(w: World, path: str) -> Request:
    """A form post (what a browser can send cross-site) instead of ActivityPub JSON."""
    body = _body(note_create(w.alice.uri))
    headers = signed(f"https://{TARGET}{path}", body, w.alice.signing_key)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return path, body, headers


def malformed_json(w: World, path: str) -> Request:
    """Truncated JSON."""
    body = _body(note_create(w.alice.uri))[:-7]
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key)


def deep_json(w: World, path: str) -> Request:
    """JSON nested 1,000 levels deep (a recursion bomb for naive walkers)."""
    nested = "[" * 1000 + "]" * 1000
    body = json.dumps(note_create(w.alice.uri))[:-1].encode() + b', "x": ' + nested.encode() + b"}"
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key)


def wide_json(w: World, path: str) -> Request:
    """An array of 100,000 items (CPU and memory for whoever walks it)."""
    activity = note_create(w.alice.uri)
    activity["tag"] = [0] * 100_000
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key)


def not_an_object(w: World, path: str) -> Request:
    """A top-level JSON array of 100,000 items."""
    body = json.dumps([0] * 100_000).encode()
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key)


def no_id(w: World, path: str) -> Request:
    """An activity without a usable id and actor: nothing to deduplicate or verify against."""
    activity = note_create(w.alice.uri)
    activity["id"] = ["not", "a", "string"]
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.alice.signing_key)


def key_on_blocked_server(w: World, path: str) -> Request:
    """A blocked server signs for an actor on a permitted one: refused before any fetch
    (its key is not on the actor's server, so it cannot be the actor's)."""
    activity = note_create(w.alice.uri)
    body = _body(activity)
    return path, body, signed(f"https://{TARGET}{path}", body, w.banned.signing_key)


ATTACKS: list[tuple[Attack, int, str]] = [
    (unsigned, 401, "bad_signature"),
    (digest_not_signed, 401, "bad_signature"),
    (body_altered, 401, "bad_signature"),
    (body_altered_with_its_digest, 401, "bad_signature"),
    (date_too_old, 401, "bad_signature"),
    (date_in_future, 401, "bad_signature"),
    (date_unparsable, 401, "bad_signature"),
    (other_path, 401, "bad_signature"),
    (other_method, 401, "bad_signature"),
    (other_query, 401, "bad_signature"),
    (other_host, 401, "bad_signature"),
    (rfc9421_other_path, 401, "bad_signature"),
    (algorithm_hmac, 401, "bad_signature"),
    (algorithm_ed25519_named, 401, "bad_signature"),
    (signs_for_another_server, 403, "origin_mismatch"),
    (claims_our_host, 403, "origin_mismatch"),
    (object_on_another_host, 403, "origin_mismatch"),
    (object_attributed_elsewhere, 403, "origin_mismatch"),
    (activity_id_elsewhere, 403, "origin_mismatch"),
    (key_on_blocked_server, 403, "origin_mismatch"),
    (too_large, 413, "too_large"),
    (gzip_bomb, 413, "too_large"),
    (wrong_content_type, 415, "unsupported_media_type"),
    (malformed_json, 400, "bad_payload"),
    (deep_json, 400, "bad_payload"),
    (wide_json, 400, "bad_payload"),
    (not_an_object, 400, "bad_payload"),
    (no_id, 400, "bad_payload"),
]


@pytest.mark.parametrize("inbox", INBOXES)
@pytest.mark.parametrize(
    ("attack", "status", "code"), ATTACKS, ids=[a.__name__ for a, _, _ in ATTACKS]
)
async def test_attack_is_refused(
    world: World, inbox: str, attack: Attack, status: int, code: str
) -> None:
    """Each forged request (see the attack's docstring) is refused with its status and
    error code, at the shared and at a personal inbox, and leaves nothing stored."""
    before = await inbox_count(world.node)
    response = await send(world, attack(world, inbox))
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.text
    assert await inbox_count(world.node) == before


@pytest.mark.dialect  # the inbox's upsert (ON CONFLICT) per dialect
async def test_honest_request_is_accepted(world: World) -> None:
    """The control experiment: Alice's correctly signed Create is stored (202), on both inboxes,
    in both signature schemes."""
    for inbox, scheme in zip(INBOXES, ["cavage", "rfc9421"], strict=True):
        before = await inbox_count(world.node)
        body = _body(note_create(world.alice.uri))
        url = f"https://{TARGET}{inbox}"
        response = await world.net.post(
            url, body, signed(url, body, world.alice.signing_key, scheme=scheme)
        )
        assert response.status_code == 202, response.text
        assert await inbox_count(world.node) == before + 1
    await world.net.settle()
