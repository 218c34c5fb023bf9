"""Invoice, credit-note and credit-purchase operations that reach the provider: the invoicing (or credits)
operation commits, then the new payment attempt goes to the provider and the
invoice is announced, as it stands after the charge (paid, when the provider
answered at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.invoice_models import CreditNote, Invoice
from domain.credits import purchases
from domain.invoicing import credit_notes
from domain.invoicing import service as invoices
from domain.payments import aftermath
from domain.payments.attempt_sending import process_pending
from domain.payments.charging import charge_after_commit
from domain.tenancy.access import Principal
from domain.unit_of_work import after_commit, operation


@operation(transaction=False)
async def create_invoice(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Invoice:
    invoice = await invoices.create_invoice(principal, data, idempotency_key=idempotency_key)
    charge_after_commit([invoice], refresh=True)
    return invoice


@operation(transaction=False)
async def finalize_invoice(principal: Principal, public_id: str) -> Invoice:
    invoice = await invoices.finalize_invoice(principal, public_id)
    charge_after_commit([invoice], refresh=True)
    return invoice


@operation(transaction=False)
async def void_invoice(principal: Principal, public_id: str) -> Invoice:
    invoice = await invoices.void_invoice(principal, public_id)
    # An attempt awaiting 3-D Secure is stopped at the provider too, or the customer
    # finishing it would pay a void invoice (then refunded as excess).
    after_commit(lambda: aftermath.cancel_at_provider(invoice.id))
    charge_after_commit([invoice], refresh=True)
    return invoice


@operation(transaction=False)
async def create_credit_note(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> CreditNote:
    """A credit note; one that settled the invoice canceled its open attempts in
    Tally, and one awaiting 3-D Secure is stopped at the provider after commit, or
    the customer finishing it would pay twice."""
    note = await credit_notes.create_credit_note(principal, data, idempotency_key=idempotency_key)
    after_commit(lambda: aftermath.cancel_at_provider(note.invoice_id))
    return note


@operation(transaction=False)
async def mark_uncollectible(principal: Principal, public_id: str) -> Invoice:
    invoice = await invoices.mark_uncollectible(principal, public_id)
    charge_after_commit([invoice], refresh=True)
    return invoice


@operation(transaction=False)
async def purchase_credits(
    principal: Principal,
    customer_id: str,
    credits: int,
    *,
    currency: str | None = None,
    expires_at: datetime | None = None,
) -> Any:
    """Buy credits: the purchase and its invoice commit, then the invoice is charged
    (the sandbox and Stripe answer at once) and the purchase re-read."""
    bought = await purchases.purchase_credits(
        principal, customer_id, credits, currency=currency, expires_at=expires_at
    )

    async def charge() -> None:
        await process_pending(invoice_ids=[bought.invoice_id])
        await bought.refresh_from_db()

    after_commit(charge)
    return bought
