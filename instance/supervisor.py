"""``entraide serve --workers N``: N web processes on one socket, and the process that keeps them.

The master process opens the listening socket, starts N web processes
(``multiprocessing``'s *spawn*: fresh interpreters, each building the app
from ``ENTRAIDE_DATA_DIR`` through ``instance.asgi``) and watches them:

* a web process that dies (the OOM killer, a segfault, ``kill -9``) is
  replaced at once, with a log line naming its pid and how it ended, while
  the others keep answering on the shared socket;
* web processes that keep dying (:data:`CRASH_LIMIT` exits within
  :data:`CRASH_WINDOW` seconds: a broken install, a full disk) are an
  unrecoverable failure: the master stops the rest and exits with status 1
  and a log line, so that the service manager (``Restart=always``) takes
  over with its own back-off;
* SIGTERM or SIGINT stop every process gracefully (the master passes SIGTERM on) (requests in flight
  finish, background work is finished or left queued) and the master exits
  0 once they are all gone; a web process still there after
  :data:`STOP_TIMEOUT` seconds is killed;
* a web process never outlives its master: it asks the kernel for SIGTERM
  when the master dies (Linux ``prctl(PR_SET_PDEATHSIG)``) and, everywhere,
  checks its parent's pid a few times a second; either way it stops
  listening at once and exits after its graceful shutdown. A master killed
  with SIGKILL therefore leaves no web process serving, and a new master
  never shares the port with an old generation (the bind would fail).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("entraide.serve")

CRASH_LIMIT = 5
CRASH_WINDOW = 60.0
STOP_TIMEOUT = 30.0  # Hypercorn's graceful timeout (15 s) plus the workers' grace (10 s)
PARENT_POLL = 0.25
PR_SET_PDEATHSIG = 1


def describe_exit(code: int | None) -> str:
    """``exit status 3`` or ``killed by SIGKILL``."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``signum`` to this process when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


async def _stop_trigger(master: int) -> None:
    """Returns when this web process should stop: SIGTERM or SIGINT came (from the
    master, the kernel or a terminal), or the master is gone (then this process has
    been handed to another parent)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        if os.getppid() != master:
            log.warning(
                "web process %d: the serve process %d is gone; stopping", os.getpid(), master
            )
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_POLL)


def web_process(config: Any, sockets: Any, master: int) -> None:
    """The body of one web process (the target of the spawned process)."""
    die_with_parent()
    if os.getppid() != master:  # the master died before the line above
        return
    from hypercorn.asyncio.run import worker_serve
    from hypercorn.utils import load_application

    from instance.draining import trigger

    app = load_application(config.application_path, config.wsgi_max_body_size)
    asyncio.run(
        worker_serve(
            app, config, sockets=sockets, shutdown_trigger=trigger(lambda: _stop_trigger(master))
        )
    )


class Supervisor:
    """The master of ``serve --workers N`` (see the module docstring)."""

    def __init__(self, config: Any, workers: int, *, on_exit: Any = None) -> None:
        self.config = config
        self.workers = workers
        self.on_exit = on_exit  # called with the pid of each web process that ended
        # Spawned, not forked: each web process starts from a clean interpreter. No
        # multiprocessing Event either: the master speaks to them with signals, so that
        # nothing is left to clean up when the master is killed.
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.deaths: collections.deque[float] = collections.deque()
        self.stopping = False

    def _signal(self, signum: int, _frame: Any) -> None:
        if not self.stopping:
            log.info("%s received: stopping the web processes", signal.Signals(signum).name)
        self.stopping = True

    def _start_one(self, sockets: Any) -> BaseProcess:
        process = self.context.Process(
            target=web_process,
            args=(self.config, sockets, os.getpid()),
            name="entraide-web",
        )
        process.start()
        self.processes.append(process)
        return process

    def _reap(self) -> list[BaseProcess]:
        ended = [p for p in self.processes if p.exitcode is not None]
        for process in ended:
            process.join()
            self.processes.remove(process)
            if self.on_exit is not None and process.pid is not None:
                self.on_exit(process.pid)
        return ended

    def run(self) -> int:
        """Serve until stopped; returns the exit status of ``entraide serve``."""
        sockets = self.config.create_sockets()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._signal)
        try:
            for _ in range(self.workers):
                self._start_one(sockets)
            status = self._watch(sockets)
        finally:
            self._stop_all()
            for sock in [*sockets.secure_sockets, *sockets.insecure_sockets]:
                sock.close()
        return status

    def _watch(self, sockets: Any) -> int:
        while not self.stopping:
            wait([p.sentinel for p in self.processes], timeout=1.0)
            if self._stopped():  # a signal came while waiting
                break
            for process in self._reap():
                now = time.monotonic()
                self.deaths.append(now)
                while self.deaths and self.deaths[0] < now - CRASH_WINDOW:
                    self.deaths.popleft()
                if len(self.deaths) >= CRASH_LIMIT:
                    log.error(
                        "web process %s ended (%s); %d web processes ended within %g s: "
                        "giving up (exit status 1)",
                        process.pid,
                        describe_exit(process.exitcode),
                        len(self.deaths),
                        CRASH_WINDOW,
                    )
                    return 1
                replacement = self._start_one(sockets)
                log.error(
                    "web process %s ended (%s); started web process %s in its place",
                    process.pid,
                    describe_exit(process.exitcode),
                    replacement.pid,
                )
        return 0

    def _stopped(self) -> bool:
        return self.stopping

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.processes and time.monotonic() < deadline:
            wait([p.sentinel for p in self.processes], timeout=0.5)
            self._reap()
        for process in self.processes:
            log.error("web process %s did not stop in %g s: killed", process.pid, STOP_TIMEOUT)
            process.kill()
            process.join()
        self._reap()
