"""Plans: what a customer subscribes to, priced per currency."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from db.models import Plan, PlanPrice
from domain import validation
from domain.catalog.repository import CatalogItems, amounts_from_input
from domain.credits.accounts import forget_terms
from domain.credits.rules import module_costs
from domain.errors import ValidationError
from domain.pagination import Page, PageRequest
from domain.tenancy.access import Permission, Principal

# Billing intervals are stored as a month count: month 1, quarter 3, year 12, or N.
INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}
MAX_INTERVAL_MONTHS = 36


@dataclass(slots=True)
class PlanRecord:
    """A plan read for display: the same attributes as the row, without the ORM's
    per-instance machinery (listings build a hundred of these per request)."""

    id: int
    public_id: str
    code: str
    name: str
    description: str
    interval_months: int
    trial_days: int
    monthly_credits: int
    daily_credit_limit: int | None
    features: list[str]
    credit_costs: dict[str, int] | None
    rollover_cap: int | None
    self_service: bool
    tax_behavior: str
    status: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    price_list: list[Any] = field(default_factory=list)

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "id",
        "public_id",
        "code",
        "name",
        "description",
        "interval_months",
        "trial_days",
        "monthly_credits",
        "daily_credit_limit",
        "features",
        "credit_costs",
        "rollover_cap",
        "self_service",
        "tax_behavior",
        "status",
        "created_at",
        "updated_at",
        "archived_at",
    )


class TaxBehavior(enum.StrEnum):
    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


def interval_months(interval: str, every_months: int | None) -> int:
    if interval in INTERVAL_MONTHS:
        if every_months is not None and every_months != INTERVAL_MONTHS[interval]:
            raise ValidationError(
                "intervalMonths only goes with the MONTHS interval", field="intervalMonths"
            )
        return INTERVAL_MONTHS[interval]
    if interval == "months":
        if every_months is None or not 1 <= every_months <= MAX_INTERVAL_MONTHS:
            raise ValidationError(
                f"intervalMonths must be between 1 and {MAX_INTERVAL_MONTHS}",
                field="intervalMonths",
            )
        return every_months
    raise ValidationError(f"unknown interval {interval!r}", field="interval")


def interval_name(months: int) -> str:
    return {1: "month", 3: "quarter", 12: "year"}.get(months, "months")


def _clean(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if creating:
        out["code"] = validation.code(data.get("code", ""))
        out["interval_months"] = interval_months(
            data.get("interval", ""), data.get("interval_months")
        )
    if creating or "name" in data:
        out["name"] = validation.text(data.get("name"), field="name", max_length=200, required=True)
    if "description" in data:
        out["description"] = validation.text(
            data["description"], field="description", max_length=5000
        )
    if "trial_days" in data:
        out["trial_days"] = validation.non_negative(
            data["trial_days"], field="trialDays", maximum=730
        )
    if "monthly_credits" in data:
        out["monthly_credits"] = validation.non_negative(
            data["monthly_credits"], field="monthlyCredits"
        )
    if "daily_credit_limit" in data:  # None = unlimited
        limit = data["daily_credit_limit"]
        out["daily_credit_limit"] = (
            None if limit is None else validation.non_negative(limit, field="dailyCreditLimit")
        )
    if "features" in data:
        out["features"] = validation.feature_codes(data["features"] or [])
    if "rollover_cap" in data:  # None = unused allowance expires at the month's end
        cap = data["rollover_cap"]
        out["rollover_cap"] = (
            None if cap is None else validation.non_negative(cap, field="rolloverCap")
        )
    if "self_service" in data:
        if not isinstance(data["self_service"], bool):
            raise ValidationError("selfService is true or false", field="selfService")
        out["self_service"] = data["self_service"]
    if "credit_costs" in data:  # module → credits, overriding the tenant's costs
        costs = module_costs(data["credit_costs"] or [], field="creditCosts")
        out["credit_costs"] = costs or None
    if "tax_behavior" in data:
        try:
            out["tax_behavior"] = TaxBehavior(data["tax_behavior"]).value
        except ValueError:
            raise ValidationError(
                "taxBehavior must be exclusive or inclusive", field="taxBehavior"
            ) from None
    return out


PLANS = CatalogItems(Plan, PlanPrice, "plan_id", "plan", record=PlanRecord)
load_plan = PLANS.load


async def create_plan(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Plan:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(data, creating=True)
    prices = amounts_from_input(data.get("prices") or [], field="prices")
    return await PLANS.create(
        principal,
        fields,
        prices,
        operation="createPlan",
        params=data,
        idempotency_key=idempotency_key,
    )


async def update_plan(principal: Principal, public_id: str, changes: dict[str, Any]) -> Plan:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(changes, creating=False)
    prices = None
    if "prices" in changes:
        prices = amounts_from_input(changes["prices"] or [], field="prices")
    plan = await PLANS.update(principal, public_id, fields, prices)
    forget_terms()  # features, limits and costs feed the credits check
    return plan


async def set_plan_archived(principal: Principal, public_id: str, archived: bool) -> Plan:
    return await PLANS.set_archived(principal, public_id, archived)


async def get_plan(
    principal: Principal, *, public_id: str | None = None, code: str | None = None
) -> Plan | None:
    return await PLANS.get(principal, public_id=public_id, code=code)


async def list_plans(
    principal: Principal, page: PageRequest, *, status: str | None = None, search: str | None = None
) -> Page[PlanRecord]:
    return await PLANS.list(principal, page, status=status, search=search)


async def plans_by_ids(tenant_id: int, ids: list[int]) -> list[PlanRecord | None]:
    return await PLANS.by_ids(tenant_id, ids)
