"""The MRR movement log written by real subscription changes on a test clock, and the
series, overview and cohorts read from it (issue 17). Expected figures are worked
out in the comments; amounts are EUR cents unless said otherwise."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from db.analytics_models import CustomerMrr, MrrDaily, MrrMovement
from db.invoice_models import Invoice
from db.models import Subscription
from domain.analytics import revenue
from domain.analytics.cash import Interval
from domain.analytics.mrr import Kind
from domain.analytics.rebuild import backfill, rebuild_tenant
from domain.analytics.reporting_currency import MissingExchangeRate
from domain.analytics.revenue import cohort_table, customers_overview, mrr_series
from domain.billing.simulated_clocks import advance_test_clock
from domain.catalog.coupons import create_coupon
from domain.errors import PermissionDeniedError, ValidationError
from domain.royalties.rates import set_exchange_rates
from domain.subscriptions import changes
from domain.tenancy.access import Principal, Role
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
class Book:
    tenant: Any
    admin: Principal
    clock: Any
    plans: dict[str, Any]

    async def at(self, when: datetime) -> None:
        await advance_test_clock(self.admin, self.clock.public_id, when)

    async def customer(self, name: str, currency: str = "EUR") -> Any:
        return await make_customer(
            tenant=self.tenant, name=name, currency=currency, test_clock_id=self.clock.public_id
        )

    async def subscribe(self, customer: Any, plan: str, **data: Any) -> Any:
        return await make_subscription(
            tenant=self.tenant, customer=customer, plan=self.plans[plan], **data
        )

    async def change(self, sub: Any, plan: str) -> None:
        await changes.change_subscription(
            self.admin, sub.public_id, {"plan_id": self.plans[plan].public_id}
        )

    async def cancel(self, sub: Any) -> None:
        await changes.cancel_subscription(
            self.admin, sub.public_id, at_period_end=False, prorate=True
        )

    async def log(self) -> list[tuple[str, str | None, int, int, str]]:
        rows = await MrrMovement.filter(tenant_id=self.tenant.id).order_by("occurred_at", "id")
        return [
            (
                r.cause,
                r.kind,
                r.subscription_mrr_before,
                r.subscription_mrr_after,
                f"{r.occurred_at:%m-%d}",
            )
            for r in rows
        ]


@pytest.fixture
async def book(db: str) -> Book:
    tenant = await make_test_tenant(country="FR")
    clock = await make_test_clock(tenant=tenant, at=utc(2026, 1, 1))

    async def plan(code: str, prices: list[tuple[str, int]], **extra: Any) -> Any:
        return await make_plan(tenant=tenant, code=code, name=code.title(), prices=prices, **extra)

    return Book(
        tenant,
        admin_of(tenant),
        clock,
        {
            "basic": await plan("basic", [("EUR", 1000), ("USD", 1200)]),
            "pro": await plan("pro", [("EUR", 3000)]),
            "yearly": await plan("yearly", [("EUR", 30000)], interval="year"),
            "annual-small": await plan("annual-small", [("EUR", 10000)], interval="year"),
            "quarterly": await plan("quarterly", [("EUR", 9000)], interval="quarter"),
            "trial": await plan("trial", [("EUR", 2000)], trial_days=14),
        },
    )


async def test_a_month_with_each_kind_of_movement(book: Book) -> None:
    # January: B basic 10.00, C pro 30.00, D basic 10.00, E basic 10.00 (all new,
    # 6000); E cancels on Jan 10 (churn 1000): 5000 paying by 3 customers on Feb 1.
    a, b, c, d, e = [await book.customer(n) for n in "ABCDE"]
    subs = {
        "b": await book.subscribe(b, "basic"),
        "c": await book.subscribe(c, "pro"),
        "d": await book.subscribe(d, "basic"),
        "e": await book.subscribe(e, "basic"),
    }
    await book.at(utc(2026, 1, 10))
    await book.cancel(subs["e"])
    await book.at(utc(2026, 2, 1))  # renewals move nothing
    # February: A new +1000; B basic → pro +2000 (expansion); C pro → basic -2000
    # (contraction); D cancels -1000 (churn); E comes back +1000 (reactivation).
    await book.at(utc(2026, 2, 3))
    await book.subscribe(a, "basic")
    await book.at(utc(2026, 2, 5))
    await book.change(subs["b"], "pro")
    await book.at(utc(2026, 2, 7))
    await book.change(subs["c"], "basic")
    await book.at(utc(2026, 2, 9))
    await book.cancel(subs["d"])
    await book.at(utc(2026, 2, 11))
    await book.subscribe(e, "basic")
    await book.at(utc(2026, 3, 2))

    january, february = await mrr_series(
        book.admin, start=utc(2026, 1, 1), end=utc(2026, 3, 1), interval=Interval.MONTH
    )
    assert (january.mrr_start, january.mrr_end) == (0, 5000)
    assert (january.of(Kind.NEW), january.of(Kind.CHURN)) == (6000, 1000)
    # 5000 + 1000 new + 2000 expansion + 1000 reactivation - 2000 - 1000 = 6000
    assert (february.mrr_start, february.mrr_end, february.arr_end) == (5000, 6000, 72000)
    assert february.moved == {
        Kind.NEW: 1000,
        Kind.EXPANSION: 2000,
        Kind.CONTRACTION: 2000,
        Kind.CHURN: 1000,
        Kind.REACTIVATION: 1000,
    }
    assert (february.customers_start, february.customers_end) == (3, 4)
    assert (february.new_customers, february.churned_customers) == (1, 1)

    (overview,) = await customers_overview(book.admin, start=utc(2026, 2, 1), end=utc(2026, 3, 1))
    assert (overview.paying_start, overview.paying_end) == (3, 4)
    assert (overview.new, overview.churned, overview.reactivated) == (1, 1, 1)
    assert str(overview.logo_churn_rate) == "0.3333"  # 1 of 3
    assert str(overview.gross_mrr_churn_rate) == "0.6000"  # (2000 + 1000) / 5000
    # The cohort of Feb 1 (B 1000, C 3000, D 1000 = 5000) ends at B 3000 + C 1000 + D 0:
    # NRR 4000 / 5000; GRR caps each at its start: 1000 + 1000 + 0 = 2000 / 5000.
    assert (str(overview.net_revenue_retention), str(overview.gross_revenue_retention)) == (
        "0.8000",
        "0.4000",
    )
    assert str(overview.arpa) == "1500.00"  # 6000 / 4 paying
    # February is 28 / 30.436875 = 0.91994 average months: 0.6 / 0.91994 = 0.6522 a
    # month; LTV = 1500.00 / 0.6522 = 2299.91 (cents).
    assert (str(overview.monthly_revenue_churn), str(overview.ltv)) == ("0.6522", "2299.91")


async def test_annual_and_quarterly_plans_are_normalised_to_a_month(book: Book) -> None:
    # 300.00 a year → 25.00; 100.00 a year → 8.33 (8.333… rounded once); 90.00 a
    # quarter → 30.00. MRR 63.33 in all.
    for plan in ("yearly", "annual-small", "quarterly"):
        await book.subscribe(await book.customer(plan), plan)
    assert [row[3] for row in await book.log()] == [2500, 833, 3000]
    (point,) = await mrr_series(
        book.admin, start=utc(2026, 1, 1), end=utc(2026, 2, 1), interval=Interval.MONTH
    )
    assert point.mrr_end == 6333


async def test_a_coupon_running_out_is_an_expansion(book: Book) -> None:
    # 20 % off basic for 3 months: 8.00 for January to March; the April period opens
    # without it: +2.00, an expansion on Apr 1.
    await create_coupon(
        book.admin,
        {"code": "LAUNCH20", "percent_off": "20", "duration": "repeating", "duration_periods": 3},
    )
    sub = await book.subscribe(await book.customer("Cora"), "basic", coupon_code="LAUNCH20")
    await book.at(utc(2026, 4, 2))
    assert await book.log() == [
        ("created", "new", 0, 800, "01-01"),
        ("coupon_expired", "expansion", 800, 1000, "04-01"),
    ]
    assert (await Subscription.get(id=sub.id)).coupon_id is None


async def test_a_trial_counts_nothing_until_it_converts(book: Book) -> None:
    await book.subscribe(await book.customer("Tess"), "trial")
    assert await book.log() == []
    await book.at(utc(2026, 1, 16))
    assert await book.log() == [("trial_converted", "new", 0, 2000, "01-15")]
    (overview,) = await customers_overview(book.admin, start=utc(2026, 1, 1), end=utc(2026, 2, 1))
    assert (overview.trials_ended, overview.trials_converted) == (1, 1)
    assert overview.trial_conversion_rate == 1


async def test_two_currencies_are_never_mixed_and_no_churn_means_no_ltv(book: Book) -> None:
    await book.subscribe(await book.customer("Eve"), "basic")
    await book.subscribe(await book.customer("Uma", currency="USD"), "basic")
    points = await mrr_series(
        book.admin, start=utc(2026, 1, 1), end=utc(2026, 2, 1), interval=Interval.MONTH
    )
    assert [(p.currency, p.mrr_end) for p in points] == [("EUR", 1000), ("USD", 1200)]
    usd = await mrr_series(
        book.admin,
        start=utc(2026, 1, 1),
        end=utc(2026, 2, 1),
        interval=Interval.MONTH,
        currency="usd",
    )
    assert [(p.currency, p.mrr_end) for p in usd] == [("USD", 1200)]
    overviews = await customers_overview(book.admin, start=utc(2026, 1, 1), end=utc(2026, 2, 1))
    assert [(o.currency, o.ltv, o.gross_mrr_churn_rate) for o in overviews] == [
        ("EUR", None, None),  # nothing paying at the start: no rate, no LTV
        ("USD", None, None),
    ]


async def test_pause_is_churn_and_resume_a_reactivation(book: Book) -> None:
    sub = await book.subscribe(await book.customer("Pia"), "basic")
    await book.at(utc(2026, 1, 5))
    await changes.pause_subscription(book.admin, sub.public_id, resume_at=None, behavior="none")
    await book.at(utc(2026, 1, 8))
    await changes.resume_subscription(book.admin, sub.public_id)
    assert await book.log() == [
        ("created", "new", 0, 1000, "01-01"),
        ("paused", "churn", 1000, 0, "01-05"),
        ("resumed", "reactivation", 0, 1000, "01-08"),
    ]


async def test_cohorts_by_first_paying_month(book: Book) -> None:
    # January: Ann and Bob start; February: Cid; March: Dee. Bob leaves in February,
    # Cid upgrades to pro in March.
    ann, bob = await book.customer("Ann"), await book.customer("Bob")
    await book.subscribe(ann, "basic")
    bob_sub = await book.subscribe(bob, "basic")
    await book.at(utc(2026, 2, 10))
    await book.cancel(bob_sub)
    cid_sub = await book.subscribe(await book.customer("Cid"), "basic")
    await book.at(utc(2026, 3, 10))
    await book.change(cid_sub, "pro")
    await book.subscribe(await book.customer("Dee"), "basic")
    rows = await cohort_table(
        book.admin, start=utc(2026, 1, 1), end=utc(2026, 4, 1), currency="EUR"
    )
    assert [(r.cohort, r.customers, r.retained, r.revenue) for r in rows] == [
        ("2026-01", 2, (2, 1, 1), (2000, 1000, 1000)),
        ("2026-02", 1, (1, 1), (1000, 3000)),
        ("2026-03", 1, (1,), (1000,)),
    ]


async def test_the_rebuild_equals_the_live_log_after_a_year(book: Book) -> None:
    await create_coupon(
        book.admin,
        {"code": "HALF", "percent_off": "50", "duration": "repeating", "duration_periods": 2},
    )
    a, b, c = await book.customer("A"), await book.customer("B"), await book.customer("C")
    first = await book.subscribe(a, "basic", coupon_code="HALF")
    second = await book.subscribe(b, "trial")
    await book.subscribe(c, "quarterly")
    month = 1
    for step in range(1, 12):
        month += 1
        await book.at(utc(2026, month, 3))
        if step == 2:
            await book.change(first, "pro")
        elif step == 4:
            await changes.pause_subscription(
                book.admin, second.public_id, resume_at=utc(2026, 7, 1), behavior="none"
            )
        elif step == 7:
            await book.cancel(first)
        elif step == 9:
            await book.subscribe(a, "yearly")
    live = await book.log()
    assert len(live) >= 8
    # The daily sums and the log itself give the same series.
    bounds = [utc(2026, m, 1) for m in range(1, 13)] + [utc(2027, 1, 1)]
    days = [b.date() for b in bounds]
    from_log = await revenue._log_sums(book.tenant.id, bounds, None)
    assert await revenue._daily_sums(book.tenant.id, days, None) == from_log
    assert sum(amount for cells in from_log.values() for amount, _ in cells.values()) > 0
    report = await rebuild_tenant(book.tenant.id)
    assert report.equal, report.differences
    assert report.live_rows == report.rebuilt_rows == len(live)

    # Data older than the log (made before migration 0008): no rows, no running totals,
    # no MRR on the subscriptions. `migrate` back-fills it from the subscription rows
    # (current terms from their start), and the rebuild then finds the log equal.
    for model in (MrrMovement, CustomerMrr, MrrDaily):
        await model.filter(tenant_id=book.tenant.id).delete()
    await Subscription.filter(tenant_id=book.tenant.id).update(mrr_minor=0)
    assert not (await rebuild_tenant(book.tenant.id)).equal
    (written,) = [r for r in await backfill() if r.tenant_id == book.tenant.id]
    assert written.written
    assert (await rebuild_tenant(book.tenant.id)).equal
    again = [r for r in await backfill() if r.tenant_id == book.tenant.id]
    assert not any(r.written for r in again)  # nothing left to back-fill
    (point,) = await mrr_series(
        book.admin, start=utc(2026, 12, 1), end=utc(2026, 12, 2), interval=Interval.DAY
    )
    now = sum(
        await Subscription.filter(tenant_id=book.tenant.id).values_list("mrr_minor", flat=True)
    )
    assert point.mrr_end == now


async def test_only_admins_and_analysts_read(book: Book) -> None:
    service = Principal(tenant_id=book.tenant.id, role=Role.SERVICE, key_id=0)
    with pytest.raises(PermissionDeniedError):
        await mrr_series(
            service, start=utc(2026, 1, 1), end=utc(2026, 2, 1), interval=Interval.MONTH
        )
    analyst = Principal(tenant_id=book.tenant.id, role=Role.ANALYST, key_id=0)
    assert (
        await mrr_series(
            analyst, start=utc(2026, 1, 1), end=utc(2026, 2, 1), interval=Interval.MONTH
        )
        == []
    )


async def test_concurrent_changes_of_one_customer_are_classified_in_turn(db: str) -> None:
    # Eight subscriptions of one customer created at once (real races on PostgreSQL,
    # serialised on SQLite): exactly one is the customer's `new` (+1 paying customer),
    # seven are expansions, and the running total ends at 8 x 10.00.
    tenant = await make_test_tenant(country="FR")
    plan = await make_plan(tenant=tenant, code="seat", prices=[("EUR", 1000)])
    customer = await make_customer(tenant=tenant, name="Racer")
    await asyncio.gather(
        *(make_subscription(tenant=tenant, customer=customer, plan=plan) for _ in range(8))
    )
    rows = await MrrMovement.filter(tenant_id=tenant.id).order_by("id")
    assert sorted(r.kind for r in rows) == ["expansion"] * 7 + ["new"]
    assert sum(r.customers_delta for r in rows) == 1
    assert sorted(r.customer_mrr_after for r in rows) == [1000 * k for k in range(1, 9)]
    (total,) = await CustomerMrr.filter(tenant_id=tenant.id).values_list("mrr_minor", flat=True)
    assert total == 8000
    assert (await rebuild_tenant(tenant.id)).equal


async def test_a_reporting_currency_converts_with_the_recorded_rates(book: Book) -> None:
    # EUR 10.00 and USD 12.00 a month; January's rate 1 USD = 0.9 EUR: 10.00 + 10.80.
    await book.subscribe(await book.customer("Eve"), "basic")
    await book.subscribe(await book.customer("Uma", currency="USD"), "basic")
    january = {"start": utc(2026, 1, 1), "end": utc(2026, 2, 1), "interval": Interval.MONTH}
    with pytest.raises(MissingExchangeRate) as missing:
        await mrr_series(book.admin, **january, reporting_currency="EUR")
    assert "USD→EUR 2026-01" in missing.value.message
    await set_exchange_rates(
        book.admin, "2026-01", [{"from_currency": "USD", "to_currency": "EUR", "rate": "0.9"}]
    )
    (point,) = await mrr_series(book.admin, **january, reporting_currency="eur")
    assert (point.currency, point.mrr_start, point.mrr_end) == ("EUR", 0, 2080)
    assert point.moved == {Kind.NEW: 2080}
    assert (point.customers_end, point.new_customers) == (2, 2)


async def test_a_backdated_subscription_keeps_its_coupon_on_every_period_it_covers(
    book: Book,
) -> None:
    # The clock is at Apr 2; a subscription backdated to Jan 1 with 2.50 off for three
    # periods bills January to April in one pass: January, February and March are
    # discounted, April is not (the coupon ran out when April opened, removed then).
    await create_coupon(
        book.admin,
        {
            "code": "THREE",
            "amounts_off": [{"currency": "EUR", "amount_minor": 250}],
            "duration": "repeating",
            "duration_periods": 3,
        },
    )
    await book.at(utc(2026, 4, 2))
    sub = await book.subscribe(
        await book.customer("Bea"), "basic", coupon_code="THREE", start_date=utc(2026, 1, 1)
    )
    discounts = (
        await Invoice.filter(subscription_id=sub.id)
        .order_by("period_start")
        .values_list("discount_minor", flat=True)
    )
    assert discounts == [250, 250, 250, 0]
    assert await book.log() == [
        ("created", "new", 0, 750, "01-01"),
        ("coupon_expired", "expansion", 750, 1000, "04-01"),
    ]


async def test_a_subscription_cannot_start_before_the_customers_latest_mrr_change(
    book: Book,
) -> None:
    # Ann paid from Jan 1 and left on Mar 1. A subscription backdated to Feb 1 would
    # make March's churn false (she would still pay): it is refused; one starting
    # after that change is not.
    ann = await book.customer("Ann")
    first = await book.subscribe(ann, "basic")
    await book.at(utc(2026, 3, 1))
    await book.cancel(first)
    await book.at(utc(2026, 4, 1))
    with pytest.raises(ValidationError) as refused:
        await book.subscribe(ann, "basic", start_date=utc(2026, 2, 1))
    assert (refused.value.code, refused.value.field) == ("START_BEFORE_MRR_HISTORY", "startDate")
    await book.subscribe(ann, "basic", start_date=utc(2026, 3, 15))
    kinds = [row[1] for row in await book.log()]
    assert kinds == ["new", "churn", "reactivation"]
