"""Whether a database is still working on a statement, seen from outside its connection.

For the tests of searches that must stop: after a time limit or a cancelled
caller, the database must be idle again, not merely the caller gone.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from sqlalchemy import text

from config.database import Database

WINDOW = 0.5  # seconds watched
BUSY_SHARE = 0.2  # of one core, over the window: a statement running, even on a loaded machine


async def database_busy(db: Database, marker: str) -> bool:
    """Whether a statement containing ``marker`` still runs.

    PostgreSQL: a backend in ``pg_stat_activity`` is active on it. SQLite runs
    statements in threads of this process (aiosqlite): one of its threads other
    than the main one uses the CPU while the test sleeps."""
    if db.dialect == "postgresql":
        async with db.read() as session:
            count = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                    " AND query LIKE :marker AND pid <> pg_backend_pid()"
                ),
                {"marker": f"%{marker}%"},
            )
        return bool(count)
    before = _thread_ticks()
    await asyncio.sleep(WINDOW)
    after = _thread_ticks()
    ticks = os.sysconf("SC_CLK_TCK")
    busiest = max((after[tid] - before.get(tid, 0) for tid in after), default=0)
    return busiest / ticks > BUSY_SHARE * WINDOW


def _thread_ticks() -> dict[int, int]:
    """CPU time (clock ticks) of each thread of this process but the main one."""
    main = threading.main_thread().native_id
    found: dict[int, int] = {}
    for entry in Path("/proc/self/task").iterdir():
        tid = int(entry.name)
        if tid == main:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        found[tid] = int(fields[11]) + int(fields[12])  # utime + stime
    return found
