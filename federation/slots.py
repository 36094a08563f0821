"""Bounded concurrency per remote host, and in all.

:class:`HostSlots` lets at most ``per_host`` tasks at once work for one host
and ``total`` for all hosts together; the others wait their turn, in order.
The inbox fetches the key of every signed request it cannot verify yet, on
the word of a request nobody has authenticated: these bounds keep such
fetches from a host that never answers (or from many such hosts) from taking
every connection of the shared HTTP client (``federation.remote``). A host is
counted without its port (``federation.policy.bare_host``), so that ports of
one server do not each get their own slots. Waiting is bounded by the
caller's deadline (``asyncio.timeout``), never here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from federation.policy import bare_host


@dataclass
class _Host:
    slots: asyncio.Semaphore
    users: int = 0  # holding or waiting: the entry goes when nobody needs it


class HostSlots:
    """At most ``per_host`` holders per host and ``total`` in all (see the module doc)."""

    def __init__(self, *, per_host: int, total: int) -> None:
        self.per_host = per_host
        self._total = asyncio.Semaphore(total)
        self._hosts: dict[str, _Host] = {}

    def busy(self, host: str) -> int:
        """How many tasks hold or wait for a slot of ``host``."""
        entry = self._hosts.get(bare_host(host))
        return entry.users if entry else 0

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        """Wait for a slot of ``host`` (then one of the total) and hold both for the block."""
        name = bare_host(host)
        entry = self._hosts.get(name)
        if entry is None:
            entry = self._hosts[name] = _Host(asyncio.Semaphore(self.per_host))
        entry.users += 1
        try:
            # The host's slot first: one host's queue never holds slots of the total.
            async with entry.slots, self._total:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0 and self._hosts.get(name) is entry:
                del self._hosts[name]
