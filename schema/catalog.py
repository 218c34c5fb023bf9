"""Catalog types: plans, add-ons, coupons, and their inputs.

Object types read the domain rows directly (public ids are exposed as `id`), so a
page of plans is served without copying every row into another object.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.catalog.plans import interval_name
from domain.money import bp_to_percent
from schema.common import BigInt, Money, MoneyInput, not_null_when_given

if TYPE_CHECKING:
    from schema.usage import UsageCharge


class CatalogStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class BillingInterval(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    MONTHS = "months"


class TaxBehavior(enum.StrEnum):
    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


class AddOnKind(enum.StrEnum):
    RECURRING = "recurring"
    ONE_OFF = "one_off"


class DiscountType(enum.StrEnum):
    PERCENT = "percent"
    FIXED = "fixed"


class CouponDuration(enum.StrEnum):
    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


for _enum in (CatalogStatus, BillingInterval, TaxBehavior, AddOnKind, DiscountType, CouponDuration):
    strawberry.enum(_enum)


@strawberry.type
class Plan:
    public_id: strawberry.ID = strawberry.field(name="id")
    code: str
    name: str
    description: str
    interval_months: int = strawberry.field(description="Months between two invoices.")
    trial_days: int
    monthly_credits: BigInt
    daily_credit_limit: BigInt | None = strawberry.field(
        description="Credits a customer may spend per local day; null means unlimited."
    )
    features: list[str] = strawberry.field(description="Feature codes this plan entitles to.")
    rollover_cap: BigInt | None = strawberry.field(
        description="Unused monthly credits carried into the next month, at most; "
        "null: they expire."
    )
    credit_costs: strawberry.Private[dict[str, int] | None]
    self_service: bool = strawberry.field(
        description="Customers may switch to this plan themselves (the customer portal)."
    )
    tax_behavior: TaxBehavior
    status: CatalogStatus
    price_list: list[Money] = strawberry.field(name="prices")
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @strawberry.field
    def interval(self) -> BillingInterval:
        return BillingInterval(interval_name(self.interval_months))

    @strawberry.field(description="Module costs that differ from the tenant's.")
    def module_costs(self) -> list[ModuleCost]:
        costs = self.credit_costs or {}
        return [ModuleCost(module=m, credits=c) for m, c in sorted(costs.items())]

    @strawberry.field(description="The price in one currency, or null if none is set.")
    def price(self, currency: str) -> Money | None:
        wanted = currency.upper()
        return next((m for m in self.price_list if m.currency == wanted), None)

    @strawberry.field(description="Its usage charges (metered prices), in display order.")
    async def charges(
        self, info: Info
    ) -> list[Annotated[UsageCharge, strawberry.lazy("schema.usage")]]:  # type: ignore[name-defined]
        return await info.context.loaders.charges_by_plan.load(self.id)  # type: ignore[attr-defined]


@strawberry.type
class AddOn:
    public_id: strawberry.ID = strawberry.field(name="id")
    code: str
    name: str
    description: str
    kind: AddOnKind
    status: CatalogStatus
    price_list: list[Money] = strawberry.field(name="prices")
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


@strawberry.type
class Coupon:
    public_id: strawberry.ID = strawberry.field(name="id")
    code: str
    name: str
    discount_type: DiscountType
    amount_list: list[Money] = strawberry.field(name="amountsOff")
    duration: CouponDuration
    duration_periods: int | None
    redeem_by: datetime | None
    max_redemptions: int | None
    times_redeemed: int
    status: CatalogStatus
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @strawberry.field(description='Percentage as a decimal string ("12.5"), for PERCENT coupons.')
    def percent_off(self) -> Decimal | None:
        bp = self.percent_off_bp  # type: ignore[attr-defined]
        return None if bp is None else bp_to_percent(bp)

    @strawberry.field(description="Plans the coupon is limited to; empty means every plan.")
    async def plans(self, info: Info) -> list[Plan]:
        ids = self.plan_ids  # type: ignore[attr-defined]
        found = await info.context.loaders.plan_by_id.load_many(ids)
        return [p for p in found if p is not None]


@strawberry.type
class ModuleCost:
    module: str
    credits: BigInt


@strawberry.input
class ModuleCostInput:
    module: str
    credits: BigInt


# -- inputs ----------------------------------------------------------------------------
@strawberry.input
class CreatePlanInput:
    code: str
    name: str
    interval: BillingInterval
    prices: list[MoneyInput]
    interval_months: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    trial_days: int | None = not_null_when_given()
    monthly_credits: BigInt | None = not_null_when_given()
    daily_credit_limit: BigInt | None = strawberry.field(
        default=strawberry.UNSET, description="null or absent: unlimited"
    )
    features: list[str] | None = strawberry.UNSET
    rollover_cap: BigInt | None = strawberry.UNSET
    credit_costs: list[ModuleCostInput] | None = strawberry.UNSET
    self_service: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Customers may switch to it from the portal (default false).",
    )
    tax_behavior: TaxBehavior | None = strawberry.UNSET


@strawberry.input(description="Only the fields given change; `prices` replaces the whole set.")
class UpdatePlanInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    prices: list[MoneyInput] | None = strawberry.UNSET
    trial_days: int | None = not_null_when_given()
    monthly_credits: BigInt | None = not_null_when_given()
    daily_credit_limit: BigInt | None = strawberry.UNSET
    features: list[str] | None = strawberry.UNSET
    rollover_cap: BigInt | None = strawberry.UNSET
    credit_costs: list[ModuleCostInput] | None = strawberry.UNSET
    self_service: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Customers may switch to it from the portal (default false).",
    )
    tax_behavior: TaxBehavior | None = strawberry.UNSET


@strawberry.input
class CreateAddOnInput:
    code: str
    name: str
    kind: AddOnKind
    prices: list[MoneyInput]
    description: str | None = strawberry.UNSET
    work_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The work (wrk_…) it sells: its invoice lines are SALEs of that work.",
    )


@strawberry.input
class UpdateAddOnInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    prices: list[MoneyInput] | None = strawberry.UNSET
    work_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The work it sells; null unlinks it."
    )


@strawberry.input
class CreateCouponInput:
    code: str
    duration: CouponDuration
    name: str | None = strawberry.UNSET
    percent_off: Decimal | None = strawberry.UNSET
    amounts_off: list[MoneyInput] | None = strawberry.UNSET
    duration_periods: int | None = strawberry.UNSET
    redeem_by: datetime | None = strawberry.UNSET
    max_redemptions: int | None = strawberry.UNSET
    plan_ids: list[strawberry.ID] | None = strawberry.UNSET


@strawberry.input(description="Discount terms are fixed once created; these limits can change.")
class UpdateCouponInput:
    name: str | None = strawberry.UNSET
    redeem_by: datetime | None = strawberry.UNSET
    max_redemptions: int | None = strawberry.UNSET
    plan_ids: list[strawberry.ID] | None = strawberry.UNSET
