"""What the processes of a benchmark cost, read from ``/proc``, and percentiles."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile, interpolated between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon and RssFile of a process, in MB (``/proc/PID/status``).

    RssFile counts the pages of mapped files (libraries, and database files
    mapped by SQLite's ``mmap_size``, which Entraide does not set).
    """
    totals = {"VmRSS": 0.0, "RssAnon": 0.0, "RssFile": 0.0}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in totals:
                totals[key] = int(value.split()[0]) / 1024
    return totals


def cpu_ms(pids: list[int]) -> float:
    """CPU time used so far by these processes, all their threads, in ms (schedstat)."""
    total = 0
    for pid in pids:
        with suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with suppress(OSError, ValueError, IndexError):
                    stat = Path(f"/proc/{pid}/task/{task}/schedstat").read_text()
                    total += int(stat.split()[0])
    return total / 1e6


def database_backends(pid_file: Path | None, database: str = "bench_search") -> list[int]:
    """The PostgreSQL backends serving ``database`` (the node's pool), by their title."""
    if pid_file is None:
        return []
    try:
        postmaster = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            if int(stat[1]) == postmaster and f" {database} " in title:
                found.append(int(entry))
    return found


def children_of(pid_file: Path) -> list[int]:
    """The process whose pid starts ``pid_file`` (a postmaster) and all its children."""
    try:
        parent = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    found = [parent]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == parent:
                    found.append(int(entry))
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from ``/proc/stat``: the
    difference of two readings over the same interval is the machine's busy share."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - fields[3] - fields[4], total
