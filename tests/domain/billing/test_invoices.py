"""Invoices: taxes per jurisdiction, one-off drafts, finalization, numbering,
statuses, credit notes and customer credit; bad input changes nothing."""

from __future__ import annotations

from datetime import date

import pytest

from db.invoice_models import BalanceEntry, CreditNote, Invoice, InvoiceLine, NumberSequence
from db.models import Subscription
from domain import clock
from domain.billing.simulated_clocks import advance_test_clock, create_test_clock
from domain.catalog.coupons import create_coupon
from domain.errors import BillingError
from domain.invoicing import credit_notes, service
from domain.invoicing.queries import balances_by_customer
from domain.invoicing.tax.admin import set_tax_rate
from domain.pagination import PageRequest
from domain.subscriptions import changes
from tests.domain.billing.conftest import World, invoices_of, utc
from tests.factories import admin_of, make_customer, make_plan, make_subscription, make_tenant

ITEM = {
    "description": "Onboarding",
    "quantity": 2,
    "unit_price": {"currency": "EUR", "amount": "50.00"},
}


async def one_off(world: World, customer=None, finalize=True, **extra):  # type: ignore[no-untyped-def]
    return await service.create_invoice(
        world.admin,
        {
            "customer_id": (customer or world.customer).public_id,
            "items": [ITEM],
            "finalize": finalize,
            **extra,
        },
    )


@pytest.mark.parametrize(
    ("country", "vat_id", "registrations", "rate", "tax", "reverse"),
    [
        ("FR", None, [], "20", 2000, False),  # domestic
        ("FR", "FR40303265045", [], "20", 2000, False),  # French business: still French VAT
        ("DE", None, ["EU_OSS"], "19", 1900, False),  # German consumer under the OSS
        ("DE", None, [], "20", 2000, False),  # no OSS: distance sale at the seller's rate
        ("DE", "DE129273398", [], "0", 0, True),  # German business: reverse charge
        ("US", None, [], "0", 0, False),  # outside the tenant's jurisdictions
    ],
)
async def test_tax_by_jurisdiction(
    world: World, country, vat_id, registrations, rate, tax, reverse
) -> None:
    world.tenant.tax_registrations = registrations
    await world.tenant.save()
    customer = await world.customer_on_clock(country=country, tax_id=vat_id)
    invoice = await one_off(world, customer)
    assert invoice.subtotal_minor == 10000
    assert invoice.tax_minor == tax and invoice.total_minor == 10000 + tax
    assert invoice.reverse_charge is reverse
    assert [g["rate_bp"] for g in invoice.tax_breakdown] == [int(rate) * 100]


async def test_configured_rates_outside_the_eu(world: World) -> None:
    await set_tax_rate(
        world.admin,
        {
            "country": "US",
            "region": "NY",
            "name": "NY sales tax",
            "rate": "4",
            "valid_from": date(2020, 1, 1),
        },
    )
    world.tenant.tax_registrations = ["US"]
    await world.tenant.save()
    ny = await world.customer_on_clock(country="US", address={"state": "NY"})
    ca = await world.customer_on_clock(country="US", address={"state": "CA"})
    assert (await one_off(world, ny)).tax_minor == 400
    assert (await one_off(world, ca)).tax_minor == 0


async def test_inclusive_prices_extract_tax(world: World) -> None:
    plan = await make_plan(
        tenant=world.tenant, code="incl", prices=[("EUR", 2999)], tax_behavior="inclusive"
    )
    sub = await world.subscribe(plan)
    (invoice,) = await invoices_of(sub)
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (2999, 500, 2999)
    assert invoice.tax_breakdown[0]["inclusive"] is True


async def test_drafts_are_editable_then_finalized_once(world: World) -> None:
    draft = await one_off(world, finalize=False)
    assert draft.status == "draft" and draft.number is None
    items = [{**ITEM, "quantity": 3}]
    draft = await service.update_draft(
        world.admin, draft.public_id, {"items": items, "memo": "PO 42"}
    )
    assert draft.subtotal_minor == 15000
    final = await service.finalize_invoice(world.admin, draft.public_id)
    assert final.status == "open" and final.number == "INV-2026-000001"
    assert final.due_at == utc(2026, 5, 1)  # the tenant's 30 days
    assert final.customer_snapshot["name"] == world.customer.name
    with pytest.raises(BillingError) as again:
        await service.finalize_invoice(world.admin, draft.public_id)
    assert again.value.code == "ALREADY_FINALIZED"
    with pytest.raises(BillingError) as edit:
        await service.update_draft(world.admin, draft.public_id, {"memo": "changed"})
    assert edit.value.code == "INVALID_INVOICE_STATUS"
    assert (await Invoice.get(id=draft.id)).memo == "PO 42"


async def test_numbers_follow_the_tenant_format(world: World) -> None:
    world.tenant.invoice_prefix, world.tenant.number_digits, world.tenant.number_reset = (
        "ACME",
        4,
        "never",
    )
    await world.tenant.save()
    first = await one_off(world)
    second = await one_off(world)
    await one_off(world, finalize=False)  # a draft takes no number
    third = await one_off(world)
    assert [first.number, second.number, third.number] == ["ACME-0001", "ACME-0002", "ACME-0003"]
    row = await NumberSequence.get(tenant_id=world.tenant.id, kind="invoice")
    assert (row.period, row.last_value) == ("all", 3)


async def test_void_and_uncollectible(world: World) -> None:
    invoice = await one_off(world)
    await service.mark_uncollectible(world.admin, invoice.public_id)
    voided = await service.void_invoice(world.admin, invoice.public_id)
    assert (voided.status, voided.amount_due_minor) == ("void", 0)
    assert voided.number == invoice.number  # a void invoice keeps its number: no gap


async def test_overdue_follows_each_customers_clock(world: World) -> None:
    on_clock = await one_off(world)  # due May 1 on the test clock
    live_customer = await make_customer(tenant=world.tenant, country="FR")
    with clock.frozen_at(utc(2026, 4, 1)):
        live = await one_off(world, live_customer)  # due May 1 in real time

    async def overdue_ids(real_now):  # type: ignore[no-untyped-def]
        with clock.frozen_at(real_now):
            page = await service.list_invoices(
                world.admin, PageRequest(first=10, after_key=None), overdue=True
            )
            on_time = await service.list_invoices(
                world.admin, PageRequest(first=10, after_key=None), overdue=False
            )
        assert not {i.id for i in page.items} & {i.id for i in on_time.items}
        return {i.id for i in page.items}

    assert await overdue_ids(utc(2026, 4, 20)) == set()
    assert await overdue_ids(utc(2026, 6, 1)) == {live.id}  # the test clock is still in April
    await world.advance(utc(2026, 5, 2))
    assert await overdue_ids(utc(2026, 4, 20)) == {on_clock.id}
    assert await overdue_ids(utc(2026, 6, 1)) == {on_clock.id, live.id}


async def test_partial_then_full_credit_notes(world: World) -> None:
    invoice = await one_off(world)  # 100.00 + 20.00 VAT
    first = await credit_notes.create_credit_note(
        world.admin,
        {
            "invoice_id": invoice.public_id,
            "reason": "order_change",
            "amount": {"currency": "EUR", "amount": "30.00"},
        },
    )
    assert (first.number, first.total_minor, first.tax_minor, first.subtotal_minor) == (
        "CN-2026-000001",
        3000,
        500,
        2500,
    )
    assert first.applied_to_invoice_minor == 3000
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.status, invoice.amount_due_minor, invoice.amount_credited_minor) == (
        "open",
        9000,
        3000,
    )
    rest = await credit_notes.create_credit_note(
        world.admin, {"invoice_id": invoice.public_id, "reason": "other"}
    )
    assert (rest.number, rest.total_minor) == ("CN-2026-000002", 9000)
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.status, invoice.amount_due_minor) == ("paid", 0)
    with pytest.raises(BillingError) as nothing_left:
        await credit_notes.create_credit_note(
            world.admin, {"invoice_id": invoice.public_id, "reason": "other"}
        )
    assert nothing_left.value.field == "amount"


async def test_crediting_a_paid_invoice_becomes_customer_credit(world: World) -> None:
    await create_coupon(world.admin, {"code": "FREE", "percent_off": "100", "duration": "once"})
    sub = await world.subscribe(world.basic, coupon_code="FREE")
    (free,) = await invoices_of(sub)
    assert (free.status, free.total_minor) == ("paid", 0)
    paid = await one_off(world)
    await Invoice.filter(id=paid.id).update(
        status="paid", amount_paid_minor=12000, amount_due_minor=0, paid_at=utc(2026, 4, 2)
    )
    note = await credit_notes.create_credit_note(
        world.admin,
        {
            "invoice_id": paid.public_id,
            "reason": "product_unsatisfactory",
            "amount": {"currency": "EUR", "amount_minor": 2400},
        },
    )
    assert (note.applied_to_invoice_minor, note.credited_to_balance_minor) == (0, 2400)
    assert await balances_by_customer([world.customer.id]) == [[("EUR", 2400)]]
    await world.advance(utc(2026, 5, 1, 1))
    renewal = (await invoices_of(sub))[-1]
    assert (renewal.total_minor, renewal.credit_applied_minor, renewal.amount_due_minor) == (
        1200,
        1200,
        0,
    )
    assert renewal.status == "paid"
    assert await balances_by_customer([world.customer.id]) == [[("EUR", 1200)]]


async def _rows() -> tuple[int, ...]:
    return (
        await Invoice.all().count(),
        await InvoiceLine.all().count(),
        await CreditNote.all().count(),
        await Subscription.all().count(),
        await BalanceEntry.all().count(),
    )


async def test_bad_input_is_refused_and_writes_nothing(world: World) -> None:
    usd_only = await make_plan(tenant=world.tenant, code="usd", prices=[("USD", 1000)])
    await create_coupon(
        world.admin,
        {"code": "ONEUSE", "percent_off": "10", "duration": "once", "max_redemptions": 1},
    )
    with clock.frozen_at(utc(2026, 4, 1)):  # made in the clock's April
        await create_coupon(
            world.admin,
            {"code": "LATE", "percent_off": "10", "duration": "once", "redeem_by": utc(2026, 4, 5)},
        )
    await world.subscribe(world.basic, coupon_code="ONEUSE")
    canceled = await world.subscribe(world.basic)
    await changes.cancel_subscription(
        world.admin, canceled.public_id, at_period_end=False, prorate=False
    )
    await world.advance(utc(2026, 4, 10))
    paid = await one_off(world)
    await Invoice.filter(id=paid.id).update(
        status="paid", amount_paid_minor=12000, amount_due_minor=0
    )
    open_invoice = await one_off(world)
    before = await _rows()

    async def refused(call, code):  # type: ignore[no-untyped-def]
        with pytest.raises(BillingError) as caught:
            await call
        assert caught.value.code == code, caught.value.message

    await refused(world.subscribe(usd_only), "PRICE_NOT_FOUND")
    await refused(world.subscribe(world.basic, coupon_code="LATE"), "COUPON_EXPIRED")
    await refused(world.subscribe(world.basic, coupon_code="ONEUSE"), "COUPON_MAXED_OUT")
    await refused(world.subscribe(world.basic, coupon_code="NOPE"), "COUPON_NOT_REDEEMABLE")
    await refused(world.subscribe(world.basic, quantity=0), "VALIDATION_ERROR")
    await refused(
        changes.change_subscription(world.admin, canceled.public_id, {"quantity": 2}),
        "SUBSCRIPTION_CANCELED",
    )
    await refused(
        advance_test_clock(world.admin, world.clock.public_id, utc(2026, 4, 9)), "CLOCK_BACKWARDS"
    )
    await refused(
        service.finalize_invoice(world.admin, open_invoice.public_id), "ALREADY_FINALIZED"
    )
    await refused(service.void_invoice(world.admin, paid.public_id), "INVALID_INVOICE_STATUS")
    await refused(
        credit_notes.create_credit_note(
            world.admin,
            {
                "invoice_id": open_invoice.public_id,
                "reason": "other",
                "amount": {"currency": "EUR", "amount_minor": 12001},
            },
        ),
        "CREDIT_NOTE_TOO_LARGE",
    )
    live = await make_tenant(name="Live Co")
    await refused(create_test_clock(admin_of(live), "x", utc(2026, 1, 1)), "LIVE_MODE")
    assert await _rows() == before
    assert world.clock.frozen_time == utc(2026, 4, 10)
    assert (await Subscription.get(id=canceled.id)).quantity == 1


async def test_live_tenant_customers_cannot_join_a_clock(world: World) -> None:
    live = await make_tenant(name="Live Co")
    with pytest.raises(BillingError) as caught:
        await make_customer(tenant=live, test_clock_id=world.clock.public_id)
    assert caught.value.code == "LIVE_MODE"


async def test_a_live_subscription_uses_the_real_clock(db: str) -> None:
    tenant = await make_tenant()
    customer = await make_customer(tenant=tenant, country="FR")
    plan = await make_plan(tenant=tenant, prices=[("EUR", 1000)])
    sub = await make_subscription(tenant=tenant, customer=customer, plan=plan)
    assert sub.test_clock_id is None and sub.status == "active"
    assert len(await invoices_of(sub)) == 1
