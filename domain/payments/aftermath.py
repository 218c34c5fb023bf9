"""After a commit that paid an invoice: what must happen at the provider.

Inside the transaction the invoice's other open attempts were canceled
(`invoicing.settlement.on_paid`) and any money beyond what was due was written down as a
pending refund (`collection.refund_excess`). Provider calls wait for the commit
(docs/ARCHITECTURE.md, "Transactions"); this module makes them:

- an attempt left awaiting 3-D Secure is canceled at the provider, so the
  customer finishing it later cannot pay the invoice a second time;
- a payment that succeeded anyway (the customer was quicker than the cancel) is
  refunded, as Stripe recommends for a duplicate charge, instead of silently
  becoming customer balance.

A refund the provider did not take (unreachable, or a crash before the call)
stays pending; the worker's sweep, `send_due_refunds` (also run by `bill`), sends
it again once the failed attempt's claim has expired. A replayed webhook does not
(it is a duplicate). Each send carries the refund's own idempotency key.
"""

from __future__ import annotations

import logging

from tortoise.expressions import Q

from db.models import Tenant
from db.payment_models import Payment, Refund
from domain import clock
from domain.payments import refund_sending
from domain.payments.collection import UNAPPLIED
from domain.payments.providers.base import ProviderError
from domain.payments.providers.registry import credentials_for, provider_for

log = logging.getLogger("tally.payments")


async def cancel_at_provider(invoice_id: int) -> None:
    """Cancel at the provider the invoice's attempts Tally canceled that the
    provider knows of (an intent awaiting 3-D Secure)."""
    stale = await Payment.filter(
        invoice_id=invoice_id, status="canceled", provider_ref__isnull=False
    ).exclude(provider__in=("manual", ""))
    stale = [p for p in stale if p.provider_ref]
    if not stale:
        return
    tenant = await Tenant.get(id=stale[0].tenant_id)
    for payment in stale:
        try:
            stopped = await provider_for(payment.provider, tenant).cancel(
                credentials_for(payment.provider, tenant), payment.provider_ref or ""
            )
        except ProviderError as exc:
            log.warning("payment %s not canceled at the provider: %s", payment.public_id, exc)
            continue
        if not stopped:
            # It succeeded first: its success event is refunded when it arrives.
            log.warning("payment %s could no longer be canceled", payment.public_id)


async def refund_unapplied(invoice_id: int) -> None:
    """Send the pending refunds of money the invoice's payments brought beyond
    what was due."""
    refunds = await Refund.filter(
        payment__invoice_id=invoice_id, status="pending", reason=UNAPPLIED
    ).order_by("id")
    for refund in refunds:
        await refund_sending.process_refund(refund.id)


async def after_success(invoice_id: int) -> None:
    """What a successful payment of `invoice_id` leaves to do at the provider."""
    await refund_unapplied(invoice_id)
    await cancel_at_provider(invoice_id)


async def send_due_refunds(*, limit: int = 100) -> int:
    """Send the pending refunds nobody is sending (their last claim has expired);
    returns how many the provider answered. Several workers may run it at once: each
    refund is claimed before it is sent (refund_sending.process_refund)."""
    now = clock.real_now()
    # A stamp far in the future is a test clock's (the row was made at its time),
    # never a claim, which is stamped with the real time.
    due = Q(updated_at__lt=now - refund_sending.REFUND_LEASE) | Q(
        updated_at__gt=now + refund_sending.REFUND_LEASE
    )
    ids = (
        await Refund.filter(due, status="pending")
        .order_by("id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    sent = 0
    for refund_id in ids:
        try:
            refund = await refund_sending.send_refund(int(refund_id))  # type: ignore[arg-type]
        except Exception:  # one broken refund (say, revoked credentials) stops no other
            log.exception("refund %s could not be sent; it stays pending", refund_id)
            continue
        # Counted only by the worker that claimed it: another may have sent it since
        # this one listed it.
        sent += refund is not None and refund.status != "pending"
    return sent
