"""Browser test fixtures: a real uvicorn serving the app, one Chromium per session,
a fresh page per test. See tests/browser/harness.py for check_accessibility and
screenshot.

    async def test_portal(live_server, page, page_errors):
        await page.goto(f"{live_server}/portal")
        ...
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.live import serve
from tests.browser import harness

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session", autouse=True)
def _browser_tests_run_here() -> None:
    """Skip every browser test on the PostgreSQL pass, or without Chromium; in CI a
    missing Chromium fails them instead (.ci/run installs it)."""
    reason = harness.skip_reason()
    if reason is None:
        return
    if IN_CI and harness.chromium_path() is None:
        pytest.fail(f"Chromium is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
async def live_server(app: Any) -> AsyncIterator[str]:
    """The test's `app` (tests/conftest.py; override `app` for other settings) served
    by a real uvicorn on a free loopback port: yields `http://127.0.0.1:<port>`."""
    async with serve(app) as host:
        yield f"http://{host}"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium (Debian's) for the whole session, Playwright's async API."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=harness.chromium_path(), args=harness.launch_args()
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def context(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies, no storage): locale en-US, 1280x800. The
    pages' Content-Security-Policy is enforced (check_accessibility does not need it
    bypassed)."""
    ctx = await browser.new_context(
        locale="en-US", viewport={"width": 1280, "height": 800}, timezone_id="UTC"
    )
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: Any) -> Any:
    return await context.new_page()


@pytest.fixture
def page_errors(page: Any) -> list[str]:
    """What went wrong in `page`: uncaught exceptions, console errors (a script or
    style the CSP blocked, a failed fetch). A test ends with `assert not page_errors`."""
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error":
            errors.append(f"console.error: {message.text}")

    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", on_console)
    return errors
