"""The customer portal (/portal, issue 18) in a real Chromium: signing in with a
one-time link, every page (axe-clean, screenshotted), the credits chart and balance
moving live when a partner service consumes, an upgrade read from its preview then
invoiced, Arabic right to left and the language switcher, what a customer session may
not open, and a 3-D Secure card paying an invoice through the confirmation step."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import portal_world
from tests.browser.harness import check_accessibility, describe, screenshot

PAGES = ["overview", "usage", "invoices", "payment-methods", "plan", "credits"]
LIVE = 1_000  # ms: the bound for a consumption to reach the open page


async def open_portal(page: Any, live_server: str, world: portal_world.PortalWorld) -> None:
    link = await portal_world.portal_link(live_server, world.admin, world.customer.public_id)
    await page.goto(link)
    await page.get_by_role("button", name="Open my billing portal").click()
    await expect(page).to_have_url(re.compile(r"/portal(#.*)?$"))
    await ready(page, "overview")


async def ready(page: Any, name: str) -> None:
    """The page `name` has rendered its data (portal.js marks <main> when done)."""
    await page.locator(f'main[data-page="{name}"][data-ready="true"]').wait_for()


async def visit(page: Any, name: str) -> None:
    await page.evaluate("(name) => { location.hash = name; }", name)
    await ready(page, name)


async def read_text(path: Any) -> str:
    return await asyncio.to_thread(Path(path).read_text, encoding="utf-8")


async def axe_clean(page: Any) -> None:
    violations = await check_accessibility(page)
    assert violations == [], describe(violations)


@pytest.fixture
async def world(client: httpx.AsyncClient) -> portal_world.PortalWorld:
    return await portal_world.build(client)


async def test_a_portal_link_opens_every_page(
    live_server: str, page: Any, page_errors: list[str], world: portal_world.PortalWorld
) -> None:
    await open_portal(page, live_server, world)
    # 1,000 monthly credits + 250 granted - 10 consumed.
    await expect(page.locator("#balance")).to_have_text("1,240 credits")
    await expect(page.locator("#today-text")).to_have_text("Used today: 10 of 200")
    await expect(page.locator("#credits-chart canvas").first).to_be_visible()
    await expect(page.locator("#chart-summary")).to_contain_text("10 credits used in 30 days")
    for name in PAGES:
        await visit(page, name)
        assert await page.locator("main h1").count() == 1
        await axe_clean(page)
        await screenshot(page, f"portal-{name}")
    # The usage export is built in the page from GraphQL data and downloaded.
    await visit(page, "usage")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download usage (CSV)").click()
    download = await info.value
    rows = list(csv.reader(io.StringIO(await read_text(await download.path()))))
    assert rows[0] == ["day", "module", "credits", "consumptions"]
    assert [r[1:] for r in rows[1:]] == [["rag", "10", "3"]]
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download credit ledger (CSV)").click()
    ledger = list(csv.DictReader(io.StringIO(await read_text(await (await info.value).path()))))
    assert [(r["kind"], r["amount"]) for r in ledger] == [
        ("ALLOWANCE", "1000"),
        ("PROMOTION", "250"),
        ("CONSUMPTION", "-3"),
        ("CONSUMPTION", "-5"),
        ("CONSUMPTION", "-2"),
    ]
    assert page_errors == []


async def test_a_partners_consumption_moves_the_open_page(
    live_server: str, page: Any, page_errors: list[str], world: portal_world.PortalWorld
) -> None:
    await open_portal(page, live_server, world)
    balance, chart = page.locator("#balance"), page.locator("#credits-chart")
    await expect(balance).to_have_text("1,240 credits")
    # The feed carries the wallet after each change: once one consumption has shown,
    # the subscription is live (a push is never awaited blindly before that).
    expected, used = 1_240, 10
    for attempt in range(10):
        result = await portal_world.consume(
            live_server, world.service, world.customer.public_id, f"warm-{attempt}", 1
        )
        expected, used = result["balance"], used + 1
        try:
            await expect(balance).to_have_text(f"{expected:,} credits", timeout=LIVE)
            break
        except AssertionError:
            continue
    else:
        pytest.fail("the creditBalance feed never reached the page")
    # Now the measured one: a service consumes in the background.
    task = asyncio.create_task(
        portal_world.consume(live_server, world.service, world.customer.public_id, "live-7", 7)
    )
    await expect(balance).to_have_text(f"{expected - 7:,} credits", timeout=LIVE)
    await expect(chart).to_have_attribute("data-used-today", str(used + 7), timeout=LIVE)
    await expect(chart).to_have_attribute("data-balance", str(expected - 7), timeout=LIVE)
    await expect(page.locator("#today-text")).to_have_text(f"Used today: {used + 7} of 200")
    assert (await task)["consumed"] is True
    assert page_errors == []


async def test_an_upgrade_after_its_preview_is_invoiced(
    live_server: str, page: Any, page_errors: list[str], world: portal_world.PortalWorld
) -> None:
    await open_portal(page, live_server, world)
    await visit(page, "plan")
    await expect(page.locator("#plan-name")).to_have_text("Starter")
    await expect(page.locator("#confirm-change")).to_be_disabled()
    await page.get_by_label("New plan").select_option(world.annual.public_id)
    await page.get_by_role("button", name="Preview the change").click()
    preview = page.locator("#preview")
    await expect(preview).to_contain_text("Unused time on Starter")
    total = (await page.locator("#preview-total").text_content() or "").strip()
    assert total.startswith("€"), total
    await page.get_by_role("button", name="Confirm the change").click()
    await expect(page.get_by_text("Your plan has been changed.")).to_be_visible()
    await expect(page.locator("#plan-name")).to_have_text("Pro annual")
    await visit(page, "invoices")
    row = page.locator("#invoices tbody tr", has_text="Plan change")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(total)
    await expect(row).to_contain_text("Open")
    assert page_errors == []


async def test_arabic_is_right_to_left_and_the_switcher_changes_language(
    client: httpx.AsyncClient, live_server: str, page: Any, page_errors: list[str]
) -> None:
    world = await portal_world.build(client, locale="ar")
    await open_portal(page, live_server, world)
    html = page.locator("html")
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(html).to_have_attribute("lang", "ar")
    await expect(page.locator("main h1")).to_have_text("نظرة عامة")
    await expect(page.get_by_role("link", name="الفواتير")).to_be_visible()
    await axe_clean(page)
    await screenshot(page, "portal-overview-ar")

    await page.get_by_label("اللغة").select_option("fr")
    await expect(html).to_have_attribute("dir", "ltr")
    await expect(html).to_have_attribute("lang", "fr")
    await expect(page.locator("main h1")).to_have_text("Vue d\u2019ensemble")
    # Money is the server's CLDR formatting in the chosen language.
    await expect(page.locator("main")).to_contain_text("34,80\u00a0€")
    # The choice is remembered.
    await page.reload()
    await ready(page, "overview")
    await expect(html).to_have_attribute("lang", "fr")
    assert page_errors == []


async def test_a_customer_session_cannot_open_others_invoices_or_admin(
    live_server: str, page: Any, world: portal_world.PortalWorld
) -> None:
    await open_portal(page, live_server, world)
    other = await page.request.get(f"{live_server}/invoices/{world.other_invoice}.pdf")
    assert other.status == 404
    await visit(page, "invoices")
    own = page.locator("#invoices tbody tr a", has_text="PDF").first
    href = await own.get_attribute("href")
    mine = await page.request.get(f"{live_server}{href}")
    assert mine.status == 200 and mine.headers["content-type"] == "application/pdf"
    await page.goto(f"{live_server}/admin")
    await expect(page).to_have_url(f"{live_server}/admin/sign-in")


# A customer token attaches its cards, pays its own invoice and finishes 3-D Secure
# (the sandbox's test card that asks for it) from the portal.
@pytest.mark.usefixtures("sandbox_to_app")
async def test_a_3ds_card_pays_through_the_confirmation_step(
    live_server: str, page: Any, page_errors: list[str], world: portal_world.PortalWorld
) -> None:
    await open_portal(page, live_server, world)
    await visit(page, "payment-methods")
    await page.get_by_label("Card", exact=True).select_option("pm_card_authenticationRequired")
    await page.get_by_role("button", name="Add card").click()
    await expect(page.get_by_text("Card ending 3184 added.")).to_be_visible()
    await expect(page.locator("#methods")).to_contain_text("visa •••• 3184")
    await axe_clean(page)

    await visit(page, "invoices")
    row = page.locator("#invoices tbody tr", has_text="Subscription")
    await row.get_by_role("button", name=re.compile("^Pay now")).click()
    step = page.get_by_role("region", name="Confirm the payment with your bank")
    await expect(step).to_contain_text("€34.80")
    await axe_clean(page)
    await step.get_by_role("button", name="Confirm payment").click()
    await expect(page.get_by_text("Payment received. Thank you!")).to_be_visible()
    await expect(row).to_contain_text("Paid")
    assert page_errors == []


async def test_cancel_reactivate_and_buy_credits(
    live_server: str, page: Any, page_errors: list[str], world: portal_world.PortalWorld
) -> None:
    await open_portal(page, live_server, world)
    await visit(page, "plan")
    await page.get_by_role("button", name="Cancel at period end").click()
    await expect(page.locator("#cancel-state")).to_contain_text("Ends on")
    await page.get_by_role("button", name="Reactivate").click()
    await expect(page.get_by_text("Your subscription continues.")).to_be_visible()
    await expect(page.get_by_role("button", name="Cancel at period end")).to_be_visible()

    await visit(page, "credits")
    await page.get_by_label("Number of credits").fill("100")
    await page.get_by_role("button", name="Buy", exact=True).click()
    # 100 credits at 2 cents, VAT included; credited once the invoice is paid.
    await expect(page.locator("#purchase-result")).to_contain_text(
        "100 credits ordered for €2.40 (awaiting payment)."
    )
    await visit(page, "invoices")
    await expect(page.locator("#invoices tbody tr", has_text="Credits")).to_contain_text("€2.40")
    assert page_errors == []
