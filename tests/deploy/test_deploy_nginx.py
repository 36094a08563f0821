"""Deployment files: the proxy examples read, and nginx run in front of a stub app."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.deploy.deploy_files_support import (
    DOMAIN,
    PACKAGE_DIR,
    ROOT,
    StubApp,
    check_proxy_behaviour,
    client,
    free_port,
    need_tool,
    read,
    replace_all,
    running,
)

# --- nginx and Caddy: what can be read ---------------------------------------------------


def test_proxy_examples_say_what_the_brief_requires() -> None:
    nginx = read("nginx.conf")
    assert "client_max_body_size 2m;" in nginx
    for header in ("Host $host", "X-Forwarded-For", "X-Forwarded-Proto $scheme"):
        assert f"proxy_set_header {header}" in nginx
    assert f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem" in nginx
    assert re.search(r"location ~ \^/\(inbox\|actors/\[\^/\]\+/inbox\)\$ \{\s+gzip off;", nginx)
    assert nginx.count("proxy_request_buffering off;") == 1, "only on the inboxes"
    assert re.search(
        r"location = /metrics \{\s+allow 127\.0\.0\.1;\s+allow ::1;\s+deny all;", nginx
    )
    assert "signature" in nginx.lower() and "byte for byte" in nginx
    caddy = read("Caddyfile")
    assert "max_size 2MiB" in caddy
    assert "not path /inbox /actors/*/inbox" in caddy
    assert "not remote_ip 127.0.0.1 ::1" in caddy
    # Both serve /static/ from the package that pip installs, which holds it.
    assert PACKAGE_DIR in nginx and PACKAGE_DIR in caddy
    assert (ROOT / "instance" / "static" / "entraide.css").exists()
    assert '"static/**/*"' in (ROOT / "pyproject.toml").read_text()


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "fullchain.pem", tmp / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


NGINX_MAIN = """
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    types {{ text/css css; application/javascript js; }}
    default_type application/octet-stream;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    access_log off;
    include {tmp}/site.conf;
}}
"""


def nginx_config(tmp: Path, *, https_port: int, http_port: int, upstream: int) -> Path:
    cert, key = self_signed(tmp)
    site = replace_all(
        read("nginx.conf"),
        {
            f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem": str(cert),
            f"/etc/letsencrypt/live/{DOMAIN}/privkey.pem": str(key),
            "/var/log/nginx/": f"{tmp}/",
            PACKAGE_DIR: str(ROOT / "instance"),
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
            "listen 80;": f"listen 127.0.0.1:{http_port};",
        },
    )
    # IPv6 listeners are not needed to test, and may be absent in a container.
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    (tmp / "site.conf").write_text(site)
    main = tmp / "nginx.conf"
    # As root, nginx's workers would switch to `nobody`, who cannot read pytest's tmp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    main.write_text(NGINX_MAIN.format(tmp=tmp, user=user))
    return main


def nginx_args(nginx: str, tmp: Path, main: Path) -> list[str]:
    return [nginx, "-p", str(tmp), "-c", str(main), "-e", str(tmp / "error.log")]


def test_nginx_accepts_the_example(tmp_path: Path) -> None:
    nginx = need_tool("nginx", "install nginx (Debian: nginx-light or nginx) to check nginx.conf")
    main = nginx_config(tmp_path, https_port=free_port(), http_port=free_port(), upstream=8000)
    result = subprocess.run(
        [*nginx_args(nginx, tmp_path, main), "-t"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_nginx_example_in_front_of_an_app(tmp_path: Path) -> None:
    nginx = need_tool("nginx", "install nginx (Debian: nginx-light or nginx) to run nginx.conf")
    https_port, http_port = free_port(), free_port()
    with StubApp() as app:
        main = nginx_config(tmp_path, https_port=https_port, http_port=http_port, upstream=app.port)
        command = [*nginx_args(nginx, tmp_path, main), "-g", "daemon off;"]
        with running(command, https_port, tmp_path / "nginx.out", stop_signal=signal.SIGQUIT):
            check_proxy_behaviour(
                app, f"https://127.0.0.1:{https_port}", DOMAIN, "https", ROOT / "instance/static"
            )
            with client(f"http://127.0.0.1:{http_port}", DOMAIN) as plain:
                moved = plain.get("/listings?q=x")
                assert moved.status_code == 301
                assert moved.headers["Location"] == f"https://{DOMAIN}/listings?q=x"
