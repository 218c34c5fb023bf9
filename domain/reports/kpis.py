"""The monthly KPI report's figures (issue 17): one calendar month (UTC) of one
tenant, read through the analytics queries (each checks analytics:read) and handed
back as frozen dataclasses to the PDF (`kpi_report.py`), the monthly mail
(`kpi_schedule.py`) and the `stats` command. Nothing here writes or renders.

Per currency, never summed across currencies: the month's MRR point (its movements
and ARR), the customers overview of the month (churn, retention, ARPA, LTV, trial
conversion), the month's cash (invoiced, collected, refunded, success rate, dunning
recovery), receivables at the month's end, the last 12 months of MRR (the chart) and
the cohorts of the last 6 months. Tenant-wide: credits consumed, granted and bought,
usage per metric, and royalties owed to payees at the month's end.

A month may still be in progress (its figures so far); one that has not started is
refused. Receivables and royalties owed are read at the month's end, or now while the
month runs: an instant in the future would age invoices that are not late yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from domain import clock
from domain.analytics.cash import CashPoint, Interval, cash_by_currency, receivables_by_currency
from domain.analytics.credit_usage import CreditsUsage, credits_usage
from domain.analytics.mrr import AGING, CohortRow, Point
from domain.analytics.revenue import CustomersOverview, cohort_table, customers_overview
from domain.analytics.revenue import mrr_series as read_mrr_series
from domain.analytics.royalties_owed import RoyaltiesOwed, royalties_owed
from domain.analytics.usage_metrics import MetricUsage, usage_by_metric
from domain.errors import ValidationError
from domain.money import shown
from domain.tenancy.access import Permission, Principal

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SERIES_MONTHS = 12  # the MRR chart
COHORT_MONTHS = 6
TOP_CONSUMERS = 5


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month in UTC, written "2026-11"."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: object, *, field: str = "month") -> Month:
        found = _MONTH.match(text) if isinstance(text, str) else None
        if found is None or int(found.group(1)) < 1970:
            raise ValidationError(
                f"{shown(text)} is not a month: give YYYY-MM (2026-11)",
                field=field,
                code="INVALID_MONTH",
            )
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, at: datetime) -> Month:
        at = at.astimezone(UTC)
        return cls(at.year, at.month)

    def plus(self, months: int) -> Month:
        year, month = divmod(self.year * 12 + self.month - 1 + months, 12)
        return Month(year, month + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.plus(1).start

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def last_complete_month(now: datetime) -> Month:
    return Month.of(now).plus(-1)


@dataclass(frozen=True, slots=True)
class CurrencyKpis:
    currency: str
    mrr: Point  # the month: MRR at both ends, its movements by kind, ARR
    customers: CustomersOverview | None  # None: no recurring revenue in this currency
    cash: CashPoint
    receivables: tuple[tuple[str, int], ...]  # (aging bucket, amount due), AGING order
    series: tuple[Point, ...]  # the last SERIES_MONTHS months, this one last
    cohorts: tuple[CohortRow, ...]  # customers who first paid in the last COHORT_MONTHS

    @property
    def receivables_total(self) -> int:
        return sum(amount for _, amount in self.receivables)


@dataclass(frozen=True, slots=True)
class MonthlyKpis:
    tenant_id: int
    month: str  # YYYY-MM
    start: datetime
    end: datetime
    as_of: datetime  # receivables and royalties owed: the month's end, or now
    complete: bool  # False while the month runs: its figures so far
    currencies: tuple[CurrencyKpis, ...]  # alphabetical
    credits: CreditsUsage  # tenant-wide, in credits
    usage: tuple[MetricUsage, ...]  # per metric, by code
    royalties: tuple[RoyaltiesOwed, ...]  # per payout currency

    def of(self, currency: str) -> CurrencyKpis | None:
        return next((c for c in self.currencies if c.currency == currency), None)


def _empty_series(currency: str, first: Month, count: int) -> list[Point]:
    return [Point(first.plus(i).start, first.plus(i).end, currency, 0, 0) for i in range(count)]


async def monthly_kpis(principal: Principal, month: str) -> MonthlyKpis:
    """The KPIs of `month` (YYYY-MM, UTC) for the principal's tenant."""
    principal.require(Permission.ANALYTICS_READ)
    chosen = Month.parse(month)
    now = clock.now()
    if chosen.start > now:
        raise ValidationError(
            f"{chosen} has not started yet", field="month", code="MONTH_NOT_STARTED"
        )
    start, end = chosen.start, chosen.end
    as_of = min(end, now)
    first = chosen.plus(1 - SERIES_MONTHS)
    series: dict[str, list[Point]] = {}
    for point in await read_mrr_series(
        principal, start=first.start, end=end, interval=Interval.MONTH
    ):
        series.setdefault(point.currency, []).append(point)
    overviews = {o.currency: o for o in await customers_overview(principal, start=start, end=end)}
    cash = {
        p.currency: p
        for p in await cash_by_currency(principal, start=start, end=end, interval=Interval.MONTH)
    }
    aging = dict(await receivables_by_currency(principal, at=as_of))
    out = []
    for currency in sorted(set(series) | set(cash) | set(aging)):
        points = series.get(currency) or _empty_series(currency, first, SERIES_MONTHS)
        cohorts: list[CohortRow] = []
        if currency in series:
            cohorts = await cohort_table(
                principal,
                start=chosen.plus(1 - COHORT_MONTHS).start,
                end=end,
                currency=currency,
            )
        buckets = aging.get(currency) or {}
        out.append(
            CurrencyKpis(
                currency=currency,
                mrr=points[-1],
                customers=overviews.get(currency),
                cash=cash.get(currency) or CashPoint(start, end, currency, 0, 0, 0, 0, 0),
                receivables=tuple((name, buckets.get(name, 0)) for name in AGING),
                series=tuple(points),
                cohorts=tuple(cohorts),
            )
        )
    credits = await credits_usage(principal, start, end, Interval.MONTH, top=TOP_CONSUMERS)
    return MonthlyKpis(
        tenant_id=principal.tenant_id,
        month=str(chosen),
        start=start,
        end=end,
        as_of=as_of,
        complete=end <= now,
        currencies=tuple(out),
        credits=credits,
        usage=tuple(await usage_by_metric(principal, start, end, Interval.MONTH)),
        royalties=tuple(await royalties_owed(principal, as_of=as_of)),
    )
