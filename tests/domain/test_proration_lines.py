"""Every line the proration maths produces multiplies out: amount ==
round(quantity * unit amount), on the engine's lines, change prorations, pending
items and stored lines shown again (issue 13, item 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from domain.invoicing.builder import DraftLine, shown_line
from domain.invoicing.issuing import pending_lines
from domain.invoicing.totals import DiscountInput, LineInput, compute_totals
from domain.money import round_minor
from domain.periods import Period
from domain.subscriptions.proration import PricedItem, prorate_change
from domain.subscriptions.proration_lines import proration_draft_lines
from domain.subscriptions.state_machine import period_lines

START = datetime(2026, 1, 31, tzinfo=UTC)
prices = st.integers(min_value=0, max_value=10**9)
seats = st.integers(min_value=1, max_value=100_000)


def multiplies_out(line: DraftLine) -> bool:
    return line.amount_minor == round_minor(Decimal(line.quantity) * line.unit_amount_minor)


items = st.lists(
    st.tuples(st.sampled_from(["plan", "add_on:a", "add_on:b"]), prices, seats),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
).map(lambda rows: [PricedItem(key, key, unit, qty) for key, unit, qty in rows])


@given(items, items, st.integers(min_value=0, max_value=28 * 86400))
def test_change_prorations_multiply_out(old, new, offset) -> None:
    period = Period(START, datetime(2026, 2, 28, tzinfo=UTC))
    at = period.start + timedelta(seconds=offset)
    lines = proration_draft_lines(prorate_change(old, new, period, at), inclusive=False)
    assert all(multiplies_out(line) for line in lines)
    # Pending items are kept as the lines were and come back unchanged.
    rows = [
        SimpleNamespace(
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            amount_minor=line.amount_minor,
            tax_inclusive=False,
            period_start=line.period_start,
            period_end=line.period_end,
        )
        for line in lines
    ]
    assert pending_lines(rows) == lines  # type: ignore[arg-type]


@given(prices, seats, st.integers(min_value=0, max_value=27 * 86400))
def test_a_first_partial_period_multiplies_out(unit, qty, offset) -> None:
    anchor = datetime(2026, 3, 1, tzinfo=UTC)
    start = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(seconds=offset)
    sub = SimpleNamespace(
        billing_anchor=anchor,
        unit_amount_minor=unit,
        quantity=qty,
        add_ons=[
            {"kind": "recurring", "code": "a", "name": "A", "unit_amount_minor": 7, "quantity": 3}
        ],
    )
    plan = SimpleNamespace(name="Seat", interval_months=1, tax_behavior="exclusive")
    _, lines = period_lines(sub, plan, start, first=False)
    assert all(multiplies_out(line) for line in lines)


@given(st.text(min_size=1, max_size=20), seats, prices, prices)
def test_stored_lines_are_shown_multiplying_out(description, qty, unit, amount) -> None:
    _, quantity, shown_unit = shown_line(description, qty, unit, amount)
    assert quantity * shown_unit == amount


@given(
    st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=6),
    st.integers(1, 10_000),
)
def test_a_percent_discount_takes_the_same_share_of_credits_and_charges(amounts, bp) -> None:
    totals = compute_totals([LineInput(a) for a in amounts], DiscountInput(percent_bp=bp), 0)
    charged = sum(a for a in amounts if a > 0)
    credited = -sum(a for a in amounts if a < 0)
    positive = sum(d for d in totals.line_discounts if d > 0)
    negative = -sum(d for d in totals.line_discounts if d < 0)
    assert positive == round_minor_of(charged, bp)
    assert negative == round_minor_of(credited, bp)
    for amount, share in zip(amounts, totals.line_discounts, strict=True):
        assert abs(share) <= abs(amount) and share * amount >= 0


def round_minor_of(base: int, bp: int) -> int:
    return round_minor(Decimal(base) * bp / 10_000)
