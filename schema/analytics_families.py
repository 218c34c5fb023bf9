"""Revenue analytics types for credits, usage and royalties (issue 17): credits are
counted in credits (BigInt), money per currency (Money), usage quantities in the
units the events carry (Decimal)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from domain.analytics.credit_usage import CreditsUsage as CreditFigures
from domain.analytics.royalties_owed import RoyaltiesOwed as OwedFigures
from domain.analytics.usage_metrics import MetricUsage as MetricFigures
from schema.common import BigInt, Money, money


@strawberry.type
class ModuleConsumed:
    module: str
    consumed: BigInt = strawberry.field(description="Net of refunds.")
    refunded: BigInt = strawberry.field(description="Refunds of these consumptions.")


@strawberry.type
class CreditsPoint:
    start: datetime
    end: datetime
    consumed: BigInt
    modules: list[ModuleConsumed] = strawberry.field(
        description="Every module consumed in the range, zeros included, by code."
    )


@strawberry.type
class CreditsDay:
    day: date = strawberry.field(description="A UTC day.")
    consumed: BigInt


@strawberry.type
class TopConsumer:
    customer_id: strawberry.ID
    name: str
    consumed: BigInt


@strawberry.type
class CreditsBought:
    currency: str
    purchases: int
    credits: BigInt
    net: Money = strawberry.field(description="What the top-ups cost, tax excluded.")
    total: Money


@strawberry.type(description="Credits consumed, granted and purchased over a range.")
class CreditsUsageReport:
    start: datetime
    end: datetime
    consumed: BigInt
    refunded: BigInt
    points: list[CreditsPoint]
    days: list[CreditsDay]
    top_consumers: list[TopConsumer]
    allowance: BigInt = strawberry.field(description="Plans' monthly allowances granted.")
    granted: BigInt = strawberry.field(description="Admin grants and promotions.")
    purchased: BigInt = strawberry.field(description="Paid top-ups.")
    expired: BigInt
    bought: list[CreditsBought]

    @staticmethod
    def of(u: CreditFigures) -> CreditsUsageReport:
        return CreditsUsageReport(
            start=u.start,
            end=u.end,
            consumed=u.consumed,
            refunded=u.refunded,
            points=[
                CreditsPoint(
                    start=p.start,
                    end=p.end,
                    consumed=p.consumed,
                    modules=[
                        ModuleConsumed(module=m.module, consumed=m.consumed, refunded=m.refunded)
                        for m in p.modules
                    ],
                )
                for p in u.points
            ],
            days=[CreditsDay(day=d.day, consumed=d.consumed) for d in u.days],
            top_consumers=[
                TopConsumer(
                    customer_id=strawberry.ID(t.customer_id), name=t.name, consumed=t.consumed
                )
                for t in u.top_consumers
            ],
            allowance=u.allowance,
            granted=u.granted,
            purchased=u.purchased,
            expired=u.expired,
            bought=[
                CreditsBought(
                    currency=b.currency,
                    purchases=b.purchases,
                    credits=b.credits,
                    net=money(b.net_minor, b.currency),
                    total=money(b.total_minor, b.currency),
                )
                for b in u.bought
            ],
        )


@strawberry.type
class MetricPoint:
    start: datetime
    end: datetime
    events: int
    quantity: Decimal | None = strawberry.field(
        description="COUNT: events; SUM: the sum; MAX: the greatest; else null."
    )


@strawberry.type(description="A billable metric's events per interval.")
class MetricUsageReport:
    metric_id: strawberry.ID
    code: str
    name: str
    aggregation: str
    archived: bool
    events: int
    quantity: Decimal | None
    points: list[MetricPoint]

    @staticmethod
    def of(m: MetricFigures) -> MetricUsageReport:
        return MetricUsageReport(
            metric_id=strawberry.ID(m.metric_id),
            code=m.code,
            name=m.name,
            aggregation=m.aggregation,
            archived=m.archived,
            events=m.events,
            quantity=m.quantity,
            points=[
                MetricPoint(start=p.start, end=p.end, events=p.events, quantity=p.quantity)
                for p in m.points
            ],
        )


@strawberry.type(description="What the tenant owes its royalty payees, one currency.")
class RoyaltiesOwedReport:
    currency: str
    owed: Money = strawberry.field(description="Payable + carried.")
    payable: Money = strawberry.field(description="Made payable by statements, not paid.")
    awaiting_approval: Money
    approved: Money
    unpaid_statements: int
    carried: Money = strawberry.field(description="Positive balances below the threshold.")
    recoverable: Money = strawberry.field(description="Negative balances carried.")
    advances_outstanding: Money
    reserve_held: Money
    payees: int
    payees_payable: int
    payees_carrying: int
    payees_in_debt: int
    payees_with_advance: int

    @staticmethod
    def of(o: OwedFigures) -> RoyaltiesOwedReport:
        cur = o.currency
        return RoyaltiesOwedReport(
            currency=cur,
            owed=money(o.owed_minor, cur),
            payable=money(o.payable_minor, cur),
            awaiting_approval=money(o.awaiting_approval_minor, cur),
            approved=money(o.approved_minor, cur),
            unpaid_statements=o.unpaid_statements,
            carried=money(o.carried_minor, cur),
            recoverable=money(o.recoverable_minor, cur),
            advances_outstanding=money(o.advances_outstanding_minor, cur),
            reserve_held=money(o.reserve_held_minor, cur),
            payees=o.payees,
            payees_payable=o.payees_payable,
            payees_carrying=o.payees_carrying,
            payees_in_debt=o.payees_in_debt,
            payees_with_advance=o.payees_with_advance,
        )
