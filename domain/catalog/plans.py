"""Plans: what a customer subscribes to, priced per currency."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from tortoise.transactions import in_transaction

from db.models import Plan, PlanPrice
from domain import clock, validation
from domain.catalog.common import (
    amounts_from_input,
    attach_amounts,
    create_with_code,
    find_one,
    get_owned,
    list_page,
    replace_amounts,
    set_archived,
)
from domain.errors import ValidationError
from domain.idempotency import run_once
from domain.pagination import Page, PageRequest
from domain.tenancy.access import Permission, Principal

# Billing intervals are stored as a month count: month 1, quarter 3, year 12, or N.
INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}
MAX_INTERVAL_MONTHS = 36
_ATTR = "price_list"


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
    if "tax_behavior" in data:
        try:
            out["tax_behavior"] = TaxBehavior(data["tax_behavior"]).value
        except ValueError:
            raise ValidationError(
                "taxBehavior must be exclusive or inclusive", field="taxBehavior"
            ) from None
    return out


async def _with_prices(plan: Plan) -> Plan:
    await attach_amounts([plan], PlanPrice, "plan_id", _ATTR)
    return plan


async def load_plan(plan_id: int) -> Plan:
    return await _with_prices(await Plan.get(id=plan_id))


async def create_plan(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Plan:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(data, creating=True)
    prices = amounts_from_input(data.get("prices") or [], field="prices")

    async def create() -> Plan:
        plan = await create_with_code(Plan, principal, "plan", fields)
        await replace_amounts(PlanPrice, "plan_id", plan.id, prices)
        setattr(plan, _ATTR, prices)
        return plan

    return await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="createPlan",
        params=data,
        create=create,
        load=load_plan,
    )


async def update_plan(principal: Principal, public_id: str, changes: dict[str, Any]) -> Plan:
    principal.require(Permission.CATALOG_WRITE)
    fields = _clean(changes, creating=False)
    prices = (
        amounts_from_input(changes["prices"] or [], field="prices") if "prices" in changes else None
    )
    if not fields and prices is None:
        raise ValidationError("nothing to update", field="input")
    async with in_transaction():
        plan = await get_owned(Plan.select_for_update(), principal, public_id, "plan")  # type: ignore[arg-type]
        if fields:
            plan.update_from_dict({**fields, "updated_at": clock.now()})
            await plan.save()
        if prices is not None:
            await replace_amounts(PlanPrice, "plan_id", plan.id, prices)
    return await _with_prices(plan)


async def set_plan_archived(principal: Principal, public_id: str, archived: bool) -> Plan:
    return await _with_prices(await set_archived(Plan, principal, public_id, "plan", archived))


async def get_plan(
    principal: Principal, *, public_id: str | None = None, code: str | None = None
) -> Plan | None:
    plan = await find_one(Plan, principal, "plan", public_id=public_id, code=code)
    return None if plan is None else await _with_prices(plan)


async def list_plans(
    principal: Principal, page: PageRequest, *, status: str | None = None, search: str | None = None
) -> Page[PlanRecord]:
    result = await list_page(Plan, principal, page, status=status, search=search, record=PlanRecord)
    await attach_amounts(result.items, PlanPrice, "plan_id", _ATTR)
    return result


async def plans_by_ids(tenant_id: int, ids: list[int]) -> list[PlanRecord | None]:
    """Batch fetch for DataLoaders: two SELECTs whatever the count, in the order asked."""
    found = await Plan.filter(tenant_id=tenant_id, id__in=ids).values(*PlanRecord.COLUMNS)
    rows = {row["id"]: PlanRecord(**row) for row in found}
    await attach_amounts(list(rows.values()), PlanPrice, "plan_id", _ATTR)
    return [rows.get(i) for i in ids]
