"""Pure billing maths: periods, proration, totals, tax rules (hypothesis where the
rule is a property)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.invoicing.credit_notes import split_by_rate
from domain.invoicing.tax.eu_rates import standard_rate
from domain.invoicing.tax.rules import ConfiguredRate, TaxContext, decide
from domain.invoicing.totals import DiscountInput, LineInput, compute_totals, tax_of
from domain.money import div_half_up
from domain.periods import Period, add_months, index_at, period_at
from domain.subscriptions.proration import (
    PricedItem,
    prorate_change,
    unused_part,
    used_part,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (utc(2026, 1, 31), [1, 2, 3], [utc(2026, 2, 28), utc(2026, 3, 31), utc(2026, 4, 30)]),
        (utc(2028, 1, 31), [1, 2], [utc(2028, 2, 29), utc(2028, 3, 31)]),  # leap year
        (utc(2026, 8, 31), [3, 6], [utc(2026, 11, 30), utc(2027, 2, 28)]),
        (utc(2024, 2, 29), [12, 48], [utc(2025, 2, 28), utc(2028, 2, 29)]),
    ],
)
def test_month_end_anchors_clamp_and_come_back(anchor, months, expected) -> None:
    assert [add_months(anchor, m) for m in months] == expected


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC, microsecond=0)
    ),
    st.sampled_from([1, 3, 6, 12, 2]),
    st.integers(min_value=0, max_value=20_000_000),
)
def test_index_at_finds_the_period_holding_an_instant(anchor, interval, offset_minutes) -> None:
    at = anchor + timedelta(minutes=offset_minutes)
    k = index_at(anchor, interval, at)
    assert period_at(anchor, interval, k).contains(at)


money = st.integers(min_value=0, max_value=10**12)
seconds = st.integers(min_value=0, max_value=31 * 86400)


@given(money, seconds)
def test_used_and_unused_parts_sum_to_the_amount(amount, offset) -> None:
    period = Period(utc(2026, 1, 1), utc(2026, 2, 1))
    at = period.start + timedelta(seconds=offset)
    assert used_part(amount, period, at) + unused_part(amount, period, at) == amount
    assert 0 <= unused_part(amount, period, at) <= amount


@given(money, money)
def test_a_change_at_the_period_start_credits_and_charges_whole_prices(old, new) -> None:
    period = Period(utc(2026, 1, 31), utc(2026, 2, 28))
    lines = prorate_change(
        [PricedItem("plan", "Old", old, 1)],
        [PricedItem("plan", "New", new, 1)],
        period,
        period.start,
    )
    assert sum(line.amount_minor for line in lines if line.amount_minor < 0) == -old
    assert sum(line.amount_minor for line in lines if line.amount_minor > 0) == new


def test_proration_is_to_the_second() -> None:
    period = Period(utc(2026, 4, 1), utc(2026, 5, 1))  # 30 days
    half = period.start + timedelta(days=15)
    assert unused_part(3000, period, half) == 1500
    assert unused_part(3000, period, half + timedelta(seconds=1)) == 1500  # 1499.9988…
    assert unused_part(100, period, period.start + timedelta(days=10)) == 67  # 66.67 → 67


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**9))
def test_div_half_up_matches_decimal_rounding(numerator, denominator) -> None:
    from decimal import ROUND_HALF_UP, Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        expected = int(
            (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        )
    assert div_half_up(numerator, denominator) == expected


lines_strategy = st.lists(
    st.builds(
        LineInput,
        st.integers(min_value=-(10**9), max_value=10**9),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)
discounts = st.one_of(
    st.none(),
    st.builds(DiscountInput, percent_bp=st.integers(1, 10_000)),
    st.builds(DiscountInput, amount_minor=st.integers(1, 10**9)),
)


@given(lines_strategy, discounts, st.sampled_from([0, 550, 1900, 2000, 2550, 2700]))
def test_total_is_lines_minus_discounts_plus_tax(lines, discount, rate) -> None:
    totals = compute_totals(lines, discount, rate)
    assert totals.subtotal_minor == sum(line.amount_minor for line in lines)
    assert sum(totals.line_discounts) == totals.discount_minor
    assert totals.total_minor == totals.subtotal_minor - totals.discount_minor + sum(
        g.tax_minor for g in totals.tax_groups if not g.inclusive
    )
    eligible = sum(x.amount_minor for x in lines if x.discountable and x.amount_minor > 0)
    charged = sum(d for d in totals.line_discounts if d > 0)
    assert 0 <= charged <= max(eligible, 0)
    for line, share in zip(lines, totals.line_discounts, strict=True):
        # A percent discount also reduces credits (negatively); a fixed one does not.
        assert share == 0 or (line.discountable and 0 < share / line.amount_minor <= 1)
        if share < 0:
            assert discount is not None and discount.percent_bp is not None
    assert sum(g.taxable_minor for g in totals.tax_groups) == (
        totals.subtotal_minor - totals.discount_minor
    )


@given(st.integers(0, 10**12), st.sampled_from([550, 1900, 2000, 2100]))
def test_inclusive_tax_plus_net_is_the_price(gross, rate) -> None:
    tax = tax_of(gross, rate, inclusive=True)
    net = gross - tax
    # The net, taxed exclusively, gives back the gross within one minor unit.
    assert abs(net + tax_of(net, rate, inclusive=False) - gross) <= 1


def test_tax_examples() -> None:
    assert tax_of(2999, 2000, inclusive=False) == 600  # 599.8 → 600
    assert tax_of(1, 2000, inclusive=False) == 0
    assert tax_of(2999, 2000, inclusive=True) == 500  # 2999 - 2499.17 → 2499
    totals = compute_totals([LineInput(2999)], DiscountInput(percent_bp=2000), 2000)
    assert (totals.discount_minor, totals.tax_minor, totals.total_minor) == (600, 480, 2879)


def ctx(**kw):  # type: ignore[no-untyped-def]
    base = dict(
        tenant_country="FR",
        registrations=frozenset(),
        customer_country="FR",
        customer_region="",
        customer_vat_id=None,
        on=date(2026, 11, 22),
        configured={},
    )
    base.update(kw)
    return TaxContext(**base)


def test_tax_rules_for_an_eu_seller() -> None:
    fr = decide(ctx())
    assert (fr.rate_bp, fr.reason, fr.country) == (2000, "domestic", "FR")
    de_consumer_no_oss = decide(ctx(customer_country="DE"))
    assert (de_consumer_no_oss.rate_bp, de_consumer_no_oss.reason) == (2000, "distance_sale")
    de_consumer_oss = decide(ctx(customer_country="DE", registrations=frozenset({"EU_OSS"})))
    assert (de_consumer_oss.rate_bp, de_consumer_oss.reason, de_consumer_oss.country) == (
        1900,
        "oss",
        "DE",
    )
    de_business = decide(ctx(customer_country="DE", customer_vat_id="DE129273398"))
    assert (de_business.rate_bp, de_business.reverse_charge) == (0, True)
    fr_business = decide(ctx(customer_vat_id="FR12345678901"))  # same state: domestic VAT
    assert (fr_business.rate_bp, fr_business.reverse_charge) == (2000, False)
    us = decide(ctx(customer_country="US"))
    assert (us.rate_bp, us.reason) == (0, "not_registered")


def test_configured_rates_and_registrations_outside_the_eu() -> None:
    table = {
        ("US", "NY"): [ConfiguredRate(date(2020, 1, 1), 400, "NY sales tax")],
        ("DZ", ""): [ConfiguredRate(date(2017, 1, 1), 1900, "TVA")],
    }
    us_ny = decide(
        ctx(
            customer_country="US",
            customer_region="NY",
            registrations=frozenset({"US"}),
            configured=table,
        )
    )
    assert (us_ny.rate_bp, us_ny.name) == (400, "NY sales tax")
    us_ca = decide(
        ctx(
            customer_country="US",
            customer_region="CA",
            registrations=frozenset({"US"}),
            configured=table,
        )
    )
    assert us_ca.rate_bp == 0
    dz = decide(ctx(tenant_country="DZ", customer_country="DZ", configured=table))
    assert (dz.rate_bp, dz.name) == (1900, "TVA")


def test_rates_are_dated() -> None:
    assert standard_rate("DE", date(2020, 9, 1)) == 1600
    assert standard_rate("DE", date(2021, 1, 1)) == 1900
    assert standard_rate("FI", date(2024, 8, 31)) == 2400
    assert standard_rate("FI", date(2024, 9, 1)) == 2550
    assert standard_rate("US", date(2026, 1, 1)) is None


@given(
    st.integers(1, 10**9),
    st.lists(
        st.tuples(st.integers(0, 10**8), st.sampled_from([0, 1900, 2000]), st.booleans()),
        min_size=1,
        max_size=4,
    ),
)
def test_credit_note_split_keeps_every_unit(amount, groups) -> None:
    breakdown = [
        {
            "rate_bp": r,
            "inclusive": inc,
            "taxable_minor": t,
            "tax_minor": tax_of(t, r, inclusive=inc),
        }
        for t, r, inc in groups
    ]
    parts = split_by_rate(amount, breakdown)
    gross = sum(p["taxable_minor"] + (0 if p["inclusive"] else p["tax_minor"]) for p in parts)
    assert gross == amount
