"""The real `entraide` console script, run as a subprocess (docs/interface.md, "Command line").

Exit status 0 on success, 2 on bad usage, 1 on any other error, always with
exactly one line on stderr and never a traceback without ``--debug``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config.settings import CONFIG_FILE, load_settings
from instance.cli import UsageError
from instance.commands import new_settings
from instance.health import schema_is_current
from tests.cli import cli_support
from tests.cli.cli_support import PASSWORD, Made, entraide, fails, succeeds
from tests.databases import DatabaseTemplates, free_port

made = cli_support.made


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
