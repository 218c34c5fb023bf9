"""The browser harness itself: Chromium starts, reaches the live server, axe-core runs
under a strict Content-Security-Policy, screenshots are written."""

from __future__ import annotations

from typing import Any

from tests.browser.harness import check_accessibility, describe, screenshot

CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


async def test_graphiql_page_renders_in_chromium(live_server: str, page: Any) -> None:
    response = await page.goto(f"{live_server}/graphql")
    assert response is not None and response.ok
    assert await page.title() == "Tally GraphiQL"
    # GraphiQL rendered: its vendored React and GraphiQL bundles loaded and ran.
    await page.get_by_test_id("graphiql-container").wait_for(state="visible")
    path = await screenshot(page, "harness-graphiql")
    assert path.stat().st_size > 0


async def test_axe_runs_under_a_strict_csp(page: Any, page_errors: list[str]) -> None:
    await page.set_content(
        '<!doctype html><html lang="en"><head>'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        "<title>x</title></head><body><main><h1>x</h1></main></body></html>"
    )
    violations = await check_accessibility(page)
    assert violations == [], describe(violations)
    assert page_errors == []


async def test_axe_reports_serious_violations(page: Any) -> None:
    # An image without alternative text is a critical violation (image-alt).
    await page.set_content('<html lang="en"><title>x</title><main><img src="x.png"></main></html>')
    violations = await check_accessibility(page)
    assert "image-alt" in {v["id"] for v in violations}, describe(violations)
