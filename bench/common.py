"""Helpers shared by the benchmarks: nodes, a raw HTTP load generator, the machine.

* :func:`init_node` and :func:`serving` run the real console script:
  ``entraide init`` for ``127.0.0.1:PORT`` (http, private addresses allowed),
  then ``entraide serve`` on 127.0.0.1 with rate limits off
  (``ENTRAIDE_RATELIMIT__ENABLED=false``) and a 0.2 s poll interval, until the
  ``with`` block ends (SIGTERM, then SIGKILL). A server also dies with the
  benchmark process (Linux ``prctl(PR_SET_PDEATHSIG)``).
* the raw HTTP/1.1 load generator is in ``bench/load.py``.
* :func:`machine` describes the machine, for the end of every report.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

Row = tuple[str, float, str, str]
HOST = "127.0.0.1"
SERVER_ENV = {
    "ENTRAIDE_RATELIMIT__ENABLED": "false",
    "ENTRAIDE_WORKERS__POLL_INTERVAL": "0.2",
    "PYTHONUNBUFFERED": "1",
}


# --- processes -------------------------------------------------------------------------


def entraide_command() -> list[str]:
    """The console script next to this interpreter (the project's virtualenv)."""
    script = Path(sys.executable).with_name("entraide")
    if script.exists():
        return [str(script)]
    found = shutil.which("entraide")
    return [found] if found else [sys.executable, "-m", "instance.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bench_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's ``ENTRAIDE_*`` settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
    env.update(SERVER_ENV)
    env.update(extra)
    return env


def die_with_parent() -> None:
    """Runs in a child before exec: SIGKILL it when the benchmark process dies (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


_CLI_LOCK = threading.Lock()


def cli(data_dir: Path, *args: str) -> str:
    """Run ``entraide --data-dir DIR ARGS``; raise with its stderr when it fails.

    In this process (``instance.cli.main``, in a thread of its own so that its
    ``asyncio.run`` never meets a running loop), with the environment of
    :func:`bench_env` for the call: the same command as the console script,
    without paying the interpreter's start-up (about a second) for each set-up
    step. Standard streams and the environment are process-wide: calls from
    several threads take turns (``_CLI_LOCK``).
    """
    import contextlib
    import io

    from instance.cli import main

    out, err = io.StringIO(), io.StringIO()
    result: list[int | BaseException] = []

    def call() -> None:
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result.append(main(["--data-dir", str(data_dir), *args]))
        except BaseException as exc:
            result.append(exc)

    with _CLI_LOCK:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(bench_env())
        try:
            thread = threading.Thread(target=call)
            thread.start()
            thread.join(120)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    if not result:
        raise RuntimeError(f"entraide {' '.join(args[:2])} did not finish in 120 s")
    if isinstance(result[0], BaseException):
        raise result[0]
    if result[0] != 0:
        raise RuntimeError(f"entraide {' '.join(args[:2])} failed: {err.getvalue().strip()}")
    return out.getvalue()


def init_node(data_dir: Path, port: int, name: str = "Banc d'essai") -> None:
    """``entraide init`` of a SQLite node reached at ``http://127.0.0.1:PORT``, allowed to
    federate with 127.0.0.1."""
    cli(
        data_dir, "init", "--domain", f"{HOST}:{port}", "--name", name, "--scheme", "http",
        "--allow-private-addresses",
    )  # fmt: skip


@dataclass
class Server:
    """A running ``entraide serve``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far (Linux)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_ready(self, timeout: float = 90) -> None:
        """Wait until ``GET /api/v1/instance`` answers 200; raise with the log's tail."""
        deadline = time.monotonic() + timeout
        while not answers(f"{self.base_url}/api/v1/instance"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"entraide serve did not start:\n{tail}")
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 30 s; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://127.0.0.1 only
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_server(data_dir: Path, port: int, *, env: Mapping[str, str] | None = None) -> Server:
    """Start ``entraide serve`` on 127.0.0.1:PORT; :meth:`Server.wait_ready` waits for it."""
    log = data_dir / "serve.log"
    command = [*entraide_command(), "--data-dir", str(data_dir), "serve"]
    command += ["--host", HOST, "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=bench_env(**(env or {})),
            preexec_fn=die_with_parent,
        )
    return Server(process, port, log)


@contextmanager
def serving(data_dir: Path, port: int, *, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """``entraide serve`` on 127.0.0.1:PORT, ready, stopped when the block ends."""
    server = start_server(data_dir, port, env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# --- tiny ASGI servers ---------------------------------------------------------------


async def http_body(scope: dict[str, Any], receive: Any, send: Any) -> bytes | None:
    """For the small ASGI apps of the benchmarks: answer the lifespan protocol, and for
    an HTTP request return its whole body (``None`` when there is no request to answer)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return None
    if scope["type"] != "http":
        return None
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


# --- reporting -------------------------------------------------------------------------


def format_value(value: float) -> str:
    """Whole numbers from 100 up, three significant digits below."""
    if value != value:  # NaN
        return "nan"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def format_row(row: Row) -> str:
    """``name: value unit  [bound]``, the line of one figure."""
    name, value, unit, bound = row
    line = f"{name}: {format_value(value)} {unit}".rstrip()
    return f"{line}  [{bound}]" if bound else line


# --- the machine -------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
                return f"{pretty}, {platform.system()} {platform.release()}"
    except OSError:
        pass
    return platform.platform()


def machine() -> str:
    """One line: CPU model, cores, RAM, Python, OS, and the load when it was read."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{cpu_model()}, {cores} cores ({usable} usable), {ram_gb():.1f} GB RAM, "
        f"Python {platform.python_version()}, {os_name()}; load average {load}"
    )


def main_of(name: str, doc: str, run: Callable[[bool], list[Row]], quick_help: str) -> int:
    """The command line of a benchmark module: ``[--quick]``, its rows, then how long it
    took and the machine on stderr."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args()
    started = time.monotonic()
    for row in run(args.quick):
        print(format_row(row), flush=True)
    print(f"# {name}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(f"# machine: {machine()}", file=sys.stderr)
    return 0
