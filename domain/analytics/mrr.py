"""Recurring revenue maths (pure; issue 17's foundation): MRR normalised to a month,
movements classified at the customer level, series of points whose movements add up,
and the rates finance asks for. No I/O and no clock: the analytics queries and the
movement log feed it values.

Conventions (ChartMogul's and Baremetrics', written down so each is a choice):

- MRR is per currency, in minor units, never summed across currencies. A price of
  `amount` every `interval_months` months is `amount / interval_months` a month,
  rounded half-up ONCE per subscription (an annual 100.00 EUR is 8.33 EUR; twelve of
  them are 99.96, not 100.00: the reported MRR is what each subscription is worth a
  month, and every sum is then exact in integers).
- Tax is never in MRR; recurring discounts and add-ons are (the caller gives the
  subscription's monthly net); trials and paused subscriptions are 0.
- A movement is classified by the CUSTOMER's MRR in its currency before and after:
  0 → x is new (the first time) or reactivation (after a churn); x → 0 is churn;
  x → y is expansion or contraction. Two subscriptions of one customer moving in one
  change are one movement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from domain.money import div_half_up


def monthly(amount_minor: int, interval_months: int) -> int:
    """A recurring price as MRR: `amount_minor` every `interval_months` months, per
    month, rounded half-up once (annual ÷ 12, quarterly ÷ 3)."""
    if interval_months < 1:
        raise ValueError("an interval is at least one month")
    return div_half_up(amount_minor, interval_months)


class Kind(StrEnum):
    NEW = "new"
    EXPANSION = "expansion"
    CONTRACTION = "contraction"
    CHURN = "churn"
    REACTIVATION = "reactivation"


@dataclass(frozen=True, slots=True)
class Change:
    """A customer's MRR in one currency moving at `at` by `delta` minor units (the sum
    of its subscriptions' changes in one operation)."""

    customer: int
    currency: str
    at: datetime
    delta: int


@dataclass(frozen=True, slots=True)
class Movement:
    customer: int
    currency: str
    at: datetime
    kind: Kind
    before: int
    after: int

    @property
    def amount(self) -> int:
        """Positive for new, expansion and reactivation; negative otherwise."""
        return self.after - self.before


def classify(before: int, after: int, *, churned_before: bool) -> Kind | None:
    """The kind of a customer's move from `before` to `after` (None: no move)."""
    if before < 0 or after < 0:
        raise ValueError("MRR is never negative")
    if before == after:
        return None
    if before == 0:
        return Kind.REACTIVATION if churned_before else Kind.NEW
    if after == 0:
        return Kind.CHURN
    return Kind.EXPANSION if after > before else Kind.CONTRACTION


def movements(
    changes: Iterable[Change],
    opening: Mapping[tuple[int, str], int] | None = None,
    churned: Iterable[tuple[int, str]] = (),
) -> list[Movement]:
    """Changes (in any order) as classified movements, in time order. `opening` is each
    (customer, currency)'s MRR before the first change (0 when absent); `churned` the
    pairs that paid once and were at 0 then (their next 0 → x is a reactivation)."""
    mrr: dict[tuple[int, str], int] = defaultdict(int, opening or {})
    paid_once = set(churned) | {k for k, v in mrr.items() if v > 0}
    out = []
    for c in sorted(changes, key=lambda c: (c.at, c.customer, c.currency)):
        key = (c.customer, c.currency)
        before = mrr[key]
        after = before + c.delta
        kind = classify(before, after, churned_before=key in paid_once)
        mrr[key] = after
        if after > 0:
            paid_once.add(key)
        if kind is not None:
            out.append(Movement(c.customer, c.currency, c.at, kind, before, after))
    return out


@dataclass(frozen=True, slots=True)
class Point:
    """One interval [start, end) of one currency: MRR at both ends and what moved it.
    start + new + expansion + reactivation - contraction - churn = end, always."""

    start: datetime
    end: datetime
    currency: str
    mrr_start: int
    mrr_end: int
    moved: Mapping[Kind, int] = field(default_factory=dict)  # amounts, all positive
    customers_start: int = 0
    customers_end: int = 0
    new_customers: int = 0
    churned_customers: int = 0

    def of(self, kind: Kind) -> int:
        return self.moved.get(kind, 0)

    @property
    def arr_end(self) -> int:
        return 12 * self.mrr_end


def checked(point: Point) -> Point:
    """`point`, once start + new + expansion + reactivation - contraction - churn has
    been found equal to its end (else a ValueError: a movement that does not start
    where MRR stood, or a kind that disagrees with its sign)."""
    balance = (
        point.mrr_start
        + point.of(Kind.NEW)
        + point.of(Kind.EXPANSION)
        + point.of(Kind.REACTIVATION)
        - point.of(Kind.CONTRACTION)
        - point.of(Kind.CHURN)
    )
    if balance != point.mrr_end:
        raise ValueError(
            f"movements of {point.start:%Y-%m-%d} do not add up: {balance} != {point.mrr_end}"
        )
    return point


def series(
    moves: Sequence[Movement],
    boundaries: Sequence[datetime],
    currency: str,
    opening: Mapping[int, int],
) -> list[Point]:
    """Points between consecutive `boundaries` for `currency`: `opening` is each
    customer's MRR at `boundaries[0]`; `moves` are that currency's movements (those
    before the first boundary or from the last one on are ignored)."""
    if len(boundaries) < 2 or list(boundaries) != sorted(boundaries):
        raise ValueError("give at least two boundaries in order")
    mrr = {c: v for c, v in opening.items() if v > 0}
    ordered = sorted(
        (m for m in moves if m.currency == currency and boundaries[0] <= m.at < boundaries[-1]),
        key=lambda m: m.at,
    )
    points, i = [], 0
    for start, end in pairwise(boundaries):
        begin_total, begin_count = sum(mrr.values()), len(mrr)
        moved: dict[Kind, int] = defaultdict(int)
        new = churned = 0
        while i < len(ordered) and ordered[i].at < end:
            m = ordered[i]
            moved[m.kind] += abs(m.amount)
            new += m.kind is Kind.NEW
            churned += m.kind is Kind.CHURN
            if m.after:
                mrr[m.customer] = m.after
            else:
                mrr.pop(m.customer, None)
            i += 1
        point = Point(
            start,
            end,
            currency,
            begin_total,
            sum(mrr.values()),
            dict(moved),
            begin_count,
            len(mrr),
            new,
            churned,
        )
        points.append(checked(point))
    return points


# -- rates ------------------------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def logo_churn_rate(point: Point) -> Decimal | None:
    """Customers lost in the interval / customers at its start (None with none)."""
    return _ratio(point.churned_customers, point.customers_start)


def gross_mrr_churn_rate(point: Point) -> Decimal | None:
    """(Churn + contraction) / MRR at the start."""
    return _ratio(point.of(Kind.CHURN) + point.of(Kind.CONTRACTION), point.mrr_start)


def retention(
    opening: Mapping[int, int], closing: Mapping[int, int]
) -> tuple[Decimal | None, Decimal | None]:
    """(NRR, GRR) of the cohort paying at the start: NRR = its MRR at the end / at the
    start (expansion counts, newcomers do not); GRR the same with each customer capped
    at its starting MRR (only losses count), so GRR <= 1 <= or >= NRR."""
    cohort = {c: v for c, v in opening.items() if v > 0}
    start = sum(cohort.values())
    end = sum(closing.get(c, 0) for c in cohort)
    kept = sum(min(closing.get(c, 0), v) for c, v in cohort.items())
    return _ratio(end, start), _ratio(kept, start)


def arpa(mrr_minor: int, paying_customers: int) -> Decimal | None:
    """Average revenue per account, minor units (two decimals: a fraction of a cent)."""
    if paying_customers == 0:
        return None
    return (Decimal(mrr_minor) / paying_customers).quantize(Decimal("0.01"))


def ltv(arpa_minor: Decimal | None, monthly_revenue_churn: Decimal | None) -> Decimal | None:
    """Lifetime value = ARPA / monthly revenue churn rate (the simple model: a customer
    stays 1 / churn months on average). None when churn is 0 (unbounded) or unknown."""
    if arpa_minor is None or not monthly_revenue_churn:
        return None
    return (arpa_minor / monthly_revenue_churn).quantize(Decimal("0.01"))


# -- receivables --------------------------------------------------------------------------

AGING = ("current", "1-30", "31-60", "61-90", "90+")


def aging(open_invoices: Iterable[tuple[datetime | None, int]], at: datetime) -> dict[str, int]:
    """Amounts still due by days overdue at `at`: not yet due (or no due date) is
    current; a day late is 1-30; then 31-60, 61-90, over 90. Whole days, by time."""
    buckets = dict.fromkeys(AGING, 0)
    for due_at, amount in open_invoices:
        late = 0 if due_at is None or at <= due_at else (at - due_at).days + 1
        if late <= 0:
            name = "current"
        elif late <= 30:
            name = "1-30"
        elif late <= 60:
            name = "31-60"
        elif late <= 90:
            name = "61-90"
        else:
            name = "90+"
        buckets[name] += amount
    return buckets


# -- cohorts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CohortRow:
    cohort: str  # the signup month, YYYY-MM
    customers: int
    retained: tuple[int, ...]  # customers still paying k months after signup, k = 0..
    revenue: tuple[int, ...]  # their MRR then


def cohorts(
    signups: Mapping[int, str], paying: Mapping[tuple[int, str], int], months: Sequence[str]
) -> list[CohortRow]:
    """Retention by signup month: for each cohort (customers who signed up that month),
    how many still pay, and their MRR, in each later month of `months` (ordered
    YYYY-MM). `paying[(customer, month)]` is a customer's MRR at that month's end."""
    by_cohort: dict[str, list[int]] = defaultdict(list)
    for customer, month in signups.items():
        by_cohort[month].append(customer)
    rows = []
    for cohort in sorted(by_cohort):
        if cohort not in months:
            continue
        later = months[months.index(cohort) :]
        members = by_cohort[cohort]
        retained = tuple(sum(paying.get((c, m), 0) > 0 for c in members) for m in later)
        revenue = tuple(sum(paying.get((c, m), 0) for c in members) for m in later)
        rows.append(CohortRow(cohort, len(members), retained, revenue))
    return rows
