"""Interoperability with bovine-herd, a complete ActivityPub server in Python, on 127.0.0.1.

bovine-herd (``bovine-herd`` and its admin tool ``bovine-tool`` from the package
index) runs in a virtualenv of its own, made once per machine under
``~/.cache/entraide-tests/bovine-venv`` (``ENTRAIDE_BOVINE_VENV`` to move it),
so that its dependencies never meet ours; without the package index the test
is skipped, saying so. It serves as a real process (Hypercorn,
``tests/interop/bovine_app.py``) on a free port of 127.0.0.1 with its own SQLite
file; its actor is made with ``bovine_tool.register --domain http://127.0.0.1:PORT``
(ids over http) and given an Ed25519 key with ``bovine_tool.manage
--new_did_key``, and is driven through bovine's own client
(``tests/interop/bovine_client.py``, Moo-Auth-1 to its outbox). Two settings keep
it local: ``BUTCHER_ALLOW_HTTP`` lets bovine's WebFinger fall back to http, and
the JSON-LD contexts it expands documents with (security, DID, Multikey, CID:
bovine fetches them from the web) are written into its context cache
beforehand, term by term, with every other fetch of its ``requests`` loader
sent to a closed port of 127.0.0.1 (``HTTP(S)_PROXY``).

Our node is a real ``entraide serve`` (``tests/e2e/harness.py``) at
``http://127.0.0.1:PORT`` with ``--allow-private-addresses``. The test checks,
in order: bovine resolves our structure and territory by WebFinger (through its
``proxyUrl``); bovine follows both, and our node accepts (bovine's
``following``); a listing published on our node reaches bovine's inbox as the
structure's ``Create`` and the territory's ``Announce``; our structure follows
bovine's actor (``POST /api/v1/follows``) and bovine accepts it from its inbox
(``state`` ``accepted``, and bovine lists us among its ``followers``); a public
Note of bovine's reaches our inbox and is processed (kept as received: an
ordinary post is not a listing); a direct message from bovine to our structure
shows in ``GET /api/v1/messages``; and our structure's reply reaches bovine's
inbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import free_port
from tests.e2e.harness import HOST, Cluster, Node, _die_with_parent, wait_for

pytestmark = pytest.mark.e2e

PACKAGES = ("bovine-herd==0.5.19", "bovine-tool==0.5.6")
VENV = Path(
    os.environ.get("ENTRAIDE_BOVINE_VENV")
    or Path.home() / ".cache" / "entraide-tests" / "bovine-venv"
)
HERE = Path(__file__).parent
ARRIVAL = 30.0
INSTALL_TIMEOUT = 900
SEC = "https://w3id.org/security#"
# JSON-LD contexts bovine expands documents with, written here term by term (the terms
# it reads: keys and their owners) so that it never fetches them from the web.
KEY_TERMS = {
    "id": "@id",
    "type": "@type",
    "sec": SEC,
    "Multikey": "sec:Multikey",
    "controller": {"@id": "sec:controller", "@type": "@id"},
    "publicKeyMultibase": {"@id": "sec:publicKeyMultibase"},
    "assertionMethod": {"@id": "sec:assertionMethod", "@type": "@id", "@container": "@set"},
    "verificationMethod": {"@id": "sec:verificationMethod", "@type": "@id"},
    "authentication": {"@id": "sec:authenticationMethod", "@type": "@id", "@container": "@set"},
}
CONTEXTS = {
    "https://w3id.org/security/v1": {
        "id": "@id",
        "type": "@type",
        "sec": SEC,
        "Key": "sec:Key",
        "publicKey": {"@id": "sec:publicKey", "@type": "@id"},
        "publicKeyPem": "sec:publicKeyPem",
        "owner": {"@id": "sec:owner", "@type": "@id"},
    },
    "https://www.w3.org/ns/did/v1": KEY_TERMS,
    "https://w3id.org/security/multikey/v1": KEY_TERMS,
    "https://www.w3.org/ns/cid/v1": KEY_TERMS,
}
CLOSED = f"http://{HOST}:9"  # discard port: nothing listens, a fetch fails at once


def bovine_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENTRAIDE_", "BOVINE_"))}
    env.update(
        BOVINE_DB_URL=f"sqlite://{workdir / 'bovine.sqlite3'}",
        BUTCHER_ALLOW_HTTP="1",
        HTTP_PROXY=CLOSED,
        HTTPS_PROXY=CLOSED,
        http_proxy=CLOSED,
        https_proxy=CLOSED,
        NO_PROXY=f"{HOST},localhost",
        no_proxy=f"{HOST},localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


def ensure_venv() -> Path:
    """bovine's virtualenv, made once per machine (a lock serialises test workers)."""
    python = VENV / "bin" / "python"
    marker = VENV / ".entraide-ready"
    wanted = " ".join(PACKAGES)
    if marker.exists() and marker.read_text() == wanted:
        return python
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with (VENV.parent / f"{VENV.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == wanted:
            return python
        subprocess.run(["rm", "-rf", str(VENV)], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        try:
            installed = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", *PACKAGES],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"installing {wanted} took over {INSTALL_TIMEOUT} s: bovine test skipped")
        if installed.returncode != 0:
            tail = installed.stderr.strip().splitlines()[-3:]
            pytest.skip(f"bovine-herd could not be installed ({wanted}): {' / '.join(tail)}")
        marker.write_text(wanted)
    return python


@dataclass
class Bovine:
    """A bovine-herd server and one actor on it, driven through bovine's client."""

    python: Path
    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    secret: str = ""
    actor_id: str = ""

    @property
    def domain(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "bovine.log"

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def run(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [str(self.python), *args],
            cwd=self.workdir,
            env=bovine_env(self.workdir),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"bovine {' '.join(args[:3])} exited {result.returncode}: "
                f"{result.stderr.strip()[-1500:]}\n--- server log ---\n{self.log_tail()}"
            )
        return result.stdout

    def client(self, command: str, *args: str) -> Any:
        script = str(HERE / "bovine_client.py")
        return json.loads(self.run(script, self.domain, self.secret, command, *args))

    def start(self) -> None:
        connection = sqlite3.connect(self.workdir / "bovine_jsonld_cache.sqlite")
        with connection:  # bovine's JsonLDCache table, read before any fetch
            connection.execute(
                "CREATE TABLE IF NOT EXISTS jsonld (url TEXT PRIMARY KEY, context TEXT)"
            )
            connection.executemany(
                "INSERT OR REPLACE INTO jsonld VALUES (?, ?)",
                [(url, json.dumps(context)) for url, context in CONTEXTS.items()],
            )
        connection.close()
        (self.workdir / "bovine_app.py").write_text((HERE / "bovine_app.py").read_text())
        command = [str(self.python), "-m", "hypercorn", "bovine_app:app"]
        command += ["--bind", f"{HOST}:{self.port}"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=bovine_env(self.workdir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

        def serving() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"bovine exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                url = f"{self.domain}/.well-known/nodeinfo"
                return httpx.get(url, timeout=2).status_code == 200
            return False

        wait_for(serving, 60, what="bovine-herd to serve", interval=0.1)

    def register(self, handle: str) -> None:
        """``bovine_tool.register`` on http ids, then an Ed25519 key for the client."""
        out = self.run("-m", "bovine_tool.register", "--domain", self.domain, handle)
        name = out.strip().rsplit(" ", 1)[-1]
        out = self.run("-m", "bovine_tool.manage", name, "--new_did_key")
        self.secret = out.strip().rsplit(" ", 1)[-1]
        self.actor_id = self.client("actor")["id"]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def inbox(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client("inbox")
        return items

    def collection(self, name: str) -> list[str]:
        found = self.client("collection", name)
        return [ref(item) for item in found.get("orderedItems", found.get("items", []))]


def ref(value: Any) -> str:
    """The id of a reference, embedded or not."""
    if isinstance(value, dict):
        return str(value.get("id"))
    return str(value)


def received(bovine: Bovine, kind: str, actor: str, needle: str) -> dict[str, Any] | None:
    """The first activity of ``kind`` by ``actor`` in bovine's inbox that mentions ``needle``."""
    for item in bovine.inbox():
        if (
            item.get("type") == kind
            and ref(item.get("actor")) == actor
            and needle in json.dumps(item, ensure_ascii=False)
        ):
            return item
    return None


@pytest.fixture
def bovine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bovine]:
    python = ensure_venv()
    running = Bovine(python, tmp_path_factory.mktemp("bovine"), free_port())
    try:
        running.start()
        running.register("cow")
        yield running
    finally:
        running.stop()


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with Cluster(tmp_path_factory.mktemp("entraide")) as cluster:
        ours = cluster.add("a")
        ours.init()
        ours.add_publisher()
        ours.start()
        yield ours


def test_bovine_and_entraide_follow_each_other_and_exchange_activities(
    node: Node, bovine: Bovine
) -> None:
    tag = uuid.uuid4().hex[:6]
    structure = f"{node.base_url}/actors/{node.structure}"
    territory = node.instance()["territory"]

    # 1. bovine resolves our actors by WebFinger (acct:HANDLE@127.0.0.1:PORT, over http).
    for handle, uri in ((node.structure, structure), ("territory", territory)):
        found = bovine.client("proxy", f"acct:{handle}@{node.domain}")
        assert found["id"] == uri, found

    # 2. bovine follows the territory and the structure; our node accepts both.
    for uri in (territory, structure):
        assert bovine.client("follow", uri)["status"] == 201
    wait_for(
        lambda: {territory, structure} <= set(bovine.collection("following")),
        ARRIVAL,
        what="bovine to list our territory and structure in its following",
        interval=0.5,
    )

    # 3. A listing published on our node reaches bovine: Create (structure) and Announce
    #    (territory).
    listing = node.create_listing(title=f"Chutes de chêne {tag}")
    create = wait_for(
        lambda: received(bovine, "Create", structure, listing["ap_id"]),
        ARRIVAL,
        what="the listing's Create in bovine's inbox",
        interval=0.5,
    )
    assert ref(create["object"]) == listing["ap_id"]
    assert listing["title"] in json.dumps(create["object"], ensure_ascii=False)
    announce = wait_for(
        lambda: received(bovine, "Announce", territory, listing["ap_id"]),
        ARRIVAL,
        what="the territory's Announce in bovine's inbox",
        interval=0.5,
    )
    assert ref(announce["object"]) == listing["ap_id"]

    # 4. Our structure follows bovine's actor; bovine accepts the Follow from its inbox.
    response = node.api(
        "POST", "follows", json={"actor": node.structure, "target": bovine.actor_id}
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "pending"
    follow = wait_for(
        lambda: received(bovine, "Follow", structure, bovine.actor_id),
        ARRIVAL,
        what="our Follow in bovine's inbox",
        interval=0.5,
    )
    accept = {"id": follow["id"], "type": "Follow", "actor": structure, "object": bovine.actor_id}
    assert bovine.client("accept", json.dumps(accept))["status"] == 201
    wait_for(
        lambda: (
            [
                f["state"]
                for f in node.api("GET", "follows", params={"actor": node.structure}).json()[
                    "items"
                ]
                if f["target"] == bovine.actor_id
            ]
            == ["accepted"]
        ),
        ARRIVAL,
        what="our follow of bovine's actor to be accepted",
    )
    assert structure in bovine.collection("followers")

    # 5. bovine's public Note reaches our inbox: kept for the timeline of its follower.
    text = f"Bonjour de bovine {tag}"
    assert bovine.client("note", text)["status"] == 201
    rows = wait_for(
        lambda: node.sql(
            "SELECT activity_type, state, error FROM inbox_items "
            "WHERE actor_uri = ? AND instr(body, ?) > 0 AND state != 'pending'",
            [bovine.actor_id, text],
        ),
        ARRIVAL,
        what="bovine's Note processed by our inbox",
    )
    assert [(kind, state) for kind, state, _ in rows] == [("Create", "done")], rows

    # 6. bovine's direct message to our structure shows in its conversations.
    private = f"Message privé de bovine {tag}"
    assert bovine.client("dm", structure, private)["status"] == 201

    def messages() -> list[dict[str, Any]]:
        found = node.api("GET", "messages", params={"actor": node.structure}).json()["items"]
        return [m for c in found for m in c["messages"] if m["content"] == private]

    (message,) = wait_for(messages, ARRIVAL, what="bovine's message in our API")
    assert message["author"] == bovine.actor_id

    # 7. Our structure's reply reaches bovine's inbox.
    reply = f"Réponse de la menuiserie {tag}"
    body = {"from": node.structure, "to": bovine.actor_id, "content": reply}
    response = node.api("POST", "messages", json=body)
    assert response.status_code == 201, response.text
    wait_for(
        lambda: received(bovine, "Create", structure, reply),
        ARRIVAL,
        what="our reply in bovine's inbox",
        interval=0.5,
    )
    print(f"\nbovine-herd at {bovine.domain} and entraide at {node.base_url}: all 7 steps passed")
