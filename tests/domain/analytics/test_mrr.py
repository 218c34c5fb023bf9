"""Recurring revenue maths (pure): hand-worked cases of issue 17, and the movements
identity for any sequence of changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.analytics.mrr import (
    Change,
    Kind,
    aging,
    arpa,
    cohorts,
    gross_mrr_churn_rate,
    logo_churn_rate,
    ltv,
    monthly,
    movements,
    retention,
    series,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NOV, DEC, JAN = utc(2026, 11, 1), utc(2026, 12, 1), utc(2027, 1, 1)


def test_monthly_normalises_annual_and_quarterly_prices_rounding_once() -> None:
    assert monthly(10000, 12) == 833  # 100.00 EUR a year: 8.33 a month
    assert monthly(3000, 3) == 1000  # 30.00 a quarter
    assert monthly(1000, 12) == 83  # 83.33 cents, half-up
    assert monthly(1006, 12) == 84  # 83.83 cents, half-up


def test_a_month_with_each_kind_of_movement() -> None:
    # Worked case. On Nov 1: customer 1 pays 10.00, 2 pays 30.00, 3 pays 50.00, and 5
    # paid once and churned earlier. In November: 4 is new at 20.00; 1 upgrades to
    # 30.00 (+20.00 expansion); 2 downgrades to 10.00 (-20.00 contraction); 3 cancels
    # (-50.00 churn); 5 comes back at 15.00 (reactivation).
    # start 90.00 + new 20 + expansion 20 + reactivation 15 - contraction 20 - churn 50
    # = 75.00 = 30 + 10 + 20 + 15 at the end.
    opening = {(1, "EUR"): 1000, (2, "EUR"): 3000, (3, "EUR"): 5000}
    changes = [
        Change(4, "EUR", utc(2026, 11, 3), 2000),
        Change(1, "EUR", utc(2026, 11, 5), 2000),
        Change(2, "EUR", utc(2026, 11, 8), -2000),
        Change(3, "EUR", utc(2026, 11, 20), -5000),
        Change(5, "EUR", utc(2026, 11, 25), 1500),
    ]
    moves = movements(changes, opening, churned=[(5, "EUR")])
    assert [(m.customer, m.kind) for m in moves] == [
        (4, Kind.NEW),
        (1, Kind.EXPANSION),
        (2, Kind.CONTRACTION),
        (3, Kind.CHURN),
        (5, Kind.REACTIVATION),
    ]
    (point,) = series(moves, [NOV, DEC], "EUR", {c: v for (c, _), v in opening.items()})
    assert (point.mrr_start, point.mrr_end, point.arr_end) == (9000, 7500, 90000)
    assert dict(point.moved) == {
        Kind.NEW: 2000,
        Kind.EXPANSION: 2000,
        Kind.CONTRACTION: 2000,
        Kind.CHURN: 5000,
        Kind.REACTIVATION: 1500,
    }
    assert (point.customers_start, point.customers_end) == (3, 4)
    assert (point.new_customers, point.churned_customers) == (1, 1)
    assert logo_churn_rate(point) == Decimal("0.3333")  # 1 of 3
    assert gross_mrr_churn_rate(point) == Decimal("0.7778")  # (50 + 20) / 90


def test_a_coupon_ending_is_an_expansion_and_currencies_never_mix() -> None:
    # 20 % off 50.00 for three months: 40.00, then 50.00 when it expires (+10.00
    # expansion). A USD customer in the same months moves USD only.
    moves = movements(
        [
            Change(1, "EUR", utc(2026, 9, 1), 4000),
            Change(1, "EUR", utc(2026, 12, 1), 1000),
            Change(2, "USD", utc(2026, 9, 1), 9900),
        ]
    )
    eur = series(moves, [utc(2026, 9, 1), utc(2026, 10, 1), DEC, JAN], "EUR", {})
    assert [p.mrr_end for p in eur] == [4000, 4000, 5000]
    assert eur[2].moved == {Kind.EXPANSION: 1000}
    usd = series(moves, [utc(2026, 9, 1), JAN], "USD", {})
    assert (usd[0].mrr_end, usd[0].moved) == (9900, {Kind.NEW: 9900})


def test_retention_ltv_and_arpa() -> None:
    # Cohort on Nov 1: 1 at 10.00, 2 at 30.00. By the end 1 expanded to 20.00, 2 fell
    # to 10.00, and a newcomer (3) does not count: NRR = 30/40 = 0.75, GRR = (10 + 10)
    # / 40 = 0.5.
    assert retention({1: 1000, 2: 3000}, {1: 2000, 2: 1000, 3: 9000}) == (
        Decimal("0.7500"),
        Decimal("0.5000"),
    )
    assert arpa(7500, 4) == Decimal("1875.00")
    assert ltv(Decimal("1875.00"), Decimal("0.05")) == Decimal("37500.00")
    assert ltv(Decimal("1875.00"), Decimal("0")) is None  # no churn: unbounded
    assert arpa(0, 0) is None


def test_receivables_aging_at_a_fixed_instant() -> None:
    at = utc(2026, 12, 3, 12)
    due = [
        (utc(2026, 12, 10), 100),  # not yet due
        (None, 1),  # no due date
        (utc(2026, 12, 3, 11), 20),  # an hour late: 1-30
        (at - timedelta(days=30), 300),  # 31 days counted: 31-60
        (at - timedelta(days=75), 4000),
        (at - timedelta(days=200), 50000),
    ]
    assert aging(due, at) == {
        "current": 101,
        "1-30": 20,
        "31-60": 300,
        "61-90": 4000,
        "90+": 50000,
    }


def test_cohort_table_for_three_signup_months() -> None:
    signups = {1: "2026-09", 2: "2026-09", 3: "2026-10", 4: "2026-11"}
    paying = {
        (1, "2026-09"): 1000,
        (2, "2026-09"): 2000,
        (1, "2026-10"): 1000,
        (3, "2026-10"): 500,
        (1, "2026-11"): 1500,
        (4, "2026-11"): 700,
    }
    rows = cohorts(signups, paying, ["2026-09", "2026-10", "2026-11"])
    assert [(r.cohort, r.customers, r.retained, r.revenue) for r in rows] == [
        ("2026-09", 2, (2, 1, 1), (3000, 1000, 1500)),
        ("2026-10", 1, (1, 0), (500, 0)),
        ("2026-11", 1, (1,), (700,)),
    ]


@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.integers(0, 89), st.integers(-5000, 5000)),
        max_size=60,
    )
)
def test_every_point_adds_up(raw: list[tuple[int, int, int]]) -> None:
    # Random changes that never take a customer below 0: each point's movements
    # take its start to its end exactly.
    level: dict[int, int] = {}
    changes = []
    for customer, day, delta in sorted(raw, key=lambda r: r[1]):
        delta = max(delta, -level.get(customer, 0))
        level[customer] = level.get(customer, 0) + delta
        changes.append(Change(customer, "EUR", NOV + timedelta(days=day), delta))
    moves = movements(changes)
    bounds = [NOV + timedelta(days=30 * k) for k in range(4)]
    points = series(moves, bounds, "EUR", {})
    assert points[-1].mrr_end == sum(level.values())
    for before, after in itertools.pairwise(points):
        assert before.mrr_end == after.mrr_start
