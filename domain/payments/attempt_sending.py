"""Sending payment attempts to the provider, after the transaction that made them
has committed: one attempt (`process_payment`), or all pending attempts of some
invoices, a test clock or every real customer (`process_pending`, the sweep that
also finishes attempts a crash left behind). What the answer means for the payment
and the invoice is `collection.apply_result`'s."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from db.invoice_models import Invoice
from db.models import Customer, Tenant
from db.payment_models import Payment, PaymentMethod
from domain.clock import customer_now
from domain.payments.aftermath import after_success
from domain.payments.collection import NO_METHOD, OPEN_TO_PAYMENT, apply_result
from domain.payments.providers.base import ChargeRequest, ProviderError
from domain.payments.providers.registry import credentials_for, provider_for

SEND_CONCURRENCY = 8  # provider calls in flight at once (different customers)
log = logging.getLogger("tally.payments")


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
    payment = await apply_result(payment.id, result, await customer_now(customer))
    if payment.status == "succeeded":
        await after_success(payment.invoice_id)
    return payment


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
    rows = await query.order_by("id").limit(limit).values_list("id", "customer_id")
    by_customer: dict[int, list[int]] = {}
    for payment_id, customer_id in rows:
        by_customer.setdefault(customer_id, []).append(payment_id)
    # A provider call takes a few hundred milliseconds: a billing run's charges go
    # out several at a time (well inside Stripe's rate limits), and one customer's
    # in order, one after the other, so their results apply as they would alone.
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(payment_ids: list[int]) -> None:
        async with gate:
            for payment_id in payment_ids:
                try:
                    await process_payment(payment_id)
                except Exception:  # one broken attempt (say, bad credentials) stops no other
                    log.exception("payment %s could not be processed; it stays pending", payment_id)

    await asyncio.gather(*(send(ids) for ids in by_customer.values()))
    return len(rows)
