"""The monthly KPIs (issue 17) of small books worked by hand (tests/domain/reports/
kpi_book.py), a royalty world for cash, credits, usage and royalties owed, and the
months refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain import clock
from domain.analytics.mrr import Kind
from domain.credits.admin import grant_credits
from domain.errors import PermissionDeniedError, ValidationError
from domain.reports.kpis import Month, last_complete_month, monthly_kpis
from domain.tenancy.access import Principal, Role
from domain.usage.metrics import create_metric
from tests.domain.reports.kpi_book import ONE_OFF_TOTAL, kpi_book
from tests.domain.royalties.world import RoyaltyWorld
from tests.factories import admin_of, make_tenant


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_months() -> None:
    november = Month.parse("2026-11")
    assert (november.start, november.end) == (utc(2026, 11, 1), utc(2026, 12, 1))
    assert (str(november.plus(2)), str(november.plus(-11))) == ("2027-01", "2025-12")
    assert last_complete_month(utc(2026, 1, 1)) == Month(2025, 12)
    assert last_complete_month(utc(2026, 3, 31, 23, 59)) == Month(2026, 2)


async def test_february_of_a_small_book(db: str) -> None:
    book = await kpi_book()
    kpis = await monthly_kpis(book.admin, "2026-02")
    assert (kpis.month, kpis.start, kpis.end, kpis.as_of) == (
        "2026-02",
        utc(2026, 2, 1),
        utc(2026, 3, 1),
        utc(2026, 3, 1),
    )
    assert kpis.complete and [c.currency for c in kpis.currencies] == ["EUR", "USD"]
    eur, usd = kpis.currencies
    # 2000 + 3000 new - 1000 churn = 4000; ARR 48000.
    assert (eur.mrr.mrr_start, eur.mrr.mrr_end, eur.mrr.arr_end) == (2000, 4000, 48000)
    assert eur.mrr.moved == {Kind.NEW: 3000, Kind.CHURN: 1000}
    o = eur.customers
    assert o is not None
    assert (o.paying_start, o.paying_end, o.new, o.churned) == (2, 2, 1, 1)
    # Ann (1000 of the 2000 paying on Feb 1) left, Bob kept his 1000: NRR = GRR = 0.5.
    assert (o.logo_churn_rate, o.gross_mrr_churn_rate) == (Decimal("0.5"), Decimal("0.5"))
    assert (o.net_revenue_retention, o.gross_revenue_retention) == (
        Decimal("0.5"),
        Decimal("0.5"),
    )
    assert o.arpa == Decimal("2000.00")  # 4000 over Bob and Dan
    # The month's cash: Eve's 60.00 collected; every invoice finalized in February.
    assert eur.cash.collected_minor == ONE_OFF_TOTAL
    assert eur.cash.invoiced_minor == await book.invoiced("EUR", kpis.start, kpis.end)
    assert (eur.cash.payments_succeeded, eur.cash.success_rate) == (1, Decimal(1))
    assert eur.receivables_total == await book.open_due("EUR", kpis.end) > 0
    assert [name for name, _ in eur.receivables] == ["current", "1-30", "31-60", "61-90", "90+"]
    # Twelve months, March 2025 to February 2026, the month last.
    assert [f"{p.start:%Y-%m}" for p in eur.series][::11] == ["2025-03", "2026-02"]
    assert [p.mrr_end for p in eur.series[-3:]] == [0, 2000, 4000]
    assert eur.series[-1] == eur.mrr
    assert [(r.cohort, r.customers, r.retained) for r in eur.cohorts] == [
        ("2026-01", 2, (2, 1)),
        ("2026-02", 1, (1,)),
    ]
    # USD: Carl's 12.00 all along, never summed with EUR.
    assert (usd.mrr.mrr_start, usd.mrr.mrr_end, usd.mrr.moved) == (1200, 1200, {})
    assert usd.cash.collected_minor == 0
    assert (kpis.credits.consumed, kpis.usage, kpis.royalties) == (0, (), ())


async def test_a_month_in_progress_is_read_up_to_now(db: str) -> None:
    book = await kpi_book()
    with clock.frozen_at(utc(2026, 2, 12)):
        kpis = await monthly_kpis(book.admin, "2026-02")
    assert not kpis.complete and kpis.as_of == utc(2026, 2, 12)
    # Receivables are aged today, not at the month's end (nothing is late in advance).
    eur = kpis.currencies[0]
    assert eur.receivables_total == await book.open_due("EUR", utc(2026, 2, 12))
    assert eur.receivables != (await monthly_kpis(book.admin, "2026-02")).currencies[0].receivables


async def test_cash_credits_usage_and_royalties_of_a_royalty_world(db: str) -> None:
    # October: 100.00 and 250.00 sold and paid (with 20 % VAT: 420.00). The October
    # run (on Nov 2) makes Ada's 70 % of 350.00 net payable: 245.00, owed at the end
    # of November (at the end of October the run had not happened).
    world = await RoyaltyWorld.create()
    book = await world.work("book", {await world.payee("Ada"): "100"})
    await world.sell(book, 10000, utc(2026, 10, 3))
    await world.sell(book, 25000, utc(2026, 10, 20))
    with clock.frozen_at(utc(2026, 11, 2)):
        await world.run("2026-10")
        await grant_credits(world.admin, world.customer.public_id, 40, reason="welcome")
    await create_metric(world.admin, {"code": "calls", "name": "Calls", "aggregation": "COUNT"})

    october = await monthly_kpis(world.admin, "2026-10")
    (eur,) = october.currencies
    assert (eur.cash.invoiced_minor, eur.cash.collected_minor) == (42000, 42000)
    assert eur.customers is None and eur.mrr.mrr_end == 0 and eur.cohorts == ()
    assert october.royalties == ()
    november = await monthly_kpis(world.admin, "2026-11")
    (owed,) = november.royalties
    assert (owed.currency, owed.payable_minor, owed.payees) == ("EUR", 24500, 1)
    assert november.credits.granted == 40
    assert [(m.code, m.events) for m in november.usage] == [("calls", 0)]


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-01", "", "2026-02-01", "1969-12"])
async def test_a_month_is_yyyy_mm(db: str, month: str) -> None:
    tenant = await make_tenant()
    with pytest.raises(ValidationError) as refused:
        await monthly_kpis(admin_of(tenant), month)
    assert (refused.value.code, refused.value.field) == ("INVALID_MONTH", "month")


async def test_a_month_not_started_is_refused_and_keys_need_analytics_read(db: str) -> None:
    tenant = await make_tenant()
    with clock.frozen_at(utc(2026, 11, 30, 23, 59)):
        with pytest.raises(ValidationError) as refused:
            await monthly_kpis(admin_of(tenant), "2026-12")
        assert refused.value.code == "MONTH_NOT_STARTED"
        assert (await monthly_kpis(admin_of(tenant), "2026-11")).currencies == ()
    analyst = Principal(tenant.id, Role.ANALYST, 0)
    assert (await monthly_kpis(analyst, "2026-01")).currencies == ()
    for role in (Role.SERVICE, Role.CUSTOMER, Role.PAYEE):
        with pytest.raises(PermissionDeniedError):
            await monthly_kpis(Principal(tenant.id, role, 0), "2026-01")


async def test_another_tenant_sees_none_of_it(db: str) -> None:
    await kpi_book()
    other = await make_tenant()
    kpis = await monthly_kpis(admin_of(other), "2026-02")
    assert kpis.currencies == () and kpis.usage == () and kpis.credits.consumed == 0
