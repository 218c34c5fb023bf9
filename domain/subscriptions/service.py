"""Creating, reading and listing subscriptions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F

from db.models import Coupon, CouponAmount, Subscription
from domain import bounds
from domain.analytics import movement_log as mrr_log
from domain.clock import customer_now
from domain.credits.schedule import follow_subscription
from domain.errors import NotFoundError, ValidationError
from domain.idempotency import run_once
from domain.ids import new_id
from domain.invoicing.builder import Draft
from domain.invoicing.issuing import store_invoices
from domain.money import normalise_currency
from domain.pagination import Page, PageRequest, paginate
from domain.payments.charging import billed
from domain.periods import add_months
from domain.subscriptions import state_machine
from domain.subscriptions.billing import bill_subscriptions, parties_for, specs_to_invoices
from domain.subscriptions.changes import preview_next_invoice
from domain.subscriptions.loading import load_plan, load_subscription
from domain.subscriptions.prices import add_on_items, period_total, plan_price, quantity
from domain.tenancy.access import Permission, Principal, owned_customer, scope
from domain.webhooks import announce

STATUSES = ("incomplete", "trialing", "active", "past_due", "unpaid", "paused", "canceled")
MAX_TRIAL_DAYS = 730
# How far back a subscription may start: every period gone by is billed (and charged)
# in the request that creates it, so the span is bounded, as the billing anchor is.
MAX_BACKDATE_MONTHS = 12


class CouponNotRedeemable(ValidationError):
    code = "COUPON_NOT_REDEEMABLE"


async def redeem_coupon(
    tenant_id: int, code: str, plan_id: int, currency: str, at: datetime
) -> Coupon:
    """Check a coupon can be used now on this plan and currency, and count the use
    atomically against its maximum."""
    coupon = await Coupon.get_or_none(tenant_id=tenant_id, code=code.strip().upper())
    if coupon is None or coupon.archived_at is not None:
        raise CouponNotRedeemable(f"no active coupon {code!r}", field="couponCode")
    if coupon.redeem_by is not None and at > coupon.redeem_by:
        raise CouponNotRedeemable(
            f"coupon {coupon.code} could be redeemed until {coupon.redeem_by.date()}",
            field="couponCode",
            code="COUPON_EXPIRED",
        )
    if coupon.plan_ids and plan_id not in coupon.plan_ids:
        raise CouponNotRedeemable(
            f"coupon {coupon.code} does not apply to this plan", field="couponCode"
        )
    if coupon.discount_type == "fixed" and not await CouponAmount.exists(
        coupon_id=coupon.id, currency=currency
    ):
        raise CouponNotRedeemable(
            f"coupon {coupon.code} has no {currency} amount", field="couponCode"
        )
    query = Coupon.filter(id=coupon.id)
    if coupon.max_redemptions is not None:
        query = query.filter(times_redeemed__lt=coupon.max_redemptions)
    if not await query.update(times_redeemed=F("times_redeemed") + 1):
        raise CouponNotRedeemable(
            f"coupon {coupon.code} reached its {coupon.max_redemptions} redemptions",
            field="couponCode",
            code="COUPON_MAXED_OUT",
        )
    return coupon


def coupon_periods(coupon: Coupon) -> int | None:
    if coupon.duration == "once":
        return 1
    if coupon.duration == "repeating":
        return coupon.duration_periods
    return None


@billed("subscription.created")
async def create_subscription(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Subscription:
    principal.require(Permission.SUBSCRIPTIONS_WRITE)

    async def create() -> Subscription:
        customer = await owned_customer(
            principal, data.get("customer_id") or "", field="customerId"
        )
        if customer.archived_at is not None:
            raise ValidationError("the customer is archived", field="customerId")
        plan = await load_plan(principal.tenant_id, data.get("plan_id") or "")
        currency = normalise_currency(data.get("currency") or customer.currency)
        unit = await plan_price(plan, currency)
        seats = quantity(data.get("quantity", 1))
        add_ons = await add_on_items(principal.tenant_id, data.get("add_ons") or [], currency)
        period_total(unit, seats, add_ons)
        now = await customer_now(customer)
        start = bounds.optional_instant(data.get("start_date"), field="startDate") or now
        if start > now:
            raise ValidationError("startDate cannot be in the future", field="startDate")
        if start < add_months(now, -MAX_BACKDATE_MONTHS):
            raise ValidationError(
                f"startDate may be at most {MAX_BACKDATE_MONTHS} months back",
                field="startDate",
                code="START_DATE_TOO_EARLY",
            )
        if start < now and await mrr_log.moved_after(customer.id, currency, start):
            # Its movements were classified against what the customer paid then: a
            # subscription slipped in before them would make that history false.
            raise ValidationError(
                "startDate is before the customer's latest recurring revenue change;"
                " start it after that, or today",
                field="startDate",
                code="START_BEFORE_MRR_HISTORY",
            )
        trial_days = data.get("trial_days")
        if trial_days is None:
            trial_days = plan.trial_days
        if not isinstance(trial_days, int) or not 0 <= trial_days <= MAX_TRIAL_DAYS:
            raise ValidationError(f"trialDays must be 0-{MAX_TRIAL_DAYS}", field="trialDays")
        trial_end = start + timedelta(days=trial_days) if trial_days else None
        first_start = trial_end or start
        anchor = (
            bounds.optional_instant(data.get("billing_anchor"), field="billingAnchor")
            or first_start
        )
        if anchor < first_start or anchor >= add_months(first_start, plan.interval_months):
            raise ValidationError(
                "billingAnchor must fall within the first billing interval",
                field="billingAnchor",
            )
        coupon = None
        if data.get("coupon_code"):
            coupon = await redeem_coupon(
                principal.tenant_id, data["coupon_code"], plan.id, currency, now
            )
        sub = Subscription(
            public_id=new_id("subscription"),
            tenant_id=principal.tenant_id,
            customer_id=customer.id,
            plan_id=plan.id,
            test_clock_id=customer.test_clock_id,
            status="trialing" if trial_end else "active",
            currency=currency,
            unit_amount_minor=unit,
            quantity=seats,
            add_ons=add_ons,
            coupon_id=coupon.id if coupon else None,
            coupon_periods_left=coupon_periods(coupon) if coupon else None,
            started_at=start,
            billing_anchor=anchor,
            current_period_start=start,
            current_period_end=trial_end or start,
            trial_start=start if trial_end else None,
            trial_end=trial_end,
            created_at=now,
            updated_at=now,
        )
        specs = []
        if trial_end is None:
            specs.append(
                state_machine.open_period(sub, plan, start, "subscription_create", first=True)
            )
        sub.next_action_at = state_machine.next_action(sub)
        await sub.save()
        parties = await parties_for([sub])
        await store_invoices(await specs_to_invoices(specs, parties, {}), now)
        await mrr_log.follow(sub, start, "created")  # after the invoices' numbering lock
        if sub.next_action_at is not None and sub.next_action_at <= now:
            # Backdated: bill the periods that have already gone by, in order.
            await bill_subscriptions([sub], now, now)
        await announce.subscription("subscription.created", sub)
        await follow_subscription(sub)  # the first month's credits, in this transaction
        return sub

    return await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="createSubscription",
        params=data,
        create=create,
        load=lambda pk: Subscription.get(id=pk),
    )


async def get_subscription(principal: Principal, public_id: str) -> Subscription | None:
    try:
        return await load_subscription(principal, public_id)
    except NotFoundError:
        return None


async def list_subscriptions(
    principal: Principal,
    page: PageRequest,
    *,
    customer_id: str | None = None,
    plan_id: str | None = None,
    status: str | None = None,
) -> Page[Subscription]:
    principal.require(Permission.SUBSCRIPTIONS_READ)
    query = Subscription.filter(**scope(principal))
    if customer_id is not None:
        customer = await owned_customer(principal, customer_id, field="customerId")
        query = query.filter(customer_id=customer.id)
    if plan_id is not None:
        plan = await load_plan(principal.tenant_id, plan_id)
        query = query.filter(plan_id=plan.id)
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, page)


async def upcoming_invoice(principal: Principal, public_id: str) -> Draft | None:
    """The next invoice the subscription will produce, as it stands now."""
    sub = await load_subscription(principal, public_id)
    return await preview_next_invoice(sub)
