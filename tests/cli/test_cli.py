"""The real `entraide` console script, run as a subprocess (docs/interface.md, "Command line").

Exit status 0 on success, 2 on bad usage, 1 on any other error, always with
exactly one line on stderr and never a traceback without ``--debug``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from config.settings import CONFIG_FILE, load_settings
from instance import create_app
from instance.cli import UsageError
from instance.commands import new_settings
from instance.health import schema_is_current
from tests.databases import DatabaseTemplates, free_port

PASSWORD = "correct horse battery"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
    env.update(extra)
    return env


def entraide(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m instance.cli ARGS`` as a user would run ``entraide ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "instance.cli", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_together(
    *calls: tuple[tuple[str, ...], dict[str, str] | None], cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands at the same time (each process spends most of it importing)."""
    started = [
        (
            args,
            subprocess.Popen(
                [sys.executable, "-m", "instance.cli", *args],
                cwd=cwd,
                env=env or _env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args, env in calls
    ]
    results = []
    for args, process in started:
        out, err = process.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(list(args), process.returncode, out, err))
    return results


def fails(result: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    """Check a failure: its status, one line on stderr, no traceback; return that line."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    line = lines[0]
    assert line.startswith("entraide"), line
    for word in words:
        assert word in line, (word, line)
    return line


def succeeds(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


@dataclass
class Made:
    """A node initialised once for the module, with a person, a structure and a token."""

    root: Path
    data_dir: Path
    init_output: str
    token: str = ""

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return entraide("--data-dir", str(self.data_dir), *args, cwd=self.root)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """`init` once (each run costs seconds), then a person, a structure and a token."""
    root = tmp_path_factory.mktemp("cli")
    ddir = root / "node"
    out = succeeds(
        entraide(
            "init", "--data-dir", str(ddir), "--domain", "Territoire.Example:8443",
            "--name", "Val d'Oloron", "--handle", "valdoloron", cwd=root,
        )
    )  # fmt: skip
    made = Made(root, ddir, out)
    succeeds(made.run("user", "create", "--email", "owner@example.org", "--password", PASSWORD))
    d = ("--data-dir", str(ddir))
    structure, token = run_together(
        ((*d, "structure", "create", "--handle", "menuiserie", "--name", "Menuiserie",
          "--owner", "owner@example.org"), None),
        ((*d, "token", "create", "--email", "owner@example.org"), None),
        cwd=root,
    )  # fmt: skip
    succeeds(structure)
    made.token = succeeds(token).strip()
    return made


# --- init -------------------------------------------------------------------


def test_init_creates_a_private_node(made: Made) -> None:
    """init writes entraide.toml (mode 600), the SQLite database, and prints the territory actor.

    The file holds the cookie-signing secret and the database the actors'
    private keys: neither may be readable by other users of the machine.
    """
    assert "https://territoire.example:8443/actors/valdoloron" in made.init_output
    ddir = made.data_dir
    assert (ddir / CONFIG_FILE).stat().st_mode & 0o777 == 0o600
    assert (ddir / "entraide.db").stat().st_mode & 0o077 == 0
    assert ddir.stat().st_mode & 0o077 == 0
    settings = load_settings(ddir, {})
    assert settings.instance.name == "Val d'Oloron"
    assert settings.instance.domain == "territoire.example:8443"
    assert settings.instance.handle == "valdoloron"
    assert len(settings.web.secret_key) >= 32
    assert asyncio.run(schema_is_current(settings.database_url))


def test_init_refuses_an_initialised_dir(made: Made) -> None:
    """A second init must not overwrite the secret key and orphan the existing keys."""
    before = (made.data_dir / CONFIG_FILE).read_text()
    result = made.run("init", "--domain", "b.test", "--name", "B")
    fails(result, 1, "already initialised")
    assert (made.data_dir / CONFIG_FILE).read_text() == before


def test_init_malformed_domain(tmp_path: Path) -> None:
    """A URL given as --domain would make every actor id wrong: usage error, nothing written."""
    result = entraide(
        "init", "--data-dir", str(tmp_path / "n"), "--domain", "https://a.test/path",
        "--name", "A", cwd=tmp_path,
    )  # fmt: skip
    fails(result, 2, "--domain")
    assert not (tmp_path / "n" / CONFIG_FILE).exists()


@pytest.mark.parametrize(
    "domain", ["a.test:99999", "a.test:0", "a.test:", "a b.test", "a.test/x", "https://a.test", ""]
)
def test_domain_rules(tmp_path: Path, domain: str) -> None:
    """The same check in process, for the cases not worth a process each (ports out of range)."""
    with pytest.raises(UsageError, match="--domain"):
        new_settings(tmp_path, domain=domain, name="A")


def test_domain_is_lowercased(tmp_path: Path) -> None:
    """Actor ids are compared as strings: the domain is stored in one case."""
    settings = new_settings(tmp_path, domain="Territoire.Example:8443", name="A")
    assert settings.base_url == "https://territoire.example:8443"


def test_init_without_name(tmp_path: Path) -> None:
    """--name is required; argparse's own error is one line too."""
    result = entraide("init", "--data-dir", str(tmp_path / "n"), "--domain", "a.test", cwd=tmp_path)
    fails(result, 2, "--name")


def test_init_on_postgresql(tmp_path: Path, templates: DatabaseTemplates) -> None:
    """init --database-url migrates an empty PostgreSQL database and makes the territory."""
    if templates.cluster is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    url = templates.empty_postgres_url()
    ddir = tmp_path / "n"
    out = succeeds(
        entraide(
            "init", "--data-dir", str(ddir), "--domain", "pg.test", "--name", "PG",
            "--database-url", url, cwd=tmp_path,
        )
    )  # fmt: skip
    assert "https://pg.test/actors/territory" in out
    assert not (ddir / "entraide.db").exists()
    settings = load_settings(ddir, {})
    assert settings.database_url == url
    assert asyncio.run(schema_is_current(url))
    # The same database cannot hold a second node.
    result = entraide(
        "init", "--data-dir", str(tmp_path / "other"), "--domain", "pg.test", "--name", "PG",
        "--database-url", url, cwd=tmp_path,
    )  # fmt: skip
    fails(result, 1, "already holds a node")
    assert not (tmp_path / "other" / CONFIG_FILE).exists()


def test_init_with_unreachable_database(tmp_path: Path) -> None:
    """A database that cannot be reached: one line, exit 1, and no half-initialised dir."""
    port = free_port()
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{port}/nothing"
    result = entraide(
        "init", "--data-dir", str(tmp_path / "n"), "--domain", "a.test", "--name", "A",
        "--database-url", url, cwd=tmp_path,
    )  # fmt: skip
    fails(result, 1)
    assert not (tmp_path / "n" / CONFIG_FILE).exists()


# --- db upgrade -------------------------------------------------------------


def test_db_upgrade_twice(made: Made) -> None:
    """Safe to run on every deploy: the second run succeeds and changes nothing."""
    first = succeeds(made.run("db", "upgrade"))
    second = succeeds(made.run("db", "upgrade"))
    assert first == second
    assert "already up to date at revision" in second


def test_command_on_missing_data_dir(tmp_path: Path) -> None:
    """A wrong --data-dir says where it looked, not a traceback."""
    result = entraide("--data-dir", str(tmp_path / "nowhere"), "db", "upgrade", cwd=tmp_path)
    fails(result, 1, "nowhere", "entraide init")


# --- user create ------------------------------------------------------------


def test_user_create_and_duplicate(made: Made) -> None:
    """A new person is created; the same e-mail in another case is a duplicate (exit 1)."""
    out = succeeds(
        made.run("user", "create", "--email", "mod@example.org", "--password", PASSWORD,
                 "--role", "moderator")
    )  # fmt: skip
    assert "moderator" in out
    result = made.run("user", "create", "--email", "MOD@Example.org", "--password", PASSWORD)
    fails(result, 1, "already registered")


def test_user_create_short_password(made: Made) -> None:
    """A password under 10 characters is a usage error, and the person is not created."""
    result = made.run("user", "create", "--email", "short@example.org", "--password", "123456789")
    fails(result, 2, "password")


def test_user_create_bad_role(made: Made) -> None:
    """--role king is not a role: usage error naming the option."""
    result = made.run(
        "user", "create", "--email", "king@example.org", "--password", PASSWORD, "--role", "king"
    )
    fails(result, 2, "--role")


def test_user_create_bad_email(made: Made) -> None:
    """An address without a domain is a usage error."""
    fails(made.run("user", "create", "--email", "nobody", "--password", PASSWORD), 2, "email")


# --- structure create -------------------------------------------------------


def test_structure_create_with_location(made: Made) -> None:
    """An approved structure is created with its actor id printed."""
    out = succeeds(
        made.run("structure", "create", "--handle", "ferme", "--name", "La ferme", "--owner",
                 "owner@example.org", "--kind", "association", "--commune", "Oloron",
                 "--lat", "43.19", "--lon", "-0.61")
    )  # fmt: skip
    assert "https://territoire.example:8443/actors/ferme" in out


def test_structure_owner_missing(made: Made) -> None:
    """The owner must exist: exit 1, pointing to `user create`."""
    result = made.run(
        "structure", "create", "--handle", "orphan", "--name", "Orphan", "--owner", "no@example.org"
    )
    fails(result, 1, "no@example.org")


def test_structure_handle_taken(made: Made) -> None:
    """A handle in use by another structure is refused with exit 1 (not a usage error)."""
    result = made.run(
        "structure", "create", "--handle", "menuiserie", "--name", "Copy",
        "--owner", "owner@example.org",
    )  # fmt: skip
    fails(result, 1, "menuiserie", "taken")


def test_structure_cannot_take_the_territory_handle(made: Made) -> None:
    """acct:valdoloron@… is the territory actor: no structure may take its handle."""
    result = made.run(
        "structure", "create", "--handle", "valdoloron", "--name", "Copy",
        "--owner", "owner@example.org",
    )  # fmt: skip
    fails(result, 1, "valdoloron", "taken")


def test_structure_lat_without_lon(made: Made) -> None:
    """Half a coordinate is bad usage (exit 2)."""
    result = made.run(
        "structure", "create", "--handle", "halfway", "--name", "Halfway",
        "--owner", "owner@example.org", "--lat", "43.2",
    )  # fmt: skip
    fails(result, 2, "--lat")


def test_structure_bad_handle(made: Made) -> None:
    """A handle with capitals or punctuation cannot be an acct: name: usage error."""
    result = made.run(
        "structure", "create", "--handle", "Bad!", "--name", "Bad", "--owner", "owner@example.org"
    )
    fails(result, 2, "handle")


# --- token create -----------------------------------------------------------


async def test_token_is_alone_on_stdout_and_works(made: Made) -> None:
    """stdout is exactly the token (scripts do TOKEN=$(entraide token create …)); it works."""
    assert made.token.startswith("ent_")
    assert "\n" not in made.token
    assert " " not in made.token
    app = create_app(load_settings(made.data_dir, {}), run_workers=False)
    async with app.test_app():
        client = app.test_client()
        body = {
            "structure": "menuiserie", "kind": "offer", "title": "Raboteuse",
            "description": "Une raboteuse", "category": "equipment", "modality": "lend",
        }  # fmt: skip
        bad = await client.post(
            "/api/v1/listings", json=body, headers={"Authorization": "Bearer ent_wrong_token"}
        )
        assert bad.status_code == 401
        good = await client.post(
            "/api/v1/listings", json=body, headers={"Authorization": f"Bearer {made.token}"}
        )
        assert good.status_code == 201, await good.get_data()


def test_token_for_unknown_person(made: Made) -> None:
    """No token for someone who does not exist; nothing on stdout."""
    result = made.run("token", "create", "--email", "ghost@example.org")
    fails(result, 1, "ghost@example.org")
    assert result.stdout == ""


# --- where the data dir comes from ------------------------------------------


def test_data_dir_before_after_and_from_environment(made: Made) -> None:
    """--data-dir works before the command, after it, and as ENTRAIDE_DATA_DIR."""
    args = ("token", "create", "--email", "owner@example.org")
    ddir = str(made.data_dir)
    results = run_together(
        (("--data-dir", ddir, *args), None),
        ((*args, "--data-dir", ddir), None),
        (args, _env(ENTRAIDE_DATA_DIR=ddir)),
        cwd=made.root,
    )
    tokens = {succeeds(r).strip() for r in results}
    assert len(tokens) == 3
    assert all(t.startswith("ent_") for t in tokens)


# --- usage ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("bogus",), (), ("user",), ("serve", "--port", "http"), ("serve", "--workers", "0")],
    ids=["unknown-command", "no-command", "no-action", "port-not-a-number", "no-workers"],
)
def test_bad_usage(made: Made, args: tuple[str, ...]) -> None:
    """Bad usage is exit 2 with one line, not argparse's multi-line usage block."""
    fails(made.run(*args), 2)


def test_serve_workers_on_sqlite(made: Made) -> None:
    """SQLite allows one writing process: several web processes are refused, saying why."""
    fails(made.run("serve", "--workers", "2"), 2, "PostgreSQL")


# --- serve ------------------------------------------------------------------


@pytest.fixture
def served(made: Made) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "instance.cli", "--data-dir", str(made.data_dir), "serve",
         "--port", str(port)],
        cwd=made.root,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serve_answers_and_stops_gracefully(served: tuple[subprocess.Popen[str], int]) -> None:
    """serve answers the API on 127.0.0.1, then exits 0 promptly on SIGTERM (systemd stop)."""
    process, port = served
    url = f"http://127.0.0.1:{port}/api/v1/instance"
    deadline = time.monotonic() + 60
    body = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            response = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        assert response.status_code == 200
        body = response.json()
        break
    assert body is not None, f"serve never answered: {process.poll()} {process.stderr}"
    assert body["name"] == "Val d'Oloron"
    assert body["territory"] == "https://territoire.example:8443/actors/valdoloron"
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = process.wait(timeout=20)
    elapsed = time.monotonic() - started
    _, stderr = process.communicate()
    assert code == 0, stderr
    assert elapsed < 10  # hypercorn's graceful_timeout is 15 s: a hang would show
    assert "Traceback" not in stderr
