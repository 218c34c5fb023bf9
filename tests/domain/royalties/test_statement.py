"""A royalty statement composed from plain inputs (issue 16): the issue's worked cases
end to end, period after period, and the statement invariant as a property:

    closing = opening + earnings - returns - withheld + released - recouped - payable
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationError
from domain.royalties.balances import Conversion, ExchangeRate, Outcome, ReserveTerms
from domain.royalties.earnings import (
    Basis,
    LineFigures,
    RateSchedule,
    TransactionType,
    allocate_pool,
    basis_amount,
    claw_back,
    earn_units,
    pool_amount,
)
from domain.royalties.statement import (
    EarningLine,
    ReturnLine,
    StatementLine,
    WorkTotal,
    build_statement,
)

D = Decimal
SALE, READ = TransactionType.SALE, TransactionType.SUBSCRIPTION_READ
SEVENTY = RateSchedule.flat(D("70"))
THRESHOLD_EUR = 10000  # 100.00 EUR


def sale(work: str, figures: LineFigures, units: int, currency: str = "EUR") -> EarningLine:
    (only,) = earn_units(0, units, basis_amount(figures, Basis.NET_RECEIPTS), SEVENTY)
    return EarningLine.from_slice(work, SALE, currency, only)


def test_the_70_percent_sale_50_percent_pool_100_eur_threshold_case() -> None:
    # Period 1, payee paid in EUR, one novel under a 70 % sale / 50 % pool contract.
    #   Sale 1: 3 copies at 19.99 = 59.97, 6.00 off, VAT on top → 53.97 x 70 % = 37.779
    #           → 37.78
    #   Sale 2: 1 copy at 19.99 VAT included (1.04 of it) → 18.95 x 70 % = 13.265 → 13.27
    #   Pool:   200.00 collected net x 50 % = 100.00; the novel had 4,321 of 10,000 reads
    #           → 43.21
    #   Earned: 37.78 + 13.27 + 43.21 = 94.26 < 100.00 → carried, nothing paid.
    pool = pool_amount(20000, D("50"))
    reads = allocate_pool(pool, {"novel": 4321, "others": 5679})
    assert reads.by_work["novel"] == 4321
    earnings = [
        sale("novel", LineFigures(5997, discount_minor=600), 3),
        sale("novel", LineFigures(1999, included_tax_minor=104), 1),
        EarningLine("novel", READ, "EUR", reads.by_work["novel"], 4321, 8642, D("50")),
    ]
    p1 = build_statement(
        currency="EUR", opening_minor=0, earnings=earnings, threshold_minor=THRESHOLD_EUR
    )
    assert p1.lines == (
        StatementLine("novel", SALE, "EUR", 0, D("70"), 4, 5397 + 1895, 3778 + 1327, 5105),
        StatementLine("novel", READ, "EUR", None, D("50"), 4321, 8642, 4321, 4321),
    )
    assert p1.earnings == (WorkTotal("novel", SALE, 5105), WorkTotal("novel", READ, 4321))
    assert (p1.earnings_minor, p1.payable_minor, p1.closing_minor) == (9426, 0, 9426)
    assert p1.status is Outcome.CARRIED and p1.conversions == ()
    # Period 2: one copy at 19.99, VAT on top → 13.993 → 13.99; 94.26 + 13.99 = 108.25
    # reaches 100.00: all of it is paid, nothing carried.
    p2 = build_statement(
        currency="EUR",
        opening_minor=p1.closing_minor,
        earnings=[sale("novel", LineFigures(1999), 1)],
        threshold_minor=THRESHOLD_EUR,
    )
    assert (p2.earnings_minor, p2.payable_minor, p2.carried_forward_minor) == (1399, 10825, 0)
    assert p2.status is Outcome.PAYABLE


def test_an_advance_of_1000_eur_earned_out_in_the_third_period() -> None:
    # Advance 1,000.00; earnings 400.00, 450.00, 300.00; threshold 100.00.
    # P1 recoups 400 (600 left), P2 450 (150 left), P3 150 → earned out, 150.00 paid.
    advance, opening, seen = 100000, 0, []
    for earned in (40000, 45000, 30000):
        s = build_statement(
            currency="EUR",
            opening_minor=opening,
            earnings=[EarningLine("novel", SALE, "EUR", earned)],
            advance_remaining_minor=advance,
            threshold_minor=THRESHOLD_EUR,
        )
        advance, opening = s.advance_remaining_minor, s.closing_minor
        seen.append((s.recouped_minor, advance, s.payable_minor, s.closing_minor, s.status))
    assert seen == [
        (40000, 60000, 0, 0, Outcome.CARRIED),
        (45000, 15000, 0, 0, Outcome.CARRIED),
        (15000, 0, 15000, 0, Outcome.PAYABLE),
    ]


def test_a_20_percent_reserve_withheld_then_released() -> None:
    # 20 % of SALE earnings, released 2 periods later; the pool is not reserved.
    # P1: sales 500.00 → 100.00 withheld; pool 50.00. 500 + 50 - 100 = 450.00 paid.
    # P2: pool 20.00 only → nothing withheld or released; 20.00 carried.
    # P3: sales 50.00 → 10.00 withheld; P1's 100.00 released: 20 + 50 - 10 + 100 = 160.00.
    terms, history, opening, seen = ReserveTerms(D("20"), 2), {}, 0, []
    periods = {
        1: [EarningLine("novel", SALE, "EUR", 50000), EarningLine("novel", READ, "EUR", 5000)],
        2: [EarningLine("novel", READ, "EUR", 2000)],
        3: [EarningLine("novel", SALE, "EUR", 5000)],
    }
    for period, earnings in periods.items():
        s = build_statement(
            currency="EUR",
            opening_minor=opening,
            earnings=earnings,
            reserve=terms,
            reserve_history=history,
            period=period,
            threshold_minor=THRESHOLD_EUR,
        )
        history[period] = s.reserve_withheld_minor
        opening = s.closing_minor
        seen.append((s.reserve_withheld_minor, s.reserve_released_minor, s.payable_minor, opening))
    assert seen == [(10000, 0, 45000, 0), (0, 0, 0, 2000), (1000, 10000, 16000, 0)]


def test_a_refund_after_the_statement_was_paid() -> None:
    # P1: 10 copies at 20.00 (200.00 net) x 70 % = 140.00, paid in full.
    figures = LineFigures(20000)
    (slice_,) = earn_units(0, 10, basis_amount(figures, Basis.NET_RECEIPTS), SEVENTY)
    p1 = build_statement(
        currency="EUR",
        opening_minor=0,
        earnings=[EarningLine.from_slice("novel", SALE, "EUR", slice_)],
        threshold_minor=THRESHOLD_EUR,
    )
    assert (p1.payable_minor, p1.closing_minor) == (14000, 0)
    # P2: 8 copies refunded (160.00 of 200.00) → 140.00 x 0.8 = 112.00 clawed back at the
    # 70 % it earned; 30.00 of pool earnings. 30 - 112 = -82.00: carried, nothing paid.
    back = claw_back(
        [slice_], paid_minor=figures.kept_minor, refunded_before_minor=0, refund_minor=16000
    )
    p2 = build_statement(
        currency="EUR",
        opening_minor=p1.closing_minor,
        earnings=[EarningLine("novel", READ, "EUR", 3000)],
        returns=[ReturnLine("novel", SALE, "EUR", back.clawed_minor)],
        threshold_minor=THRESHOLD_EUR,
    )
    assert p2.returns == (WorkTotal("novel", SALE, 11200),)
    assert (p2.payable_minor, p2.closing_minor, p2.status) == (0, -8200, Outcome.CARRIED)
    # P3: 190.00 earned; the debt comes off first: -82 + 190 = 108.00 ≥ 100.00 → paid.
    p3 = build_statement(
        currency="EUR",
        opening_minor=p2.closing_minor,
        earnings=[EarningLine("novel", READ, "EUR", 19000)],
        threshold_minor=THRESHOLD_EUR,
    )
    assert (p3.payable_minor, p3.closing_minor, p3.status) == (10800, 0, Outcome.PAYABLE)


def test_a_debt_is_recovered_before_an_advance_is_recouped() -> None:
    # Opening -50.00 (a refund after a payout), a new 100.00 advance, 60.00 earned:
    # 60.00 first clears the debt, the 10.00 left is recouped (90.00 still unearned);
    # recouping all 60.00 would leave the payee 50.00 in debt for an advance of theirs.
    s = build_statement(
        currency="EUR",
        opening_minor=-5000,
        earnings=[EarningLine("novel", SALE, "EUR", 6000)],
        advance_remaining_minor=10000,
        threshold_minor=THRESHOLD_EUR,
    )
    assert (s.recouped_minor, s.advance_remaining_minor, s.closing_minor) == (1000, 9000, 0)


EUR_EARNINGS = [
    EarningLine("atlas", SALE, "EUR", 1000),
    EarningLine("bestiary", SALE, "EUR", 2000),
]


def test_eur_earnings_on_an_xof_statement() -> None:
    # 10.00 + 20.00 EUR = 30.00 x 655.957 = 19,678.71 XOF → 19,679, converted once;
    # shared back 6,559.57 / 13,119.14 → floors 19,678, the leftover franc to .57
    # (atlas) → 6,560 / 13,119. A sale made in XOF (5,000) is not converted.
    # 24,679 XOF is below 100 EUR's 65,596 XOF: carried.
    s = build_statement(
        currency="XOF",
        opening_minor=0,
        earnings=[*EUR_EARNINGS, EarningLine("atlas", SALE, "XOF", 5000)],
        rates=[ExchangeRate("EUR", "XOF", D("655.957"))],
        threshold_minor=65596,
    )
    assert s.conversions == (Conversion("EUR", 3000, D("655.957"), "XOF", 19679),)
    assert [(line.currency, line.earned_minor, line.amount_minor) for line in s.lines] == [
        ("EUR", 1000, 6560),
        ("XOF", 5000, 5000),
        ("EUR", 2000, 13119),
    ]
    assert s.earnings == (WorkTotal("atlas", SALE, 11560), WorkTotal("bestiary", SALE, 13119))
    assert (s.earnings_minor, s.payable_minor, s.status) == (24679, 0, Outcome.CARRIED)


def test_eur_earnings_and_a_return_on_a_dzd_statement() -> None:
    # 30.00 EUR x 150.3456 = 4,510.368 DZD → 4,510.37; shared 1,503.456 / 3,006.912 →
    # 150,345 + 300,691 = 451,036 c, the leftover centime to .6 (atlas) → 150,346 / 300,691.
    # A 5.00 EUR return, converted on its own at the period's rate: 751.728 → 751.73 DZD.
    s = build_statement(
        currency="DZD",
        opening_minor=0,
        earnings=EUR_EARNINGS,
        returns=[ReturnLine("atlas", SALE, "EUR", 500)],
        rates=[ExchangeRate("EUR", "DZD", D("150.3456"))],
    )
    assert s.conversions == (
        Conversion("EUR", 3000, D("150.3456"), "DZD", 451037),
        Conversion("EUR", 500, D("150.3456"), "DZD", 75173),
    )
    assert [line.amount_minor for line in s.lines] == [150346, 300691]
    assert (s.returns_minor, s.payable_minor) == (75173, 451037 - 75173)


def test_rates_must_be_recorded_and_point_at_the_payout_currency() -> None:
    with pytest.raises(ValidationError) as missing:
        build_statement(currency="XOF", opening_minor=0, earnings=EUR_EARNINGS)
    assert missing.value.code == "MISSING_EXCHANGE_RATE"
    for rates in (
        [ExchangeRate("EUR", "DZD", D("150"))],
        [ExchangeRate("EUR", "XOF", D("655.957")), ExchangeRate("EUR", "XOF", D("656"))],
    ):
        with pytest.raises(ValidationError) as wrong:
            build_statement(currency="XOF", opening_minor=0, earnings=EUR_EARNINGS, rates=rates)
        assert wrong.value.code == "INVALID_EXCHANGE_RATE"


# -- the invariant, as a property ------------------------------------------------------
RATES = {"EUR": D("1"), "XOF": D("0.00152449"), "DZD": D("0.006651"), "KWD": D("2.98")}
lines = st.builds(
    EarningLine,
    work=st.sampled_from(["a", "b", "c"]),
    kind=st.sampled_from(list(TransactionType)),
    currency=st.sampled_from(sorted(RATES)),
    earned_minor=st.integers(0, 10**9),
    units=st.integers(0, 1000),
    basis_minor=st.integers(0, 10**9),
    rate=st.sampled_from([None, D("10"), D("12.5"), D("70")]),
    tier=st.sampled_from([None, 0, 1]),
)
returns = st.builds(
    ReturnLine,
    work=st.sampled_from(["a", "b"]),
    kind=st.sampled_from(list(TransactionType)),
    currency=st.sampled_from(sorted(RATES)),
    clawed_minor=st.integers(0, 10**9),
)


@given(
    st.lists(lines, max_size=8),
    st.lists(returns, max_size=4),
    st.integers(-(10**10), 10**10),
    st.none() | st.builds(ReserveTerms, st.decimals(0, 100, places=2), st.integers(1, 3)),
    st.dictionaries(st.integers(0, 5), st.integers(0, 10**9)),
    st.integers(0, 5),
    st.integers(0, 10**10),
    st.integers(0, 10**6),
)
def test_statement_invariant(
    earnings, returned, opening, reserve, history, period, advance, threshold
) -> None:
    s = build_statement(
        currency="EUR",
        opening_minor=opening,
        earnings=earnings,
        returns=returned,
        rates=[ExchangeRate(c, "EUR", r) for c, r in RATES.items() if c != "EUR"],
        reserve=reserve,
        reserve_history=history,
        period=period,
        advance_remaining_minor=advance,
        threshold_minor=threshold,
    )
    assert s.closing_minor == (
        s.opening_minor
        + s.earnings_minor
        - s.returns_minor
        - s.reserve_withheld_minor
        + s.reserve_released_minor
        - s.recouped_minor
        - s.payable_minor
    )
    # Lines and per-work totals add up to the figures, each currency to its conversion.
    assert sum(line.amount_minor for line in s.lines) == s.earnings_minor
    assert sum(t.amount_minor for t in s.earnings) == s.earnings_minor
    assert sum(t.amount_minor for t in s.returns) == s.returns_minor
    assert sum(line.earned_minor for line in s.lines) == sum(e.earned_minor for e in earnings)
    for c in s.conversions[: len({line.currency for line in s.lines} - {"EUR"})]:
        assert c.to_minor == sum(x.amount_minor for x in s.lines if x.currency == c.from_currency)
    # Recoupment and payout stay in bounds.
    assert 0 <= s.recouped_minor <= advance
    assert s.recouped_minor + s.advance_remaining_minor == advance
    # An advance is recouped only from a positive balance, never into a debt.
    assert s.recouped_minor == 0 or s.closing_minor + s.payable_minor >= 0
    assert s.payable_minor == 0 or (s.payable_minor >= threshold and s.closing_minor == 0)
    assert (s.status is Outcome.PAYABLE) == (s.payable_minor > 0)
