"""The quick start's demo node starts, seeded: its offers and needs meet, each printed login
opens its own structure, two structures talk and « Gouvernance » holds a post. Started
again with ``--peered``, it reuses what it made and starts a second territory beside it
(its own logins printed), peers the two, and the second's listings reach the first and
meet its listings there; SIGINT (Ctrl-C) stops both and the command exits 0."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from instance import demo_peer
from instance.demo import PEOPLE, STRUCTURES
from tests.databases import free_port
from tests.e2e.harness import clean_env, entraide_command, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


LOGIN_RE = re.compile(r"^Demo (administrator|structure login): (\S+) / password: (\S+)$", re.M)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _log_in(client: httpx.Client, email: str, password: str) -> None:
    """Log ``client`` in through the ``/login`` form."""
    found = CSRF_RE.search(client.get("/login").text)
    assert found is not None
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": found[1]}
    )
    assert answer.status_code in (302, 303), (email, answer.status_code)


def _check_logins_conversation_and_post(base: str, printed: str) -> None:
    logins = LOGIN_RE.findall(printed)
    assert [email for _, email, _ in logins] == [who["email"] for who in PEOPLE]
    assert logins[0][0] == "administrator" and len({p for _, _, p in logins}) == len(logins)
    names = {s["handle"]: s["name"] for s in STRUCTURES}
    for (_, email, password), who in zip(logins, PEOPLE, strict=True):
        with httpx.Client(base_url=base, timeout=10) as client:
            _log_in(client, email, password)
            account = client.get("/account")
            assert account.status_code == 200 and email in account.text
            for handle, name in names.items():  # its own structure, no other's
                assert (name in account.text) == (handle == who["structure"]), (email, name)
            assert (client.get("/admin").status_code == 200) == (who["role"] == "admin")
            if who["structure"] == "ressourcerie_gave":
                threads = client.get("/messages").text
                link = re.search(r'href="(/messages/\d+)', threads)
                assert link is not None, threads
                thread = client.get(link[1]).text
                assert "Pouvons-nous passer les chercher mardi" in thread
                assert "mardi matin nous va très bien" in thread
    with httpx.Client(base_url=base, timeout=10) as client:  # a wrong password opens nothing
        found = CSRF_RE.search(client.get("/login").text)
        assert found is not None
        data = {"email": logins[1][1], "password": "wrong password", "csrf_token": found[1]}
        assert client.post("/login", data=data).status_code not in (302, 303)
        assert client.get("/account").status_code in (302, 303)
    community = httpx.get(f"{base}/communities/gouvernance", timeout=10)
    assert "une réunion des structures chaque trimestre" in community.text
    assert "Communauté de communes de Lacq-Orthez" in community.text


@contextmanager
def _demo(data: Path, port: int, log: Path, *more: str) -> Iterator[str]:
    """``entraide demo`` on ``data`` and ``port`` (and ``more`` options), its output in
    ``log``, ready: its base URL. With ``--peered``, SIGINT stops it, which must exit 0."""
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*entraide_command(), "--data-dir", str(data), "demo", "--port", str(port), *more],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(log.read_text(errors="replace"))
            try:
                return httpx.get(f"{base}/api/v1/instance", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, 90, what="the demo node")
        yield base
    finally:
        process.send_signal(signal.SIGINT if more else signal.SIGTERM)
        try:
            status = process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    if more:
        assert status == 0, log.read_text(errors="replace")


def _counts(base: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{base}/api/v1/instance", timeout=10).json()["counts"]
    return counts


def _check_peered(a: str, b: str, printed: str) -> None:
    """B answers with its own logins printed, A and B peered, B's listings on A and
    meeting A's there."""
    assert f"Peered demo node: {b}/" in printed
    peer_logins = LOGIN_RE.findall(printed.split("Peered demo node")[1])
    assert [email for _, email, _ in peer_logins] == [who["email"] for who in demo_peer.PEOPLE]

    def peered_with_listings() -> bool:
        ours, theirs = _counts(a), _counts(b)
        return ours["peers"] == theirs["peers"] == 1 and ours["remote_listings"] == len(
            demo_peer.LISTINGS
        )

    wait_for(peered_with_listings, 60, what="the demo nodes peered, B's listings on A")
    assert _counts(b)["local_listings"] == len(demo_peer.LISTINGS)
    found = httpx.get(f"{a}/api/v1/listings", params={"q": "camion"}, timeout=10).json()
    remote = [item for item in found["items"] if not item["local"]]
    assert [item["author"]["name"] for item in remote] == ["Transports Marsan"]
    assert remote[0]["origin"] == b.removeprefix("http://")
    assert (
        "Camion benne 3,5 t à prêter le week-end"
        in httpx.get(f"{a}/search", params={"q": "camion"}, timeout=10).text
    )
    with httpx.Client(base_url=b, timeout=10) as client:  # B's own administrator logs in
        _log_in(client, peer_logins[0][1], peer_logins[0][2])
        assert client.get("/admin").status_code == 200
    wait_for(  # A's 3 matches of its own, and B's offer meets A's need for a lorry (and more)
        lambda: httpx.get(f"{a}/api/v1/stats", timeout=10).json()["matches"] >= 4,
        30,
        what="B's listings to meet A's",
    )


def test_demo_starts_seeded_with_matching_listings(tmp_path: Path) -> None:
    port = free_port()
    first_log, again_log = tmp_path / "demo.log", tmp_path / "again.log"
    with _demo(tmp_path / "demo", port, first_log) as base:
        assert "Demo administrator:" in first_log.read_text()
        counts = httpx.get(f"{base}/api/v1/instance", timeout=10).json()["counts"]
        assert counts["structures"] == 3 and counts["local_listings"] == 7
        wait_for(
            lambda: httpx.get(f"{base}/api/v1/stats", timeout=10).json()["matches"] >= 2,
            30,
            what="the demo's needs to meet its offers",
        )
        for path in ("/", "/search", "/territoire", "/structures"):
            assert httpx.get(f"{base}{path}", timeout=10).status_code == 200, path
        _check_logins_conversation_and_post(base, first_log.read_text())
    # Started again (with the second territory), the demo reuses what it made: the same
    # logins, nothing seeded twice.
    peer_port = free_port()
    peered = ("--peered", "--peer-port", str(peer_port))
    with _demo(tmp_path / "demo", port, again_log, *peered) as base:
        again = again_log.read_text().split("Peered demo node")[0]
        assert LOGIN_RE.findall(again) == LOGIN_RE.findall(first_log.read_text())
        counts = httpx.get(f"{base}/api/v1/instance", timeout=10).json()["counts"]
        assert counts["structures"] == 3 and counts["local_listings"] == 7
        _check_logins_conversation_and_post(base, again)
        peer = f"http://127.0.0.1:{peer_port}"
        _check_peered(base, peer, again_log.read_text())
    for stopped in (base, peer):  # Ctrl-C stopped both
        with pytest.raises(httpx.TransportError):
            httpx.get(stopped, timeout=2)
    assert (tmp_path / "demo-b" / "demo-login.txt").exists()


def test_demo_names_a_taken_port_and_the_option_to_change_it(tmp_path: Path) -> None:
    """Another program listens on the port: the demo says so and names ``--port`` before
    making or printing anything. (Before: it printed that it listened at the address,
    then failed with « Address already in use ».)"""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                *entraide_command(),
                "--data-dir",
                str(tmp_path / "demo"),
                "demo",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr
    assert "Demo node" not in result.stdout
    assert not (tmp_path / "demo").exists()


def test_demo_peered_names_a_taken_peer_port_and_its_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        command = [*entraide_command(), "--data-dir", str(tmp_path / "demo"), "demo"]
        result = subprocess.run(
            [*command, "--peered", "--port", str(free_port()), "--peer-port", str(busy)],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {busy} on 127.0.0.1 is already in use" in result.stderr
    assert "--peer-port" in result.stderr
    assert not (tmp_path / "demo").exists() and not (tmp_path / "demo-b").exists()
