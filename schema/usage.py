"""Usage metering types: billable metrics, plan charges and usage terms, the event
log, current usage, incidents, spending alerts, and the mutation payloads.

Metrics, charges, events, incidents and alerts are domain rows read directly (public
ids exposed as `id`); current usage and ingestion reports are built from the
domain's frozen results by the `*_view` functions below.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.usage.current import ChargeUsage as ChargeUsageValue
from domain.usage.current import PeriodUsage
from domain.usage.ingest import IngestReport
from domain.usage.plan_terms import UsageTerms
from schema.billing import Subscription
from schema.catalog import Plan
from schema.common import BigInt, Money, ValidationError, money, result_union
from schema.customers import Customer
from schema.usage_inputs import MetricAggregation, TimeUnit, UnitRounding
from schema.usage_lines import ChargeModel, UsageGroup, UsageTier, plain, tier_view


# -- metrics -----------------------------------------------------------------------------
@strawberry.type(description="Divide by `divisor`, then round to `decimals` places.")
class UnitConversion:
    divisor: Decimal
    rounding: UnitRounding
    decimals: int
    per_event: bool = strawberry.field(
        description="Rounded per event (true) or once on the period's total (false)."
    )


@strawberry.type(description="What events measure, and how a period's events aggregate.")
class BillableMetric:
    public_id: strawberry.ID = strawberry.field(name="id")
    code: str
    name: str
    description: str
    aggregation: MetricAggregation
    field_name: str | None = strawberry.field(description="The event property read.")
    dimensions: list[str]
    time_unit: TimeUnit
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @strawberry.field(description="null: the recorded value is the billed unit.")
    def conversion(self) -> UnitConversion | None:
        stored = self.conversion  # the row's JSON (domain/usage/units.py conversion_json)
        if not stored:
            return None
        return UnitConversion(
            divisor=plain(stored["divisor"]),
            rounding=UnitRounding(stored["rounding"]),
            decimals=stored["decimals"],
            per_event=stored["perEvent"],
        )


# -- charges and a plan's usage terms ----------------------------------------------------
@strawberry.type
class ChargePrice:
    currency: str
    properties: JSON = strawberry.field(
        description="The terms in this currency, every key present (amounts in major units "
        "as decimal strings), as `createUsageCharge` takes them."
    )


@strawberry.type
class ChargeFilter:
    key: str
    values: list[str]


@strawberry.type(description="A plan's price for a metric.")
class UsageCharge:
    public_id: strawberry.ID = strawberry.field(name="id")
    model: ChargeModel
    invoice_display_name: str
    created_at: datetime
    archived_at: datetime | None = strawberry.field(
        description="Archived charges price no new events; their usage so far is still billed."
    )

    @strawberry.field
    def prices(self) -> list[ChargePrice]:
        stored: dict[str, Any] = self.prices  # type: ignore[assignment]
        return [ChargePrice(currency=c, properties=terms) for c, terms in sorted(stored.items())]

    @strawberry.field(description="Only events matching every filter; empty: all of them.")
    def filters(self) -> list[ChargeFilter]:
        stored: dict[str, list[str]] = self.filters or {}  # type: ignore[assignment]
        return [ChargeFilter(key=k, values=v) for k, v in sorted(stored.items())]

    @strawberry.field
    async def metric(self, info: Info) -> BillableMetric:
        return await info.context.loaders.metric_by_id.load(self.metric_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def plan(self, info: Info) -> Plan | None:
        return await info.context.loaders.plan_by_id.load(self.plan_id)  # type: ignore[attr-defined]


@strawberry.type(description="A discount on the period's whole usage once it exceeds `above`.")
class VolumeDiscount:
    above: list[Money] = strawberry.field(description="The threshold, per currency.")
    percent: Decimal


@strawberry.type(description="A credit on the period's usage when uptime falls below `below`.")
class SlaCreditTier:
    below: Decimal = strawberry.field(description="Uptime percent (99.9).")
    credit_percent: Decimal = strawberry.field(
        description="Percent of the period's usage credited."
    )


@strawberry.type(description="A plan's usage terms beyond its charges; empty lists: none.")
class PlanUsageTerms:
    minimum_commitment: list[Money] = strawberry.field(
        description="Per period: a true-up line bills the shortfall."
    )
    volume_discounts: list[VolumeDiscount]
    sla_credits: list[SlaCreditTier]


def usage_terms_view(stored: dict[str, Any] | None) -> PlanUsageTerms:
    terms = UsageTerms.of(stored)
    return PlanUsageTerms(
        minimum_commitment=[money(v, c) for c, v in sorted(terms.minimum.items())],
        volume_discounts=[
            VolumeDiscount(
                above=[money(v, c) for c, v in sorted(above.items())], percent=plain(percent)
            )
            for above, percent in terms.discounts
        ],
        sla_credits=[
            SlaCreditTier(below=plain(t.below), credit_percent=plain(t.credit_percent))
            for t in terms.sla
        ],
    )


# -- current usage and the event log -----------------------------------------------------
@strawberry.type
class UsageMetricRef:
    code: str
    name: str


@strawberry.type(description="One charge's usage so far in the open period, priced.")
class ChargeUsage:
    charge_id: strawberry.ID
    invoice_display_name: str
    model: ChargeModel
    metric: UsageMetricRef
    units: Decimal = strawberry.field(description="The quantity (after conversion).")
    billed_units: Decimal = strawberry.field(
        description="What is priced: units after free units (PERCENTAGE: the amount the "
        "rate applies to)."
    )
    exact_amount: Decimal = strawberry.field(description="Major units, before the one rounding.")
    events: BigInt
    amount: Money = strawberry.field(description="Rounded once, half-up, as it will be billed.")
    unit_price: Decimal | None = strawberry.field(
        description="When one price applies to every unit (per unit; volume's reached tier)."
    )
    tiers: list[UsageTier]
    groups: list[UsageGroup] = strawberry.field(description="Per dimension group, if any.")


@strawberry.type(description="A subscription's usage so far in its open period.")
class CurrentUsage:
    subscription: Subscription
    currency: str
    period_start: datetime
    period_end: datetime
    amount: Money = strawberry.field(description="The total of the charges.")
    charges: list[ChargeUsage]


def _charge_usage(c: ChargeUsageValue, currency: str) -> ChargeUsage:
    priced = c.priced
    return ChargeUsage(
        charge_id=strawberry.ID(c.charge.public_id),
        invoice_display_name=c.charge.display_name,
        model=ChargeModel(c.charge.model),
        metric=UsageMetricRef(code=c.charge.metric.code, name=c.charge.metric.name),
        units=plain(c.units),
        billed_units=plain(priced.units),
        exact_amount=plain(priced.amount),
        events=c.events,  # type: ignore[arg-type]
        amount=money(c.amount_minor, currency),
        unit_price=plain(priced.unit_price),
        tiers=[
            tier_view(p.from_units, p.to_units, p.units, p.unit_price, p.flat_fee, p.amount)
            for p in priced.parts
        ],
        groups=[
            UsageGroup(group=g.group, units=plain(g.units), amount=money(g.amount_minor, currency))
            for g in c.groups
        ],
    )


def current_usage_view(usage: PeriodUsage) -> CurrentUsage:
    return CurrentUsage(
        subscription=usage.subscription,
        currency=usage.currency,
        period_start=usage.start,
        period_end=usage.end,
        amount=money(usage.amount_minor, usage.currency),
        charges=[_charge_usage(c, usage.currency) for c in usage.charges],
    )


@strawberry.type(description="A stored usage event (events are append-only).")
class MeteredEvent:
    transaction_id: str
    timestamp: datetime
    properties: JSON

    @strawberry.field(description="When Tally stored it.")
    def received_at(self) -> datetime:
        return self.created_at  # type: ignore[attr-defined]

    @strawberry.field
    async def metric(self, info: Info) -> BillableMetric:
        return await info.context.loaders.metric_by_id.load(self.metric_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        return await info.context.loaders.subscription_by_id.load(self.subscription_id)  # type: ignore[attr-defined]


# -- incidents and spending alerts -------------------------------------------------------
@strawberry.type(description="An outage; each customer's monthly uptime is computed from them.")
class Incident:
    public_id: strawberry.ID = strawberry.field(name="id")
    title: str
    started_at: datetime
    ended_at: datetime
    created_at: datetime

    @strawberry.field
    def affects_every_customer(self) -> bool:
        return not self.customer_ids  # type: ignore[attr-defined]

    @strawberry.field(
        description="The customers it affected (empty when it affected every customer); "
        "a customer token sees only itself among them."
    )
    async def customers(self, info: Info) -> list[Customer]:
        ids: list[int] = list(self.customer_ids or [])  # type: ignore[attr-defined]
        own = info.context.caller.customer_id
        if own is not None:
            ids = [i for i in ids if i == own]
        found = await info.context.loaders.customer_by_id.load_many(ids)
        return [c for c in found if c is not None]


@strawberry.type(
    description="A threshold on a period's running usage amount: crossing it sends "
    "`usage.threshold_reached` (webhook and live event), once per period."
)
class SpendingAlert:
    public_id: strawberry.ID = strawberry.field(name="id")
    created_at: datetime

    @strawberry.field
    def amount(self) -> Money:
        return money(self.amount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field(description="null: every customer of the tenant.")
    async def customer(self, info: Info) -> Customer | None:
        if self.customer_id is None:  # type: ignore[attr-defined]
            return None
        return await info.context.loaders.customer_by_id.load(self.customer_id)  # type: ignore[attr-defined]

    @strawberry.field(description="null: each of the customer's subscriptions.")
    async def subscription(self, info: Info) -> Subscription | None:
        if self.subscription_id is None:  # type: ignore[attr-defined]
            return None
        return await info.context.loaders.subscription_by_id.load(self.subscription_id)  # type: ignore[attr-defined]


# -- payloads ----------------------------------------------------------------------------
@strawberry.enum
class UsageEventStatus(enum.StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"


@strawberry.type
class UsageEventResult:
    index: int = strawberry.field(description="The event's position in `events`, from 0.")
    transaction_id: str | None
    status: UsageEventStatus
    error: ValidationError | None = strawberry.field(description="Why it was refused.")


@strawberry.type
class IngestUsageEventsSuccess:
    accepted: int
    duplicates: int = strawberry.field(description="Sent before with the same body: unchanged.")
    rejected: int = strawberry.field(description="Refused; nothing of them is stored.")
    results: list[UsageEventResult] = strawberry.field(
        description="Each event that was not accepted (duplicates and refusals), in the "
        "order sent; an accepted event has no entry, so a clean batch has none."
    )


def ingest_view(report: IngestReport) -> IngestUsageEventsSuccess:
    def error(e: Any) -> ValidationError | None:
        return None if e is None else ValidationError(code=e.code, message=e.message, field=e.field)

    return IngestUsageEventsSuccess(
        accepted=report.count("ACCEPTED"),
        duplicates=report.count("DUPLICATE"),
        rejected=report.count("REJECTED"),
        results=[
            UsageEventResult(
                index=o.index,
                transaction_id=o.transaction_id,
                status=UsageEventStatus(o.status),
                error=error(o.error),
            )
            for o in report.outcomes
            if o.status != "ACCEPTED"
        ],
    )


@strawberry.type
class BillableMetricSuccess:
    metric: BillableMetric


@strawberry.type
class UsageChargeSuccess:
    charge: UsageCharge


@strawberry.type
class PlanUsageTermsSuccess:
    plan_key: strawberry.Private[int]
    usage_terms: PlanUsageTerms

    @strawberry.field
    async def plan(self, info: Info) -> Plan | None:
        return await info.context.loaders.plan_by_id.load(self.plan_key)


@strawberry.type
class IncidentSuccess:
    incident: Incident


@strawberry.type
class SpendingAlertSuccess:
    spending_alert: SpendingAlert


BillableMetricResult = result_union("BillableMetricResult", BillableMetricSuccess)
UsageChargeResult = result_union("UsageChargeResult", UsageChargeSuccess)
PlanUsageTermsResult = result_union("PlanUsageTermsResult", PlanUsageTermsSuccess)
IngestUsageEventsResult = result_union("IngestUsageEventsResult", IngestUsageEventsSuccess)
IncidentResult = result_union("IncidentResult", IncidentSuccess)
SpendingAlertResult = result_union("SpendingAlertResult", SpendingAlertSuccess)
