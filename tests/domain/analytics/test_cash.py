"""Cash and receivables over real invoices, payments and refunds (issue 17's
foundation): worked figures in the comments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from db.payment_models import Payment
from domain import clock
from domain.analytics.cash import Interval, boundaries, cash_series, receivables
from domain.errors import PermissionDeniedError, ValidationError
from domain.invoicing.service import create_invoice
from domain.payments.operations import refund_payment
from domain.tenancy.access import Principal, Role
from tests.domain.royalties.world import RoyaltyWorld


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _invoice(world: RoyaltyWorld, amount: int, at: datetime) -> str:
    with clock.frozen_at(at):
        invoice = await create_invoice(
            world.admin,
            {
                "customer_id": world.customer.public_id,
                "currency": "EUR",
                "finalize": True,
                "items": [
                    {
                        "description": "Consulting",
                        "unit_price": {"currency": "EUR", "amount_minor": amount},
                    }
                ],
            },
        )
    return invoice.public_id


async def test_cash_per_month_and_receivables_aging(db: str) -> None:
    # French VAT (20 %) on every invoice. October: 100.00 + 250.00 net, 420.00 with
    # tax, invoiced and paid; November: 40.00 of the second payment refunded, and a
    # 70.00 invoice (84.00 with tax) left open, issued Nov 10 and due 30 days later:
    # on Dec 20 it is 10 days overdue (1-30); on Nov 11 it is current.
    world = await RoyaltyWorld.create()
    book = await world.work("book", {await world.payee("Ada"): "100"})
    await world.sell(book, 10000, utc(2026, 10, 3))
    big = await world.sell(book, 25000, utc(2026, 10, 20))
    payment = await Payment.get(invoice_id=big.id)
    with clock.frozen_at(utc(2026, 11, 2)):
        await refund_payment(
            world.admin,
            {"payment_id": payment.public_id, "amount": {"currency": "EUR", "amount_minor": 4000}},
        )
    await _invoice(world, 7000, utc(2026, 11, 10))
    october, november = await cash_series(
        world.admin,
        start=utc(2026, 10, 1),
        end=utc(2026, 12, 1),
        interval=Interval.MONTH,
        currency="EUR",
    )
    assert (october.invoiced_minor, october.collected_minor, october.refunded_minor) == (
        42000,
        42000,
        0,
    )
    assert (october.payments_succeeded, october.success_rate) == (2, 1)
    assert (november.invoiced_minor, november.collected_minor, november.net_minor) == (
        8400,
        0,
        -4000,
    )
    assert november.success_rate is None  # no attempt in November
    aged = await receivables(world.admin, at=utc(2026, 12, 20), currency="EUR")
    assert aged == {"current": 0, "1-30": 8400, "31-60": 0, "61-90": 0, "90+": 0}
    assert (await receivables(world.admin, at=utc(2026, 11, 11), currency="EUR"))["current"] == 8400
    assert (
        await cash_series(
            world.admin,
            start=utc(2026, 10, 1),
            end=utc(2026, 12, 1),
            interval=Interval.MONTH,
            currency="USD",
        )
    )[0].invoiced_minor == 0  # currencies are never mixed


async def test_analytics_are_for_admins_and_intervals_are_bounded(db: str) -> None:
    world = await RoyaltyWorld.create()
    customer = Principal(world.tenant.id, Role.CUSTOMER, 0, customer_id=world.customer.id)
    with pytest.raises(PermissionDeniedError):
        await receivables(customer, at=utc(2026, 12, 1), currency="EUR")
    with pytest.raises(ValidationError):
        boundaries(utc(2020, 1, 1), utc(2026, 1, 1), Interval.DAY)  # over 1,000 points
    assert boundaries(utc(2026, 1, 31), utc(2026, 4, 1), Interval.MONTH) == [
        utc(2026, 1, 31),
        utc(2026, 2, 28),
        utc(2026, 3, 31),
        utc(2026, 4, 1),
    ]


async def test_receivables_aging_at_a_test_clock_instant(db: str) -> None:
    # A customer on a test clock; 30-day terms, 20 % VAT. Invoices of 100.00 on Jan 1
    # (due Jan 31), 50.00 on Feb 15 (due Mar 17) and 20.00 on Apr 20 (due May 20),
    # none paid. At the clock's Apr 20: 80 days late (61-90) 120.00, 35 days late
    # (31-60) 60.00, not yet due 24.00.
    from domain.billing.simulated_clocks import advance_test_clock
    from tests.factories import admin_of, make_customer, make_test_clock, make_test_tenant

    tenant = await make_test_tenant(country="FR")
    admin = admin_of(tenant)
    test_clock = await make_test_clock(tenant=tenant, at=utc(2026, 1, 1))
    customer = await make_customer(tenant=tenant, test_clock_id=test_clock.public_id)

    async def invoice(amount: int) -> None:
        await create_invoice(
            admin,
            {
                "customer_id": customer.public_id,
                "currency": "EUR",
                "finalize": True,
                "items": [
                    {
                        "description": "Work",
                        "unit_price": {"currency": "EUR", "amount_minor": amount},
                    }
                ],
            },
        )

    await invoice(10000)
    await advance_test_clock(admin, test_clock.public_id, utc(2026, 2, 15))
    await invoice(5000)
    await advance_test_clock(admin, test_clock.public_id, utc(2026, 4, 20))
    await invoice(2000)
    aged = await receivables(admin, at=utc(2026, 4, 20), currency="EUR")
    assert aged == {"current": 2400, "1-30": 0, "31-60": 6000, "61-90": 12000, "90+": 0}
