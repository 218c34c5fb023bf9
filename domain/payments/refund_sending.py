"""Sending a refund to the provider, exactly once however many callers try.

A refund row is written (pending) in the transaction that decides it; the send
happens after commit. Each sender first claims the row (`_claim`), so a request
and the worker's sweep (aftermath.send_due_refunds) never send it at the same
time, and the provider's idempotency key (`tally:<refund id>`) makes a retry of a
send whose answer was lost a replay, not a second refund. `record_refunded` writes
what a refund the provider took means for the payment and the invoice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from db.models import Tenant
from db.payment_models import Payment, Refund
from domain import clock
from domain.invoicing.credit_notes import CreditNoteTooLarge, issue_credit_note
from domain.payments.collection import UNAPPLIED, Locked, lock_payment
from domain.payments.providers.base import ProviderError
from domain.payments.providers.registry import credentials_for, provider_for

# How long a refund's send may take before another worker may take it again: far
# above a provider call's timeout (the SDK's 30 s with two retries), and the delay
# before a refund the provider did not take is tried again.
REFUND_LEASE = timedelta(minutes=5)


def lease_expired(stamp: datetime) -> bool:
    """Whether a refund's claim stamped `stamp` no longer holds. A stamp far in the
    future is a test clock's (the row was made at its time), never a claim, which is
    stamped with the real time."""
    now = clock.real_now()
    return stamp < now - REFUND_LEASE or stamp > now + REFUND_LEASE


async def process_refund(refund_id: int) -> Refund:
    """Send a pending refund to the provider and record the answer. The sender
    claims it first, so two callers (the request, the worker's sweep) never send
    it at the same time; the provider's idempotency key makes a later retry of a
    send whose answer was lost a replay, not a second refund."""
    sent = await send_refund(refund_id)
    return sent if sent is not None else await Refund.get(id=refund_id)


async def send_refund(refund_id: int) -> Refund | None:
    """process_refund's work; None when another caller holds (or has finished) it."""
    refund = await Refund.get(id=refund_id)
    if refund.status != "pending" or not await _claim(refund):
        return None
    payment = await Payment.get(id=refund.payment_id)
    tenant = await Tenant.get(id=refund.tenant_id)
    provider = provider_for(payment.provider, tenant)
    try:
        result = await provider.refund(
            credentials_for(payment.provider, tenant),
            payment.provider_ref or "",
            refund.amount_minor,
            refund.reason,
            f"tally:{refund.public_id}",
        )
    except ProviderError:
        # Still pending: the worker's sweep (aftermath.send_due_refunds) sends it
        # again once this claim has expired.
        return refund
    async with in_transaction():
        # Invoice and payment first, as the webhook that may report this refund does.
        locked = await lock_payment(payment.id)
        refund = await Refund.filter(id=refund_id).select_for_update().get()
        if refund.status != "pending":
            return refund
        refund.provider_ref = result.provider_ref or None
        if result.status == "failed":
            refund.status, refund.failure_message = "failed", result.failure_message
        else:
            await record_refunded(refund, locked, refund.amount_minor)
            refund.status = "succeeded"
        refund.updated_at = clock.now()
        await refund.save()
    return refund


async def _claim(refund: Refund) -> bool:
    """Take a pending refund for sending: its `updated_at` moves to now, on the
    condition that it still holds the value read, so of several callers exactly one
    wins. A refund is free when it was never claimed (`updated_at` is still its
    creation stamp) or its claim is older than REFUND_LEASE (a send that
    failed, or a worker that died); a live claim is never taken over, whoever reads
    it after it was made."""
    if refund.updated_at != refund.created_at and not lease_expired(refund.updated_at):
        return False
    claimed = await Refund.filter(
        id=refund.id, status="pending", updated_at=refund.updated_at
    ).update(updated_at=clock.real_now())
    return bool(claimed)


async def record_refunded(refund: Refund, locked: Locked, amount: int) -> Any:
    """Money went back to the customer: the payment and a credit note say so.
    The caller holds the transaction and both rows (`lock_payment`)."""
    invoice, payment = locked.invoice, locked.payment
    now = locked.now()
    if refund.reason == UNAPPLIED:  # never counted towards the invoice: nothing to credit
        payment.refunded_minor += amount
        payment.updated_at = now
        await payment.save(update_fields=["refunded_minor", "updated_at"])
        return None
    creditable = invoice.total_minor - invoice.amount_credited_minor
    if amount > creditable:
        raise CreditNoteTooLarge(f"only {creditable} is left to credit on the invoice")
    payment.refunded_minor += amount
    payment.updated_at = now
    await payment.save(update_fields=["refunded_minor", "updated_at"])
    note = await issue_credit_note(
        invoice,
        amount,
        refund.reason if refund.reason in ("duplicate", "fraudulent") else "requested_by_customer",
        f"Refund of payment {payment.public_id}",
        now,
        refunded=amount,
    )
    refund.credit_note_id = note.id
    return note
