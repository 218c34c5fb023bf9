"""What follows from an invoice's standing, whoever changed it (a payment, a credit
note, a void, a write-off): a settled invoice stops dunning and brings its
past-due subscription back, and a customer is delinquent while it owes.

Part of invoicing so that invoicing's own operations (credit notes, voids) and
payments' (a charge, a dunning step) apply the same rules without invoicing
importing payments, which sits above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.expressions import Q

from db.invoice_models import Invoice
from db.models import Customer, Subscription
from db.payment_models import Payment
from domain.analytics import movement_log as mrr_log
from domain.webhooks import announce


async def refresh_delinquency(customer_ids: Sequence[int]) -> None:
    """A customer is delinquent while one of its invoices is overdue, has a failed
    payment, or was written off as uncollectible."""
    for customer_id in sorted(set(customer_ids)):
        owing = await Invoice.filter(
            Q(status="uncollectible")
            | Q(status="open", overdue_flagged=True)
            | Q(status="open", first_failed_at__isnull=False),
            customer_id=customer_id,
        ).exists()
        await Customer.filter(id=customer_id).update(delinquent=owing)


async def on_paid(
    invoice: Invoice, now: datetime, *, subscription_status: str | None = None
) -> None:
    """The invoice has nothing left to pay: stop dunning, cancel the attempts still
    open, and bring a past-due subscription back to active. `subscription_status`,
    when the caller read it under the invoice's lock, saves locking a subscription
    that is not past due (only this invoice's dunning could make it so, and that
    waits on the same lock)."""
    invoice.next_payment_attempt_at = None
    invoice.next_dunning_at = None
    # An attempt awaiting 3-D Secure is canceled too, here and (after commit, by
    # aftermath.after_success) at the provider: finishing it later would charge twice.
    await Payment.filter(invoice_id=invoice.id, status__in=("pending", "requires_action")).update(
        status="canceled", updated_at=now
    )
    if invoice.subscription_id is None or subscription_status not in (None, "past_due", "unpaid"):
        return
    sub = await Subscription.filter(id=invoice.subscription_id).select_for_update().first()
    if sub is not None and sub.status in ("past_due", "unpaid"):
        other_unpaid = (
            await Invoice.filter(
                Q(status="uncollectible") | Q(status="open", first_failed_at__isnull=False),
                subscription_id=sub.id,
            )
            .exclude(id=invoice.id)
            .exists()
        )
        if not other_unpaid:
            sub.status, sub.updated_at = "active", now
            await sub.save(update_fields=["status", "updated_at"])
            await mrr_log.follow(sub, now, "recovered")
            await announce.subscription("subscription.updated", sub)
