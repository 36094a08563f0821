"""Several processes, one answer: the counters shared through files.

``entraide serve`` (every web process) and every ``entraide worker`` of a node
write their counters to files in
``DATA_DIR/metrics`` (prometheus-client's multiprocess mode, see
:func:`share_metrics`), and a scrape, whichever process answers it, adds
up every file. The files are named after the host and the pid (processes
in different containers sharing the data volume never share a file). A
process is known to be gone by its pid on this host, or, from another
container, by its heartbeat file (``alive_HOST-PID``, touched every 10 s)
left untouched for a minute. The files of processes that are gone are
deleted when ``serve`` starts (counters then start again from zero, which
Prometheus reads as a reset), and their live gauges at the next scrape, or
at once when ``serve`` sees one of its web processes end
(``mark_process_dead``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path

from prometheus_client import multiprocess, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR = "metrics"


def host_name() -> str:
    """This host's name as it appears in file names (no ``_``, which separates them)."""
    return (socket.gethostname() or "host").replace("_", "-")


def process_identifier() -> str:
    """``HOST-PID``: unique among the processes sharing a metrics directory, even in
    containers (each its own pid namespace and host name) that share the data volume."""
    return f"{host_name()}-{os.getpid()}"


def shared_metrics_dir() -> Path | None:
    """The directory of shared counters, when this process uses one."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def share_metrics(data_dir: Path, *, clean: bool = False) -> Path:
    """Make this process (and the processes it starts) count into ``DATA_DIR/metrics``.

    Called by ``entraide serve`` and ``entraide worker`` before the app is built,
    when metrics are enabled. ``clean`` (``serve``, as it starts) deletes the files
    of processes of this host that are gone.
    """
    directory = data_dir.resolve() / METRICS_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    if clean:
        forget_dead_processes(directory, everything=True)
    use_shared_values()
    return directory


def use_shared_values() -> None:
    """prometheus-client picks its value class when it is imported; pick again, with
    our process identifier, once the directory is known (spawned processes inherit
    the variable and come through here when their app is built)."""
    if getattr(values.ValueClass, "_entraide", False):
        return
    value_class = values.MultiProcessValue(process_identifier)  # type: ignore[no-untyped-call]
    value_class._entraide = True
    values.ValueClass = value_class


HEARTBEAT = 10.0  # seconds between two touches of a process's ``alive_ID`` file
HEARTBEAT_LOST = 60.0  # a file untouched for this long: its process is gone


def _identifier_of(path: Path) -> str:
    """``HOST-PID`` of ``TYPE_HOST-PID.db`` or ``alive_HOST-PID``."""
    return path.name.removesuffix(".db").rsplit("_", 1)[-1]


def _alive(identifier: str, directory: Path) -> bool:
    """Whether the process that writes files under ``identifier`` still runs.

    A process of this host is asked directly (its pid); one of another host (another
    container sharing the data volume) by its heartbeat file, touched every
    :data:`HEARTBEAT` seconds while it runs.
    """
    host, _, pid = identifier.rpartition("-")
    if host == host_name() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # another user's process
        return True
    try:
        beat = (directory / f"alive_{identifier}").stat().st_mtime
    except FileNotFoundError:
        return False
    return time.time() - beat < HEARTBEAT_LOST


def forget_dead_processes(directory: Path, *, everything: bool) -> None:
    """Drop the live gauges of processes that are gone (``kill -9``, a container that was
    replaced), and with ``everything`` all their files (``serve`` starting)."""
    pattern = "*" if everything else "gauge_live*.db"
    gone: dict[str, bool] = {}
    for path in directory.glob(pattern):
        if path.suffix != ".db" and not path.name.startswith("alive_"):
            continue
        identifier = _identifier_of(path)
        if identifier not in gone:
            gone[identifier] = not _alive(identifier, directory)
        if gone[identifier]:
            path.unlink(missing_ok=True)


def process_ended(pid: int) -> None:
    """Drop the live gauges of a process of this host that has ended."""
    directory = shared_metrics_dir()
    if directory is not None:
        identifier = f"{host_name()}-{pid}"
        multiprocess.mark_process_dead(identifier, str(directory))  # type: ignore[no-untyped-call]
        (directory / f"alive_{identifier}").unlink(missing_ok=True)


async def heartbeat(directory: Path, stop: asyncio.Event) -> None:
    """Touch this process's ``alive_ID`` file until ``stop``; removed when it returns."""
    path = directory / f"alive_{process_identifier()}"
    try:
        while not stop.is_set():
            path.touch()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT)
    finally:
        path.unlink(missing_ok=True)
