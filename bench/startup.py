"""How fast `entraide serve` starts on SQLite, and how much memory it holds when idle.

Usage: ``python bench/startup.py [--runs N]``

It initialises a node in a temporary directory, then, N times, starts
``entraide serve`` on a free port of 127.0.0.1 and measures the time until
``GET /api/v1/instance`` answers 200 (``startup_to_ready``), waits a moment,
and reads the process's resident memory from ``/proc/PID/status``
(``idle_rss``); ``startup_cpu`` is the CPU time the process used until
ready, which a busy machine does not inflate. It prints one line per figure,
``name: value unit`` (the median of the runs), and then the machine it ran
on, with the load average, since a loaded machine slows the wall-clock figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _entraide(*args: str) -> list[str]:
    return [sys.executable, "-m", "instance.cli", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRAIDE_")}
    # Benchmarks are not throttled (docs/interface.md).
    env["ENTRAIDE_RATELIMIT__ENABLED"] = "false"
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc status")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: unlike wall time, not inflated by a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own 127.0.0.1
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def one_run(data_dir: Path, idle_seconds: float) -> tuple[float, float, float]:
    """(seconds from exec to the first 200, CPU seconds until then, RSS in MB once idle)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/v1/instance"
    started = time.perf_counter()
    process = subprocess.Popen(
        _entraide("--data-dir", str(data_dir), "serve", "--port", str(port)),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _answers(url):
            if process.poll() is not None:
                raise RuntimeError(f"entraide serve exited with status {process.returncode}")
            if time.perf_counter() - started > 60:
                raise RuntimeError("entraide serve did not answer within 60 s")
            time.sleep(0.01)
        ready = time.perf_counter() - started
        cpu = _cpu_seconds(process.pid)
        time.sleep(idle_seconds)
        rss = _rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return ready, cpu, rss


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="serve starts to measure (median)")
    parser.add_argument("--quick", action="store_true", help="one start instead of three")
    parser.add_argument(
        "--idle", type=float, default=None, help="seconds idle before reading RSS (2; 0.5 quick)"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="entraide-bench-"))
    try:
        data_dir = workdir / "node"
        subprocess.run(
            _entraide(
                "init", "--data-dir", str(data_dir), "--domain", "127.0.0.1:8000",
                "--name", "Bench", "--scheme", "http",
            ),
            cwd=ROOT, env=_env(), check=True, capture_output=True,
        )  # fmt: skip
        idle = args.idle if args.idle is not None else (0.5 if args.quick else 2.0)
        runs = [one_run(data_dir, idle) for _ in range(1 if args.quick else args.runs)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"startup_to_ready: {statistics.median(r[0] for r in runs):.2f} s")
    print(f"startup_cpu: {statistics.median(r[1] for r in runs):.2f} s")
    print(f"idle_rss: {statistics.median(r[2] for r in runs):.1f} MB  [target <= 150 MB]")
    print(f"load_average: {os.getloadavg()[0]:.2f}")
    print(f"platform: {platform.platform()} python {platform.python_version()}")
    print(f"cpu: {cpu_model()}")
    print(f"cores: {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
