"""The panels' security and weight in a real browser (issue 18): a forged cross-site
POST from another site changes nothing, and every page stays under 300 KB."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from db.models import Subscription
from domain.tenancy.access import Role
from tests.api.live import serve
from tests.factories import make_customer, make_key, make_plan, make_subscription

PAGE_BUDGET = 300 * 1024


def _evil_site(target: str, subscription: str) -> Starlette:
    """Another site (localhost, not 127.0.0.1: another site to the browser) whose page
    tries to cancel the victim's subscription through /graphql with the victim's
    cookie: a form post (what no preflight guards) and a no-cors fetch."""
    body = (
        '{"query": "mutation { cancelSubscription(id: \\"' + subscription + '\\", '
        'atPeriodEnd: true) { __typename } }", "x": "'
    )
    html = f"""<!doctype html><html><body>
<form id="f" method="post" action="{target}/graphql" enctype="text/plain">
<input name='{body}' value='"}}'>
</form>
<script>
fetch("{target}/graphql", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: '{body}"}}'}})
  .finally(() => document.getElementById("f").submit());
</script></body></html>"""

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(html)

    return Starlette(routes=[Route("/", page)])


async def test_a_forged_cross_site_post_changes_nothing(
    live_server: str, context: Any, tenant: Any
) -> None:
    plan = await make_plan(tenant=tenant)
    customer = await make_customer(tenant=tenant)
    sub = await make_subscription(tenant=tenant, customer=customer, plan=plan)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    page = await context.new_page()
    await page.goto(f"{live_server}/portal/sign-in")
    await page.get_by_label("Customer token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{live_server}/portal")
    assert any(c["name"] == "tally_session" for c in await context.cookies())
    await page.locator('main[data-page="overview"][data-ready="true"]').wait_for()

    statuses: list[int] = []
    page.on(
        "response",
        # The forged requests only: the portal's own carry the CSRF token.
        lambda r: (
            statuses.append(r.status)
            if r.url.endswith("/graphql") and "x-csrf-token" not in r.request.headers
            else None
        ),
    )
    async with serve(_evil_site(live_server, sub.public_id)) as evil:
        port = evil.rsplit(":", 1)[1]
        await page.goto(f"http://localhost:{port}/")
        await page.wait_for_url(f"{live_server}/graphql", timeout=10_000)
        await page.wait_for_load_state()
    # Refused. In Chromium the cookie never leaves with a cross-site request
    # (SameSite=Strict: a 401); the CSRF token is the second lock, tested over HTTP
    # with the cookie sent (tests/api/test_web_sessions.py: 403 CSRF_REFUSED).
    assert statuses and all(s in (401, 403, 415) for s in statuses), statuses
    row = await Subscription.get(id=sub.id)
    assert row.cancel_at_period_end is False and row.canceled_at is None


async def _weight(page: Any, url: str) -> int:
    sizes: dict[str, int] = {}

    async def on_response(response: Any) -> None:
        try:
            sizes[response.url] = len(await response.body())
        except Exception:  # a redirect or a WebSocket has no body
            sizes.setdefault(response.url, 0)

    page.on("response", on_response)
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    page.remove_listener("response", on_response)
    return sum(sizes.values())


async def test_every_page_weighs_under_300_kb(live_server: str, context: Any, tenant: Any) -> None:
    plan = await make_plan(tenant=tenant)
    customer = await make_customer(tenant=tenant)
    await make_subscription(tenant=tenant, customer=customer, plan=plan)
    page = await context.new_page()
    for panel, label, token in (
        (
            "portal",
            "Customer token",
            await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer),
        ),
        ("admin", "API key", await make_key(tenant=tenant)),
    ):
        sign_in = await _weight(page, f"{live_server}/{panel}/sign-in")
        assert sign_in < PAGE_BUDGET
        await page.get_by_label(label).fill(token)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{live_server}/{panel}")
        weight = await _weight(page, f"{live_server}/{panel}")
        assert 10_000 < weight < PAGE_BUDGET, (panel, weight)
