"""A small book for the KPI report's tests (issue 17), on a test clock, with the
figures worked out by hand. Amounts are minor units.

EUR: Jan 1 Ann basic 10.00 and Bob pro 30.00 (new 4000); Jan 20 Bob moves down to
basic (contraction 2000): 2000 on Feb 1. In February: Ann cancels on Feb 10 (churn
1000), Dan takes pro on Feb 15 (new 3000): 4000 on Mar 1, by Bob and Dan.
USD: Jan 1 Carl basic 12.00 (new 1200), nothing moves in February.
February's cash: Eve's one-off 50.00 + 20 % VAT = 60.00, invoiced and paid on Feb 20
(the subscriptions' invoices are collected by hand: open, unpaid).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from db.invoice_models import Invoice
from domain import clock
from domain.billing.simulated_clocks import advance_test_clock
from domain.invoicing.service import create_invoice
from domain.payments.operations import record_payment
from domain.subscriptions import changes
from domain.tenancy.access import Principal
from tests.factories import (
    admin_of,
    make_customer,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)

ONE_OFF_TOTAL = 6000


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class KpiBook:
    tenant: Any
    admin: Principal

    async def invoiced(self, currency: str, start: datetime, end: datetime) -> int:
        """Invoices finalized in [start, end), voids left out: what cash says."""
        rows = await Invoice.filter(
            tenant_id=self.tenant.id,
            currency=currency,
            finalized_at__gte=start,
            finalized_at__lt=end,
        ).exclude(status="void")
        return sum(r.total_minor for r in rows)

    async def open_due(self, currency: str, at: datetime) -> int:
        rows = await Invoice.filter(
            tenant_id=self.tenant.id, currency=currency, status="open", finalized_at__lte=at
        )
        return sum(r.amount_due_minor for r in rows)


async def kpi_book(**tenant: Any) -> KpiBook:
    owner = await make_test_tenant(country="FR", **tenant)
    admin = admin_of(owner)
    test_clock = await make_test_clock(tenant=owner, at=utc(2026, 1, 1))
    basic = await make_plan(tenant=owner, code="basic", prices=[("EUR", 1000), ("USD", 1200)])
    pro = await make_plan(tenant=owner, code="pro", prices=[("EUR", 3000)])

    async def customer(name: str, currency: str = "EUR") -> Any:
        return await make_customer(
            tenant=owner, name=name, currency=currency, test_clock_id=test_clock.public_id
        )

    async def at(when: datetime) -> None:
        await advance_test_clock(admin, test_clock.public_id, when)

    ann, bob, carl, dan = (
        await customer("Ann"),
        await customer("Bob"),
        await customer("Carl", "USD"),
        await customer("Dan"),
    )
    ann_sub = await make_subscription(tenant=owner, customer=ann, plan=basic)
    bob_sub = await make_subscription(tenant=owner, customer=bob, plan=pro)
    await make_subscription(tenant=owner, customer=carl, plan=basic)
    await at(utc(2026, 1, 20))
    await changes.change_subscription(admin, bob_sub.public_id, {"plan_id": basic.public_id})
    await at(utc(2026, 2, 10))
    await changes.cancel_subscription(admin, ann_sub.public_id, at_period_end=False, prorate=False)
    await at(utc(2026, 2, 15))
    await make_subscription(tenant=owner, customer=dan, plan=pro)
    await at(utc(2026, 2, 20))
    eve = await make_customer(tenant=owner, name="Eve", country="FR")
    with clock.frozen_at(utc(2026, 2, 20, 12)):
        invoice = await create_invoice(
            admin,
            {
                "customer_id": eve.public_id,
                "currency": "EUR",
                "finalize": True,
                "items": [
                    {
                        "description": "Setup",
                        "unit_price": {"currency": "EUR", "amount_minor": 5000},
                    }
                ],
            },
        )
        await record_payment(
            admin, {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T"}
        )
    await at(utc(2026, 3, 2))
    return KpiBook(owner, admin)
