"""Royalty earnings maths (issue 16): escalators, the contract basis, contributor
shares, the subscription pool and clawbacks. Worked cases carry their arithmetic in
comments; hypothesis checks the rules that are properties (exact sums, caps)."""

from __future__ import annotations

from decimal import Decimal
from itertools import accumulate, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationError
from domain.money import round_minor
from domain.royalties.earnings import (
    Basis,
    EscalatorTier,
    LineFigures,
    RateSchedule,
    Slice,
    allocate_pool,
    basis_amount,
    check_shares,
    claw_back,
    earn_units,
    pool_amount,
    split_by_shares,
)

D = Decimal
# "10 % up to 5,000 units, then 12.5 %" (the escalator)
TEN_THEN_12_5 = RateSchedule((EscalatorTier(5000, D("10")), EscalatorTier(None, D("12.5"))))
THREE_TIERS = RateSchedule(
    (EscalatorTier(5000, D("10")), EscalatorTier(10000, D("12.5")), EscalatorTier(None, D("15")))
)


# -- escalators ------------------------------------------------------------------------
def test_a_sale_crossing_the_boundary_is_split_at_it() -> None:
    # 4,999 units sold before; 3 more for 10.00 EUR: unit 5,000 at 10 %, 5,001-5,002 at
    # 12.5 %. Basis 1000 c by units 1:2 → 333.33 / 666.67 → floors 333 + 666 = 999, the
    # leftover cent to the larger remainder (.67) → 333 / 667.
    # Earned: 333 x 10 % = 33.3 → 33 c; 667 x 12.5 % = 83.375 → 83 c.
    assert earn_units(4999, 3, 1000, TEN_THEN_12_5) == [
        Slice(0, 1, 333, D("10"), 33),
        Slice(1, 2, 667, D("12.5"), 83),
    ]


def test_an_escalator_crossed_in_the_middle_of_a_period() -> None:
    # The period opens at 4,990 cumulative units; three sales at 10.00 EUR a copy:
    #   A: 6 copies (4,991-4,996), all at 10 %: 60.00 x 10 % = 6.00
    #   B: 8 copies (4,997-5,004): 4 at 10 % (40.00 → 4.00), 4 at 12.5 % (40.00 → 5.00)
    #   C: 5 copies (5,005-5,009), all at 12.5 %: 50.00 x 12.5 % = 6.25
    # The period earns 6.00 + 4.00 + 5.00 + 6.25 = 21.25 EUR; 10 units at 10 %, 9 at 12.5 %.
    sold = 4990
    slices: list[Slice] = []
    for copies in (6, 8, 5):
        slices += earn_units(sold, copies, copies * 1000, TEN_THEN_12_5)
        sold += copies
    assert slices == [
        Slice(0, 6, 6000, D("10"), 600),
        Slice(0, 4, 4000, D("10"), 400),
        Slice(1, 4, 4000, D("12.5"), 500),
        Slice(1, 5, 5000, D("12.5"), 625),
    ]
    assert sum(s.earned_minor for s in slices) == 2125
    assert sum(s.units for s in slices if s.tier == 0) == 10
    assert sum(s.units for s in slices if s.tier == 1) == 9


def test_a_big_batch_crosses_two_boundaries_and_boundaries_are_inclusive() -> None:
    # 12,000 units at 10.00 each from zero: 5,000 at 10 %, 5,000 at 12.5 %, 2,000 at 15 %.
    assert earn_units(0, 12000, 120_000_00, THREE_TIERS) == [
        Slice(0, 5000, 50_000_00, D("10"), 5_000_00),
        Slice(1, 5000, 50_000_00, D("12.5"), 6_250_00),
        Slice(2, 2000, 20_000_00, D("15"), 3_000_00),
    ]
    # Unit 5,000 is still the 10 % tier; unit 5,001 is the first at 12.5 %.
    assert [s.tier for s in earn_units(4999, 1, 100, TEN_THEN_12_5)] == [0]
    assert [s.tier for s in earn_units(5000, 1, 100, TEN_THEN_12_5)] == [1]


def test_a_slice_is_rounded_half_up_once() -> None:
    # 5 c at 10 % = 0.5 c → 1 (half-up, not to even); 4 c at 12.5 % = 0.5 c → 1;
    # 1 c at 12.5 % = 0.125 → 0.
    assert earn_units(0, 1, 5, TEN_THEN_12_5)[0].earned_minor == 1
    assert earn_units(6000, 1, 4, TEN_THEN_12_5)[0].earned_minor == 1
    assert earn_units(6000, 1, 1, TEN_THEN_12_5)[0].earned_minor == 0


def test_a_batch_without_units_earns_in_the_next_units_tier() -> None:
    assert earn_units(5000, 0, 1000, TEN_THEN_12_5) == [Slice(1, 0, 1000, D("12.5"), 125)]


@pytest.mark.parametrize(
    "tiers",
    [
        (),
        (EscalatorTier(5000, D("10")),),  # last tier bounded
        (EscalatorTier(None, D("10")), EscalatorTier(None, D("12"))),  # unbounded early
        (EscalatorTier(5000, D("10")), EscalatorTier(5000, D("12")), EscalatorTier(None, D("1"))),
        (EscalatorTier(0, D("10")), EscalatorTier(None, D("12"))),
        (EscalatorTier(None, D("100.01")),),
        (EscalatorTier(None, D("-1")),),
        (EscalatorTier(None, 0.7),),  # a float rate is refused, never converted
    ],
)
def test_invalid_schedules_are_refused(tiers) -> None:
    with pytest.raises(ValidationError):
        RateSchedule(tiers)


def test_a_rate_given_as_text_is_parsed_to_decimal() -> None:
    assert RateSchedule.flat("70").tiers[0].rate == D("70")  # type: ignore[arg-type]


def _schedule(steps: list[tuple[int, Decimal]]) -> RateSchedule:
    """Bounded tiers of the given sizes and rates, then an unbounded 12.5 % tier."""
    bounds = list(accumulate(size for size, _ in steps))
    tiers = [EscalatorTier(b, rate) for b, (_, rate) in zip(bounds, steps, strict=True)]
    return RateSchedule((*tiers, EscalatorTier(None, D("12.5"))))


schedules = st.lists(st.tuples(st.integers(1, 500), st.decimals(0, 100, places=3)), max_size=4).map(
    _schedule
)


@given(schedules, st.integers(0, 3000), st.integers(0, 3000), st.integers(0, 10**12))
def test_slices_sum_to_the_units_and_the_basis(schedule, before, units, basis) -> None:
    slices = earn_units(before, units, basis, schedule)
    assert sum(s.units for s in slices) == units
    assert sum(s.basis_minor for s in slices) == basis
    for s in slices:
        assert s.rate == schedule.tiers[s.tier].rate
        assert s.earned_minor == round_minor(s.basis_minor * s.rate / 100)
    # Every unit is in the tier its cumulative position falls in, in order.
    expected = [schedule.tier_of(u) for u in range(before + 1, before + units + 1)]
    assert [t for s in slices for t in [s.tier] * s.units] == expected


# -- contract basis --------------------------------------------------------------------
def test_net_receipts_and_list_price_bases() -> None:
    # 3 copies at 19.99 (59.97), 6.00 discount, tax exclusive: net receipts 53.97;
    # list-price basis 59.97.
    line = LineFigures(list_minor=5997, discount_minor=600)
    assert basis_amount(line, Basis.NET_RECEIPTS) == 5397
    assert basis_amount(line, Basis.LIST_PRICE) == 5997
    # 19.99 tax-inclusive at 5.5 %: the invoice holds 1.04 of tax in it.
    # Net receipts 19.99 - 1.04 = 18.95; list price without tax 19.99 x 18.95/19.99 = 18.95.
    inclusive = LineFigures(list_minor=1999, included_tax_minor=104)
    assert basis_amount(inclusive, Basis.NET_RECEIPTS) == 1895
    assert basis_amount(inclusive, Basis.LIST_PRICE) == 1895
    # Discounted and half refunded before the run: 100.00 list, 20.00 off, 40.00 back.
    # Net receipts 80 - 40 = 40.00; list price of the half kept: 100 x 40/80 = 50.00.
    refunded = LineFigures(list_minor=10000, discount_minor=2000, refunded_minor=4000)
    assert basis_amount(refunded, Basis.NET_RECEIPTS) == 4000
    assert basis_amount(refunded, Basis.LIST_PRICE) == 5000
    # Given away (100 % off): no revenue, no royalty on either basis.
    free = LineFigures(list_minor=1999, discount_minor=1999)
    assert basis_amount(free, Basis.NET_RECEIPTS) == basis_amount(free, Basis.LIST_PRICE) == 0


@pytest.mark.parametrize(
    "figures",
    [
        {"list_minor": -1},
        {"list_minor": 100, "discount_minor": 101},
        {"list_minor": 100, "included_tax_minor": 101},
        {"list_minor": 100, "discount_minor": 50, "refunded_minor": 51},
    ],
)
def test_impossible_line_figures_are_programming_errors(figures) -> None:
    with pytest.raises(ValueError):
        LineFigures(**figures)


# -- contributor shares ----------------------------------------------------------------
THIRDS = {"ana": D("33.33"), "ben": D("33.33"), "cleo": D("33.34")}


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (10000, {"ana": 3333, "ben": 3333, "cleo": 3334}),  # 100.00 splits with no remainder
        # 10.00: 333.3 / 333.3 / 333.4 → floors 999, the leftover cent to .4 (cleo)
        (1000, {"ana": 333, "ben": 333, "cleo": 334}),
        (1, {"ana": 0, "ben": 0, "cleo": 1}),  # .3333 / .3333 / .3334 → cleo
        # 2 c: .6666 / .6666 / .6668 → cleo first, then a tie between equal shares goes
        # to the smaller key (ana)
        (2, {"ana": 1, "ben": 0, "cleo": 1}),
        (-1000, {"ana": -333, "ben": -333, "cleo": -334}),  # a clawback, symmetric
    ],
)
def test_three_contributors_split_exactly(amount, expected) -> None:
    assert split_by_shares(amount, THIRDS) == expected
    # the order shares arrive in changes nothing
    assert split_by_shares(amount, dict(reversed(THIRDS.items()))) == expected


@pytest.mark.parametrize(
    ("shares", "code"),
    [
        ({"ana": "33.33", "ben": "33.33", "cleo": "33.33"}, "SHARES_NOT_100"),  # 99.99
        ({"ana": "50", "ben": "50.01"}, "SHARES_NOT_100"),
        ({}, "SHARES_NOT_100"),
        ({"ana": "100", "ben": "0"}, "INVALID_SHARE"),
        ({"ana": "110", "ben": "-10"}, "INVALID_SHARE"),
        ({"ana": 0.5, "ben": "99.5"}, "INVALID_DECIMAL"),  # floats are refused
    ],
)
def test_shares_must_sum_to_exactly_100(shares, code) -> None:
    with pytest.raises(ValidationError) as raised:
        check_shares(shares)
    assert raised.value.code == code


@st.composite
def share_sets(draw):  # type: ignore[no-untyped-def]
    """k shares in hundredths of a percent summing to exactly 100 %."""
    cuts = sorted(draw(st.lists(st.integers(1, 9999), max_size=6, unique=True)))
    bounds = [0, *cuts, 10000]
    return {f"c{i}": D(b - a).scaleb(-2) for i, (a, b) in enumerate(pairwise(bounds))}


@given(st.integers(-(10**12), 10**12), share_sets())
def test_shares_always_sum_exactly(amount, shares) -> None:
    parts = split_by_shares(amount, shares)
    assert sum(parts.values()) == amount
    for key, part in parts.items():  # each within one minor unit of its exact share
        assert abs(part - amount * shares[key] / 100) < 1


# -- subscription pool -----------------------------------------------------------------
def test_a_pool_over_7_works_whose_reads_do_not_divide_evenly() -> None:
    # 2,345.67 EUR collected net x 50 % = 1,172.835 → 1,172.84 (half-up, once).
    pool = pool_amount(234567, D("50"))
    assert pool == 117284
    # Reads 1..7 (28 in all): 117,284 / 28 = 4,188.714285… c per read.
    #   w1 4,188.714 w2 8,377.429 w3 12,566.143 w4 16,754.857 w5 20,943.571
    #   w6 25,132.286 w7 29,321.000 → floors sum to 117,281; 3 c left go to the
    #   largest remainders: w4 (.857), w1 (.714), w5 (.571).
    allocation = allocate_pool(pool, {f"w{r}": r for r in range(1, 8)})
    assert allocation.by_work == {
        "w1": 4189,
        "w2": 8377,
        "w3": 12566,
        "w4": 16755,
        "w5": 20944,
        "w6": 25132,
        "w7": 29321,
    }
    assert sum(allocation.by_work.values()) == pool and allocation.unallocated_minor == 0


def test_pool_ties_and_works_without_reads() -> None:
    # 2 c over reads 1 and 3: 0.5 / 1.5, equal remainders → the work with more reads.
    assert allocate_pool(2, {"a": 1, "b": 3}).by_work == {"a": 0, "b": 2}
    # 1 c over equal reads: the smaller work id, whatever the order given.
    assert allocate_pool(1, {"b": 5, "a": 5}).by_work == {"a": 1, "b": 0}
    # A work with no reads takes no part.
    assert allocate_pool(10, {"a": 0, "b": 2}).by_work == {"b": 10}


def test_a_pool_nobody_read_stays_with_the_tenant() -> None:
    assert allocate_pool(5000, {}).unallocated_minor == 5000
    assert allocate_pool(5000, {"a": 0}).by_work == {}
    assert allocate_pool(5000, {"a": 0}).unallocated_minor == 5000


def test_pool_amount_rounds_once_and_is_never_negative() -> None:
    assert pool_amount(1, D("50")) == 1  # 0.5 c → 1
    assert pool_amount(3, D("33.33")) == 1  # 0.9999 c → 1
    assert pool_amount(-5000, D("50")) == 0  # refunds beyond collections: empty pool
    with pytest.raises(ValidationError):
        pool_amount(100, D("150"))


@given(st.integers(0, 10**12), st.dictionaries(st.text(max_size=3), st.integers(0, 10**6)))
def test_pool_allocations_always_sum_exactly(pool, reads) -> None:
    allocation = allocate_pool(pool, reads)
    assert sum(allocation.by_work.values()) + allocation.unallocated_minor == pool
    assert all(part >= 0 for part in allocation.by_work.values())
    assert allocation.unallocated_minor in (0, pool)
    total = sum(reads.values())
    for work, part in allocation.by_work.items():
        assert abs(part - D(pool) * reads[work] / total) < 1


# -- clawbacks -------------------------------------------------------------------------
def test_a_partial_refund_claws_back_at_the_rates_that_applied() -> None:
    # The escalated sale above: 10.00 EUR paid, slices 333 c at 10 % (33) and 667 c at
    # 12.5 % (83). 4.00 of it refunded (40 %): 33 x 0.4 = 13.2 → 13; 83 x 0.4 = 33.2 → 33.
    slices = earn_units(4999, 3, 1000, TEN_THEN_12_5)
    first = claw_back(slices, paid_minor=1000, refunded_before_minor=0, refund_minor=400)
    assert [(c.tier, c.rate, c.clawed_minor) for c in first.slices] == [
        (0, D("10"), 13),
        (1, D("12.5"), 33),
    ]
    assert first.clawed_minor == 46 and first.refund_counted_minor == 400
    # Then the remaining 6.00 — and 1.00 more than was ever paid, which counts for
    # nothing: cumulative 33 and 83 (all that was earned), minus the 13 and 33 taken.
    rest = claw_back(slices, paid_minor=1000, refunded_before_minor=400, refund_minor=700)
    assert [c.clawed_minor for c in rest.slices] == [20, 50]
    assert rest.refund_counted_minor == 600
    assert first.clawed_minor + rest.clawed_minor == 116 == sum(s.earned_minor for s in slices)
    # A refund once everything was refunded takes nothing.
    again = claw_back(slices, paid_minor=1000, refunded_before_minor=1000, refund_minor=500)
    assert again.clawed_minor == 0 and again.refund_counted_minor == 0


@given(
    schedules,
    st.integers(0, 6000),
    st.integers(0, 50),
    st.integers(0, 10**9),
    st.lists(st.integers(0, 10**9), max_size=6),
)
def test_clawbacks_never_exceed_earnings(schedule, before, units, paid, refunds) -> None:
    slices = earn_units(before, units, paid, schedule)
    refunded = clawed = 0
    per_slice = [0] * len(slices)
    for refund in refunds:
        back = claw_back(
            slices, paid_minor=paid, refunded_before_minor=refunded, refund_minor=refund
        )
        assert back.clawed_minor >= 0
        refunded += back.refund_counted_minor
        clawed += back.clawed_minor
        per_slice = [p + c.clawed_minor for p, c in zip(per_slice, back.slices, strict=True)]
    assert refunded <= paid
    assert all(0 <= p <= s.earned_minor for p, s in zip(per_slice, slices, strict=True))
    earned = sum(s.earned_minor for s in slices)
    assert clawed <= earned
    if refunded == paid:  # fully refunded: exactly what was earned comes back
        assert clawed == earned
