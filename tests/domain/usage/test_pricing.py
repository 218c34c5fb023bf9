"""Usage pricing maths: every model at its boundaries in EUR (2 decimals), JPY (0) and
KWD (3), expected minor amounts worked out by hand; hypothesis where the rule is a
property (monotonic tiers, one half-up rounding per line)."""

from __future__ import annotations

import math
from bisect import bisect_left
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.usage.pricing import (
    Tier,
    check_tiers,
    graduated,
    minimum_commitment_true_up,
    package,
    per_unit,
    percentage,
    percentage_fee,
    started_packages,
    to_minor,
    volume,
    volume_discount_minor,
)

D = Decimal
EXPONENT = {"EUR": 2, "JPY": 0, "KWD": 3}


# -- per unit ------------------------------------------------------------------------------
PER_UNIT_PRICE = {"EUR": D("0.0125"), "JPY": D("0.5"), "KWD": D("0.0005")}


@pytest.mark.parametrize(
    ("currency", "units", "free", "expected"),
    [
        ("EUR", "0", 0, 0),
        ("EUR", "1", 0, 1),  # 0.0125 EUR = 1.25 c → 1
        ("EUR", "2", 0, 3),  # 0.025 EUR = 2.5 c → 3 (half-up)
        ("EUR", "100", 100, 0),  # exactly the free units
        ("EUR", "101", 100, 1),  # one past: 1.25 c → 1
        ("EUR", "100.4", 100, 1),  # 0.4 x 0.0125 = 0.005 EUR = 0.5 c → 1
        ("EUR", "140", 100, 50),  # 40 x 0.0125 = 0.50 EUR
        ("JPY", "0", 0, 0),
        ("JPY", "1", 0, 1),  # 0.5 ¥ → 1
        ("JPY", "100", 100, 0),
        ("JPY", "101", 100, 1),  # 0.5 ¥ → 1
        ("JPY", "102", 100, 1),  # 1.0 ¥
        ("JPY", "103", 100, 2),  # 1.5 ¥ → 2
        ("KWD", "0", 0, 0),
        ("KWD", "1", 0, 1),  # 0.0005 KWD = 0.5 fils → 1
        ("KWD", "100", 100, 0),
        ("KWD", "101", 100, 1),  # 0.5 fils → 1
        ("KWD", "104", 100, 2),  # 4 x 0.0005 = 0.002 KWD = 2 fils
    ],
)
def test_per_unit_at_the_free_units_boundary(currency, units, free, expected) -> None:
    priced = per_unit(D(units), PER_UNIT_PRICE[currency], free)
    assert priced.minor(currency) == expected
    assert priced.units == max(D(0), D(units) - free)
    assert priced.unit_price == PER_UNIT_PRICE[currency]


# -- package -------------------------------------------------------------------------------
PACKAGE_PRICE = {"EUR": D("5.00"), "JPY": D("480"), "KWD": D("1.250")}


@pytest.mark.parametrize(
    ("currency", "units", "expected"),
    [  # packages of 100 after 50 free units
        ("EUR", "0", 0),
        ("EUR", "50", 0),  # exactly the free units: nothing started
        ("EUR", "51", 500),  # first unit billed starts package 1
        ("EUR", "150", 500),  # 100 billed: exactly one package
        ("EUR", "151", 1000),  # 101 billed: package 2 started
        ("EUR", "150.5", 1000),  # 100.5 billed: a fraction starts a package too
        ("JPY", "0", 0),
        ("JPY", "51", 480),
        ("JPY", "150", 480),
        ("JPY", "151", 960),
        ("KWD", "0", 0),
        ("KWD", "51", 1250),
        ("KWD", "150", 1250),
        ("KWD", "151", 2500),
    ],
)
def test_package_at_block_boundaries(currency, units, expected) -> None:
    assert package(D(units), 100, PACKAGE_PRICE[currency], 50).minor(currency) == expected


def test_a_package_line_is_rounded_once_not_per_package() -> None:
    # 3 packages at 0.125 EUR = 0.375 EUR = 37.5 c → 38; per package it would be 3 x 13.
    assert package(D(300), 100, D("0.125")).minor("EUR") == 38
    assert started_packages(D(0), 100) == 0
    assert started_packages(D("0.001"), 100) == 1
    assert started_packages(D(200), 100) == 2


# -- graduated and volume --------------------------------------------------------------------
# Up to 1000 units, up to 5000 (with a flat fee on entering it), then unbounded.
TIERS = {
    "EUR": [Tier(D(1000), D("0.01")), Tier(D(5000), D("0.008"), D(2)), Tier(None, D("0.005"))],
    "JPY": [Tier(D(1000), D("0.5")), Tier(D(5000), D("0.3"), D(100)), Tier(None, D("0.25"))],
    "KWD": [
        Tier(D(1000), D("0.0015")),
        Tier(D(5000), D("0.001"), D("0.5")),
        Tier(None, D("0.0005")),
    ],
}


@pytest.mark.parametrize(
    ("currency", "units", "expected"),
    [
        ("EUR", "0", 0),  # no tier entered: not even tier 2's flat fee
        ("EUR", "1", 1),  # 0.01 EUR
        ("EUR", "1000", 1000),  # 1000 x 0.01 = 10.00, still tier 1 only
        ("EUR", "1001", 1201),  # 10.00 + 0.008 + 2.00 fee = 12.008 → 1200.8 → 1201
        ("EUR", "5000", 4400),  # 10 + 4000 x 0.008 + 2 = 44.00
        ("EUR", "5000.5", 4400),  # 44 + 0.5 x 0.005 = 44.0025 → 4400.25 → 4400
        ("EUR", "5001", 4401),  # 44.005 → 4400.5 → 4401 (half-up)
        ("JPY", "0", 0),
        ("JPY", "1", 1),  # 0.5 ¥ → 1
        ("JPY", "1000", 500),
        ("JPY", "1001", 600),  # 500 + 0.3 + 100 = 600.3 → 600
        ("JPY", "5000", 1800),  # 500 + 1200 + 100
        ("JPY", "5001", 1800),  # 1800.25 → 1800
        ("JPY", "5002", 1801),  # 1800.5 → 1801
        ("KWD", "0", 0),
        ("KWD", "1", 2),  # 0.0015 KWD = 1.5 fils → 2
        ("KWD", "1000", 1500),  # 1.500 KWD
        ("KWD", "1001", 2001),  # 1.5 + 0.001 + 0.5 = 2.001
        ("KWD", "5000", 6000),  # 1.5 + 4 + 0.5 = 6.000
        ("KWD", "5001", 6001),  # 6.0005 → 6000.5 fils → 6001
    ],
)
def test_graduated_at_tier_boundaries(currency, units, expected) -> None:
    assert graduated(D(units), TIERS[currency]).minor(currency) == expected


def test_graduated_parts_show_each_entered_tier_exactly() -> None:
    priced = graduated(D(1001), TIERS["EUR"])
    assert priced.unit_price is None
    assert [(p.index, p.from_units, p.to_units, p.units, p.amount) for p in priced.parts] == [
        (0, D(0), D(1000), D(1000), D("10.00")),
        (1, D(1000), D(5000), D(1), D("2.008")),  # 0.008 + the 2.00 flat fee
    ]
    assert graduated(D(0), TIERS["EUR"]).parts == ()
    assert len(graduated(D(5001), TIERS["EUR"]).parts) == 3


@pytest.mark.parametrize(
    ("currency", "units", "expected", "tier"),
    [
        ("EUR", "0", 0, None),  # nothing used: no tier reached, no flat fee
        ("EUR", "1", 1, 0),  # 0.01
        ("EUR", "1000", 1000, 0),  # on the bound: stays in tier 1, 10.00
        ("EUR", "1001", 1001, 1),  # 1001 x 0.008 + 2 = 10.008 → 1000.8 → 1001
        ("EUR", "5000", 4200, 1),  # 40 + 2
        ("EUR", "5001", 2501, 2),  # 5001 x 0.005 = 25.005 → 2500.5 → 2501
        ("JPY", "0", 0, None),
        ("JPY", "1", 1, 0),  # 0.5 → 1
        ("JPY", "1000", 500, 0),
        ("JPY", "1001", 400, 1),  # 300.3 + 100 = 400.3 → 400
        ("JPY", "5000", 1600, 1),  # 1500 + 100
        ("JPY", "5001", 1250, 2),  # 1250.25 → 1250
        ("KWD", "0", 0, None),
        ("KWD", "1", 2, 0),  # 1.5 fils → 2
        ("KWD", "1000", 1500, 0),
        ("KWD", "1001", 1501, 1),  # 1.001 + 0.5 = 1.501
        ("KWD", "5000", 5500, 1),  # 5.0 + 0.5
        ("KWD", "5001", 2501, 2),  # 2.5005 → 2500.5 fils → 2501
    ],
)
def test_volume_at_tier_boundaries(currency, units, expected, tier) -> None:
    priced = volume(D(units), TIERS[currency])
    assert priced.minor(currency) == expected
    assert [p.index for p in priced.parts] == ([] if tier is None else [tier])
    assert priced.unit_price == (None if tier is None else TIERS[currency][tier].unit_price)


# -- percentage ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("currency", "total", "events", "rate", "fixed", "expected"),
    [
        ("EUR", "0", 0, "2.9", "0.30", 0),  # no events, no fixed fees
        ("EUR", "0.50", 1, "2.9", "0.30", 31),  # 0.0145 + 0.30 = 0.3145 → 31.45 → 31
        ("EUR", "10.00", 1, "2.9", "0.30", 59),  # 0.29 + 0.30
        ("EUR", "17.25", 2, "2.9", "0.30", 110),  # 0.50025 + 0.60 = 1.10025 → 110.025
        ("EUR", "100", 1, "115", "0", 11500),  # cost pass-through with a 15 % markup
        ("JPY", "0", 0, "3.6", "40", 0),
        ("JPY", "1000", 1, "3.6", "40", 76),  # 36 + 40
        ("JPY", "1125", 1, "3.6", "40", 81),  # 40.5 + 40 = 80.5 → 81
        ("KWD", "12.345", 1, "1.25", "0.100", 254),  # 0.2543125 → 254.3125 fils
        ("KWD", "0.04", 1, "1.25", "0.100", 101),  # 0.1005 → 100.5 fils → 101
    ],
)
def test_percentage_of_a_period(currency, total, events, rate, fixed, expected) -> None:
    priced = percentage(D(total), events, D(rate), D(fixed))
    assert priced.minor(currency) == expected
    assert priced.units == D(total)


@pytest.mark.parametrize(
    ("amount", "fee"),
    [  # 2.5 % + 0.25 EUR, at least 0.50, at most 5.00
        ("0", "0.50"),  # 0.25 → raised to the minimum
        ("9.99", "0.50"),  # 0.49975 → minimum
        ("10", "0.50"),  # exactly the minimum: 0.25 + 0.25
        ("10.01", "0.50025"),  # one cent past: unclamped, exact
        ("190", "5.00"),  # exactly the maximum: 4.75 + 0.25
        ("190.01", "5.00"),  # 5.00025 → capped
    ],
)
def test_percentage_fee_clamps_each_event(amount, fee) -> None:
    assert percentage_fee(D(amount), D("2.5"), D("0.25"), D("0.50"), D("5.00")) == D(fee)


def test_percentage_fee_in_jpy_and_kwd() -> None:
    assert percentage_fee(D(250), D("3.6"), D(40), D(50), D(1000)) == D(50)  # 49 → 50
    assert percentage_fee(D(1000), D("3.6"), D(40), D(50), D(1000)) == D(76)
    assert percentage_fee(D(26667), D("3.6"), D(40), D(50), D(1000)) == D(1000)  # 1000.012
    fee = percentage_fee(D("0.04"), D("1.25"), D("0.1"), D("0.1005"))
    assert to_minor(fee, "KWD") == 101  # exactly the minimum, 100.5 fils → 101
    with pytest.raises(ValueError):
        percentage_fee(D(1), D(1), 0, D(5), D(4))


# -- commitments and discounts -------------------------------------------------------------
@pytest.mark.parametrize(
    ("usage", "minimum", "true_up"),
    [(0, 10_000, 10_000), (9_999, 10_000, 1), (10_000, 10_000, 0), (10_001, 10_000, 0)],
)
def test_minimum_commitment_true_up(usage, minimum, true_up) -> None:
    assert minimum_commitment_true_up(usage, minimum) == true_up


DISCOUNT_TIERS = [(500_000, D(10)), (100_000, D(5))]  # 5 % above 1,000 EUR, 10 % above 5,000


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, (0, D(0))),
        (100_000, (0, D(0))),  # exactly 1,000 EUR does not exceed it
        (100_001, (5_000, D(5))),  # 5 % of the whole 1,000.01 EUR = 5000.05 c → 5000
        (100_010, (5_001, D(5))),  # 5000.5 c → 5001 (half-up)
        (500_000, (25_000, D(5))),
        (500_001, (50_000, D(10))),  # 10 % of the whole total, not of the part above
    ],
)
def test_volume_discount_applies_the_highest_exceeded_threshold(total, expected) -> None:
    assert volume_discount_minor(total, DISCOUNT_TIERS) == expected
    assert volume_discount_minor(total, list(reversed(DISCOUNT_TIERS))) == expected


def test_negative_inputs_and_broken_tiers_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        per_unit(D(-1), D(1))
    with pytest.raises(ValueError):
        package(D(1), 0, D(1))
    with pytest.raises(ValueError):
        graduated(D(-1), TIERS["EUR"])
    with pytest.raises(ValueError):
        minimum_commitment_true_up(-1, 0)
    for tiers in (
        [],
        [Tier(D(10), D(1))],  # bounded last tier
        [Tier(None, D(1)), Tier(None, D(1))],
        [Tier(D(10), D(1)), Tier(D(10), D(1)), Tier(None, D(1))],
        [Tier(D(0), D(1)), Tier(None, D(1))],
        [Tier(None, D(-1))],
    ):
        with pytest.raises(ValueError):
            check_tiers(tiers)


# -- properties ----------------------------------------------------------------------------
units_st = st.decimals(min_value=0, max_value=10**7, places=3)
prices_st = st.decimals(min_value=0, max_value=100, places=5)
fees_st = st.decimals(min_value=0, max_value=50, places=2)
currencies = st.sampled_from(sorted(EXPONENT))


@st.composite
def tier_lists(draw) -> list[Tier]:  # type: ignore[no-untyped-def]
    bounds = sorted(draw(st.sets(st.integers(1, 10**8), max_size=5)))
    bounds_d: list[Decimal | None] = [D(b).scaleb(-1) for b in bounds]
    bounds_d.append(None)
    return [Tier(b, draw(prices_st), draw(fees_st)) for b in bounds_d]


@given(tier_lists(), units_st, units_st, currencies)
def test_graduated_is_monotonic_in_units(tiers, a, b, currency) -> None:
    low, high = sorted((a, b))
    assert graduated(low, tiers).amount <= graduated(high, tiers).amount
    assert graduated(low, tiers).minor(currency) <= graduated(high, tiers).minor(currency)
    parts = graduated(high, tiers).parts
    assert sum((p.units for p in parts), D(0)) == high
    assert sum((p.amount for p in parts), D(0)) == graduated(high, tiers).amount


@given(tier_lists(), units_st)
def test_volume_is_every_unit_at_the_reached_tier_plus_its_fee(tiers, units) -> None:
    assume(units > 0)
    bounds = [t.up_to for t in tiers if t.up_to is not None]
    reached = tiers[bisect_left(bounds, units)]  # first tier whose bound is >= units
    assert volume(units, tiers).amount == units * reached.unit_price + reached.flat_fee


@given(units_st, prices_st, st.integers(0, 1000), currencies)
def test_per_unit_line_is_within_half_a_minor_unit_of_the_exact_product(
    units, price, free, currency
) -> None:
    exact = max(Fraction(0), Fraction(units) - free) * Fraction(price) * 10 ** EXPONENT[currency]
    minor = per_unit(units, price, free).minor(currency)
    # Within half a minor unit, and a half goes up (never -1/2: that is a half rounded down).
    assert -Fraction(1, 2) < minor - exact <= Fraction(1, 2)


@given(units_st, st.integers(1, 10_000), fees_st, st.integers(0, 1000))
def test_package_total_is_whole_packages_covering_the_billed_units(
    units, size, price, free
) -> None:
    priced = package(units, size, price, free)
    billed = max(Fraction(0), Fraction(units) - free)
    packages = math.ceil(billed / size)
    assert priced.amount == packages * price
    if price:
        assert priced.amount % price == 0
    assert packages * size >= billed > (packages - 1) * size or billed == 0


@given(
    st.decimals(min_value=0, max_value=10**6, places=2),
    st.decimals(min_value=0, max_value=1000, places=3),
    fees_st,
    st.one_of(st.none(), fees_st),
    st.one_of(st.none(), fees_st),
)
def test_percentage_fee_stays_within_min_and_max(amount, rate, fixed, low, high) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    fee = percentage_fee(amount, rate, fixed, low, high)
    raw = Fraction(amount) * Fraction(rate) / 100 + Fraction(fixed)
    if low is not None:
        assert fee >= low
    if high is not None:
        assert fee <= high
    if (low is None or raw >= low) and (high is None or raw <= high):
        assert fee == raw


@given(st.integers(0, 10**15), currencies)
def test_to_minor_rounds_halves_up_and_the_rest_to_nearest(n, currency) -> None:
    exp = EXPONENT[currency]
    assert to_minor((D(n) + D("0.5")).scaleb(-exp), currency) == n + 1
    assert to_minor((D(n) + D("0.4999999")).scaleb(-exp), currency) == n
    assert to_minor((D(n) + D("0.5000001")).scaleb(-exp), currency) == n + 1
    assert to_minor(-(D(n) + D("0.5")).scaleb(-exp), currency) == -(n + 1)  # away from zero
