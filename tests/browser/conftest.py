"""Fixtures of the browser tests: Chromium driven by Playwright against real servers.

One Chromium per module (``chromium``), the system's (``PLAYWRIGHT_CHROMIUM``, else
``chromium`` or ``chromium-browser`` on the ``PATH``, else ``/usr/bin/chromium``; never
one downloaded by ``playwright install``); where none is found, or Playwright is not
installed, the whole directory is skipped with one line saying so. The servers are
real ``entraide serve`` processes on 127.0.0.1 (``tests/e2e/harness.py``). Screenshots
go to one directory per run, printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.browser.pages import SCREENSHOTS, chromium_path, skip_reason


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller: one fresh folder a run
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCREENSHOTS.exists() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """A headless Chromium for the module's contexts (not one per process: while
    Playwright's synchronous API is open, its event loop runs in this thread, and every
    asyncio test after it would fail to start its own)."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    path = chromium_path()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()
