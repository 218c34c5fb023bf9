"""MRR points converted to one reporting currency with the tenant's recorded rates
(issue 17): the exchange rates it records per month (`setRoyaltyExchangeRates`, one
table for both uses), `1 from = rate to`.

Each currency's point is converted at the rate of the month the point starts in:
MRR at the start and each movement, each rounded half-up once to the reporting
currency's minor unit, then summed over currencies; MRR at the end is the converted
start plus the converted movements, so start + new + expansion + reactivation -
contraction - churn = end holds in the converted point too (converting the end on
its own could differ by rounding). Customer counts are summed: a customer paying in
two currencies counts twice. A missing rate is an error naming every missing pair,
never a silent 1:1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

from db.royalty_models import RoyaltyExchangeRate
from domain.analytics.mrr import Kind, Point
from domain.currencies import EXPONENTS
from domain.errors import BillingError


class MissingExchangeRate(BillingError):
    code = "MISSING_EXCHANGE_RATE"


def _month(point: Point) -> str:
    return f"{point.start.astimezone(UTC):%Y-%m}"


async def rates_for(
    tenant_id: int, points: Sequence[Point], to: str
) -> dict[tuple[str, str], Decimal]:
    """(month, from currency) → rate to `to`, for every point not already in `to`."""
    needed = {(_month(p), p.currency) for p in points if p.currency != to}
    if not needed:
        return {}
    rows = await RoyaltyExchangeRate.filter(
        tenant_id=tenant_id,
        to_currency=to,
        period__in=sorted({m for m, _ in needed}),
        from_currency__in=sorted({c for _, c in needed}),
    ).values_list("period", "from_currency", "rate")
    found = {(period, cur): Decimal(rate) for period, cur, rate in rows}
    missing = sorted(needed - found.keys())
    if missing:
        pairs = ", ".join(f"{cur}→{to} {month}" for month, cur in missing)
        raise MissingExchangeRate(
            f"record the exchange rates first: {pairs}", field="reportingCurrency"
        )
    return found


def convert(points: Sequence[Point], to: str, rates: dict[tuple[str, str], Decimal]) -> list[Point]:
    """The points of every currency as one series in `to` (pure)."""
    step = EXPONENTS[to]

    def into(amount: int, point: Point) -> int:
        if point.currency == to:
            return amount
        rate = rates[(_month(point), point.currency)]
        exact = Decimal(amount).scaleb(-EXPONENTS[point.currency]) * rate
        return int(exact.scaleb(step).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    grouped: dict[tuple, list[Point]] = defaultdict(list)
    for point in points:
        grouped[(point.start, point.end)].append(point)
    out = []
    for (start, end), same in sorted(grouped.items()):
        mrr_start = sum(into(p.mrr_start, p) for p in same)
        moved = {
            kind: sum(into(p.of(kind), p) for p in same)
            for kind in Kind
            if any(p.of(kind) for p in same)
        }
        delta = sum(
            v if kind in (Kind.NEW, Kind.EXPANSION, Kind.REACTIVATION) else -v
            for kind, v in moved.items()
        )
        out.append(
            Point(
                start,
                end,
                to,
                mrr_start,
                mrr_start + delta,
                moved,
                sum(p.customers_start for p in same),
                sum(p.customers_end for p in same),
                sum(p.new_customers for p in same),
                sum(p.churned_customers for p in same),
            )
        )
    return out
