"""The admin console (/admin) in Chromium, write side: block a customer found by
name (their partner's next consumeCredits is refused), grant credits while the
customer's portal is open (it updates live), replay a failed webhook delivery."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.browser.admin_pages import graphql, open_route, sign_in
from tests.browser.admin_world import deliveries, make_world

CONSUME = """mutation($c: ID!, $r: String!) {
  consumeCredits(customerId: $c, module: "legal", action: "review", requestId: $r, quantity: 1) {
    __typename ... on CreditConsumption { consumed reason balance } ... on Error { code } } }"""


async def test_block_a_customer_found_by_name(
    live_server: str, page: Any, page_errors: list[str]
) -> None:
    world = await make_world()
    await sign_in(page, live_server, world.admin)
    await open_route(page, "customers")
    await page.get_by_label("Search by name").fill("Brewer")
    await page.get_by_role("button", name="Search", exact=True).click()
    rows = page.get_by_test_id("customers-table").locator("tbody tr")
    await rows.filter(has_text="Bob Brewer").wait_for()
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=customers-table] tbody tr').length === 1"
    )
    await page.get_by_role("link", name="Bob Brewer").click()
    await page.get_by_test_id("wallet").wait_for()

    block = page.get_by_role("form", name="Block credit use")
    await block.get_by_label("Reason").fill("chargeback on invoice 12")
    await page.get_by_role("button", name="Block", exact=True).click()
    await page.get_by_test_id("wallet-outcome").get_by_text("The customer is blocked.").wait_for()
    await page.get_by_test_id("wallet").get_by_text("Blocked: chargeback on invoice 12").wait_for()
    await page.get_by_role("button", name="Unblock", exact=True).wait_for()

    refused = await graphql(
        live_server, world.service, CONSUME, {"c": world.bob.public_id, "r": str(uuid.uuid4())}
    )
    result = refused["consumeCredits"]
    assert result["__typename"] == "CreditConsumption", result
    assert (result["consumed"], result["reason"]) == (False, "CUSTOMER_BLOCKED")

    # Unblocking asks why too; the reason stays on the wallet, and the block no
    # longer refuses Bob (who has no credits: that is the refusal now).
    unblock = page.get_by_role("form", name="Unblock credit use")
    await unblock.get_by_label("Reason").fill("chargeback withdrawn")
    await page.get_by_role("button", name="Unblock", exact=True).click()
    await (
        page.get_by_test_id("wallet")
        .get_by_text("Active (unblocked: chargeback withdrawn)")
        .wait_for()
    )
    allowed = await graphql(
        live_server, world.service, CONSUME, {"c": world.bob.public_id, "r": str(uuid.uuid4())}
    )
    assert allowed["consumeCredits"]["reason"] == "INSUFFICIENT_CREDITS", allowed
    assert page_errors == []


async def test_a_grant_updates_the_customers_open_portal(
    live_server: str, browser: Any, page: Any, page_errors: list[str]
) -> None:
    world = await make_world()
    await sign_in(page, live_server, world.admin)
    await open_route(page, f"customer/{world.ann.public_id}")
    await page.get_by_role("button", name="Create a portal sign-in link").click()
    link = await page.get_by_label("Sign-in link").input_value()
    assert link.startswith(f"{live_server}/portal/link/")

    customer = await browser.new_context(locale="en-US", timezone_id="UTC")
    try:
        portal = await customer.new_page()
        await portal.goto(link)
        await portal.get_by_role("button", name="Open my billing portal").click()
        await portal.wait_for_url(f"{live_server}/portal")
        balance = portal.locator("#balance")
        await balance.wait_for()
        before = await balance.inner_text()
        await portal.evaluate("() => { window.notReloaded = true; }")

        grant = page.get_by_role("form", name="Grant credits")
        await grant.get_by_label("Credits").fill("250")
        await grant.get_by_label("Reason").fill("goodwill")
        await page.get_by_role("button", name="Grant", exact=True).click()
        await page.get_by_test_id("wallet-outcome").get_by_text("250 credits granted").wait_for()

        await portal.wait_for_function(
            "(before) => document.querySelector('#balance').textContent !== before", arg=before
        )
        assert "250" in await balance.inner_text()
        assert await portal.evaluate("() => window.notReloaded === true")
    finally:
        await customer.close()
    assert page_errors == []


async def test_replay_a_failed_webhook_delivery(
    live_server: str, page: Any, page_errors: list[str]
) -> None:
    world = await make_world(webhooks=True)
    failed = await deliveries(world.endpoint_id)
    assert failed and all(d.status == "failed" and d.attempts == 1 for d in failed)
    await sign_in(page, live_server, world.admin)
    await open_route(page, "operations")
    table = page.get_by_test_id("deliveries-table")
    first = table.locator("tbody tr").filter(has_text="FAILED").first
    event = (await first.get_by_test_id("delivery-event").inner_text()).split(" · ")[1]
    await first.get_by_role("button", name="Replay").click()
    await (
        page.get_by_test_id("replay-outcome").get_by_text(f"Event {event} queued again").wait_for()
    )
    row = table.locator("tbody tr").filter(has_text=event)
    await row.get_by_text("PENDING").wait_for()
    await row.get_by_text("0 since queued, 1 logged").wait_for()

    # The worker's next pass sends it (and the endpoint refuses again): the list
    # shows the new attempt once refreshed.
    async with httpx.AsyncClient() as http:
        from domain.webhooks.delivery import deliver_due

        await deliver_due(http)
    await page.get_by_test_id("refresh-deliveries").click()
    await row.get_by_text("1 since queued, 2 logged").wait_for()
    assert page_errors == []
