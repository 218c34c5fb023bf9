"""The subscription state machine, in memory: given a subscription (and its plan),
move it through everything due up to an instant and say which invoices that
produces. No I/O and no clock reads; the billing run, test clocks and the
mutations persist what it decides.

Events, in time order: a trial ends (→ active, first period billed), a paused
subscription resumes at its date (→ active, re-anchored at the resume instant),
a period ends (→ cancel if asked at period end, apply a scheduled change, open
and bill the next period). Periods are billed in advance, as Stripe does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.invoicing.builder import DraftLine, prorated_line
from domain.periods import Period, add_months, index_at, period_at
from domain.subscriptions.proration import PricedItem, unused_part
from domain.subscriptions.statuses import ENTITLED_STATUSES

LIVE = ENTITLED_STATUSES  # the statuses that entitle to the plan (one definition)


@dataclass(frozen=True, slots=True)
class UsageClose:
    """The usage period an invoice closes (billed in arrears on it): [start, end).
    `free`: a trial's, recorded but never billed (Stripe does not charge usage
    during a trial)."""

    start: datetime
    end: datetime
    plan_id: int  # the plan it closes on (a scheduled change applies after)
    free: bool = False


@dataclass
class InvoiceSpec:
    """An invoice the engine decided on; pending items and the coupon are added when
    it is stored, because they live in other rows."""

    subscription: Any
    billing_reason: str  # subscription_create | subscription_cycle | subscription_update | ...
    # Set for the invoices a billing run could race to create (one per period, one
    # final); None for those made under the subscription's row lock by a mutation.
    dedupe_key: str | None
    period: Period | None
    lines: list[DraftLine] = field(default_factory=list)
    apply_coupon: bool = False
    only_if_pending: bool = False  # a final invoice exists only to settle pending items
    usage: UsageClose | None = None  # the usage period this invoice bills in arrears
    # The coupon that discounted the period when it opened: a later period of the same
    # pass may run the coupon out and remove it from the subscription.
    coupon_id: int | None = None


def priced_items(sub: Any, plan: Any) -> list[PricedItem]:
    items = [PricedItem("plan", plan.name, sub.unit_amount_minor, sub.quantity)]
    for add_on in sub.add_ons:
        if add_on["kind"] == "recurring":
            items.append(
                PricedItem(
                    f"add_on:{add_on['code']}",
                    add_on["name"],
                    add_on["unit_amount_minor"],
                    add_on["quantity"],
                )
            )
    return items


def full_period(sub: Any, plan: Any, at: datetime) -> Period:
    """The whole interval of the anchor's grid holding `at` (before the anchor: the
    interval that ends on it)."""
    anchor = sub.billing_anchor
    if at < anchor:
        return Period(add_months(anchor, -plan.interval_months), anchor)
    return period_at(anchor, plan.interval_months, index_at(anchor, plan.interval_months, at))


def period_lines(sub: Any, plan: Any, start: datetime, *, first: bool) -> tuple[Period, list]:
    """Lines for the period opening at `start`: full price for a whole interval, the
    remaining-time share for a partial one (a billing anchor after the start)."""
    whole = full_period(sub, plan, start)
    period = Period(start, whole.end)
    inclusive = plan.tax_behavior == "inclusive"
    # An add-on that sells a work bills it as a SALE of that work (issue 16).
    works = {f"add_on:{a['code']}": a.get("work_id") for a in sub.add_ons}
    lines: list[DraftLine] = []
    for item in priced_items(sub, plan):
        kind = "plan" if item.key == "plan" else "add_on"
        work = works.get(item.key)
        if period.start != whole.start:
            amount = unused_part(item.amount_minor, whole, start)
            line = prorated_line(
                kind, item.description, item.quantity, amount, inclusive, period.start, period.end
            )
        else:
            line = DraftLine(
                kind,
                item.description,
                item.quantity,
                item.unit_amount_minor,
                item.amount_minor,
                inclusive,
                True,
                period.start,
                period.end,
            )
        lines.append(_selling(line, work))
    if first:
        for add_on in sub.add_ons:
            if add_on["kind"] == "one_off":
                line = DraftLine(
                    "add_on",
                    add_on["name"],
                    add_on["quantity"],
                    add_on["unit_amount_minor"],
                    add_on["unit_amount_minor"] * add_on["quantity"],
                    inclusive,
                    True,
                )
                lines.append(_selling(line, add_on.get("work_id")))
    return period, lines


def _selling(line: DraftLine, work_id: int | None) -> DraftLine:
    return line if work_id is None else replace(line, work_id=work_id, work_use="SALE")


def next_action(sub: Any) -> datetime | None:
    if sub.status == "canceled":
        return None
    if sub.status == "paused":
        return sub.resume_at
    if sub.status == "trialing":
        return sub.trial_end
    return sub.current_period_end


def _coupon_applies(sub: Any) -> bool:
    """Whether the period opening now is discounted. A coupon that has run out is
    removed when the first period without it opens (Stripe ends the discount), so a
    subscription's coupon is the one discounting its current period."""
    if sub.coupon_id is None:
        return False
    if sub.coupon_periods_left is None:
        return True
    if sub.coupon_periods_left > 0:
        sub.coupon_periods_left -= 1
        return True
    sub.coupon_id = sub.coupon_periods_left = None
    return False


def open_period(sub: Any, plan: Any, start: datetime, reason: str, *, first: bool) -> InvoiceSpec:
    period, lines = period_lines(sub, plan, start, first=first)
    sub.current_period_start, sub.current_period_end = period.start, period.end
    once = reason in ("subscription_create", "subscription_cycle")
    applies = _coupon_applies(sub)
    return InvoiceSpec(
        sub,
        reason,
        f"{sub.public_id}:{reason}:{period.start.isoformat()}" if once else None,
        period,
        lines,
        apply_coupon=applies,
        coupon_id=sub.coupon_id if applies else None,
    )


def apply_change(sub: Any, change: dict[str, Any]) -> None:
    sub.plan_id = change["plan_id"]
    sub.unit_amount_minor = change["unit_amount_minor"]
    sub.quantity = change["quantity"]
    sub.add_ons = change["add_ons"]


def _scheduled_change(sub: Any, plan: Any, plans: dict[int, Any], at: datetime) -> Any:
    """Apply a change scheduled for the end of the period (or trial) ending at `at`."""
    if sub.pending_change is None:
        return plan
    new_plan = plans[sub.pending_change["plan_id"]]
    apply_change(sub, sub.pending_change)
    sub.pending_change = None
    if new_plan.interval_months != plan.interval_months:
        sub.billing_anchor = at
    return new_plan


def advance(
    sub: Any,
    plan: Any,
    plans: dict[int, Any],
    until: datetime,
    on_event: Callable[[datetime, str], None] | None = None,
) -> tuple[list[InvoiceSpec], Any]:
    """Run every event due at or before `until`, in time order. Returns the invoices
    to create and the plan the subscription ends on (a scheduled change may swap it).
    `on_event(at, cause)` is told after each event with the subscription as the event
    left it (the MRR movement log reads it)."""
    specs: list[InvoiceSpec] = []
    while (at := next_action(sub)) is not None and at <= until:
        # The period ending now is billed for its usage in arrears on the next invoice.
        closing = UsageClose(sub.current_period_start, sub.current_period_end, plan.id)
        if sub.status == "paused":
            # The usage up to the pause (pausing ended the period then).
            sub.status = "active"
            sub.paused_at = sub.resume_at = None
            sub.billing_anchor = at
            specs.append(open_period(sub, plan, at, "subscription_resume", first=False))
            specs[-1].usage = closing
            cause = "resumed"
        elif sub.status == "trialing" and sub.cancel_at_period_end:
            sub.status = "canceled"
            sub.ended_at = at
            cause = "canceled"
        elif sub.status == "trialing":
            sub.status = "active"
            plan = _scheduled_change(sub, plan, plans, at)
            specs.append(open_period(sub, plan, at, "subscription_cycle", first=True))
            specs[-1].usage = UsageClose(closing.start, closing.end, plan.id, free=True)
            cause = "trial_converted"
        elif sub.cancel_at_period_end:
            sub.status = "canceled"
            sub.ended_at = at
            specs.append(
                InvoiceSpec(
                    sub,
                    "subscription_final",
                    f"{sub.public_id}:final",
                    None,
                    only_if_pending=True,
                    usage=closing,
                )
            )
            cause = "canceled"
        else:
            changing, coupon = sub.pending_change is not None, sub.coupon_id
            plan = _scheduled_change(sub, plan, plans, at)
            specs.append(open_period(sub, plan, at, "subscription_cycle", first=False))
            specs[-1].usage = closing
            cause = (
                "changed"
                if changing
                else "coupon_expired"
                if coupon is not None and sub.coupon_id is None
                else "renewed"
            )
        if on_event is not None:
            on_event(at, cause)
        if sub.status == "canceled":
            break
    sub.next_action_at = next_action(sub)
    return specs, plan
