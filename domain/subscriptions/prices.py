"""What a subscription costs per period: the plan's price in the subscription's
currency, the seats, the add-on snapshots, and the period's total checked against
the amount ceiling before anything is stored."""

from __future__ import annotations

from typing import Any

from db.models import AddOn, AddOnPrice, Plan, PlanPrice
from domain import bounds
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id
from domain.subscriptions.errors import PriceNotFound

MAX_QUANTITY = 100_000


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
    """Add-on snapshots for a subscription: code, name, kind, quantity, unit price
    (and the work it sells, if any)."""
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
        item = {
            "id": public_id,
            "code": add_on.code,
            "name": add_on.name,
            "kind": add_on.kind,
            "quantity": quantity(entry.get("quantity", 1), field=f"{where}.quantity"),
            "unit_amount_minor": price.amount_minor,
        }
        if add_on.work_id is not None:
            # The work it sells, kept with the price (issue 16): its lines are SALEs of
            # that work. Only when there is one, so earlier snapshots compare equal.
            item["work_id"] = add_on.work_id
        items.append(item)
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
