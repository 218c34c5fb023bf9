"""MRR, customers and cohorts over the movement log (issue 17): read-only queries that
hand sums to the pure maths of domain/analytics/mrr.py.

Any past interval is a sum over the log: a currency's MRR at an instant is the sum of
every movement before it, its paying customers the sum of `customers_delta`. A series
whose boundaries are UTC midnights (DAY, WEEK or MONTH from a midnight) reads the
daily sums written with the log (`mrr_daily`: a few rows a day, whatever the volume);
any other boundaries read the log itself: on PostgreSQL one statement sums per
interval, currency and kind (`width_bucket` over the boundaries; interval 0 is
everything before the range, the opening), on SQLite the rows are summed in Python.
Both give the same figures (tests/domain/analytics/test_movement_log.py).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import pairwise

from tortoise.functions import Sum

from db.analytics_models import MrrDaily, MrrMovement
from db.models import Customer, Subscription
from db.raw import fetch, is_postgres
from domain.analytics.buckets import numbered, stamp, whole
from domain.analytics.cash import Interval, boundaries
from domain.analytics.mrr import (
    CohortRow,
    Kind,
    Point,
    arpa,
    checked,
    cohorts,
    gross_mrr_churn_rate,
    logo_churn_rate,
    ltv,
    retention,
)
from domain.analytics.reporting_currency import convert, rates_for
from domain.money import normalise_currency
from domain.tenancy.access import Permission, Principal

_DAILY_PG = """
SELECT currency, width_bucket(day, $2::date[]) AS bucket, kind,
       SUM(amount_minor) AS amount, SUM(customers) AS customers
FROM mrr_daily
WHERE tenant_id = $1 AND day < $3 {currency}
GROUP BY 1, 2, 3
"""
_SUMS_PG = """
SELECT currency, width_bucket(occurred_at, $2::timestamptz[]) AS bucket, kind,
       SUM(subscription_mrr_after - subscription_mrr_before) AS amount,
       SUM(customers_delta) AS customers
FROM mrr_movement
WHERE tenant_id = $1 AND occurred_at < $3 {currency}
GROUP BY 1, 2, 3
"""


def _midnights(bounds: Sequence[datetime]) -> list[date] | None:
    """The boundaries as UTC days when every one is a UTC midnight, else None."""
    days = []
    for bound in bounds:
        at = bound.astimezone(UTC)
        if at.time() != time(0):
            return None
        days.append(at.date())
    return days


async def _daily_sums(
    tenant_id: int, days: Sequence[date], currency: str | None
) -> dict[str, dict[tuple[int, str | None], tuple[int, int]]]:
    """`_sums` from the daily sums (boundaries at UTC midnights). On PostgreSQL one
    statement groups them per interval (`width_bucket` over the days); on SQLite the
    opening is grouped in SQL and the range's few rows a day are summed here."""
    out: dict[str, dict[tuple[int, str | None], tuple[int, int]]] = defaultdict(dict)
    if is_postgres(MrrDaily._meta.db):
        params: list = [tenant_id, list(days), days[-1]]
        where = ""
        if currency:
            where, params = "AND currency = $4", [*params, currency]
        for row in await fetch(MrrDaily, _DAILY_PG.format(currency=where), params):
            key = (row["bucket"], row["kind"] or None)
            out[row["currency"]][key] = (int(row["amount"]), int(row["customers"]))
        return dict(out)
    query = MrrDaily.filter(tenant_id=tenant_id)
    if currency:
        query = query.filter(currency=currency)
    opening = (
        await query.filter(day__lt=days[0])
        .annotate(amount=Sum("amount_minor"), counted=Sum("customers"))
        .group_by("currency", "kind")
        .values_list("currency", "kind", "amount", "counted")
    )
    for cur, kind, amount, counted in opening:
        out[cur][(0, kind or None)] = (int(amount or 0), int(counted or 0))
    for cur, day, kind, amount, counted in await query.filter(
        day__gte=days[0], day__lt=days[-1]
    ).values_list("currency", "day", "kind", "amount_minor", "customers"):
        key = (bisect.bisect_right(days, day), kind or None)
        was = out[cur].get(key, (0, 0))
        out[cur][key] = (was[0] + amount, was[1] + counted)
    return dict(out)


async def _sums(
    tenant_id: int, bounds: Sequence[datetime], currency: str | None
) -> dict[str, dict[tuple[int, str | None], tuple[int, int]]]:
    """Per currency: (interval, kind) → (amount, customers); interval 0 is everything
    before the range. From the daily sums when the boundaries are UTC midnights (any
    DAY, WEEK or MONTH series from a midnight), else from the log itself."""
    days = _midnights(bounds)
    if days is not None:
        return await _daily_sums(tenant_id, days, currency)
    return await _log_sums(tenant_id, bounds, currency)


async def _log_sums(
    tenant_id: int, bounds: Sequence[datetime], currency: str | None
) -> dict[str, dict[tuple[int, str | None], tuple[int, int]]]:
    out: dict[str, dict[tuple[int, str | None], list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    conn = MrrMovement._meta.db
    if is_postgres(conn):
        params: list = [tenant_id, list(bounds), bounds[-1]]
        where = ""
        if currency:
            where, params = "AND currency = $4", [*params, currency]
        for row in await fetch(MrrMovement, _SUMS_PG.format(currency=where), params):
            cell = out[row["currency"]][(row["bucket"], row["kind"])]
            cell[0] += int(row["amount"])
            cell[1] += int(row["customers"])
    else:
        query = MrrMovement.filter(tenant_id=tenant_id, occurred_at__lt=bounds[-1])
        if currency:
            query = query.filter(currency=currency)
        for cur, at, kind, before, after, counted in await query.values_list(
            "currency",
            "occurred_at",
            "kind",
            "subscription_mrr_before",
            "subscription_mrr_after",
            "customers_delta",
        ):
            bucket = bisect.bisect_right(bounds, at.astimezone(UTC))
            cell = out[cur][(bucket, kind)]
            cell[0] += after - before
            cell[1] += counted
    return {cur: {k: (v[0], v[1]) for k, v in cells.items()} for cur, cells in out.items()}


def points(
    bounds: Sequence[datetime],
    currency: str,
    sums: dict[tuple[int, str | None], tuple[int, int]],
) -> list[Point]:
    """The points of one currency from its sums: MRR and paying customers carried from
    the opening, each interval's movements by kind (pure)."""
    by_bucket: dict[int, dict[str | None, tuple[int, int]]] = defaultdict(dict)
    for (bucket, kind), cell in sums.items():
        by_bucket[bucket][kind] = cell
    opening = by_bucket.get(0, {})
    mrr = sum(amount for amount, _ in opening.values())
    paying = sum(count for _, count in opening.values())
    out = []
    for i in range(1, len(bounds)):
        cells = by_bucket.get(i, {})
        moved = {Kind(kind): abs(amount) for kind, (amount, _) in cells.items() if kind and amount}
        counts = {kind: count for kind, (_, count) in cells.items()}
        delta = sum(amount for amount, _ in cells.values())
        point = Point(
            bounds[i - 1],
            bounds[i],
            currency,
            mrr,
            mrr + delta,
            moved,
            paying,
            paying + sum(counts.values()),
            counts.get(Kind.NEW.value, 0),
            -counts.get(Kind.CHURN.value, 0),
        )
        out.append(checked(point))
        mrr, paying = point.mrr_end, point.customers_end
    return out


async def mrr_series(
    principal: Principal,
    *,
    start: datetime,
    end: datetime,
    interval: Interval,
    currency: str | None = None,
    reporting_currency: str | None = None,
) -> list[Point]:
    """MRR and its movements per interval of [start, end), per currency (each
    currency's points in time order, currencies in alphabetical order); with
    `reporting_currency`, one series of every currency converted into it with the
    tenant's recorded rates (domain/analytics/reporting_currency.py)."""
    principal.require(Permission.ANALYTICS_READ)
    bounds = boundaries(start, end, interval)
    currency = normalise_currency(currency) if currency else None
    found = await _sums(principal.tenant_id, bounds, currency)
    if currency and currency not in found:
        found[currency] = {}
    series = [p for cur in sorted(found) for p in points(bounds, cur, found[cur])]
    if reporting_currency is None:
        return series
    to = normalise_currency(reporting_currency, field="reportingCurrency")
    if not series:
        return [Point(a, b, to, 0, 0) for a, b in pairwise(bounds)]
    return convert(series, to, await rates_for(principal.tenant_id, series, to))


@dataclass(frozen=True, slots=True)
class CustomersOverview:
    currency: str
    start: datetime
    end: datetime
    mrr_start: int
    mrr_end: int
    paying_start: int
    paying_end: int
    new: int
    churned: int
    reactivated: int
    logo_churn_rate: Decimal | None
    gross_mrr_churn_rate: Decimal | None
    net_revenue_retention: Decimal | None  # of the customers paying at the start
    gross_revenue_retention: Decimal | None
    arpa: Decimal | None  # MRR per paying customer at the end, minor units
    monthly_revenue_churn: Decimal | None  # gross MRR churn per month of the range
    ltv: Decimal | None  # ARPA / monthly revenue churn; None when churn is 0
    trials_ended: int
    trials_converted: int

    @property
    def arr_end(self) -> int:
        return 12 * self.mrr_end

    @property
    def trial_conversion_rate(self) -> Decimal | None:
        if self.trials_ended == 0:
            return None
        return (Decimal(self.trials_converted) / self.trials_ended).quantize(Decimal("0.0001"))


_AVERAGE_MONTH_DAYS = Decimal("30.436875")  # 365.2425 / 12


async def customers_overview(
    principal: Principal, *, start: datetime, end: datetime, currency: str | None = None
) -> list[CustomersOverview]:
    """Customers and rates over [start, end) as one interval, per currency."""
    principal.require(Permission.ANALYTICS_READ)
    bounds = boundaries(start, end, Interval.DAY if (end - start).days < 1 else Interval.MONTH)
    bounds = [bounds[0], bounds[-1]]
    currency = normalise_currency(currency) if currency else None
    found = await _sums(principal.tenant_id, bounds, currency)
    if currency and currency not in found:
        found[currency] = {}
    tenant = principal.tenant_id
    opening, closing = await _per_customer(tenant, start, end, currency)
    converted = await _converted(tenant, start, end)
    ended = await _trials_ended(tenant, start, end)
    months = Decimal((end - start).total_seconds()) / (_AVERAGE_MONTH_DAYS * 86400)
    out = []
    for cur in sorted(found):
        (point,) = points(bounds, cur, found[cur])
        nrr, grr = retention(opening[cur], closing[cur])
        gross = gross_mrr_churn_rate(point)
        monthly_churn = (gross / months).quantize(Decimal("0.0001")) if gross else gross
        average = arpa(point.mrr_end, point.customers_end)
        out.append(
            CustomersOverview(
                cur,
                start,
                end,
                point.mrr_start,
                point.mrr_end,
                point.customers_start,
                point.customers_end,
                point.new_customers,
                point.churned_customers,
                _reactivated(found[cur]),
                logo_churn_rate(point),
                gross,
                nrr,
                grr,
                average,
                monthly_churn,
                ltv(average, monthly_churn),
                ended.get(cur, 0),
                converted.get(cur, 0),
            )
        )
    return out


_PER_CUSTOMER = """
SELECT currency, customer_id,
       SUM(CASE WHEN occurred_at < {start} THEN subscription_mrr_after - subscription_mrr_before
           ELSE 0 END) AS opening,
       SUM(subscription_mrr_after - subscription_mrr_before) AS closing
FROM mrr_movement
WHERE tenant_id = {tenant} AND occurred_at < {end} {currency}
GROUP BY currency, customer_id
"""


async def _per_customer(
    tenant_id: int, start: datetime, end: datetime, currency: str | None
) -> tuple[dict[str, dict[int, int]], dict[str, dict[int, int]]]:
    """Each customer's MRR per currency at `start` and at `end`, summed in SQL (one row
    per customer, not one per movement)."""
    conn = MrrMovement._meta.db
    values = {"tenant": tenant_id, "start": stamp(conn, start), "end": stamp(conn, end)}
    where = ""
    if currency:
        where, values["currency"] = "AND currency = {currency}", currency
    sql, params = numbered(_PER_CUSTOMER.replace("{currency}", where), values)
    opening: dict[str, dict[int, int]] = defaultdict(dict)
    closing: dict[str, dict[int, int]] = defaultdict(dict)
    for row in await fetch(MrrMovement, sql, params):
        opening[row["currency"]][row["customer_id"]] = whole(row["opening"])
        closing[row["currency"]][row["customer_id"]] = whole(row["closing"])
    return opening, closing


def _reactivated(sums: dict[tuple[int, str | None], tuple[int, int]]) -> int:
    return sum(
        count
        for (bucket, kind), (_, count) in sums.items()
        if bucket == 1 and kind == "reactivation"
    )


async def _converted(tenant_id: int, start: datetime, end: datetime) -> dict[str, int]:
    rows = await MrrMovement.filter(
        tenant_id=tenant_id, cause="trial_converted", occurred_at__gte=start, occurred_at__lt=end
    ).values_list("currency", "subscription_id")
    found: dict[str, set[int]] = defaultdict(set)
    for cur, sub in rows:
        found[cur].add(sub)
    return {cur: len(subs) for cur, subs in found.items()}


async def _trials_ended(tenant_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Trials whose end fell in the range (converted or not; one canceled during its
    trial ends then too)."""
    rows = await Subscription.filter(
        tenant_id=tenant_id, trial_start__isnull=False, trial_end__gte=start, trial_end__lt=end
    ).values_list("currency", "status", "trial_end", "ended_at")
    found: dict[str, int] = defaultdict(int)
    for cur, status, _trial_end, _ended in rows:
        if status != "trialing":  # still trialing: its end is yet to come
            found[cur] += 1
    return found


async def cohort_table(
    principal: Principal, *, start: datetime, end: datetime, currency: str
) -> list[CohortRow]:
    """Retention by the month a customer first paid (in `currency`), for the months of
    [start, end): customers still paying and their MRR at each month's end."""
    principal.require(Permission.ANALYTICS_READ)
    currency = normalise_currency(currency)
    bounds = boundaries(start, end, Interval.MONTH)
    months = [f"{b:%Y-%m}" for b in bounds[:-1]]
    rows = (
        await MrrMovement.filter(
            tenant_id=principal.tenant_id, currency=currency, occurred_at__lt=end
        )
        .order_by("occurred_at", "id")
        .values_list(
            "customer_id",
            "occurred_at",
            "kind",
            "subscription_mrr_before",
            "subscription_mrr_after",
        )
    )
    signups: dict[int, str] = {}
    mrr: dict[int, int] = defaultdict(int)
    paying: dict[tuple[int, str], int] = {}
    index = 0
    for i, month in enumerate(months):
        while index < len(rows) and rows[index][1] < bounds[i + 1]:
            customer, at, kind, before, after = rows[index]
            if kind == Kind.NEW.value and customer not in signups:
                signups[customer] = f"{at.astimezone(UTC):%Y-%m}"
            mrr[customer] += after - before
            index += 1
        for customer, value in mrr.items():
            if value:
                paying[(customer, month)] = value
    return cohorts(signups, paying, months)


async def customer_names(tenant_id: int, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Public id and name of customers (for the tables that list them)."""
    rows = await Customer.filter(tenant_id=tenant_id, id__in=list(ids)).values_list(
        "id", "public_id", "name"
    )
    return {i: (p, n) for i, p, n in rows}
