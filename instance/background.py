"""Background work that lives and dies with the app.

Loops (inbox processing, delivery, expiry…) are registered by name before the
app serves. :meth:`Background.start` runs them while the app serves (from
``before_serving``, or from ``entraide worker`` without a web app);
:meth:`Background.stop` asks them to finish — each loop checks
``stopping`` between units of work, so in-flight work completes or stays
queued in the database — and cancels any loop that has not returned after a
grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Loop = Callable[["Background"], Awaitable[None]]


@dataclass
class Background:
    loops: dict[str, Loop] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    wakeups: dict[str, asyncio.Event] = field(default_factory=dict)

    def register(self, name: str, loop: Loop) -> None:
        self.loops[name] = loop
        self.wakeups.setdefault(name, asyncio.Event())

    async def start(self) -> None:
        self.stopping = asyncio.Event()
        for name, loop in self.loops.items():
            self.tasks[name] = asyncio.create_task(self._guard(name, loop), name=f"entraide-{name}")
        log.info("background loops started: %s", ", ".join(self.loops) or "none")

    async def _guard(self, name: str, loop: Loop) -> None:
        while not self.stopping.is_set():
            try:
                await loop(self)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                from instance.outage import LOOPS, database_trouble

                trouble = database_trouble(exc)
                if trouble is not None:  # not a bug: the database is away (one line now and then)
                    LOOPS.warn(trouble, exc, f"background loop {name}, retrying every 5 s")
                else:
                    # A bug in one loop must not stop the others; it restarts after a pause.
                    log.exception("background loop %s crashed; restarting in 5 s", name)
                await self.sleep(name, 5.0)

    async def sleep(self, name: str, seconds: float) -> None:
        """Wait up to ``seconds``, returning early when woken or stopping."""
        wake = self.wakeups.setdefault(name, asyncio.Event())
        waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(self.stopping.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        wake.clear()

    async def stop(self, grace: float = 10.0) -> None:
        self.stopping.set()
        if not self.tasks:
            return
        _, pending = await asyncio.wait(self.tasks.values(), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.tasks.clear()
        log.info("background loops stopped")
