"""The admin console (/admin) in Chromium, read side: an admin signs in through the
form and every page renders the tenant's figures, passes axe and is photographed;
an analyst reads without write buttons; a customer's session is sent to sign in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from db.models import Plan
from domain import clock
from domain.billing.run import run_billing
from tests.browser.admin_pages import graphql, open_route, portal_link, sign_in
from tests.browser.admin_world import MRR_TEXT, make_world
from tests.browser.harness import check_accessibility, describe, screenshot
from tests.factories import make_customer, make_subscription

SUBSCRIBE = """mutation($c: ID!, $p: ID!) { createSubscription(input: {customerId: $c, planId: $p}) {
  __typename } }"""


async def _accessible(page: Any) -> None:
    violations = await check_accessibility(page)
    assert violations == [], describe(violations)


async def test_an_admin_sees_every_page(
    live_server: str, page: Any, page_errors: list[str]
) -> None:
    world = await make_world(webhooks=True)
    await sign_in(page, live_server, world.admin)
    await open_route(page, "kpis")

    kpis = page.get_by_test_id("kpis-EUR")
    await kpis.get_by_test_id("kpi-mrr").get_by_text(MRR_TEXT).wait_for()
    await kpis.get_by_test_id("kpi-arr").get_by_text("€480.00").wait_for()
    assert await kpis.get_by_test_id("kpi-customers").locator(".value").inner_text() == "2"
    assert await kpis.get_by_test_id("kpi-arpu").locator(".value").inner_text() == "€20.00"
    # The chart drew its bars (uPlot's canvas), and its table holds this month's
    # movements: 40.00 new, MRR 40.00.
    # (A metricsUpdates push redraws the page: ask the page, not a stale handle.)
    await page.wait_for_function(
        "() => (document.querySelector('[data-testid=mrr-chart] canvas')"
        "?.getBoundingClientRect().height ?? 0) > 100"
    )
    last = kpis.get_by_test_id("mrr-table").locator("tbody tr").last
    cells = await last.locator("td").all_text_contents()
    assert cells[1] == MRR_TEXT and cells[5] == MRR_TEXT, cells
    assert len(await kpis.get_by_test_id("mrr-table").locator("tbody tr").all()) == 12
    await page.get_by_test_id("receivables").wait_for()
    await _accessible(page)
    await screenshot(page, "admin-kpis")

    # Live: a third customer subscribes over HTTP; metricsUpdates moves the card
    # (40.00 + 30.00) without a reload.
    await page.evaluate("() => { window.notReloaded = true; }")
    carol = await make_customer(tenant=world.tenant, name="Carol Cooper")
    made = await graphql(
        live_server, world.admin, SUBSCRIBE, {"c": carol.public_id, "p": world.pro_id}
    )
    assert made["createSubscription"]["__typename"] == "SubscriptionSuccess", made
    await kpis.get_by_test_id("kpi-mrr").get_by_text("€70.00").wait_for()
    assert await page.evaluate("() => window.notReloaded === true")

    await open_route(page, "customers")
    rows = page.get_by_test_id("customers-table").locator("tbody tr")
    assert await rows.count() == 3
    await _accessible(page)
    await screenshot(page, "admin-customers")

    await page.get_by_role("link", name="Ann Archer").click()
    await page.locator('main[data-route="customer"]:not([aria-busy])').wait_for()
    await page.wait_for_function("() => !document.querySelector('main [aria-busy]')")
    await page.get_by_test_id("customer-name").get_by_text("Ann Archer").wait_for()
    subscriptions = await page.get_by_test_id("subscriptions").inner_text()
    assert "Basic" in subscriptions and "ACTIVE" in subscriptions, subscriptions
    assert await page.get_by_role("button", name="Grant").is_enabled()
    pdf = page.get_by_test_id("invoices").get_by_role("link", name="(PDF)")
    response = await page.request.get(await pdf.evaluate("(a) => a.href"))
    assert response.ok and (await response.body()).startswith(b"%PDF")
    await _accessible(page)
    await screenshot(page, "admin-customer")

    # A subscription made 32 days ago is due; a run renews it and Operations shows
    # the run (trigger, subscriptions, invoices, what it invoiced).
    with clock.frozen_at(clock.now() - timedelta(days=32)):
        dave = await make_customer(tenant=world.tenant, name="Dave Dunn")
        await make_subscription(
            tenant=world.tenant, customer=dave, plan=await Plan.get(public_id=world.pro_id)
        )
    await run_billing(trigger="cli", collect=False)
    await open_route(page, "operations")
    await page.get_by_test_id("deliveries-table").wait_for()
    run = page.get_by_test_id("billing-runs-table").locator("tbody tr").first
    cells = await run.locator("td").all_text_contents()
    assert cells[1:4] == ["cli", "1", "1"], cells
    assert "0 subscriptions" in await page.get_by_test_id("billing-due").inner_text()
    await _accessible(page)
    await screenshot(page, "admin-operations")

    await open_route(page, "exports")
    link = page.get_by_role("link", name="Customers as CSV")
    assert await link.get_attribute("href") == "/exports/customers.csv"
    assert (await page.get_by_test_id("kpi-report").get_attribute("href")).startswith(
        "/v1/kpi-reports/"
    )
    # The link downloads with the session cookie.
    response = await page.request.get(f"{live_server}/exports/customers.csv")
    assert response.ok and "Ann Archer" in await response.text()
    await _accessible(page)
    await screenshot(page, "admin-exports")
    assert page_errors == []


async def test_an_analyst_reads_without_write_buttons(
    live_server: str, page: Any, page_errors: list[str]
) -> None:
    world = await make_world(webhooks=True)
    await sign_in(page, live_server, world.analyst)
    await open_route(page, "kpis")
    await page.get_by_test_id("kpis-EUR").get_by_test_id("kpi-mrr").get_by_text(MRR_TEXT).wait_for()
    await page.get_by_text("Analyst (read-only)").wait_for()

    await open_route(page, f"customer/{world.ann.public_id}")
    await page.get_by_test_id("wallet").wait_for()
    for name in ("Grant", "Block", "Unblock", "Create a portal sign-in link"):
        assert await page.get_by_role("button", name=name, exact=True).count() == 0, name
    await page.get_by_text("Read-only: an analyst key").wait_for()

    # The webhook log (webhooks:read), the billing runs and dunning are readable;
    # replaying (webhooks:manage) is not offered.
    await open_route(page, "operations")
    await page.get_by_test_id("deliveries-table").wait_for()
    await page.get_by_test_id("billing-due").wait_for()
    await page.get_by_test_id("dunning").get_by_text("No failed payment.").wait_for()
    assert await page.get_by_role("button", name="Replay").count() == 0
    await _accessible(page)

    # The switcher: Arabic, right to left, the figures formatted for it.
    await page.get_by_label("Language").select_option("ar")
    await page.locator('html[lang="ar"][dir="rtl"]').wait_for()
    await open_route(page, "kpis")
    await page.get_by_role("heading", name="الأرقام الرئيسية").wait_for()
    await _accessible(page)
    await screenshot(page, "admin-kpis-ar")
    assert page_errors == []


async def test_a_customer_session_is_sent_to_the_admin_sign_in(live_server: str, page: Any) -> None:
    world = await make_world()
    link = await portal_link(live_server, world.admin, world.ann.public_id)
    await page.goto(link)
    await page.get_by_role("button", name="Open my billing portal").click()
    await page.wait_for_url(f"{live_server}/portal")
    response = await page.goto(f"{live_server}/admin")
    assert page.url == f"{live_server}/admin/sign-in"
    assert response is not None and response.ok
    await page.get_by_label("API key").wait_for()
