"""Subscription lifecycles driven by test clocks, through the domain functions."""

from __future__ import annotations

import pytest

from db.invoice_models import Invoice
from db.models import Coupon, Subscription
from domain.billing.simulated_clocks import advance_test_clock
from domain.catalog.coupons import create_coupon
from domain.errors import BillingError
from domain.subscriptions import changes
from tests.domain.billing.conftest import World, lines_of, pending_of, utc
from tests.domain.billing.conftest import invoices_of as invoices_by_id
from tests.factories import (
    admin_of,
    make_customer,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)


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


# -- trial, coupons, upgrades, downgrades, pause, cancel -------------------------------------


async def test_trial_converts_to_active_and_bills_with_a_once_coupon(world: World) -> None:
    await create_coupon(world.admin, {"code": "WELCOME20", "percent_off": "20", "duration": "once"})
    sub = await world.subscribe(world.pro, trial_days=14, coupon_code="welcome20")
    assert sub.status == "trialing" and sub.trial_end == utc(2026, 4, 15)
    assert await invoices_by_id(sub) == []
    await world.advance(utc(2026, 4, 15))
    sub = await Subscription.get(id=sub.id)
    assert sub.status == "active"
    assert (sub.current_period_start, sub.current_period_end) == (
        utc(2026, 4, 15),
        utc(2026, 5, 15),
    )
    (first,) = await invoices_by_id(sub)
    # 30.00 - 20 % = 24.00, + 20 % French VAT = 28.80
    assert (first.subtotal_minor, first.discount_minor, first.tax_minor, first.total_minor) == (
        3000,
        600,
        480,
        2880,
    )
    assert first.coupon_code == "WELCOME20" and first.status == "open"
    await world.advance(utc(2026, 5, 16))
    second = (await invoices_by_id(sub))[1]
    assert (second.discount_minor, second.total_minor) == (0, 3600)
    assert (await Coupon.get(tenant_id=world.tenant.id, code="WELCOME20")).times_redeemed == 1


async def test_repeating_coupon_discounts_n_invoices(world: World) -> None:
    await create_coupon(
        world.admin,
        {
            "code": "THREE",
            "amounts_off": [{"currency": "EUR", "amount_minor": 250}],
            "duration": "repeating",
            "duration_periods": 3,
        },
    )
    sub = await world.subscribe(world.basic, coupon_code="THREE")
    await world.advance(utc(2026, 8, 2))
    discounts = [i.discount_minor for i in await invoices_by_id(sub)]
    assert discounts == [250, 250, 250, 0, 0]


UPGRADE_AT = utc(2026, 4, 16)  # half of April's 30 days left


@pytest.mark.parametrize(
    ("behavior", "now_invoice", "pending", "next_subtotal"),
    [
        ("create_prorations", None, [("proration_credit", -500), ("proration_charge", 1500)], 4000),
        ("always_invoice", [("proration_credit", -500), ("proration_charge", 1500)], [], 3000),
        ("none", None, [], 3000),
    ],
)
async def test_upgrade_mid_cycle(
    world: World, behavior, now_invoice, pending, next_subtotal
) -> None:
    sub = await world.subscribe(world.basic)
    await world.advance(UPGRADE_AT)
    data = {"plan_id": world.pro.public_id, "proration_behavior": behavior}
    _, preview = await changes.change_subscription(world.admin, sub.public_id, data, preview=True)
    assert (
        await pending_of(sub) == [] and len(await invoices_by_id(sub)) == 1
    )  # preview wrote nothing
    await changes.change_subscription(world.admin, sub.public_id, data)
    invoices = await invoices_by_id(sub)
    if now_invoice is None:
        assert len(invoices) == 1
    else:
        assert await lines_of(invoices[1]) == now_invoice
        assert invoices[1].billing_reason == "subscription_update"
        assert (invoices[1].subtotal_minor, invoices[1].total_minor) == (1000, 1200)
        assert preview is not None and preview.totals.total_minor == invoices[1].total_minor
    assert await pending_of(sub) == pending
    if behavior == "create_prorations":
        assert preview is not None
        assert [(line.kind, line.amount_minor) for line in preview.lines] == pending
    await world.advance(utc(2026, 5, 1, 1))
    renewal = (await invoices_by_id(sub))[-1]
    assert renewal.period_start == utc(2026, 5, 1)
    assert renewal.subtotal_minor == next_subtotal
    assert await pending_of(sub) == []


async def test_downgrade_at_period_end_is_visible_and_cancellable(world: World) -> None:
    sub = await world.subscribe(world.pro)
    data = {"plan_id": world.basic.public_id, "effective": "period_end"}
    await changes.change_subscription(world.admin, sub.public_id, data)
    sub = await Subscription.get(id=sub.id)
    assert sub.pending_change["plan_id"] == world.basic.id and sub.plan_id == world.pro.id
    await changes.cancel_scheduled_change(world.admin, sub.public_id)
    assert (await Subscription.get(id=sub.id)).pending_change is None
    await changes.change_subscription(world.admin, sub.public_id, data)
    upcoming = await changes.preview_next_invoice(await Subscription.get(id=sub.id))
    assert upcoming is not None and upcoming.totals.subtotal_minor == 1000
    await world.advance(utc(2026, 5, 2))
    sub = await Subscription.get(id=sub.id)
    assert sub.plan_id == world.basic.id and sub.pending_change is None
    assert [i.subtotal_minor for i in await invoices_by_id(sub)] == [3000, 1000]


async def test_interval_change_restarts_the_period(world: World) -> None:
    sub = await world.subscribe(world.basic)
    await world.advance(UPGRADE_AT)
    await changes.change_subscription(
        world.admin, sub.public_id, {"plan_id": world.yearly.public_id}
    )
    sub = await Subscription.get(id=sub.id)
    assert (sub.current_period_start, sub.current_period_end) == (UPGRADE_AT, utc(2027, 4, 16))
    latest = (await invoices_by_id(sub))[-1]
    assert await lines_of(latest) == [("proration_credit", -500), ("plan", 30000)]


async def test_pause_indefinitely_then_resume_reanchors(world: World) -> None:
    sub = await world.subscribe(world.basic)
    await world.advance(UPGRADE_AT)
    await changes.pause_subscription(world.admin, sub.public_id, resume_at=None, behavior=None)
    assert await pending_of(sub) == [("proration_credit", -500)]
    await world.advance(utc(2026, 7, 1))
    assert len(await invoices_by_id(sub)) == 1  # nothing billed while paused
    await changes.resume_subscription(world.admin, sub.public_id)
    sub = await Subscription.get(id=sub.id)
    assert sub.status == "active" and sub.billing_anchor == utc(2026, 7, 1)
    assert (sub.current_period_start, sub.current_period_end) == (utc(2026, 7, 1), utc(2026, 8, 1))
    resumed = (await invoices_by_id(sub))[-1]
    assert await lines_of(resumed) == [("plan", 1000), ("proration_credit", -500)]
    assert resumed.billing_reason == "subscription_resume"


async def test_pause_until_a_date_resumes_on_the_clock(world: World) -> None:
    sub = await world.subscribe(world.basic)
    await changes.pause_subscription(
        world.admin, sub.public_id, resume_at=utc(2026, 6, 10), behavior="none"
    )
    await world.advance(utc(2026, 6, 11))
    sub = await Subscription.get(id=sub.id)
    assert sub.status == "active" and sub.current_period_start == utc(2026, 6, 10)
    assert [i.period_start for i in await invoices_by_id(sub)] == [
        utc(2026, 4, 1),
        utc(2026, 6, 10),
    ]


async def test_cancel_at_period_end_and_reactivate(world: World) -> None:
    sub = await world.subscribe(world.basic)
    await changes.cancel_subscription(world.admin, sub.public_id, at_period_end=True, prorate=False)
    await changes.reactivate_subscription(world.admin, sub.public_id)
    await world.advance(utc(2026, 5, 2))
    assert len(await invoices_by_id(sub)) == 2
    await changes.cancel_subscription(world.admin, sub.public_id, at_period_end=True, prorate=False)
    await world.advance(utc(2026, 9, 1))
    sub = await Subscription.get(id=sub.id)
    assert sub.status == "canceled" and sub.ended_at == utc(2026, 6, 1)
    assert len(await invoices_by_id(sub)) == 2


async def test_cancel_now_with_credit_goes_to_the_next_invoice(world: World) -> None:
    sub = await world.subscribe(world.basic)
    await world.advance(UPGRADE_AT)
    await changes.cancel_subscription(world.admin, sub.public_id, at_period_end=False, prorate=True)
    final = (await invoices_by_id(sub))[-1]
    # -5.00 and its VAT: 6.00 of customer credit, nothing due.
    assert (final.billing_reason, final.total_minor, final.amount_due_minor) == (
        "subscription_final",
        -600,
        0,
    )
    other = await world.subscribe(world.basic)
    first = (await invoices_by_id(other))[0]
    assert (first.total_minor, first.credit_applied_minor, first.amount_due_minor) == (
        1200,
        600,
        600,
    )


async def test_changes_and_pauses_at_one_frozen_instant_each_bill(world: World) -> None:
    """A test clock does not move between mutations: nothing may collide."""
    sub = await world.subscribe(world.basic)
    await world.advance(UPGRADE_AT)
    for seats in (2, 3):
        data = {"quantity": seats, "proration_behavior": "always_invoice"}
        await changes.change_subscription(world.admin, sub.public_id, data)
    for _ in range(2):
        await changes.pause_subscription(world.admin, sub.public_id, resume_at=None, behavior=None)
        await changes.resume_subscription(world.admin, sub.public_id)
    reasons = [i.billing_reason for i in await invoices_by_id(sub)]
    assert reasons == [
        "subscription_create",
        *["subscription_update"] * 2,
        *["subscription_resume"] * 2,
    ]


async def test_a_change_scheduled_during_a_trial_applies_when_it_ends(world: World) -> None:
    sub = await world.subscribe(world.basic, trial_days=10)
    await changes.change_subscription(
        world.admin, sub.public_id, {"plan_id": world.pro.public_id, "effective": "period_end"}
    )
    await world.advance(utc(2026, 4, 12))
    sub = await Subscription.get(id=sub.id)
    assert (sub.status, sub.plan_id, sub.pending_change) == ("active", world.pro.id, None)
    assert [i.subtotal_minor for i in await invoices_by_id(sub)] == [3000]


async def test_a_year_on_a_test_clock(world: World) -> None:
    """Trial, coupon, mid-cycle upgrade, scheduled downgrade, pause with a resume
    date, cancel at period end: every invoice, in order, exactly once."""
    await create_coupon(
        world.admin,
        {"code": "HALF", "percent_off": "50", "duration": "repeating", "duration_periods": 2},
    )
    sub = await world.subscribe(world.basic, trial_days=14, coupon_code="HALF")
    await world.advance(utc(2026, 5, 1))  # trial ended on April 15
    await world.advance(utc(2026, 5, 30, 12))  # the 2nd period started on May 15
    await changes.change_subscription(world.admin, sub.public_id, {"plan_id": world.pro.public_id})
    await world.advance(utc(2026, 7, 1))
    await changes.change_subscription(
        world.admin, sub.public_id, {"plan_id": world.basic.public_id, "effective": "period_end"}
    )
    await world.advance(utc(2026, 8, 1))
    await changes.pause_subscription(
        world.admin, sub.public_id, resume_at=utc(2026, 10, 1), behavior="none"
    )
    await world.advance(utc(2026, 11, 1))
    await changes.cancel_subscription(world.admin, sub.public_id, at_period_end=True, prorate=False)
    await world.advance(utc(2027, 4, 1))
    rows = [
        (i.billing_reason, i.period_start.date().isoformat(), i.subtotal_minor, i.discount_minor)
        for i in await invoices_by_id(sub)
    ]
    assert rows == [
        ("subscription_cycle", "2026-04-15", 1000, 500),  # trial over; HALF, 1 of 2
        ("subscription_cycle", "2026-05-15", 1000, 500),  # HALF, 2 of 2
        # Pro, plus the May 30 12:00 upgrade's prorations (15.5 of 31 days left):
        # -5.00 unused Basic, +15.00 remaining Pro
        ("subscription_cycle", "2026-06-15", 3000 - 500 + 1500, 0),
        ("subscription_cycle", "2026-07-15", 1000, 0),  # the scheduled downgrade
        ("subscription_resume", "2026-10-01", 1000, 0),  # paused Aug 1, re-anchored Oct 1
        ("subscription_cycle", "2026-11-01", 1000, 0),  # then cancel at period end
    ]
    sub = await Subscription.get(id=sub.id)
    assert (sub.status, sub.ended_at, sub.next_action_at) == ("canceled", utc(2026, 12, 1), None)


async def test_a_billing_anchor_prorates_the_first_period(world: World) -> None:
    await world.advance(utc(2026, 4, 10))
    sub = await world.subscribe(world.basic, billing_anchor=utc(2026, 5, 1))
    await world.advance(utc(2026, 6, 2))
    rows = [(i.period_start, i.period_end, i.subtotal_minor) for i in await invoices_by_id(sub)]
    assert rows == [
        (utc(2026, 4, 10), utc(2026, 5, 1), 700),  # 21 of April's 30 days
        (utc(2026, 5, 1), utc(2026, 6, 1), 1000),
        (utc(2026, 6, 1), utc(2026, 7, 1), 1000),
    ]
    with pytest.raises(BillingError) as too_far:
        await world.subscribe(world.basic, billing_anchor=utc(2026, 9, 1))
    assert too_far.value.field == "billingAnchor"


async def test_a_backdated_start_bills_the_periods_gone_by(world: World) -> None:
    sub = await world.subscribe(world.basic, start_date=utc(2026, 2, 15))
    rows = [(i.billing_reason, i.period_start) for i in await invoices_by_id(sub)]
    assert rows == [
        ("subscription_create", utc(2026, 2, 15)),
        ("subscription_cycle", utc(2026, 3, 15)),
    ]
    assert (await Subscription.get(id=sub.id)).current_period_end == utc(2026, 4, 15)
    with pytest.raises(BillingError) as future:
        await world.subscribe(world.basic, start_date=utc(2026, 5, 1))
    assert future.value.field == "startDate"
