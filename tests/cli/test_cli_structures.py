"""The command line: structure create and token create."""

from __future__ import annotations

import tarfile

import pytest

from config.settings import load_settings
from instance import create_app
from instance.cli import main
from instance.services.export import FILES
from tests.cli import cli_support
from tests.cli.cli_support import Made, fails, succeeds
from tests.support import PASSWORD

made = cli_support.made


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


# --- structure export / alias / move / delete, user delete ----------------------


def test_export_then_delete_and_errors(made: Made, capsys: pytest.CaptureFixture[str]) -> None:
    """``structure export`` writes the archive (mode 0600, never over a file); ``user
    delete`` removes the person and the structure only they were a member of; unknown
    names fail in one line. Run in this process (``main``): a process each costs seconds."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(made.data_dir), *args])
        out, err = capsys.readouterr()
        return code, out, err

    archive = made.root / "menuiserie.tar.gz"
    code, out, _ = run("structure", "export", "menuiserie", "--to", str(archive))
    assert (code, out.strip()) == (0, f"exported menuiserie to {archive}")
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as opened:
        assert [n.split("/", 1)[1] for n in opened.getnames()] == list(FILES)
    assert run("structure", "export", "menuiserie", "--to", str(archive))[::2] == (
        1, f"entraide: error: {archive} already exists\n"
    )  # fmt: skip
    for args in (
        ("structure", "export", "nosuch", "--to", str(made.root / "x.tar.gz")),
        ("structure", "move", "nosuch", "--to", "acct:x@b.example"),
        ("structure", "alias", "nosuch", "acct:x@b.example"),
        ("structure", "delete", "nosuch"),
    ):
        code, out, err = run(*args)
        assert (code, out) == (1, "") and "nosuch" in err and len(err.splitlines()) == 1, args

    assert run("user", "create", "--email", "leaving@example.org", "--password", PASSWORD)[0] == 0
    code, _, err = run("structure", "create", "--handle", "partante", "--name", "Partante",
                       "--owner", "leaving@example.org")  # fmt: skip
    assert code == 0, err
    code, out, _ = run("user", "delete", "--email", "leaving@example.org")
    assert (code, out.strip()) == (0, "deleted leaving@example.org and structure partante")
    code, _, err = run("user", "delete", "--email", "leaving@example.org")
    assert code == 1 and "leaving@example.org" in err
