"""Subscription lifecycles driven by test clocks, through the domain functions."""

from __future__ import annotations

from datetime import UTC, datetime

from db.models import Invoice, Subscription
from domain.billing.test_clocks import advance_test_clock
from tests.factories import (
    admin_of,
    make_customer,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def invoices_of(sub) -> list[Invoice]:  # type: ignore[no-untyped-def]
    return await Invoice.filter(subscription_id=sub.id).order_by("period_start", "id")


async def test_month_end_renewals_through_a_leap_year(db) -> None:
    tenant = await make_test_tenant()
    clock = await make_test_clock(tenant=tenant, at=utc(2027, 1, 31, 9))
    customer = await make_customer(tenant=tenant, country="FR", test_clock_id=clock.public_id)
    plan = await make_plan(tenant=tenant, prices=[("EUR", 2999)])
    sub = await make_subscription(tenant=tenant, customer=customer, plan=plan)
    await advance_test_clock(admin_of(tenant), clock.public_id, utc(2028, 4, 1))
    invoices = await invoices_of(sub)
    starts = [i.period_start for i in invoices]
    assert starts[:5] == [
        utc(2027, 1, 31, 9),
        utc(2027, 2, 28, 9),
        utc(2027, 3, 31, 9),
        utc(2027, 4, 30, 9),
        utc(2027, 5, 31, 9),
    ]
    assert utc(2028, 2, 29, 9) in starts and utc(2028, 3, 31, 9) in starts
    assert len(invoices) == 15
    assert all(i.total_minor == 3599 and i.tax_minor == 600 for i in invoices)
    numbers = [i.number for i in await Invoice.filter(tenant_id=tenant.id).order_by("id")]
    assert numbers[0] == "INV-2027-000001"
    assert "INV-2028-000001" in numbers  # the counter restarts each year
    sub = await Subscription.get(id=sub.id)
    assert sub.current_period_end == utc(2028, 4, 30, 9)
