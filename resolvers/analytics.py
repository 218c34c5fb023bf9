"""Revenue analytics (issue 17): thin adapters over domain/analytics, one domain
call each. The `analytics` root field checks the permission once; each family is a
field of the object it returns (api/schema.py binds them)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from domain import clock
from domain.analytics import cash as cash_domain
from domain.analytics import credit_usage, revenue, usage_metrics
from domain.analytics import live as metrics
from domain.analytics import royalties_owed as owed
from domain.analytics.cash import Interval
from domain.tenancy.access import Permission
from resolvers import live
from resolvers.common import query
from schema import analytics as s
from schema import analytics_families as f

COALESCE_SECONDS = 0.2
From = Annotated[datetime, strawberry.argument(name="from", description="Inclusive.")]
To = Annotated[datetime, strawberry.argument(description="Exclusive.")]
Currency = Annotated[
    str | None,
    strawberry.argument(description="One currency; null: each currency apart, never summed."),
]


async def allowed(info: Info) -> None:
    """Admin and analyst keys only (analytics:read)."""

    async def check() -> None:
        info.context.caller.require(Permission.ANALYTICS_READ)

    await query(check)


async def mrr(
    info: Info,
    from_: From,
    to: To,
    interval: s.AnalyticsInterval = s.AnalyticsInterval.MONTH,
    currency: Currency = None,
    reporting_currency: Annotated[
        str | None,
        strawberry.argument(
            description="Convert every currency into this one with the rates recorded"
            " per month (setRoyaltyExchangeRates) and sum them: one series."
        ),
    ] = None,
) -> list[s.MrrPoint]:
    """MRR and its movements per interval, per currency (at most 1,000 points each)."""
    points = await query(
        lambda: revenue.mrr_series(
            info.context.caller,
            start=from_,
            end=to,
            interval=Interval(interval.value),
            currency=currency,
            reporting_currency=reporting_currency,
        )
    )
    return [s.MrrPoint.of(p) for p in points]


async def customers_overview(
    info: Info, from_: From, to: To, currency: Currency = None
) -> list[s.CustomersOverview]:
    """Customers, churn, retention, ARPA, LTV and trial conversion over the range."""
    found = await query(
        lambda: revenue.customers_overview(
            info.context.caller, start=from_, end=to, currency=currency
        )
    )
    return [s.CustomersOverview.of(o) for o in found]


async def cash(
    info: Info,
    from_: From,
    to: To,
    interval: s.AnalyticsInterval = s.AnalyticsInterval.MONTH,
    currency: Currency = None,
) -> list[s.CashPoint]:
    """Invoiced, collected, refunded and net per interval; payment success and dunning
    recovery rates."""
    points = await query(
        lambda: cash_domain.cash_by_currency(
            info.context.caller,
            start=from_,
            end=to,
            interval=Interval(interval.value),
            currency=currency,
        )
    )
    return [s.CashPoint.of(p) for p in points]


async def receivables(
    info: Info,
    at: Annotated[datetime | None, strawberry.argument(description="Default: now.")] = None,
    currency: Currency = None,
) -> list[s.Receivables]:
    """What open invoices still owe, by days overdue (current, 1-30, 31-60, 61-90, 90+)."""
    when = at or clock.now()
    found = await query(
        lambda: cash_domain.receivables_by_currency(info.context.caller, at=when, currency=currency)
    )
    return [s.Receivables.of(cur, when, buckets) for cur, buckets in found]


async def cohorts(
    info: Info,
    from_: From,
    to: To,
    currency: Annotated[str, strawberry.argument(description="The cohort's currency.")],
) -> list[s.CohortRow]:
    """Retention by the month customers first paid: one row per cohort month."""
    rows = await query(
        lambda: revenue.cohort_table(info.context.caller, start=from_, end=to, currency=currency)
    )
    return [s.CohortRow.of(r, currency.upper()) for r in rows]


async def credits_usage(
    info: Info,
    from_: From,
    to: To,
    interval: s.AnalyticsInterval = s.AnalyticsInterval.DAY,
    top: Annotated[int, strawberry.argument(description="Top consumers, 1-100.")] = 10,
) -> f.CreditsUsageReport:
    """Credits consumed per module and interval and per UTC day (at most 1,000 days),
    top consumers, granted vs purchased."""
    found = await query(
        lambda: credit_usage.credits_usage(
            info.context.caller, from_, to, Interval(interval.value), top=top
        )
    )
    return f.CreditsUsageReport.of(found)


async def usage(
    info: Info,
    from_: From,
    to: To,
    interval: s.AnalyticsInterval = s.AnalyticsInterval.DAY,
) -> list[f.MetricUsageReport]:
    """Events (and quantities where they add up) per billable metric and interval."""
    found = await query(
        lambda: usage_metrics.usage_by_metric(
            info.context.caller, from_, to, Interval(interval.value)
        )
    )
    return [f.MetricUsageReport.of(m) for m in found]


async def royalties_owed(
    info: Info,
    as_of: Annotated[
        datetime | None, strawberry.argument(description="Default: everything so far.")
    ] = None,
) -> list[f.RoyaltiesOwedReport]:
    """What the tenant owes its payees per currency: payable, carried, advances."""
    found = await query(lambda: owed.royalties_owed(info.context.caller, as_of))
    return [f.RoyaltiesOwedReport.of(o) for o in found]


async def metrics_updates(info: Info) -> AsyncGenerator[s.MetricsSnapshot, None]:
    """Today's MRR and cash when the subscription opens, then again after they move
    (coalesced: at most about five a second). Admin and analyst keys."""
    live.permit(info, Permission.ANALYTICS_READ)
    caller = info.context.caller

    async def now() -> s.MetricsSnapshot:
        found = await query(lambda: metrics.today(caller, clock.now()))
        return s.MetricsSnapshot(
            at=found.at,
            mrr=[s.MrrPoint.of(p) for p in found.mrr],
            cash=[s.CashPoint.of(p) for p in found.cash],
        )

    async for snapshot in live.refreshed(
        info, metrics.metrics_channel(caller.tenant_id), now, coalesce=COALESCE_SECONDS
    ):
        yield snapshot
