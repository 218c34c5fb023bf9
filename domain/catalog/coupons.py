"""Coupons: percent or fixed (per currency) discounts with a duration, a redeem-by
date, a redemption cap and optionally a set of plans. Discount terms are fixed at
creation, as at Stripe; a different discount is a new coupon."""

from __future__ import annotations

import re
from typing import Any

from db.models import Coupon, CouponAmount, Plan
from domain import bounds, clock, validation
from domain.catalog.repository import CatalogItems, amounts_from_input, get_owned
from domain.errors import NotFoundError, ValidationError
from domain.events import feed
from domain.ids import check_id
from domain.money import percent_to_bp
from domain.pagination import Page, PageRequest
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

DURATIONS = ("once", "repeating", "forever")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,63}$")


async def _plan_ids(principal: Principal, public_ids: list[str]) -> list[int]:
    for public_id in public_ids:
        check_id(public_id, "plan", field="planIds")
    found = dict(
        await Plan.filter(
            tenant_id=principal.tenant_id, public_id__in=list(public_ids)
        ).values_list("public_id", "id")
    )
    missing = [p for p in public_ids if p not in found]
    if missing:
        raise NotFoundError(f"no plan {missing[0]}", field="planIds")
    return sorted({found[p] for p in public_ids})


def _clean_terms(data: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    code = (data.get("code") or "").strip().upper()
    if not _CODE.match(code):
        raise ValidationError("coupon code must be 3-64 letters, digits, '_' or '-'", field="code")
    out: dict[str, Any] = {"code": code}
    has_percent = data.get("percent_off") is not None
    has_amounts = bool(data.get("amounts_off"))
    if has_percent == has_amounts:
        raise ValidationError("give exactly one of percentOff or amountsOff", field="percentOff")
    amounts: list[Any] = []
    if has_percent:
        out["discount_type"] = "percent"
        out["percent_off_bp"] = percent_to_bp(data["percent_off"])
    else:
        out["discount_type"] = "fixed"
        amounts = amounts_from_input(data["amounts_off"], field="amountsOff")
        if any(m.amount_minor == 0 for m in amounts):
            raise ValidationError("a fixed discount must be above zero", field="amountsOff")
    duration = data.get("duration")
    if duration not in DURATIONS:
        raise ValidationError("duration must be ONCE, REPEATING or FOREVER", field="duration")
    out["duration"] = duration
    periods = data.get("duration_periods")
    if duration == "repeating":
        if periods is None or not 1 <= periods <= 120:
            raise ValidationError(
                "a repeating coupon needs durationPeriods between 1 and 120",
                field="durationPeriods",
            )
        out["duration_periods"] = periods
    elif periods is not None:
        raise ValidationError(
            "durationPeriods only goes with a REPEATING coupon", field="durationPeriods"
        )
    return out, amounts


def _clean_limits(data: dict[str, Any], *, creating: bool, redeemed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if creating or "name" in data:
        out["name"] = validation.text(
            data.get("name") or data.get("code"), field="name", max_length=200, required=True
        )
    if data.get("redeem_by") is not None:
        redeem_by = bounds.instant(data["redeem_by"], field="redeemBy")
        if redeem_by <= clock.now():
            raise ValidationError("redeemBy must be in the future", field="redeemBy")
        out["redeem_by"] = redeem_by
    elif "redeem_by" in data:
        out["redeem_by"] = None
    if data.get("max_redemptions") is not None:
        cap = data["max_redemptions"]
        if cap < max(1, redeemed):
            raise ValidationError(
                f"maxRedemptions must be at least {max(1, redeemed)}", field="maxRedemptions"
            )
        out["max_redemptions"] = cap
    elif "max_redemptions" in data:
        out["max_redemptions"] = None
    return out


COUPONS = CatalogItems(Coupon, CouponAmount, "coupon_id", "coupon", attr="amount_list")
load_coupon = COUPONS.load


async def create_coupon(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Coupon:
    principal.require(Permission.CATALOG_WRITE)
    terms, amounts = _clean_terms(data)
    limits = _clean_limits(data, creating=True)
    plan_ids = await _plan_ids(principal, data.get("plan_ids") or [])
    return await COUPONS.create(
        principal,
        {**terms, **limits, "plan_ids": plan_ids},
        amounts,
        operation="createCoupon",
        params=data,
        idempotency_key=idempotency_key,
    )


@operation
async def update_coupon(principal: Principal, public_id: str, changes: dict[str, Any]) -> Coupon:
    principal.require(Permission.CATALOG_WRITE)
    if not changes:
        raise ValidationError("nothing to update", field="input")
    query = Coupon.select_for_update()
    coupon = await get_owned(query, principal, public_id, "coupon")  # type: ignore[arg-type]
    fields = _clean_limits(changes, creating=False, redeemed=coupon.times_redeemed)
    if "plan_ids" in changes:
        fields["plan_ids"] = await _plan_ids(principal, changes["plan_ids"] or [])
    coupon.update_from_dict({**fields, "updated_at": clock.now()})
    await coupon.save()
    feed.tell("coupon.updated", coupon)
    return await COUPONS.with_amounts(coupon)


async def set_coupon_archived(principal: Principal, public_id: str, archived: bool) -> Coupon:
    return await COUPONS.set_archived(principal, public_id, archived)


async def get_coupon(
    principal: Principal, *, public_id: str | None = None, code: str | None = None
) -> Coupon | None:
    code = code.strip().upper() if code is not None else None
    return await COUPONS.get(principal, public_id=public_id, code=code)


async def list_coupons(
    principal: Principal, page: PageRequest, *, status: str | None = None, search: str | None = None
) -> Page[Coupon]:
    return await COUPONS.list(principal, page, status=status, search=search)
