"""Helpers shared by the test_deploy_files modules."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from instance.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
PACKAGE_DIR = "/opt/entraide/venv/lib/python3.11/site-packages/instance"
DOMAIN = "entraide.example.org"
# Where the container listens: all its interfaces (Docker publishes the port).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104

DEPLOY_FILES = [
    "Dockerfile",
    "docker-entrypoint.sh",
    "compose.yaml",
    ".env.example",
    "entraide.service",
    "entraide-worker@.service",
    "entraide-backup.service",
    "entraide-backup.timer",
    "entraide@.service",
    "entraide-node-worker@.service",
    "entraide-backup@.service",
    "entraide-backup@.timer",
    "entraide-cli.sh",
    "nginx.conf",
    "Caddyfile",
    "README.md",
]
UNITS = [
    "entraide.service",
    "entraide-worker@.service",
    "entraide-backup.service",
    "entraide-backup.timer",
    "entraide@.service",
    "entraide-node-worker@.service",
    "entraide-backup@.service",
    "entraide-backup@.timer",
]


def read(name: str) -> str:
    return (DEPLOY / name).read_text(encoding="utf-8")


def find_tool(name: str) -> str | None:
    """A tool on PATH, in an sbin directory, or beside this Python (a pip package's binary).

    Debian puts nginx in /usr/sbin, which is not on a normal user's PATH.
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=search)
    if found:
        return found
    beside = VENV_BIN / name
    return str(beside) if beside.exists() else None


def need_tool(name: str, hint: str) -> str:
    path = find_tool(name)
    if path is None:
        pytest.skip(f"`{name}` not found (PATH, sbin directories, {VENV_BIN}): {hint}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: list[str],
    port: int,
    log: Path,
    *,
    env: dict[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[None]:
    """Run a server (its output to ``log``) until the block ends; wait for its port first."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 10
            while not port_open(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    out = log.read_text(errors="replace")[-2000:]
                    pytest.fail(f"{command[0]} did not listen on 127.0.0.1:{port}: {out}")
                time.sleep(0.05)
            yield
        finally:
            if process.poll() is None:
                process.send_signal(stop_signal)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def replace_all(text: str, replacements: dict[str, str]) -> str:
    """Replace each key, which must occur: the example files keep the paths we rewrite."""
    for old, new in replacements.items():
        assert old in text, f"expected {old!r} in the example file"
        text = text.replace(old, new)
    return text


# --- the program has what the files use --------------------------------------------


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


TOP_COMMANDS = subcommands(build_parser())


def parses(*argv: str) -> argparse.Namespace:
    try:
        return build_parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"`entraide {' '.join(argv)}` is refused by the parser ({exc.code})")


# --- Dockerfile ----------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    stage: int


def dockerfile() -> list[Instruction]:
    """The instructions, continuation lines joined, comments dropped."""
    joined: list[str] = []
    current = ""
    for raw in read("Dockerfile").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    instructions = []
    stage = -1
    for line in joined:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    return instructions


# --- the entrypoint's decisions, with a stub entraide ----------------------------------

STUB = """#!{python}
import json, os, pathlib, sys
args = sys.argv[1:]
env = {{k: v for k, v in os.environ.items() if k.startswith(("ENTRAIDE_", "DATABASE_"))}}
with open(os.environ["STUB_CALLS"], "a") as fh:
    fh.write(json.dumps({{"args": args, "env": env}}) + "\\n")
if args[:1] == ["init"]:
    data = pathlib.Path(os.environ["ENTRAIDE_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "entraide.toml").write_text("[instance]\\n")
"""


# --- a stub app behind the real proxies ------------------------------------------------

ACTIVITY_JSON = json.dumps({"type": "Note", "content": "x" * 4000}).encode()


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a proxy cutting a request short (the 2 MiB test) is expected


class StubApp:
    """An upstream on 127.0.0.1 that records what the proxy sent it."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            return b"".join(chunks)
                        chunks.append(chunk)
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def _answer(self) -> None:
                body = self._body()
                seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                if self.command == "POST":
                    status, payload, kind = 202, b"", "text/plain"
                elif self.path.startswith("/static/"):
                    status, payload, kind = 200, b"from the app", "text/css"
                else:
                    status, payload, kind = 200, ACTIVITY_JSON, "application/activity+json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubApp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def last(self, path_start: str) -> Seen:
        matching = [s for s in self.seen if s.target.startswith(path_start)]
        assert matching, f"the app never saw {path_start}: {[s.target for s in self.seen]}"
        return matching[-1]


def client(base: str, host: str, source: str = "127.0.0.1") -> httpx.Client:
    # The proxy's certificate is the self-signed one made above, for a test only.
    transport = httpx.HTTPTransport(local_address=source, verify=False)
    return httpx.Client(base_url=base, headers={"Host": host}, transport=transport, timeout=10)


INBOX_TARGET = "/actors/al%69ce/inbox?page=%2Fa%2F"


def check_proxy_behaviour(
    app: StubApp,
    base: str,
    host: str,
    scheme: str,
    static_dir: Path,
    too_big_statuses: tuple[int, ...] = (413,),
) -> None:
    """What nginx.conf and the Caddyfile promise, observed through the running proxy."""
    with client(base, host) as http:
        # /static/ comes from the disk, not from the app.
        css = http.get("/static/entraide.css")
        assert css.status_code == 200
        assert css.content == (static_dir / "entraide.css").read_bytes()
        assert not any(s.target.startswith("/static/entraide.css") for s in app.seen)
        # A file that is not on disk (Docker: the files are in the image) goes to the app.
        assert http.get("/static/only-in-the-app.css").content == b"from the app"

        # Pages and JSON: forwarded headers, compressed answers.
        page = http.get("/actors/territory", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and page.headers.get("Content-Encoding") == "gzip"
        assert page.content == ACTIVITY_JSON
        seen = app.last("/actors/territory")
        assert seen.headers["Host"] == host
        assert seen.headers["X-Forwarded-Proto"] == scheme
        assert seen.headers["X-Forwarded-For"].split(",")[-1].strip() == "127.0.0.1"

        # The inbox: the request line and the (gzip-compressed) body arrive as sent,
        # with the headers a signature covers; the 202 is not compressed.
        body = gzip.compress(json.dumps({"type": "Create", "id": "x"}).encode())
        headers = {
            "Content-Type": "application/activity+json",
            "Content-Encoding": "gzip",
            "Digest": "SHA-256=placeholder",
            "Signature": 'keyId="k",headers="(request-target) host date digest",signature="s"',
            "Accept-Encoding": "gzip",
        }
        posted = http.post(INBOX_TARGET, content=body, headers=headers)
        assert posted.status_code == 202 and "Content-Encoding" not in posted.headers
        seen = app.last("/actors/")
        assert (seen.method, seen.target) == ("POST", INBOX_TARGET)
        assert seen.body == body
        assert seen.headers["Host"] == host
        for name in ("Content-Encoding", "Digest", "Signature", "Content-Type"):
            assert seen.headers[name] == headers[name], name

        # Bodies over 2 MiB stop at the proxy. Caddy streams bodies to the app and
        # cuts them at the limit: before Caddy 2.7 the client then gets 502.
        received = sum(len(s.body) for s in app.seen)
        too_big = http.post("/inbox", content=b"x" * (2 * 1024 * 1024 + 1))
        assert too_big.status_code in too_big_statuses
        assert sum(len(s.body) for s in app.seen) - received <= 2 * 1024 * 1024

        # /metrics from this machine reaches the app.
        assert http.get("/metrics").status_code == 200
    # /metrics from any other address (here 127.0.0.2, another source address of
    # this machine that the allow rules do not name) is refused by the proxy.
    before = len(app.seen)
    with client(base, host, source="127.0.0.2") as outsider:
        assert outsider.get("/metrics").status_code == 403
        assert outsider.get("/healthz").status_code == 200
    assert [s.target for s in app.seen[before:]] == ["/healthz"]
