"""How metered usage is broken down on the wire: the tiers and dimension groups of a
charge's usage (shared by `currentUsage` and invoice lines), and an invoice line's
usage details.

Quantities and unit prices are decimal strings (the `Decimal` scalar), written
plainly ("0.0000001", never "1E-7"); amounts of money are `Money` (minor units).
"""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.usage.charge_terms import decimal_text
from schema.billing_enums import LineKind
from schema.common import BigInt, Money, money


@strawberry.enum(description="How a usage charge prices its quantity.")
class ChargeModel(enum.StrEnum):
    PER_UNIT = "PER_UNIT"
    PACKAGE = "PACKAGE"
    GRADUATED = "GRADUATED"
    VOLUME = "VOLUME"
    PERCENTAGE = "PERCENTAGE"


def plain(value: Any) -> Any:
    """A Decimal (or its text) as plain decimal digits, for a `Decimal` field; None
    stays None. The value is a string: the scalar serialises it as it is."""
    if value is None:
        return None
    try:
        return decimal_text(Decimal(str(value)))
    except InvalidOperation:  # stored details are written by the domain; never expected
        return str(value)


@strawberry.type(
    description="One tier's share of a tiered charge (graduated: each tier entered; "
    "volume: the tier the total reached). Exact, in major units: only the line's total "
    "is rounded."
)
class UsageTier:
    from_units: Decimal = strawberry.field(description="Units above this bound fall in it.")
    to_units: Decimal | None = strawberry.field(
        description="Its inclusive upper bound; null for the unbounded last tier."
    )
    units: Decimal = strawberry.field(description="Units billed in this tier.")
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal = strawberry.field(description="units x unitPrice + flatFee, exact.")


@strawberry.type(description="A dimension group of a charge's usage (e.g. direction: input).")
class UsageGroup:
    group: JSON = strawberry.field(description="The dimension values, by dimension name.")
    units: Decimal
    amount: Money = strawberry.field(
        description="The charge's amount shared across its groups by units (largest remainder)."
    )


def tier_view(
    from_units: Any, to_units: Any, units: Any, unit_price: Any, flat_fee: Any, amount: Any
) -> UsageTier:
    return UsageTier(
        from_units=plain(from_units),
        to_units=plain(to_units),
        units=plain(units),
        unit_price=plain(unit_price),
        flat_fee=plain(flat_fee),
        amount=plain(amount),
    )


@strawberry.type(
    description="What a usage line bills. A charge's line (kind USAGE, or USAGE_ADJUSTMENT "
    "for late events) has chargeId, metricCode, model, units, events, unitPrice, tiers, "
    "groups and amount; a term's line has `term` (USAGE_MINIMUM, USAGE_DISCOUNT or "
    "SLA_CREDIT) with minimum, percent or uptime."
)
class UsageLineDetails:
    term: LineKind | None = strawberry.field(description="Which usage term, on a term's line.")
    charge_id: strawberry.ID | None
    metric_code: str | None
    model: ChargeModel | None
    units: Decimal | None = strawberry.field(description="The period's quantity.")
    billed_units: Decimal | None = strawberry.field(
        description="What was priced: units after free units (PERCENTAGE: the amount the "
        "rate applies to)."
    )
    exact_amount: Decimal | None = strawberry.field(
        description="The charge's exact amount in major units, before the one rounding."
    )
    events: BigInt | None
    unit_price: Decimal | None = strawberry.field(
        description="When one price applies to every unit (per unit; volume's reached tier)."
    )
    tiers: list[UsageTier]
    groups: list[UsageGroup]
    amount: Money | None = strawberry.field(
        description="The charge's amount for the whole period; the line bills what was not "
        "billed before (all of it, unless it is an adjustment)."
    )
    minimum: Money | None = strawberry.field(description="The minimum commitment per period.")
    percent: Decimal | None = strawberry.field(
        description="The volume discount's or the SLA credit's percent."
    )
    uptime: Decimal | None = strawberry.field(description="The period's uptime percent (SLA).")


def usage_details(details: dict[str, Any] | None, currency: str) -> UsageLineDetails | None:
    """An invoice line's stored details (db.invoice_models.InvoiceLine.details) typed;
    None on lines that bill no usage."""
    if not details:
        return None
    term = details.get("term")
    tiers = [
        tier_view(t["from"], t["to"], t["units"], t["unitPrice"], t["flatFee"], t["amount"])
        for t in details.get("tiers") or []
    ]
    groups = [
        UsageGroup(
            group=g["group"], units=plain(g["units"]), amount=money(g["amountMinor"], currency)
        )
        for g in details.get("groups") or []
    ]
    minimum = details.get("minimumMinor")
    amount = details.get("amountMinor")
    model = details.get("model")
    return UsageLineDetails(
        term=LineKind(term) if term else None,
        charge_id=details.get("charge"),
        metric_code=details.get("metric"),
        model=ChargeModel(model) if model else None,
        units=plain(details.get("units")),
        billed_units=plain(details.get("billedUnits")),
        exact_amount=plain(details.get("amount")),
        events=details.get("events"),
        unit_price=plain(details.get("unitPrice")),
        tiers=tiers,
        groups=groups,
        amount=None if amount is None else money(amount, currency),
        minimum=None if minimum is None else money(minimum, currency),
        percent=plain(details.get("percent")),
        uptime=plain(details.get("uptime")),
    )
