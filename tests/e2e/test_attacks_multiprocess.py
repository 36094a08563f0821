"""The attack run's findings, replayed against ``serve --workers 2`` on PostgreSQL.

The in-process security tests run every attack on SQLite and PostgreSQL; this one
runs the attacks whose answer could depend on which process takes the request
(state kept per process, a cache, a session) against the real deployment shape:
one node on a throwaway PostgreSQL cluster, two web processes, each request on a
new connection so that both processes answer some. Each attack is named after
its finding (SECURITY.md) and must be refused by whichever process answers, and
leave nothing changed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import PgCluster, pg_binaries
from tests.e2e.harness import HOST, PASSWORD, Node, clean_env, entraide_command, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENV = {"ENTRAIDE_RATELIMIT__ENABLED": "false", "PYTHONUNBUFFERED": "1"}
CLOSE = {"Connection": "close"}  # a new connection each time: either process may answer
ROUNDS = 6  # each attack is sent this many times


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, dict[str, str]]]:
    if pg_binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    cluster = PgCluster.start()
    process: subprocess.Popen[bytes] | None = None
    try:
        import asyncio

        asyncio.run(cluster.execute("CREATE DATABASE attacks"))
        node = Node(
            tmp_path_factory.mktemp("attacks") / "a", "a", database_url=cluster.url("attacks")
        )
        node.init()
        tokens = {}
        for who, role in (
            ("owner", "member"),
            ("other", "member"),
            ("mod", "moderator"),
            ("admin", "admin"),
        ):
            node.cli(
                "user",
                "create",
                "--email",
                f"{who}@a.example",
                "--password",
                PASSWORD,
                "--role",
                role,
            )
            tokens[who] = node.cli("token", "create", "--email", f"{who}@a.example").stdout.strip()
        node.cli(
            "structure", "create", "--handle", "s1", "--name", "S1", "--owner", "owner@a.example"
        )
        node.cli(
            "structure", "create", "--handle", "s2", "--name", "S2", "--owner", "other@a.example"
        )
        with (node.data_dir / "serve.log").open("ab") as out:
            process = subprocess.Popen(
                [*entraide_command(), "--data-dir", str(node.data_dir), "serve",
                 "--host", HOST, "--port", str(node.port), "--workers", "2"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=clean_env(**ENV), start_new_session=True,
            )  # fmt: skip
        wait_for(lambda: _answers(node), 60, what="serve --workers 2 to answer")
        yield node, tokens
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                process.kill()
        cluster.stop()


def _answers(node: Node) -> bool:
    try:
        return httpx.get(f"{node.base_url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def call(node: Node, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
    headers = dict(CLOSE)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(kw.pop("headers", {}))
    return httpx.request(method, f"{node.base_url}{path}", headers=headers, timeout=30, **kw)


def pids_answering(node: Node) -> set[int]:
    return {int(call(node, "GET", "/healthz").json()["pid"]) for _ in range(30)}


def test_two_processes_answer(node: tuple[Node, dict[str, str]]) -> None:
    assert len(pids_answering(node[0])) == 2


def test_moderator_acting_for_a_structure_is_refused_by_every_process(
    node: tuple[Node, dict[str, str]],
) -> None:
    """H3: a moderator's token reads s1's messages or writes as s1: 403, whichever process."""
    a, tokens = node
    sent = call(a, "POST", "/api/v1/messages", tokens["owner"],
                json={"from": "s1", "to": "s2", "content": "prix confidentiel"})  # fmt: skip
    assert sent.status_code == 201, sent.text
    for _ in range(ROUNDS):
        read = call(a, "GET", "/api/v1/messages?actor=s1", tokens["mod"])
        assert read.status_code == 403, read.text
        assert "confidentiel" not in read.text
        write = call(a, "POST", "/api/v1/messages", tokens["mod"],
                     json={"from": "s1", "to": "s2", "content": "usurpé"})  # fmt: skip
        assert write.status_code == 403, write.text
    mine = call(a, "GET", "/api/v1/messages?actor=s2", tokens["other"]).json()
    assert all("usurpé" not in m["content"] for c in mine["items"] for m in c["messages"])


def test_withdrawn_listing_is_hidden_from_others_by_every_process(
    node: tuple[Node, dict[str, str]],
) -> None:
    """M2: a withdrawn listing is 404 to anonymous readers and absent from status=any."""
    a, tokens = node
    created = call(a, "POST", "/api/v1/listings", tokens["owner"], json={
        "structure": "s1", "kind": "offer", "title": "Retirée bientôt", "description": "x",
        "category": "materials", "modality": "give",
    })  # fmt: skip
    assert created.status_code == 201, created.text
    listing = created.json()["id"]
    assert call(a, "DELETE", f"/api/v1/listings/{listing}", tokens["owner"]).status_code == 200
    for _ in range(ROUNDS):
        assert call(a, "GET", f"/api/v1/listings/{listing}").status_code == 404
        found = call(a, "GET", "/api/v1/listings?status=any").json()["items"]
        assert listing not in [item["id"] for item in found]
    assert call(a, "GET", f"/api/v1/listings/{listing}", tokens["owner"]).status_code == 200


def test_moderators_cannot_approve_or_lift_an_admins_block(
    node: tuple[Node, dict[str, str]],
) -> None:
    """M4 and M5: a moderator unsuspending a structure awaiting approval (which approved
    it), lifting an administrator's domain block."""
    a, tokens = node
    # A structure awaiting approval, signed up through the pages (each request may reach
    # either process: the session and the CSRF nonce live in the database).
    with httpx.Client(base_url=a.base_url, timeout=30, headers=CLOSE) as browser:
        form = browser.get("/signup")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf, form.text[:500]
        signed = browser.post("/signup", data={
            "csrf_token": csrf[1], "email": "new@a.example", "password": PASSWORD,
            "display_name": "Nouvelle", "name": "En attente", "handle": "attente",
            "kind": "association", "commune": "Orthez",
        })  # fmt: skip
        assert signed.status_code in (200, 302, 303), signed.text[:500]
    blocked = call(a, "POST", "/api/v1/moderation/domains", tokens["admin"],
                   json={"domain": "spam.example", "policy": "block"})  # fmt: skip
    assert blocked.status_code == 200, blocked.text
    for _ in range(ROUNDS):
        lift = call(a, "POST", "/api/v1/moderation/domains", tokens["mod"],
                    json={"domain": "spam.example", "policy": ""})  # fmt: skip
        assert lift.status_code == 403, lift.text
        unsuspend = call(
            a, "POST", "/api/v1/moderation/structures/attente/unsuspend", tokens["mod"], json={}
        )
        assert unsuspend.status_code == 409, unsuspend.text
    assert "spam.example" in a.cli("domain", "list").stdout
    assert call(a, "GET", "/@attente").status_code == 404  # still awaiting approval


def test_hostile_input_is_a_4xx_from_every_process(node: tuple[Node, dict[str, str]]) -> None:
    """L7 and L8: ids beyond 64 bits, broken JSON, non-hosts as domains: never a 500."""
    a, tokens = node
    for _ in range(ROUNDS):
        assert call(a, "GET", "/api/v1/listings/99999999999999999999999").status_code in (404, 422)
        assert call(a, "GET", "/listings/99999999999999999999999").status_code in (404, 422)
        broken = call(a, "POST", "/api/v1/listings", tokens["owner"], content=b'{"title": "\xff"}',
                      headers={"Content-Type": "application/json"})  # fmt: skip
        assert 400 <= broken.status_code < 500, broken.text
        nested = b"[" * 5000 + b"]" * 5000
        deep = call(a, "POST", "/api/v1/listings", tokens["owner"], content=nested,
                    headers={"Content-Type": "application/json"})  # fmt: skip
        assert 400 <= deep.status_code < 500, deep.text
        host = call(a, "POST", "/api/v1/moderation/domains", tokens["admin"],
                    json={"domain": "a..b", "policy": "block"})  # fmt: skip
        assert host.status_code == 422, host.text


def test_the_logs_hold_no_traceback(node: tuple[Node, dict[str, str]]) -> None:
    a, _ = node
    log = Path(a.data_dir / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
