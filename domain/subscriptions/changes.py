"""Changing a live subscription: plan, seats and add-ons (with proration), pause
and resume, cancel and reactivate, and previews that write nothing.

Proration follows Stripe: `create_prorations` puts the credit for unused time and
the charge for remaining time (to the second) on the next invoice,
`always_invoice` invoices them now, `none` only switches. A change of billing
interval restarts the period at the change, as Stripe does.

Pause re-anchors: the unused part of the current period is credited (unless
proration is `none`), no invoice is made while paused, and resuming (by hand or
at `resumeAt`) starts a fresh, fully billed period at the resume instant.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ParamSpec

from db.models import PendingItem, Plan, Subscription
from domain import bounds
from domain.analytics import movement_log as mrr_log
from domain.clock import customer_now
from domain.credits.schedule import follow_subscription
from domain.errors import PermissionDeniedError, ValidationError
from domain.invoicing.builder import Draft, DraftLine
from domain.payments.charging import billed
from domain.periods import Period
from domain.subscriptions import self_service, state_machine
from domain.subscriptions.billing import (
    bill_subscriptions,
    drafts_for,
    store_with_usage,
)
from domain.subscriptions.errors import InvalidStatus, SubscriptionNotActive
from domain.subscriptions.loading import (
    acting_for_self,
    load_plan,
    load_subscription,
    require_change,
)
from domain.subscriptions.previews import preview_next_invoice
from domain.subscriptions.prices import add_on_items, period_total, plan_price, quantity
from domain.subscriptions.proration import ProrationLine, prorate_change, unused_part
from domain.subscriptions.proration_lines import (
    coupon_on_prorations,
    pending_rows,
    proration_draft_lines,
)
from domain.tenancy.access import Principal
from domain.unit_of_work import operation
from domain.webhooks import announce

P = ParamSpec("P")

BEHAVIORS = ("create_prorations", "always_invoice", "none")
EFFECTIVE = ("immediately", "period_end")


def announced(fn: Callable[P, Awaitable[Subscription]]) -> Callable[P, Awaitable[Subscription]]:
    """Write the subscription's outbox event in the operation's transaction."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> Subscription:
        sub = await fn(*args, **kwargs)
        kind = "subscription.canceled" if sub.status == "canceled" else "subscription.updated"
        await announce.subscription(kind, sub)
        await follow_subscription(sub)
        return sub

    return run


def _live(sub: Subscription) -> None:
    if sub.status == "canceled":
        raise SubscriptionNotActive(f"subscription {sub.public_id} is canceled")


async def _customer(sub: Subscription) -> Any:
    await sub.fetch_related("customer")
    return sub.customer


async def _plan(plan_id: int) -> Plan:
    return await Plan.get(id=plan_id)


async def _pending(sub: Subscription) -> list[PendingItem]:
    return await PendingItem.filter(subscription_id=sub.id, invoice_id=None).order_by("id")


async def _new_terms(sub: Subscription, data: dict[str, Any]) -> tuple[Plan, dict[str, Any]]:
    plan = await _plan(sub.plan_id)
    unit = sub.unit_amount_minor
    if data.get("plan_id") is not None:
        plan = await load_plan(sub.tenant_id, data["plan_id"])
        unit = await plan_price(plan, sub.currency, field="planId")
    change = {
        "plan_id": plan.id,
        "plan": plan.public_id,
        "unit_amount_minor": unit,
        "quantity": quantity(data["quantity"])
        if data.get("quantity") is not None
        else sub.quantity,
        "add_ons": (
            await add_on_items(sub.tenant_id, data["add_ons"], sub.currency)
            if data.get("add_ons") is not None
            else sub.add_ons
        ),
    }
    period_total(change["unit_amount_minor"], change["quantity"], change["add_ons"])
    if (
        change["plan_id"] == sub.plan_id
        and change["unit_amount_minor"] == sub.unit_amount_minor
        and change["quantity"] == sub.quantity
        and change["add_ons"] == sub.add_ons
    ):
        raise ValidationError("this changes nothing", code="NO_CHANGE")
    return plan, change


def _option(
    data: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, field: str
) -> str:
    value = (data.get(key) or default).lower()
    if value not in allowed:
        raise ValidationError(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


@billed("subscription.updated")
@operation
async def change_subscription(
    principal: Principal, public_id: str, data: dict[str, Any], *, preview: bool = False
) -> tuple[Subscription, Draft | None]:
    sub, draft = await _change(principal, public_id, data, preview=preview)
    if not preview:
        await mrr_log.follow(sub, sub.updated_at, "changed")
        await announce.subscription("subscription.updated", sub)
        await follow_subscription(sub)
    return sub, draft


async def preview_change(
    principal: Principal, public_id: str, data: dict[str, Any]
) -> Draft | None:
    """Exactly what `change_subscription` with `data` would bill; writes nothing."""
    require_change(principal, self_service=True)
    _, draft = await change_subscription(principal, public_id, data, preview=True)
    return draft


async def _change(
    principal: Principal, public_id: str, data: dict[str, Any], *, preview: bool = False
) -> tuple[Subscription, Draft | None]:
    """Apply (or, with `preview`, only price) a change. Returns the subscription and
    the draft of what the change bills: the immediate invoice, the proration lines
    for the next invoice, or the next renewal under the new terms."""
    by_customer = acting_for_self(principal)
    if by_customer:
        self_service.check_change(data)
    sub = await load_subscription(principal, public_id, lock=not preview, self_service=True)
    _live(sub)
    if by_customer:
        self_service.not_the_tenants(sub)
    if sub.status == "paused":
        raise InvalidStatus("resume the subscription before changing it")
    behavior = _option(
        data, "proration_behavior", BEHAVIORS, "create_prorations", "prorationBehavior"
    )
    effective = _option(data, "effective", EFFECTIVE, "immediately", "effective")
    old_plan = await _plan(sub.plan_id)
    new_plan, change = await _new_terms(sub, data)
    if by_customer and new_plan.id != old_plan.id:
        self_service.check_plan(new_plan)
    customer = await _customer(sub)
    now = await customer_now(customer)
    if effective == "period_end":
        sub.pending_change = {**change, "requested_by": "customer" if by_customer else "tenant"}
        if preview:
            return sub, await preview_next_invoice(sub)
        sub.updated_at = now
        await sub.save(update_fields=["pending_change", "updated_at"])
        return sub, None
    if sub.status == "trialing":
        # Nothing has been billed during a trial: switch, nothing to prorate.
        state_machine.apply_change(sub, change)
        if not preview:
            sub.updated_at = now
            await sub.save()
        return sub, None
    old_items = state_machine.priced_items(sub, old_plan)
    period = Period(sub.current_period_start, sub.current_period_end)
    inclusive = new_plan.tax_behavior == "inclusive"
    interval_changed = new_plan.interval_months != old_plan.interval_months
    state_machine.apply_change(sub, change)
    sub.pending_change = None
    if interval_changed:
        credit = (
            [
                ProrationLine(
                    "proration_credit",
                    i.description,
                    -unused_part(i.amount_minor, period, now),
                    Period(now, period.end),
                    i.quantity,
                )
                for i in old_items
            ]
            if behavior != "none"
            else []
        )
        sub.billing_anchor = now
        spec = state_machine.open_period(sub, new_plan, now, "subscription_update", first=False)
        # Usage so far closes now, on the old plan's prices.
        spec.usage = state_machine.UsageClose(period.start, now, old_plan.id)
        spec.lines = [
            *proration_draft_lines([c for c in credit if c.amount_minor], inclusive),
            *spec.lines,
        ]
        return await _bill_now(sub, [spec], preview, now)
    lines = proration_draft_lines(
        prorate_change(old_items, state_machine.priced_items(sub, new_plan), period, now), inclusive
    )
    if behavior == "none":
        lines = []
    spec = state_machine.InvoiceSpec(sub, "subscription_update", None, None, lines)
    if behavior == "always_invoice" and lines:
        spec.apply_coupon = await coupon_on_prorations(sub)
        return await _bill_now(sub, [spec], preview, now)
    drafts = await drafts_for([spec], {})
    if not preview:
        sub.updated_at = now
        await sub.save()
        if lines:
            await PendingItem.bulk_create(pending_rows(sub, lines, now))
    return sub, drafts[0].draft if drafts else None


async def _bill_now(
    sub: Subscription, specs: list[state_machine.InvoiceSpec], preview: bool, now: datetime
) -> tuple[Subscription, Draft | None]:
    new = await drafts_for(specs, {sub.id: await _pending(sub)}, preview=preview)
    if preview:
        return sub, new[0].draft if new else None
    sub.next_action_at = state_machine.next_action(sub)
    sub.updated_at = now
    await sub.save()
    await store_with_usage(new, now)
    return sub, new[0].draft if new else None


@billed("subscription.updated")
@operation
@announced
async def cancel_scheduled_change(principal: Principal, public_id: str) -> Subscription:
    sub = await load_subscription(principal, public_id, lock=True, self_service=True)
    _live(sub)
    if acting_for_self(principal):
        self_service.not_the_tenants(sub)
    if sub.pending_change is None:
        raise InvalidStatus("no change is scheduled", code="NO_SCHEDULED_CHANGE")
    sub.pending_change = None
    sub.updated_at = await customer_now(await _customer(sub))
    await sub.save(update_fields=["pending_change", "updated_at"])
    return sub


def _credit_unused(sub: Subscription, plan: Plan, now: datetime) -> list[DraftLine]:
    period = Period(sub.current_period_start, sub.current_period_end)
    lines = [
        ProrationLine(
            "proration_credit",
            item.description,
            -unused_part(item.amount_minor, period, now),
            Period(max(now, period.start), period.end),
            item.quantity,
        )
        for item in state_machine.priced_items(sub, plan)
    ]
    return proration_draft_lines(
        [line for line in lines if line.amount_minor], plan.tax_behavior == "inclusive"
    )


@billed("subscription.paused")
@operation
@announced
async def pause_subscription(
    principal: Principal, public_id: str, *, resume_at: datetime | None, behavior: str | None
) -> Subscription:
    sub = await load_subscription(principal, public_id, lock=True)
    _live(sub)
    if sub.status not in ("active", "past_due"):
        raise InvalidStatus(f"a {sub.status} subscription cannot be paused")
    behavior = _option(
        {"b": behavior}, "b", BEHAVIORS[::2], "create_prorations", "prorationBehavior"
    )
    now = await customer_now(await _customer(sub))
    resume_at = bounds.optional_instant(resume_at, field="resumeAt")
    if resume_at is not None and resume_at <= now:
        raise ValidationError("resumeAt must be in the future", field="resumeAt")
    if behavior != "none":
        lines = _credit_unused(sub, await _plan(sub.plan_id), now)
        await PendingItem.bulk_create(pending_rows(sub, lines, now))
    sub.status = "paused"
    sub.paused_at = now
    sub.resume_at = resume_at
    sub.current_period_end = now
    sub.next_action_at = state_machine.next_action(sub)
    sub.updated_at = now
    await sub.save()
    await mrr_log.follow(sub, now, "paused")
    return sub


@billed("subscription.resumed")
@operation
@announced
async def resume_subscription(principal: Principal, public_id: str) -> Subscription:
    sub = await load_subscription(principal, public_id, lock=True)
    if sub.status != "paused":
        raise InvalidStatus(f"a {sub.status} subscription is not paused")
    now = await customer_now(await _customer(sub))
    sub.resume_at = now
    await bill_subscriptions([sub], now, now)
    return sub


@billed("subscription.canceled")
@operation
@announced
async def cancel_subscription(
    principal: Principal, public_id: str, *, at_period_end: bool, prorate: bool
) -> Subscription:
    by_customer = acting_for_self(principal)
    if by_customer and not at_period_end:
        raise PermissionDeniedError("a customer cancels at the end of the period (atPeriodEnd)")
    sub = await load_subscription(principal, public_id, lock=True, self_service=True)
    _live(sub)
    if by_customer:
        self_service.not_the_tenants(sub)
        if sub.status == "paused":  # it has no period to run out: canceling is at once
            raise InvalidStatus("a paused subscription is canceled by the tenant")
    now = await customer_now(await _customer(sub))
    sub.canceled_at = now
    sub.updated_at = now
    if at_period_end and sub.status != "paused":
        sub.cancel_at_period_end = True
        sub.cancel_requested_by = "customer" if by_customer else "tenant"
        await sub.save()
        return sub
    credit: list[DraftLine] = []
    discounted = False
    # Usage so far closes now (a trial's is recorded, never billed); a paused
    # subscription's closed at the pause and is billed here too.
    usage = state_machine.UsageClose(
        sub.current_period_start,
        min(now, sub.current_period_end) if sub.status == "paused" else now,
        sub.plan_id,
        free=sub.status == "trialing",
    )
    if prorate and sub.status in ("active", "past_due"):
        credit = _credit_unused(sub, await _plan(sub.plan_id), now)
        discounted = await coupon_on_prorations(sub)
    sub.status = "canceled"
    sub.ended_at = now
    sub.pending_change = None
    sub.next_action_at = None
    await sub.save()
    spec = state_machine.InvoiceSpec(
        sub,
        "subscription_final",
        f"{sub.public_id}:final",
        None,
        credit,
        apply_coupon=discounted,
        only_if_pending=not credit,
        usage=usage,
    )
    await store_with_usage(await drafts_for([spec], {sub.id: await _pending(sub)}), now)
    await mrr_log.follow(sub, now, "canceled")  # after the invoices' numbering lock
    return sub


@billed("subscription.updated")
@operation
@announced
async def reactivate_subscription(principal: Principal, public_id: str) -> Subscription:
    sub = await load_subscription(principal, public_id, lock=True, self_service=True)
    _live(sub)
    if not sub.cancel_at_period_end:
        raise InvalidStatus("the subscription is not set to cancel", code="NOT_CANCELING")
    if acting_for_self(principal) and sub.cancel_requested_by != "customer":
        raise PermissionDeniedError("the tenant set this subscription to cancel: ask them")
    sub.cancel_at_period_end = False
    sub.canceled_at = None
    sub.cancel_requested_by = None
    sub.updated_at = await customer_now(await _customer(sub))
    await sub.save()
    return sub
