"""After a commit that paid an invoice: what must happen at the provider.

Inside the transaction the invoice's other open attempts were canceled
(`dunning.on_paid`) and any money beyond what was due was written down as a
pending refund (`collection.refund_excess`). Provider calls wait for the commit
(DESIGN.md, convention 6); this module makes them:

- an attempt left awaiting 3-D Secure is canceled at the provider, so the
  customer finishing it later cannot pay the invoice a second time;
- a payment that succeeded anyway (the customer was quicker than the cancel) is
  refunded, as Stripe recommends for a duplicate charge, instead of silently
  becoming customer balance.

Both are idempotent: a crash in between leaves rows the next success of the
invoice, or a retried webhook, picks up again.
"""

from __future__ import annotations

import logging

from db.models import Tenant
from db.payment_models import Payment, Refund
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
    from domain.payments.operations import process_refund

    refunds = await Refund.filter(
        payment__invoice_id=invoice_id, status="pending", reason=UNAPPLIED
    ).order_by("id")
    for refund in refunds:
        await process_refund(refund.id)


async def after_success(invoice_id: int) -> None:
    """What a successful payment of `invoice_id` leaves to do at the provider."""
    await refund_unapplied(invoice_id)
    await cancel_at_provider(invoice_id)
