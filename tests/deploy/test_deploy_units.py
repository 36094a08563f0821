"""Deployment files: compose.yaml and the systemd units."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.deploy_files_support import (
    DEPLOY,
    DEPLOY_FILES,
    ROOT,
    STUB,
    UNITS,
    VENV_BIN,
    need_tool,
    parses,
    read,
)

INSTALLED_VENV = "/opt/entraide/venv/bin/entraide"


# --- compose.yaml ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip(
        "yaml",
        reason="PyYAML is not installed here (it is not a dependency of the project): "
        "`pip install pyyaml` to check compose.yaml",
    )
    data: dict[str, Any] = yaml.safe_load(read("compose.yaml"))
    return data


def seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    match = re.fullmatch(r"(\d+)([smh])", str(duration))
    assert match, duration
    return int(match[1]) * units[match[2]]


def test_compose_services_volumes_and_networks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "web", "worker"}
    assert set(compose["volumes"]) == {"pgdata", "data"}
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
        assert service.get("restart") == "unless-stopped", name
    db = services["db"]
    assert db["image"].startswith("postgres:16")
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "ports" not in db, "the database must not be published"
    for name in ("web", "worker"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).exists()
        assert "data:/data" in service["volumes"], name
        assert seconds(service["stop_grace_period"]) >= 30, name
        assert service["init"] is True
        assert service["depends_on"]["db"] == {"condition": "service_healthy"}
        env = service["environment"]
        assert {"ENTRAIDE_DOMAIN", "ENTRAIDE_NAME", "DATABASE_URL"} <= set(env)
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://entraide:")
        assert env["DATABASE_URL"].endswith("@db:5432/entraide")
        assert env["ENTRAIDE_DATABASE__URL"] == env["DATABASE_URL"].replace(
            "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in deploy/.env}", "${POSTGRES_PASSWORD}"
        )
    subnet = compose["networks"]["entraide"]["ipam"]["config"][0]["subnet"]
    assert services["web"]["environment"]["ENTRAIDE_WEB__TRUSTED_PROXIES"] == subnet


def test_compose_web_and_worker_roles(compose: dict[str, Any]) -> None:
    web, worker = compose["services"]["web"], compose["services"]["worker"]
    assert web["command"] == ["serve"]
    assert any(str(p).endswith(":8000") for p in web["ports"])
    assert any(p.startswith("${ENTRAIDE_HTTP_BIND:-127.0.0.1}") for p in web["ports"]), (
        "published on localhost by default: Docker bypasses the host's firewall"
    )
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert worker["command"] == ["worker"]
    assert "ports" not in worker
    assert worker["healthcheck"] == {"disable": True}, "a worker serves no /healthz"
    assert worker["depends_on"]["web"] == {"condition": "service_healthy"}


def test_compose_and_env_example_agree() -> None:
    """Every variable compose.yaml reads is in .env.example, and every one there is used."""
    compose_text = read("compose.yaml")
    used = set(re.findall(r"\$\{(\w+)", compose_text))
    required = set(re.findall(r"\$\{(\w+):\?", compose_text))
    example = dict(
        line.split("=", 1)
        for line in read(".env.example").splitlines()
        if line and not line.startswith("#")
    )
    assert required == {"ENTRAIDE_DOMAIN", "ENTRAIDE_NAME", "POSTGRES_PASSWORD"}
    assert used <= set(example), f"missing from .env.example: {used - set(example)}"
    assert set(example) <= used, f"unused in compose.yaml: {set(example) - used}"
    assert "change-me" in example["POSTGRES_PASSWORD"], "the example password is a placeholder"
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD" in compose_text
    literal = re.search(r"^\s*\w*PASSWORD\w*:\s*[^$\s]", compose_text, re.MULTILINE)
    assert not literal, f"no literal password in compose.yaml: {literal}"
    assert (DEPLOY / ".gitignore").read_text().splitlines().count(".env") == 1


# --- systemd units ------------------------------------------------------------------------


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in read(name).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections.setdefault(current, [])
            continue
        key, _, value = line.partition("=")
        sections[current].append((key, value))
    return sections


def values(name: str, section: str, key: str) -> list[str]:
    return [v for k, v in unit(name).get(section, []) if k == key]


SERVICES = ["entraide.service", "entraide-worker@.service", "entraide-backup.service"]
NODE_SERVICES = ["entraide@.service", "entraide-node-worker@.service", "entraide-backup@.service"]


@pytest.mark.parametrize("name", SERVICES + NODE_SERVICES)
def test_units_run_hardened_as_entraide(name: str) -> None:
    def one(key: str) -> str:
        found = values(name, "Service", key)
        assert len(found) == 1, f"{name}: {key}= once, got {found}"
        return found[0]

    # A node alone is `entraide`; one of several is `entraide-NODE` (the instance name).
    suffix = "-%i" if name in NODE_SERVICES else ""
    assert one("User") == f"entraide{suffix}" and one("Group") == f"entraide{suffix}"
    data_dir = f"/var/lib/entraide{suffix}"
    assert f"ENTRAIDE_DATA_DIR={data_dir}" in values(name, "Service", "Environment")
    assert one("WorkingDirectory") == data_dir
    assert one("StateDirectory") == f"entraide{suffix}"
    if suffix:
        assert one("EnvironmentFile") == "/etc/entraide/%i.env", "required: it holds the port"
    for key, expected in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert one(key) == expected, f"{name}: {key}"
    assert data_dir in one("ReadWritePaths").split()
    exec_start = one("ExecStart")
    assert INSTALLED_VENV in exec_start


@pytest.mark.parametrize(
    "name",
    [
        "entraide.service",
        "entraide-worker@.service",
        "entraide@.service",
        "entraide-node-worker@.service",
    ],
)
def test_long_running_units_restart_and_stop_gracefully(name: str) -> None:
    """Restart=always: serve exits 1 when its web processes keep dying, and a node that
    stopped for any reason but the administrator's is to be started again."""
    service = dict(unit(name)["Service"])
    assert service["Restart"] == "always"
    assert service["KillSignal"] == "SIGTERM"
    # Hypercorn's graceful timeout in `entraide serve` is 15 s; systemd must wait longer.
    stop_seconds = seconds(service["TimeoutStopSec"])
    assert 15 < stop_seconds <= 90
    assert unit(name)["Install"] == [("WantedBy", "multi-user.target")]


def test_units_command_lines() -> None:
    (web,) = values("entraide.service", "Service", "ExecStart")
    assert web.split()[1:7] == ["serve", "--host", "127.0.0.1", "--port", "8000", "--workers"]
    assert "ENTRAIDE_SERVE_WORKERS=1" in values("entraide.service", "Service", "Environment")
    assert "ENTRAIDE_WEB__TRUSTED_PROXIES=127.0.0.1,::1" in values(
        "entraide.service", "Service", "Environment"
    )
    (worker,) = values("entraide-worker@.service", "Service", "ExecStart")
    assert worker == f"{INSTALLED_VENV} worker"
    assert values("entraide-worker@.service", "Unit", "PartOf") == ["entraide.service"]
    (backup,) = values("entraide-backup.service", "Service", "ExecStart")
    assert f"{INSTALLED_VENV} backup --to" in backup
    assert "%%Y" in backup, "a literal % is %% in a unit"
    assert values("entraide-backup.service", "Service", "Type") == ["oneshot"]
    assert (
        "/var/backups/entraide"
        in values("entraide-backup.service", "Service", "ReadWritePaths")[0].split()
    )
    timer = dict(unit("entraide-backup.timer")["Timer"])
    assert timer["Persistent"] == "true" and timer["OnCalendar"]


def test_node_template_units_take_the_node_from_the_instance_name() -> None:
    """Several nodes on one machine: paths, user and settings follow the instance name,
    the port comes from the node's environment file."""
    (web,) = values("entraide@.service", "Service", "ExecStart")
    words = web.split()
    assert words[0] == INSTALLED_VENV
    assert words[1:] == [
        "serve",
        "--host",
        "${ENTRAIDE_HOST}",
        "--port",
        "${ENTRAIDE_PORT}",
        "--workers",
        "${ENTRAIDE_SERVE_WORKERS}",
    ]
    environment = values("entraide@.service", "Service", "Environment")
    assert "ENTRAIDE_HOST=127.0.0.1" in environment
    assert "ENTRAIDE_SERVE_WORKERS=1" in environment
    parses("serve", "--host", "127.0.0.1", "--port", "8001", "--workers", "1")
    (worker,) = values("entraide-node-worker@.service", "Service", "ExecStart")
    assert worker == f"{INSTALLED_VENV} worker"
    assert values("entraide-node-worker@.service", "Unit", "PartOf") == ["entraide@%i.service"]
    (backup,) = values("entraide-backup@.service", "Service", "ExecStart")
    assert '--to "/var/backups/entraide-%i/entraide-' in backup
    assert (
        "/var/backups/entraide-%i"
        in values("entraide-backup@.service", "Service", "ReadWritePaths")[0].split()
    )
    assert dict(unit("entraide-backup@.timer")["Timer"]) == dict(
        unit("entraide-backup.timer")["Timer"]
    )


def test_backups_are_named_tar_gz_everywhere() -> None:
    """One name for one format: every backup file the deploy files and READMEs write,
    restore or clean up ends in .tar.gz."""
    texts = {name: read(name) for name in DEPLOY_FILES}
    texts["../README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, text in texts.items():
        assert ".backup " not in text and ".backup'" not in text and ".backup\n" not in text
        assert not re.search(r"\.backup\b(?![-.]?(service|timer))", text), name
    lines = [
        line
        for name in ("README.md", "entraide-backup.service", "entraide-backup@.service")
        for line in read(name).splitlines()
        if re.search(r"(backup --to|restore --from) ", line)
    ]
    assert len(lines) >= 8 and all(".tar.gz" in line for line in lines), lines


def test_the_wrapper_runs_the_named_node(tmp_path: Path) -> None:
    """`ENTRAIDE_NODE=valley entraide …` runs the program as the node's user, on its data
    dir, with its settings file; a node without one, or a bad name, is refused."""
    calls = tmp_path / "calls.jsonl"
    stub = tmp_path / "entraide"
    stub.write_text(STUB.format(python=sys.executable))
    stub.chmod(0o755)
    env_file = tmp_path / "valley.env"
    env_file.write_text("ENTRAIDE_PORT=8001\nENTRAIDE_LOG__FORMAT=json\n")
    me = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    base = {"PATH": os.environ["PATH"], "STUB_CALLS": str(calls), "ENTRAIDE_PROGRAM": str(stub)}

    def wrapper(**env: str) -> subprocess.CompletedProcess[str]:
        calls.write_text("")
        return subprocess.run(
            ["bash", str(DEPLOY / "entraide-cli.sh"), "peer", "list"],
            capture_output=True,
            text=True,
            env={**base, **env},
            check=False,
            timeout=30,
        )

    result = wrapper(ENTRAIDE_NODE="valley", ENTRAIDE_USER=me, ENTRAIDE_ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    (call,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert call["args"] == ["peer", "list"]
    assert call["env"]["ENTRAIDE_DATA_DIR"] == "/var/lib/entraide-valley"
    assert call["env"]["ENTRAIDE_LOG__FORMAT"] == "json"
    assert call["env"]["ENTRAIDE_PORT"] == "8001"

    result = wrapper(ENTRAIDE_USER=me, ENTRAIDE_ENV_FILE=str(tmp_path / "none.env"))
    assert result.returncode == 0, result.stderr
    (call,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert call["env"]["ENTRAIDE_DATA_DIR"] == "/var/lib/entraide"

    result = wrapper(ENTRAIDE_NODE="valley", ENTRAIDE_USER=me)  # /etc/entraide/valley.env
    assert result.returncode == 1
    assert "/etc/entraide/valley.env not found" in result.stderr
    result = wrapper(ENTRAIDE_NODE="../etc", ENTRAIDE_USER=me)
    assert result.returncode == 2 and "must be a node name" in result.stderr
    assert calls.read_text() == ""


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = need_tool("systemd-analyze", "install systemd to verify the units")
    entraide = VENV_BIN / "entraide"
    if not entraide.exists():
        pytest.skip(f"no `entraide` console script in {VENV_BIN} to stand in for {INSTALLED_VENV}")
    names = []
    for name in UNITS:
        text = read(name).replace(INSTALLED_VENV, str(entraide))
        # A template is verified through one of its instances.
        target = name.replace("@.", "@valley.")
        (tmp_path / target).write_text(text)
        names.append(str(tmp_path / target))
    result = subprocess.run(
        [analyze, "verify", *names],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and "Failed to" in output and str(tmp_path) not in output:
        pytest.skip(f"systemd-analyze cannot verify in this environment: {output.strip()[:300]}")
    # Unknown keys and bad values are only warnings (exit 0): any line about our
    # units fails the test.
    ours = [line for line in output.splitlines() if str(tmp_path) in line or "entraide" in line]
    assert result.returncode == 0 and not ours, output
