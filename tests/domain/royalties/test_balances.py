"""Royalty balances maths (issue 16): conversion into the payout currency, reserves
against returns, advance recoupment, the payout threshold and the carried balance.
Worked cases carry their arithmetic in comments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationError
from domain.royalties.balances import (
    Conversion,
    ExchangeRate,
    Outcome,
    ReserveTerms,
    convert,
    recoup,
    reserve_released,
    reserve_withheld,
    settle,
)

D = Decimal
EUR_XOF = ExchangeRate("EUR", "XOF", D("655.957"))  # the CFA franc's fixed parity
EUR_DZD = ExchangeRate("EUR", "DZD", D("150.3456"))


# -- conversion ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        # 152.45 EUR x 655.957 = 100,000.64465 XOF → 100,001 (XOF has no minor unit)
        (15245, EUR_XOF, 100001),
        # 152.45 EUR x 150.3456 = 22,920.18672 DZD → 22,920.19 (2 decimals)
        (15245, EUR_DZD, 2292019),
        # 100.00 EUR x 655.957 = 65,595.7 XOF → 65,596: the 100 EUR threshold in XOF
        (10000, EUR_XOF, 65596),
        (1, EUR_XOF, 7),  # 0.01 EUR = 6.55957 XOF → 7
        # 0.30 EUR x 655 = 196.5 XOF → 197: half-up, not half-even (which gives 196)
        (30, ExchangeRate("EUR", "XOF", D("655")), 197),
        # XOF → EUR: 1 XOF = 0.00152449 EUR; 65,596 XOF = 100.00044 EUR → 100.00
        (65596, ExchangeRate("XOF", "EUR", D("0.00152449")), 10000),
        # 1.000 KWD (3 decimals) = 2.98 EUR → 298 c
        (1000, ExchangeRate("KWD", "EUR", D("2.98")), 298),
        (-15245, EUR_XOF, -100001),  # a return converts symmetrically
    ],
)
def test_conversion_is_exact_then_rounded_once_to_the_target_exponent(
    amount, rate, expected
) -> None:
    conversion = convert(amount, rate)
    assert conversion == Conversion(
        rate.from_currency, amount, rate.rate, rate.to_currency, expected
    )


@pytest.mark.parametrize(
    ("rate", "code"),
    [("0", "INVALID_EXCHANGE_RATE"), ("-1", "INVALID_EXCHANGE_RATE"), ("1e3", "INVALID_DECIMAL")],
)
def test_invalid_rates_are_refused(rate, code) -> None:
    with pytest.raises(ValidationError) as raised:
        ExchangeRate("EUR", "XOF", rate)  # type: ignore[arg-type]
    assert raised.value.code == code
    with pytest.raises(ValidationError):
        ExchangeRate("EUR", "XXX", D(1))


def test_a_rate_given_as_text_is_kept_as_decimal() -> None:
    assert ExchangeRate("EUR", "XOF", "655.957").rate == D("655.957")  # type: ignore[arg-type]


# -- reserves --------------------------------------------------------------------------
def test_a_20_percent_reserve_is_withheld_then_released() -> None:
    # Terms: 20 % of a period's sale earnings, released two periods later.
    terms = ReserveTerms(D("20"), 2)
    history: dict[int, int] = {}
    # Period 1: sales earn 500.00 → 100.00 withheld; nothing withheld before to release.
    history[1] = reserve_withheld(50000, terms.percent)
    assert history[1] == 10000
    assert reserve_released(history, 1, terms.release_after) == 0
    # Period 2: no sales, nothing withheld; period 0 withheld nothing either.
    history[2] = reserve_withheld(0, terms.percent)
    assert (history[2], reserve_released(history, 2, 2)) == (0, 0)
    # Period 3: sales earn 50.00 → 10.00 withheld; period 1's 100.00 comes back.
    history[3] = reserve_withheld(5000, terms.percent)
    assert (history[3], reserve_released(history, 3, 2)) == (1000, 10000)
    # Period 5 releases period 3's 10.00; it was released once, period 6 releases nothing.
    assert reserve_released(history, 5, 2) == 1000
    assert reserve_released(history, 6, 2) == 0


def test_reserve_rounding_and_terms() -> None:
    assert reserve_withheld(3, D("20")) == 1  # 0.6 c → 1
    assert reserve_withheld(2, D("20")) == 0  # 0.4 c → 0
    assert reserve_withheld(-500, D("20")) == 0  # no sale earnings, nothing to withhold
    with pytest.raises(ValidationError):
        ReserveTerms(D("20"), 0)  # released the period it is withheld: no reserve at all
    with pytest.raises(ValidationError):
        ReserveTerms(D("120"), 2)


# -- advances --------------------------------------------------------------------------
def test_an_advance_of_1000_eur_earns_out_in_the_third_period() -> None:
    # Advance 1,000.00 EUR. Earnings 400.00, 450.00, 300.00.
    #   P1: 400 recouped, 600 unearned, nothing payable
    #   P2: 450 recouped, 150 unearned
    #   P3: 150 recouped → earned out (cumulative 1,150 ≥ 1,000); 150.00 payable
    advance, outcomes = 100000, []
    for earnings in (40000, 45000, 30000):
        step = recoup(advance, earnings)
        advance = step.advance_remaining_minor
        outcomes.append((step.recouped_minor, step.payable_minor, advance, step.earned_out))
    assert outcomes == [
        (40000, 0, 60000, False),
        (45000, 0, 15000, False),
        (15000, 15000, 0, True),
    ]


def test_recoupment_at_the_edges() -> None:
    # Cumulative earnings exactly the advance: earned out, nothing more to pay.
    exact = recoup(1000, 1000)
    assert (exact.recouped_minor, exact.payable_minor, exact.earned_out) == (1000, 0, True)
    # A negative period recoups nothing and leaves the advance as it was.
    negative = recoup(1000, -300)
    assert (negative.recouped_minor, negative.payable_minor) == (0, -300)
    assert negative.advance_remaining_minor == 1000
    # No advance: everything is payable.
    assert recoup(0, 700).payable_minor == 700


@given(st.integers(0, 10**12), st.integers(-(10**12), 10**12))
def test_recoupment_adds_up(advance, earnings) -> None:
    step = recoup(advance, earnings)
    assert step.recouped_minor + step.payable_minor == earnings
    assert step.recouped_minor + step.advance_remaining_minor == advance
    assert 0 <= step.recouped_minor <= max(earnings, 0)


# -- threshold and carry ---------------------------------------------------------------
def _settle(opening: int, earnings: int, clawbacks: int = 0, threshold: int = 10000):
    return settle(
        opening_minor=opening,
        earnings_minor=earnings,
        clawbacks_minor=clawbacks,
        withheld_minor=0,
        released_minor=0,
        recouped_minor=0,
        threshold_minor=threshold,
    )


def test_below_the_threshold_the_balance_is_carried() -> None:
    # 94.26 EUR against 100.00: carried. Next period +13.99 → 108.25: all of it paid.
    first = _settle(0, 9426)
    assert (first.payable_minor, first.closing_minor, first.status) == (0, 9426, Outcome.CARRIED)
    second = _settle(first.closing_minor, 1399)
    assert (second.payable_minor, second.closing_minor) == (10825, 0)
    assert second.status is Outcome.PAYABLE


def test_the_threshold_is_a_minimum_reached_at_its_value() -> None:
    assert _settle(0, 10000).payable_minor == 10000  # exactly 100.00: paid
    assert _settle(0, 9999).payable_minor == 0
    assert _settle(0, 1, threshold=0).payable_minor == 1  # no threshold: any positive sum
    assert _settle(0, 0, threshold=0).status is Outcome.CARRIED  # nothing to pay


def test_a_refund_after_payment_leaves_a_negative_balance_recovered_next_period() -> None:
    # P1 paid in full (closing 0). P2: 112.00 clawed back, 30.00 earned → -82.00
    # carried (nothing is paid, nothing is asked back). P3: +190.00 → 108.00 paid.
    p2 = _settle(0, 3000, clawbacks=11200)
    assert (p2.payable_minor, p2.closing_minor, p2.status) == (0, -8200, Outcome.CARRIED)
    p3 = _settle(p2.closing_minor, 19000)
    assert (p3.payable_minor, p3.closing_minor, p3.status) == (10800, 0, Outcome.PAYABLE)


@given(*(st.integers(0, 10**12) for _ in range(6)), st.integers(-(10**12), 10**12))
def test_settlement_invariant(earn, claw, withheld, released, recouped, threshold, opening) -> None:
    s = settle(
        opening_minor=opening,
        earnings_minor=earn,
        clawbacks_minor=claw,
        withheld_minor=withheld,
        released_minor=released,
        recouped_minor=recouped,
        threshold_minor=threshold,
    )
    assert (
        s.closing_minor == opening + earn - claw - withheld + released - recouped - s.payable_minor
    )
    assert s.payable_minor == 0 or (s.payable_minor >= threshold and s.closing_minor == 0)
    assert s.payable_minor >= 0
