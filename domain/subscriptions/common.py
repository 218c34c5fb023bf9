"""What the subscription operations share: typed errors, scoped loading under a
row lock, the customer's clock and the plan/add-on price lookups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.models import AddOn, AddOnPrice, Customer, Plan, PlanPrice, Subscription, TestClock
from domain import bounds, clock
from domain.customers.service import owned_customer
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import check_id
from domain.tenancy.access import Permission, Principal, Role


class SubscriptionNotActive(ConflictError):
    code = "SUBSCRIPTION_CANCELED"


class InvalidStatus(ConflictError):
    code = "INVALID_STATUS"


class PriceNotFound(ValidationError):
    code = "PRICE_NOT_FOUND"


MAX_QUANTITY = 100_000


async def customer_now(customer: Any) -> datetime:
    """The customer's time: its test clock's frozen time, else the real clock."""
    if customer.test_clock_id is None:
        return clock.now()
    return (await TestClock.get(id=customer.test_clock_id)).frozen_time


def scope(principal: Principal) -> dict[str, Any]:
    found: dict[str, Any] = {"tenant_id": principal.tenant_id}
    if principal.role is Role.CUSTOMER:
        found["customer_id"] = principal.customer_id
    return found


async def load_subscription(
    principal: Principal, public_id: str, *, lock: bool = False, field: str = "id"
) -> Subscription:
    check_id(public_id, "subscription", field=field)
    query = Subscription.filter(public_id=public_id, **scope(principal))
    if lock:
        principal.require(Permission.SUBSCRIPTIONS_WRITE)
        query = query.select_for_update()
    else:
        principal.require(Permission.SUBSCRIPTIONS_READ)
    sub = await query.first()
    if sub is None:
        raise NotFoundError(f"no subscription {public_id}", field=field)
    return sub


async def load_customer(principal: Principal, public_id: str, *, field: str) -> Customer:
    return await owned_customer(principal, public_id, field=field)


async def load_plan(tenant_id: int, public_id: str, *, field: str = "planId") -> Plan:
    check_id(public_id, "plan", field=field)
    plan = await Plan.get_or_none(public_id=public_id, tenant_id=tenant_id)
    if plan is None:
        raise NotFoundError(f"no plan {public_id}", field=field)
    if plan.archived_at is not None:
        raise ValidationError(f"plan {public_id} is archived", field=field, code="PLAN_ARCHIVED")
    return plan


async def plan_price(plan: Plan, currency: str, *, field: str = "currency") -> int:
    price = await PlanPrice.get_or_none(plan_id=plan.id, currency=currency)
    if price is None:
        raise PriceNotFound(f"plan {plan.code} has no {currency} price", field=field)
    return price.amount_minor


def quantity(value: Any, *, field: str = "quantity") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUANTITY:
        raise ValidationError(f"quantity must be 1-{MAX_QUANTITY}", field=field)
    return value


async def add_on_items(
    tenant_id: int, entries: list[dict[str, Any]], currency: str, *, field: str = "addOns"
) -> list[dict[str, Any]]:
    """Add-on snapshots for a subscription: code, name, kind, quantity, unit price."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{field}[{i}]"
        public_id = entry.get("add_on_id") or ""
        check_id(public_id, "add_on", field=f"{where}.addOnId")
        if public_id in seen:
            raise ValidationError(f"add-on {public_id} is listed twice", field=f"{where}.addOnId")
        seen.add(public_id)
        add_on = await AddOn.get_or_none(public_id=public_id, tenant_id=tenant_id)
        if add_on is None:
            raise NotFoundError(f"no add-on {public_id}", field=f"{where}.addOnId")
        if add_on.archived_at is not None:
            raise ValidationError(f"add-on {public_id} is archived", field=f"{where}.addOnId")
        price = await AddOnPrice.get_or_none(add_on_id=add_on.id, currency=currency)
        if price is None:
            raise PriceNotFound(f"add-on {add_on.code} has no {currency} price", field=where)
        items.append(
            {
                "id": public_id,
                "code": add_on.code,
                "name": add_on.name,
                "kind": add_on.kind,
                "quantity": quantity(entry.get("quantity", 1), field=f"{where}.quantity"),
                "unit_amount_minor": price.amount_minor,
            }
        )
    return items


def period_total(unit: int, seats: int, add_ons: list[dict[str, Any]]) -> int:
    """What one period bills (the plan's seats and every add-on), checked against the
    amount ceiling before anything is stored."""
    amounts = [bounds.amount(unit * seats, field="quantity", what="the plan's seats")]
    for i, item in enumerate(add_ons):
        amounts.append(
            bounds.amount(
                item["unit_amount_minor"] * item["quantity"],
                field=f"addOns[{i}].quantity",
                what=f"add-on {item['code']}",
            )
        )
    return bounds.total(amounts, field="addOns" if add_ons else "quantity")
