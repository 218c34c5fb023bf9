"""Proration lines as invoices carry them: how they are shown, how they are kept
for the next invoice (pending items), and whether the subscription's coupon
discounts them. The maths itself is in proration.py."""

from __future__ import annotations

from datetime import datetime

from db.invoice_models import Invoice
from db.models import Coupon, PendingItem, Subscription
from domain.invoicing.builder import DraftLine, prorated_line
from domain.subscriptions.proration import ProrationLine


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
