"""The keeper of ``serve --workers N`` gives up on web processes that keep dying.

The end-to-end drills (a web process killed and replaced, the master killed
and its web processes gone) are in ``tests/e2e/test_supervision.py``; here,
the unrecoverable case, cheaply: web processes that cannot even load the app
die at once, and after :data:`instance.supervisor.CRASH_LIMIT` of them the
master exits with status 1 and says why, so that ``Restart=always`` takes
over, instead of exiting 0 in silence or replacing them for ever.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from instance.supervisor import CRASH_LIMIT, describe_exit
from tests.databases import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, sys
from hypercorn.config import Config
from instance.supervisor import Supervisor
logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
config = Config()
config.bind = ["127.0.0.1:{port}"]
config.application_path = "tests.no_such_module:app"
sys.exit(Supervisor(config, 2).run())
"""


def test_web_processes_that_keep_dying_make_serve_exit_1_with_a_reason() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(port=free_port())],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR entraide")]
    assert len(lines) == CRASH_LIMIT, lines
    assert "started web process" in lines[0]
    assert lines[-1].endswith("giving up (exit status 1)"), lines[-1]
    assert f"{CRASH_LIMIT} web processes ended within 60 s" in lines[-1]


def test_exits_are_described() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit status 3"
