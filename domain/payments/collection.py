"""Collecting invoices: sending pending attempts to the provider after commit and
applying what comes back (from the call, or later from a webhook).

Each outcome is applied under the invoice's row lock, once: a payment that
succeeded never goes back to failed (a late or replayed failure is ignored), a
success after a failure is applied (the customer finished 3-D Secure or paid
with another card), and money received beyond what is due becomes customer
credit, used by the next invoice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from db.models import BalanceEntry, Customer, Invoice, Payment, PaymentMethod, Tenant
from domain.payments import dunning
from domain.payments.providers.base import ChargeRequest, ChargeResult, ProviderError
from domain.payments.providers.registry import credentials_for, provider_for
from domain.subscriptions.common import customer_now
from domain.webhooks import announce

log = logging.getLogger("tally.payments")

OPEN_TO_PAYMENT = ("open", "uncollectible")
NO_METHOD = ChargeResult(
    "failed", "", None, "no_payment_method", "The customer has no default payment method."
)


async def credit_excess(payment: Payment, amount: int, now: datetime) -> None:
    await BalanceEntry.create(
        tenant_id=payment.tenant_id,
        customer_id=payment.customer_id,
        currency=payment.currency,
        amount_minor=amount,
        source="overpayment",
        reference=payment.public_id,
        created_at=now,
    )


async def settle(payment: Payment, invoice: Invoice, now: datetime) -> None:
    """Apply a received payment to its (locked) invoice; any excess is credit."""
    applied = 0
    if invoice.status in OPEN_TO_PAYMENT:
        applied = min(payment.amount_minor, invoice.amount_due_minor)
        invoice.amount_paid_minor += applied
        invoice.amount_due_minor -= applied
    if payment.amount_minor > applied:
        await credit_excess(payment, payment.amount_minor - applied, now)
    paid = invoice.status in OPEN_TO_PAYMENT and invoice.amount_due_minor == 0
    if paid:
        invoice.status = "paid"
        invoice.paid_at = now
        await dunning.on_paid(invoice, now)
    invoice.updated_at = now
    await invoice.save()
    if paid:
        await announce.invoices("invoice.paid", [invoice])
    await dunning.refresh_delinquency([invoice.customer_id])


async def lock_payment(payment_id: int) -> tuple[Invoice, Payment]:
    """A payment and its invoice under row locks, always the invoice first (the
    order every writer uses, so two of them never deadlock). Caller owns the
    transaction."""
    invoice_id = (await Payment.get(id=payment_id).values("invoice_id"))["invoice_id"]
    invoice = await Invoice.filter(id=invoice_id).select_for_update().get()
    return invoice, await Payment.filter(id=payment_id).select_for_update().get()


async def apply_result(payment_id: int, result: ChargeResult, now: datetime) -> Payment:
    """Record what the provider answered for an attempt (one transaction)."""
    async with in_transaction():
        invoice, payment = await lock_payment(payment_id)
        await transition(payment, invoice, result, now)
        return payment


async def transition(
    payment: Payment, invoice: Invoice, result: ChargeResult, now: datetime
) -> str:
    """Move a locked payment by an outcome; returns what happened (`applied`,
    `duplicate` or `stale`). Webhooks and direct answers both come through here."""
    if result.provider_ref and not payment.provider_ref:
        payment.provider_ref = result.provider_ref
    if payment.status == "succeeded":
        return "duplicate" if result.status == "succeeded" else "stale"
    if result.status == "succeeded":
        payment.status = "succeeded"
        payment.succeeded_at = now
        payment.failure_code = payment.failure_message = None
        payment.updated_at = now
        await payment.save()
        await settle(payment, invoice, now)
        return "applied"
    if payment.status in ("failed", "canceled"):
        return "duplicate" if result.status == payment.status else "stale"
    if result.status == "failed":
        payment.status = "failed"
        payment.failed_at = now
        payment.failure_code = (result.failure_code or "failed")[:64]
        payment.failure_message = (result.failure_message or "")[:500]
        payment.updated_at = now
        await payment.save()
        await dunning.on_failure(payment, invoice, now)
        return "applied"
    if result.status in ("requires_action", "processing"):
        if payment.status == result.status:
            return "duplicate"
        payment.status = result.status
        payment.client_secret = result.client_secret or payment.client_secret
        payment.updated_at = now
        await payment.save()
        return "applied"
    return "stale"


async def process_payment(payment_id: int) -> Payment:
    """Send one pending attempt to its provider, then record the answer. Safe to
    call twice or concurrently: the idempotency key makes the provider answer the
    same, and only the first answer is applied."""
    payment = await Payment.get(id=payment_id)
    if payment.status != "pending":
        return payment
    invoice = await Invoice.get(id=payment.invoice_id)
    customer = await Customer.get(id=payment.customer_id)
    tenant = await Tenant.get(id=payment.tenant_id)
    now = await customer_now(customer)
    if invoice.status not in OPEN_TO_PAYMENT or invoice.amount_due_minor <= 0:
        await Payment.filter(id=payment.id, status="pending").update(
            status="canceled", updated_at=now
        )
        return await Payment.get(id=payment.id)
    method = (
        await PaymentMethod.get_or_none(id=payment.payment_method_id, detached_at=None)
        if payment.payment_method_id is not None
        else None
    )
    if method is None:
        result = NO_METHOD
    else:
        provider = provider_for(payment.provider, tenant)
        credentials = credentials_for(payment.provider, tenant)
        try:
            result = await provider.charge(
                credentials, charge_request(payment, invoice, customer, method)
            )
        except ProviderError as exc:
            # Unreachable or misconfigured: the attempt stays pending for the next sweep.
            log.warning("payment %s not sent: %s", payment.public_id, exc.message)
            return payment
    return await apply_result(payment.id, result, await customer_now(customer))


def charge_request(payment: Payment, invoice: Invoice, customer: Any, method: Any) -> ChargeRequest:
    return ChargeRequest(
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        customer_ref=customer.provider_customer_ref or "",
        method_ref=method.provider_ref,
        off_session=payment.off_session,
        idempotency_key=payment.idempotency_key,
        description=f"Invoice {invoice.number}",
        metadata={
            "tally_payment": payment.public_id,
            "tally_invoice": invoice.public_id,
            "tally_customer": customer.public_id,
        },
    )


async def process_pending(
    *,
    invoice_ids: Sequence[int] | None = None,
    payment_ids: Sequence[int] | None = None,
    test_clock_id: int | None = None,
    everything: bool = False,
    limit: int = 1000,
) -> int:
    """Send pending attempts: those of some invoices or payments, a test clock's,
    or (`everything`) all real customers' — the sweep that also finishes attempts a
    crash left behind."""
    query = Payment.filter(status="pending")
    if payment_ids is not None:
        query = query.filter(id__in=list(payment_ids))
    elif invoice_ids is not None:
        query = query.filter(invoice_id__in=list(invoice_ids))
    elif test_clock_id is not None:
        query = query.filter(customer__test_clock_id=test_clock_id)
    elif everything:
        query = query.filter(customer__test_clock_id__isnull=True)
    else:
        return 0
    if (payment_ids is not None and not payment_ids) or (
        invoice_ids is not None and not invoice_ids
    ):
        return 0
    ids = await query.order_by("id").limit(limit).values_list("id", flat=True)
    for payment_id in ids:
        try:
            await process_payment(payment_id)
        except Exception:  # one broken attempt (say, unreadable credentials) stops no other
            log.exception("payment %s could not be processed; it stays pending", payment_id)
    return len(ids)
