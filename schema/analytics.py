"""Revenue analytics types (issue 17): MRR and its movements, customers and rates,
cash, receivables and cohorts. Money is per currency, never summed across
currencies; rates are decimals (0.0500 = 5 %), null where their denominator is 0."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import strawberry

from domain.analytics.cash import CashPoint as CashFigures
from domain.analytics.mrr import AGING, Kind, Point
from domain.analytics.mrr import CohortRow as CohortFigures
from domain.analytics.revenue import CustomersOverview as OverviewFigures
from schema.common import Money, money


@strawberry.enum(description="The length of each point of a series.")
class AnalyticsInterval(enum.StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.type(
    description="One interval of one currency: start + new + expansion + reactivation"
    " - contraction - churn = end, always."
)
class MrrPoint:
    start: datetime
    end: datetime
    currency: str
    mrr_start: Money = strawberry.field(description="MRR at the start of the interval.")
    mrr: Money = strawberry.field(description="MRR at the end of the interval.")
    arr: Money = strawberry.field(description="12 x MRR at the end.")
    new: Money = strawberry.field(description="From customers paying for the first time.")
    expansion: Money
    contraction: Money = strawberry.field(description="Positive: the MRR lost.")
    churn: Money = strawberry.field(description="Positive: the MRR of customers who left.")
    reactivation: Money = strawberry.field(description="From customers who had churned.")
    net_new: Money = strawberry.field(description="End - start.")
    customers_start: int
    customers: int = strawberry.field(description="Paying customers at the end.")
    new_customers: int
    churned_customers: int
    logo_churn_rate: Decimal | None = strawberry.field(
        description="Churned customers / customers paying at the start."
    )
    gross_mrr_churn_rate: Decimal | None = strawberry.field(
        description="(Churn + contraction) / MRR at the start."
    )

    @staticmethod
    def of(point: Point) -> MrrPoint:
        from domain.analytics.mrr import gross_mrr_churn_rate, logo_churn_rate

        cur = point.currency
        return MrrPoint(
            start=point.start,
            end=point.end,
            currency=cur,
            mrr_start=money(point.mrr_start, cur),
            mrr=money(point.mrr_end, cur),
            arr=money(point.arr_end, cur),
            new=money(point.of(Kind.NEW), cur),
            expansion=money(point.of(Kind.EXPANSION), cur),
            contraction=money(point.of(Kind.CONTRACTION), cur),
            churn=money(point.of(Kind.CHURN), cur),
            reactivation=money(point.of(Kind.REACTIVATION), cur),
            net_new=money(point.mrr_end - point.mrr_start, cur),
            customers_start=point.customers_start,
            customers=point.customers_end,
            new_customers=point.new_customers,
            churned_customers=point.churned_customers,
            logo_churn_rate=logo_churn_rate(point),
            gross_mrr_churn_rate=gross_mrr_churn_rate(point),
        )


@strawberry.type(description="Customers and rates over a range, one currency.")
class CustomersOverview:
    currency: str
    start: datetime
    end: datetime
    mrr_start: Money
    mrr: Money = strawberry.field(description="MRR at the end of the range.")
    arr: Money
    paying_start: int
    paying: int = strawberry.field(description="Paying customers at the end.")
    new: int
    churned: int
    reactivated: int
    logo_churn_rate: Decimal | None
    gross_mrr_churn_rate: Decimal | None
    net_revenue_retention: Decimal | None = strawberry.field(
        description="NRR of the customers paying at the start: their MRR at the end / at"
        " the start (expansion counts, newcomers do not)."
    )
    gross_revenue_retention: Decimal | None = strawberry.field(
        description="GRR: as NRR with each customer capped at its starting MRR."
    )
    arpa: Decimal | None = strawberry.field(
        description="MRR per paying customer at the end, in minor units (ARPU: Tally's"
        " accounts are its users)."
    )
    monthly_revenue_churn: Decimal | None = strawberry.field(
        description="Gross MRR churn rate per month of the range (the range's rate ÷ its"
        " length in average months)."
    )
    ltv: Decimal | None = strawberry.field(
        description="ARPA ÷ monthly revenue churn, minor units; null when churn is 0."
    )
    trials_ended: int
    trials_converted: int
    trial_conversion_rate: Decimal | None

    @staticmethod
    def of(o: OverviewFigures) -> CustomersOverview:
        cur = o.currency
        return CustomersOverview(
            currency=cur,
            start=o.start,
            end=o.end,
            mrr_start=money(o.mrr_start, cur),
            mrr=money(o.mrr_end, cur),
            arr=money(o.arr_end, cur),
            paying_start=o.paying_start,
            paying=o.paying_end,
            new=o.new,
            churned=o.churned,
            reactivated=o.reactivated,
            logo_churn_rate=o.logo_churn_rate,
            gross_mrr_churn_rate=o.gross_mrr_churn_rate,
            net_revenue_retention=o.net_revenue_retention,
            gross_revenue_retention=o.gross_revenue_retention,
            arpa=o.arpa,
            monthly_revenue_churn=o.monthly_revenue_churn,
            ltv=o.ltv,
            trials_ended=o.trials_ended,
            trials_converted=o.trials_converted,
            trial_conversion_rate=o.trial_conversion_rate,
        )


@strawberry.type(description="Cash in one interval of one currency.")
class CashPoint:
    start: datetime
    end: datetime
    currency: str
    invoiced: Money = strawberry.field(description="Finalized invoices, tax included.")
    collected: Money = strawberry.field(description="Payments that succeeded.")
    refunded: Money
    net: Money = strawberry.field(description="Collected - refunded.")
    payments_succeeded: int
    payments_failed: int
    payment_success_rate: Decimal | None
    dunning_started: int = strawberry.field(
        description="Invoices whose first payment attempt failed in the interval."
    )
    dunning_recovered: int = strawberry.field(description="Of those, the ones paid since.")
    dunning_recovery_rate: Decimal | None

    @staticmethod
    def of(p: CashFigures) -> CashPoint:
        cur = p.currency
        return CashPoint(
            start=p.start,
            end=p.end,
            currency=cur,
            invoiced=money(p.invoiced_minor, cur),
            collected=money(p.collected_minor, cur),
            refunded=money(p.refunded_minor, cur),
            net=money(p.net_minor, cur),
            payments_succeeded=p.payments_succeeded,
            payments_failed=p.payments_failed,
            payment_success_rate=p.success_rate,
            dunning_started=p.dunning_started,
            dunning_recovered=p.dunning_recovered,
            dunning_recovery_rate=p.recovery_rate,
        )


@strawberry.type(description="Open invoices' amounts due at an instant, by days overdue.")
class Receivables:
    currency: str
    at: datetime
    current: Money = strawberry.field(description="Not yet due.")
    days_1_to_30: Money
    days_31_to_60: Money
    days_61_to_90: Money
    over_90_days: Money
    total: Money

    @staticmethod
    def of(currency: str, at: datetime, buckets: dict[str, int]) -> Receivables:
        values = [money(buckets[name], currency) for name in AGING]
        return Receivables(
            currency=currency,
            at=at,
            current=values[0],
            days_1_to_30=values[1],
            days_31_to_60=values[2],
            days_61_to_90=values[3],
            over_90_days=values[4],
            total=money(sum(buckets.values()), currency),
        )


@strawberry.type(description="The customers who first paid in one month, month by month.")
class CohortRow:
    cohort: str = strawberry.field(description="The month they first paid, YYYY-MM.")
    customers: int
    retained: list[int] = strawberry.field(
        description="Still paying at the end of the cohort month and each month after."
    )
    revenue: list[Money] = strawberry.field(description="Their MRR at each of those ends.")
    retention_rate: list[Decimal] = strawberry.field(description="retained / customers.")

    @staticmethod
    def of(row: CohortFigures, currency: str) -> CohortRow:
        return CohortRow(
            cohort=row.cohort,
            customers=row.customers,
            retained=list(row.retained),
            revenue=[money(v, currency) for v in row.revenue],
            retention_rate=[
                (Decimal(k) / row.customers).quantize(Decimal("0.0001")) for k in row.retained
            ],
        )


@strawberry.type(description="Today (UTC) so far: MRR and what moved it, cash; per currency.")
class MetricsSnapshot:
    at: datetime
    mrr: list[MrrPoint]
    cash: list[CashPoint]
