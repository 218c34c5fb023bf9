"""Spending alerts (webhook and live event, once per threshold per period), and
usage lines taxed and discounted like any other line."""

from __future__ import annotations

import asyncio
from typing import Any

from db.invoice_models import Invoice, InvoiceLine
from db.payment_models import WebhookEvent
from domain.catalog.coupons import create_coupon
from domain.events.bus import build_bus, tenant_channel
from domain.unit_of_work import use_bus
from domain.usage.alerts import create_alert
from tests.domain.usage.conftest import Metered, utc
from tests.factories import make_customer


async def _collect(stream: Any, into: list[dict[str, Any]]) -> None:
    async for event in stream:
        into.append(event)


async def test_a_threshold_alerts_once_per_period_by_webhook_and_live(metered: Metered) -> None:
    bus = build_bus(None)
    await bus.start()
    use_bus(bus)
    seen: list[dict[str, Any]] = []
    task = asyncio.create_task(_collect(bus.subscribe(tenant_channel(metered.tenant.id)), seen))
    await asyncio.sleep(0)  # the subscriber is registered
    try:
        gb = await metered.metric("gb", "SUM", field_name="gb")
        await metered.charge(gb, "PER_UNIT", {"unitPrice": "1.00"})
        await metered.subscribe()
        mine = await create_alert(
            metered.admin,
            {
                "customer_id": metered.customer.public_id,
                "amount": {"currency": "EUR", "amount": "10"},
            },
        )
        # A tenant-wide threshold in another currency never fires for a EUR subscription.
        await create_alert(metered.admin, {"amount": {"currency": "USD", "amount": "1"}})

        def ev(tx: str, gigabytes: int) -> dict[str, Any]:
            return {"transactionId": tx, "metricCode": "gb", "properties": {"gb": gigabytes}}

        await metered.send(ev("a", 6))  # 6.00: below
        await metered.send(ev("b", 5))  # 11.00: crossed
        await metered.send(ev("c", 5))  # 16.00: already sent this period
        events = await WebhookEvent.filter(
            tenant_id=metered.tenant.id, type="usage.threshold_reached"
        )
        assert len(events) == 1
        payload = events[0].payload["data"]
        assert (payload["alert"], payload["amount_minor"], payload["threshold_minor"]) == (
            mine.public_id,
            1_100,
            1_000,
        )
        async with asyncio.timeout(5):  # published after the check's commit
            while not any(e["type"] == "usage.threshold_reached" for e in seen):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert [e["object_id"] for e in seen if e["type"] == "usage.threshold_reached"] == [
            mine.public_id
        ]
        # The next period starts below the threshold again, and may alert again.
        await metered.advance(utc(2027, 4, 1))
        await metered.send(ev("d", 12))
        assert (
            await WebhookEvent.filter(
                tenant_id=metered.tenant.id, type="usage.threshold_reached"
            ).count()
            == 2
        )
    finally:
        task.cancel()
        use_bus(None)
        await bus.close()


async def test_usage_lines_are_taxed_and_discounted_like_the_others(metered: Metered) -> None:
    minutes = await metered.metric("minutes", "SUM", field_name="minutes")
    await metered.charge(minutes, "PER_UNIT", {"unitPrice": "0.10"}, invoice_display_name="Minutes")
    coupon = await create_coupon(
        metered.admin,
        {"code": "TENOFF", "name": "-10%", "percent_off": "10", "duration": "forever"},
    )
    french = await make_customer(
        tenant=metered.tenant, country="FR", test_clock_id=metered.clock.public_id
    )
    sub = await metered.subscribe(customer=french, coupon_code=coupon.code)
    await metered.send(
        {"transactionId": "m", "metricCode": "minutes", "properties": {"minutes": 200}},
        customer=french,
    )
    await metered.advance(utc(2027, 4, 1))
    april = (await Invoice.filter(subscription_id=sub.id).order_by("id"))[-1]
    lines = {r.kind: r for r in await InvoiceLine.filter(invoice_id=april.id)}
    # 200 minutes x 0.10 = 20.00 and the plan's 10.00; 10 % off each; 20 % French VAT.
    assert (lines["usage"].amount_minor, lines["usage"].discount_minor) == (2_000, 200)
    assert lines["usage"].tax_rate_bp == 2_000
    assert (april.subtotal_minor, april.discount_minor, april.tax_minor) == (3_000, 300, 540)
    assert april.total_minor == 3_240
