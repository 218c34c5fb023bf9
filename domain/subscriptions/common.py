"""What the subscription operations share: typed errors, scoped loading under a
row lock, the customer's clock, the plan/add-on price lookups, and proration lines
(how they are shown, kept for the next invoice, and discounted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.invoice_models import Invoice
from db.models import (
    AddOn,
    AddOnPrice,
    Coupon,
    Customer,
    PendingItem,
    Plan,
    PlanPrice,
    Subscription,
    TestClock,
)
from domain import bounds, clock
from domain.customers.service import owned_customer
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import check_id
from domain.invoicing.builder import DraftLine, prorated_line
from domain.subscriptions.proration import ProrationLine
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


def proration_draft_lines(lines: list[ProrationLine], inclusive: bool) -> list[DraftLine]:
    return [
        prorated_line(
            line.kind,
            line.item_name,
            line.quantity,
            line.amount_minor,
            inclusive,
            line.period.start,
            line.period.end,
        )
        for line in lines
    ]


def pending_rows(sub: Subscription, lines: list[DraftLine], now: datetime) -> list[PendingItem]:
    return [
        PendingItem(
            tenant_id=sub.tenant_id,
            customer_id=sub.customer_id,
            subscription_id=sub.id,
            kind=line.kind,
            description=line.description,
            currency=sub.currency,
            quantity=line.quantity,
            amount_minor=line.amount_minor,
            tax_inclusive=line.tax_inclusive,
            period_start=line.period_start,
            period_end=line.period_end,
            created_at=now,
        )
        for line in lines
    ]


async def coupon_on_prorations(sub: Subscription) -> bool:
    """Whether prorations invoiced now get the subscription's coupon (Stripe
    discounts them): a percent coupon that discounted the current period does,
    which a forever one always has. A fixed amount comes off each renewal once, not
    again on every change."""
    if sub.coupon_id is None:
        return False
    coupon = await Coupon.get_or_none(id=sub.coupon_id)
    if coupon is None or coupon.percent_off_bp is None:
        return False
    if coupon.duration == "forever":
        return True
    return await Invoice.filter(
        subscription_id=sub.id,
        period_start=sub.current_period_start,
        coupon_code__not_isnull=True,
    ).exists()
