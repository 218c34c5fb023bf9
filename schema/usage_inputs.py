"""Usage metering inputs: metrics, charges, events, incidents, spending alerts."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, NewType

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.scalars import JSON

from schema.common import MoneyInput, not_null_when_given
from schema.usage_lines import ChargeModel


@strawberry.enum
class MetricAggregation(enum.StrEnum):
    COUNT = "COUNT"
    SUM = "SUM"
    MAX = "MAX"
    UNIQUE_COUNT = "UNIQUE_COUNT"
    LATEST = "LATEST"
    TIME_WEIGHTED_SUM = "TIME_WEIGHTED_SUM"


@strawberry.enum(description="The unit of time a TIME_WEIGHTED_SUM is counted in.")
class TimeUnit(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"


@strawberry.enum(
    description="NONE: exact (only for divisors such as 10^9 or 2^30 whose quotients "
    "terminate); ROUND: half-up; CEIL: every started unit counts; FLOOR: whole units only."
)
class UnitRounding(enum.StrEnum):
    NONE = "none"
    ROUND = "round"
    CEIL = "ceil"
    FLOOR = "floor"


# -- the event timestamp -----------------------------------------------------------------
# Passed through as sent: each event's timestamp is checked with the event (a bad one
# refuses that event, with its index and INVALID_TIMESTAMP), exactly as the bulk
# endpoint checks it, instead of failing the whole request at coercion.
EventTimestamp = NewType("EventTimestamp", object)


def _timestamp_value(value: Any) -> Any:
    return value


def _timestamp_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, IntValueNode):
        return int(node.value) if len(node.value) <= 20 else node.value
    if isinstance(node, FloatValueNode):
        return float(node.value)
    if isinstance(node, StringValueNode):
        return node.value
    return getattr(node, "value", None)


EVENT_TIMESTAMP_SCALAR = strawberry.scalar(
    name="EventTimestamp",
    description='When an event happened: ISO 8601 with a UTC offset ("2027-03-01T12:00:00Z") '
    "or Unix seconds (a number). Checked per event: a bad one refuses that event only.",
    serialize=lambda value: value,
    parse_value=_timestamp_value,
    parse_literal=_timestamp_literal,
)


# -- metrics -----------------------------------------------------------------------------
@strawberry.input(
    description="How a metered value becomes the billed unit: divided by `divisor`, then "
    "rounded to `decimals` places, per event or once on the period's total."
)
class UnitConversionInput:
    divisor: Decimal | None = strawberry.field(
        default=None, description='"1000000000" for bytes → GB, "60" for seconds → minutes.'
    )
    rounding: UnitRounding | None = None
    decimals: int | None = None
    per_event: bool | None = strawberry.field(
        default=None,
        description="Round each event (each call's started minutes) rather than the total.",
    )


@strawberry.input
class CreateBillableMetricInput:
    code: str = strawberry.field(description="What events name in `metricCode`.")
    name: str
    aggregation: MetricAggregation
    description: str | None = strawberry.UNSET
    field_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="The event property read (all but COUNT)."
    )
    dimensions: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Properties that split the metric into groups a charge may filter on.",
    )
    conversion: UnitConversionInput | None = strawberry.UNSET
    time_unit: TimeUnit | None = strawberry.field(
        default=strawberry.UNSET, description="TIME_WEIGHTED_SUM: hours (default) or days."
    )


@strawberry.input(description="What decides amounts never changes; the name and description may.")
class UpdateBillableMetricInput:
    name: str | None = not_null_when_given()
    description: str | None = strawberry.UNSET


# -- charges -----------------------------------------------------------------------------
@strawberry.input(
    description="A charge's terms in one currency, amounts in major units as decimal "
    'strings. PER_UNIT {"unitPrice": "0.0001", "freeUnits": "1000"}; PACKAGE '
    '{"packageSize": 100, "packagePrice": "5"}; GRADUATED and VOLUME {"tiers": [{"upTo": '
    '"1000", "unitPrice": "0.10", "flatFee": "0"}, {"upTo": null, "unitPrice": "0.05"}]}; '
    'PERCENTAGE {"rate": "2.9", "fixedFee": "0.30", "minFee": "0.50", "maxFee": "10"}.'
)
class ChargePriceInput:
    currency: str
    properties: JSON


@strawberry.input(description="Only events whose dimension `key` has one of `values`.")
class ChargeFilterInput:
    key: str
    values: list[str]


@strawberry.input(
    description="A plan's price for a metric. Terms never change once created: to "
    "reprice, archive the charge and create another."
)
class CreateUsageChargeInput:
    plan_id: strawberry.ID
    metric_id: strawberry.ID = strawberry.field(description="bm_… or the metric's code.")
    model: ChargeModel
    prices: list[ChargePriceInput] = strawberry.field(
        description="One per currency of the plan, each currency once."
    )
    filters: list[ChargeFilterInput] | None = strawberry.UNSET
    invoice_display_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="The invoice line's name; the metric's by default."
    )


# -- events ------------------------------------------------------------------------------
@strawberry.input(
    description="One usage event. Give exactly one of customerId and externalCustomerId."
)
class UsageEventInput:
    transaction_id: str = strawberry.field(
        description="Unique per tenant: the same event again is a duplicate, the same id "
        "with another body is refused (TRANSACTION_ID_CONFLICT)."
    )
    metric_code: str
    customer_id: strawberry.ID | None = None
    external_customer_id: str | None = None
    subscription_id: strawberry.ID | None = strawberry.field(
        default=None, description="Needed only when several subscriptions charge the metric."
    )
    timestamp: EventTimestamp | None = strawberry.field(
        default=None, description="When it happened; absent: when it is received."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="The values the metric reads and its dimensions."
    )


def _event_input(cls: type, value: Any, context: Any) -> Any:
    """Build the input straight from the value graphql-core has already coerced:
    Strawberry's generic field-by-field conversion would cost more than storing the
    event in a batch of 1,000 (as for ConsumeCreditsInput)."""
    return cls(
        transaction_id=value["transactionId"],
        metric_code=value["metricCode"],
        customer_id=value.get("customerId"),
        external_customer_id=value.get("externalCustomerId"),
        subscription_id=value.get("subscriptionId"),
        timestamp=value.get("timestamp"),
        properties=value.get("properties"),
    )


UsageEventInput.__strawberry_definition__.from_input = _event_input  # type: ignore[attr-defined]


def event_dict(event: UsageEventInput) -> dict[str, Any]:
    """An event as the domain (and the bulk endpoint) takes it: camelCase keys, the
    fields the caller left out absent."""
    raw: dict[str, Any] = {"transactionId": event.transaction_id, "metricCode": event.metric_code}
    for key, value in (
        ("customerId", event.customer_id),
        ("externalCustomerId", event.external_customer_id),
        ("subscriptionId", event.subscription_id),
        ("timestamp", event.timestamp),
        ("properties", event.properties),
    ):
        if value is not None:
            raw[key] = value
    return raw


# -- incidents and alerts ----------------------------------------------------------------
@strawberry.input
class RecordIncidentInput:
    title: str
    started_at: datetime
    ended_at: datetime
    customer_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="The customers affected; none: every customer."
    )


@strawberry.input(
    description="A threshold on a period's running usage amount, for one customer "
    "(optionally one of its subscriptions) or, without customerId, every customer."
)
class CreateSpendingAlertInput:
    amount: MoneyInput
    customer_id: strawberry.ID | None = strawberry.UNSET
    subscription_id: strawberry.ID | None = strawberry.UNSET


def metric_data(data: dict[str, Any]) -> dict[str, Any]:
    """`data` (the input as `to_data` gives it) with the conversion written as the
    domain reads it (domain/usage/units.py: camelCase keys, the ones given)."""
    conversion = data.get("conversion")
    if conversion is not None:
        names = {"per_event": "perEvent"}
        data["conversion"] = {names.get(k, k): v for k, v in conversion.items() if v is not None}
    return data
