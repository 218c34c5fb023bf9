"""A period's earnings from its facts (pure): worked cases of issue 16."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.royalties.earnings import LineFigures, TransactionType
from domain.royalties.facts import PeriodFacts, ReturnFact, SaleFact
from domain.royalties.period_earnings import History, period_earnings
from domain.royalties.run_inputs import ShareBook
from domain.royalties.terms import parse_terms

SALE, READ = TransactionType.SALE, TransactionType.SUBSCRIPTION_READ
NOV = datetime(2026, 11, 1, tzinfo=UTC)
EMPTY = History({}, {}, {})


def _sale(line: int, work: int, amount: int, units: int = 1, day: int = 1, **figures) -> SaleFact:
    return SaleFact(
        line, work, SALE, "EUR", units, LineFigures(amount, **figures), NOV.replace(day=day)
    )


def _earn(facts, contracts, shares, history=EMPTY, pool_rate=Decimal(100)):
    book = ShareBook(
        (work, date(2026, 1, 1), payee, Decimal(s))
        for work, owners in shares.items()
        for payee, s in owners.items()
    )
    return period_earnings(
        facts,
        contracts={k: parse_terms(v) for k, v in contracts.items()},
        shares_at=book.at,
        history=history,
        pool_rate=pool_rate,
        last_day=date(2026, 11, 30),
    )


def test_seventy_percent_of_a_sale_and_fifty_of_the_pool():
    # Worked case: a 20.00 EUR book sold once, its author on 70 % of sales; the month's
    # subscriptions collected 300.00 EUR net, all of it the pool (pool rate 100 %), and
    # the book had every read, its author on 50 %: 14.00 + 150.00 = 164.00 EUR earned.
    facts = PeriodFacts(
        sales=(_sale(1, 10, 2000),), collected_by_currency={"EUR": 30000}, reads_by_work={10: 42}
    )
    rows = _earn(
        facts,
        {(10, 7): {"SALE": {"rate": "70"}, "SUBSCRIPTION_READ": {"rate": "50"}}},
        {10: {7: "100"}},
    )
    assert [(r.kind, r.amount_minor, r.basis_minor) for r in rows] == [
        (SALE, 1400, 2000),
        (READ, 15000, 30000),
    ]


def test_an_escalator_crossed_in_the_middle_of_the_period():
    # Worked case: 10 % up to 5,000 units, then 12.5 %. 4,990 units were sold before
    # the period; a sale of 20 units at 1.00 EUR crosses the boundary: 10 units at
    # 10 % (1.00 EUR) and 10 at 12.5 % (1.25 EUR); the next sale is all at 12.5 %.
    contract = {
        "SALE": {
            "escalators": [{"upTo": 5000, "rate": "10"}, {"upTo": None, "rate": "12.5"}],
        }
    }
    history = History({(7, 10, SALE): 4990}, {}, {})
    facts = PeriodFacts(sales=(_sale(2, 10, 1000, units=10, day=9), _sale(1, 10, 2000, units=20)))
    rows = _earn(facts, {(10, 7): contract}, {10: {7: "100"}}, history)
    assert [(r.line_id, r.tier, r.units, r.basis_minor, r.amount_minor) for r in rows] == [
        (1, 0, 10, 1000, 100),
        (1, 1, 10, 1000, 125),
        (2, 1, 10, 1000, 125),
    ]


def test_three_contributors_share_a_sale_exactly():
    # Worked case: 33.33 / 33.33 / 33.34 of a 10.00 EUR sale, each at 100 %: the
    # basis splits 333 / 333 / 334 cents (largest remainder) and nothing is lost.
    facts = PeriodFacts(sales=(_sale(1, 10, 1000),))
    contract = {"SALE": {"rate": "100"}}
    rows = _earn(
        facts,
        {(10, 1): contract, (10, 2): contract, (10, 3): contract},
        {10: {1: "33.33", 2: "33.33", 3: "33.34"}},
    )
    assert {r.payee_id: r.amount_minor for r in rows} == {1: 333, 2: 333, 3: 334}
    assert sum(r.amount_minor for r in rows) == 1000


def test_a_pool_split_over_seven_works_whose_reads_do_not_divide_evenly():
    # Worked case: a 100.00 EUR pool over 7 works read 1, 2, 3, 5, 8, 13, 21 times
    # (53 reads). 10,000 x reads / 53 is never whole; largest remainder gives the
    # parts below, which sum to exactly 10,000 cents.
    reads = dict(zip(range(1, 8), (1, 2, 3, 5, 8, 13, 21), strict=True))
    facts = PeriodFacts(collected_by_currency={"EUR": 10000}, reads_by_work=reads)
    contracts = {(w, 100 + w): {"SUBSCRIPTION_READ": {"rate": "100"}} for w in reads}
    rows = _earn(facts, contracts, {w: {100 + w: "100"} for w in reads})
    parts = {r.work_id: r.amount_minor for r in rows}
    # floors 188 377 566 943 1509 2452 3962 leave 3 cents, to the largest remainders
    # (.830, .679, .434: works 6, 1, 5).
    assert parts == {1: 189, 2: 377, 3: 566, 4: 943, 5: 1510, 6: 2453, 7: 3962}
    assert sum(parts.values()) == 10000


def test_a_contributor_without_a_contract_earns_nothing_and_a_licence_earns_its_fee():
    facts = PeriodFacts(
        sales=(
            _sale(1, 10, 5000),
            SaleFact(2, 10, TransactionType.LICENSE, "EUR", 3, LineFigures(90000), NOV),
        )
    )
    rows = _earn(
        facts,
        {(10, 1): {"SALE": {"rate": "50"}, "LICENSE": {"flatFee": {"EUR": 25000}}}},
        {10: {1: "50", 2: "50"}},
    )
    # Payee 2 has a share but no contract: nothing. Payee 1 earns 50 % of its 50 %
    # share of the sale, and its own flat fee per licence, whatever the price.
    assert [(r.payee_id, r.kind, r.amount_minor) for r in rows] == [
        (1, SALE, 1250),
        (1, TransactionType.LICENSE, 75000),
    ]


def test_a_refund_claws_back_at_the_rates_the_line_earned():
    # The line of the escalator case earned 100 (tier 0) + 125 (tier 1) on 20.00 EUR;
    # half of it refunded later takes back 50 + 63 (half-up per slice, cumulative).
    contract = {
        "SALE": {"escalators": [{"upTo": 5000, "rate": "10"}, {"upTo": None, "rate": "12.5"}]}
    }
    first = _earn(
        PeriodFacts(sales=(_sale(1, 10, 2000, units=20),)),
        {(10, 7): contract},
        {10: {7: "100"}},
        History({(7, 10, SALE): 4990}, {}, {}),
    )
    from domain.royalties.earnings import Slice

    slices = {
        (1, 10): {
            7: [
                (
                    SALE,
                    r.line_kept_minor,
                    Slice(r.tier, r.units, r.basis_minor, r.rate, r.amount_minor),
                )
                for r in first
            ]
        }
    }
    refund = ReturnFact(1, 10, 99, "EUR", 1000, datetime(2026, 12, 5, tzinfo=UTC))
    rows = _earn(
        PeriodFacts(returns=(refund, refund)),
        {(10, 7): contract},
        {10: {7: "100"}},
        History({}, slices, {}),
    )
    assert [(r.movement, r.tier, r.amount_minor) for r in rows] == [
        ("return", 0, 50),
        ("return", 1, 63),
        ("return", 0, 50),
        ("return", 1, 62),
    ]
    assert sum(r.amount_minor for r in rows) == 225  # never more than was earned


@given(
    st.lists(st.integers(0, 10**9), min_size=1, max_size=12),
    st.integers(0, 10**12),
)
def test_the_pool_parts_always_sum_to_the_pool(reads, collected):
    works = {i + 1: n for i, n in enumerate(reads)}
    facts = PeriodFacts(collected_by_currency={"EUR": collected}, reads_by_work=works)
    contracts = {(w, 1): {"SUBSCRIPTION_READ": {"rate": "100"}} for w in works}
    rows = _earn(facts, contracts, {w: {1: "100"} for w in works})
    expected = collected if any(reads) else 0
    assert sum(r.amount_minor for r in rows) == expected
