"""A test-mode tenant with a clock, a customer on it and a small catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from db.invoice_models import Invoice, InvoiceLine
from db.models import PendingItem
from domain.billing.simulated_clocks import advance_test_clock
from domain.tenancy.access import Principal
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


@dataclass
class World:
    tenant: Any
    admin: Principal
    clock: Any
    customer: Any
    basic: Any  # 10.00 EUR a month
    pro: Any  # 30.00 EUR a month
    yearly: Any  # 300.00 EUR a year

    async def advance(self, to: datetime) -> None:
        await advance_test_clock(self.admin, self.clock.public_id, to)
        self.clock.frozen_time = to

    async def subscribe(self, plan: Any = None, **data: Any) -> Any:
        return await make_subscription(
            tenant=self.tenant, customer=self.customer, plan=plan or self.basic, **data
        )

    async def customer_on_clock(self, **fields: Any) -> Any:
        return await make_customer(tenant=self.tenant, test_clock_id=self.clock.public_id, **fields)


async def invoices_of(sub: Any) -> list[Invoice]:
    return await Invoice.filter(subscription_id=sub.id).order_by("id")


async def lines_of(invoice: Invoice) -> list[tuple[str, int]]:
    rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position")
    return [(r.kind, r.amount_minor) for r in rows]


async def pending_of(sub: Any) -> list[tuple[str, int]]:
    rows = await PendingItem.filter(subscription_id=sub.id, invoice_id=None).order_by("id")
    return [(r.kind, r.amount_minor) for r in rows]


@pytest.fixture
async def world(db: str) -> World:
    """April 2026 has 30 days: half a month is exactly 15 days."""
    tenant = await make_test_tenant(country="FR")
    clock = await make_test_clock(tenant=tenant, at=utc(2026, 4, 1))
    customer = await make_customer(
        tenant=tenant, country="FR", email="ada@example.fr", test_clock_id=clock.public_id
    )
    return World(
        tenant=tenant,
        admin=admin_of(tenant),
        clock=clock,
        customer=customer,
        basic=await make_plan(tenant=tenant, code="basic", name="Basic", prices=[("EUR", 1000)]),
        pro=await make_plan(tenant=tenant, code="pro", name="Pro", prices=[("EUR", 3000)]),
        yearly=await make_plan(
            tenant=tenant, code="yearly", name="Yearly", interval="year", prices=[("EUR", 30000)]
        ),
    )
