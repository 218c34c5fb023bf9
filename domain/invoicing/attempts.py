"""Deciding to collect: inside the transaction that finalizes an invoice (or
retries it), a `pending` payment row is written with its own idempotency key.
The provider is called after commit (domain/payments/collection.py), so a crash
in between leaves a pending row that the next sweep sends with the same key.

Part of invoicing, not payments: finalizing an invoice decides how it is collected
and writes its first attempt in the same transaction, and invoicing sits below
payments (payments pays, refunds and credits invoices; invoicing calls no provider).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from db.bulk import insert_many
from db.payment_models import Payment, PaymentMethod
from domain.ids import new_id
from domain.invoicing.dunning_policy import DunningPolicy

PAYMENT_COLUMNS = (
    "public_id",
    "tenant_id",
    "customer_id",
    "invoice_id",
    "payment_method_id",
    "provider",
    "method",
    "attempt",
    "off_session",
    "amount_minor",
    "currency",
    "status",
    "idempotency_key",
    "reference",
    "refunded_minor",
    "created_at",
    "updated_at",
)


def provider_name(tenant: Any, customer: Any | None = None) -> str:
    """Who collects the customer's invoices: its own provider, else the tenant's."""
    if customer is not None and customer.payment_provider:
        return str(customer.payment_provider)
    return str(tenant.payment_provider or "manual")


def attempt_key(invoice_public_id: str, attempt: int) -> str:
    return f"tally:{invoice_public_id}:attempt-{attempt}"


def next_dunning_at(invoice: Any, policy: DunningPolicy) -> datetime | None:
    """The earliest dunning step an open invoice still has: a payment retry, a
    reminder before the due date (sent invoices) or the due date itself."""
    if invoice.status != "open" or invoice.due_at is None:
        return None
    steps: list[datetime] = []
    if invoice.next_payment_attempt_at is not None:
        steps.append(invoice.next_payment_attempt_at)
    if invoice.collection_method == "send_invoice" and invoice.reminders_sent < len(
        policy.reminder_days
    ):
        steps.append(invoice.due_at - timedelta(days=policy.reminder_days[invoice.reminders_sent]))
    if not invoice.overdue_flagged:
        steps.append(invoice.due_at)
    return min(steps) if steps else None


async def default_methods(customer_ids: Sequence[int]) -> dict[int, int]:
    if not customer_ids:
        return {}
    rows = await PaymentMethod.filter(
        customer_id__in=sorted(set(customer_ids)), is_default=True, detached_at=None
    ).values_list("customer_id", "id")
    return dict(rows)


async def prepare(invoices: Sequence[Any], parties: Sequence[Any], now: datetime) -> None:
    """In memory, before the finalized invoices are stored: how each is collected
    and its first dunning step."""
    for invoice, party in zip(invoices, parties, strict=True):
        automatic = provider_name(party.tenant, party.customer) != "manual"
        invoice.collection_method = "charge_automatically" if automatic else "send_invoice"
        if automatic and invoice.status == "open" and invoice.amount_due_minor > 0:
            invoice.attempt_count = 1  # first_attempts() writes it once the invoice has an id
        if invoice.status == "open":
            policy = DunningPolicy.of(party.tenant)
            steps = next_dunning_at(invoice, policy)
            # A reminder date already past when the invoice is made is skipped.
            while (
                invoice.collection_method == "send_invoice"
                and steps is not None
                and steps < now
                and invoice.reminders_sent < len(policy.reminder_days)
            ):
                invoice.reminders_sent += 1
                steps = next_dunning_at(invoice, policy)
            invoice.next_dunning_at = steps


def attempt_row(
    invoice: Any,
    provider: str,
    method_id: int | None,
    attempt: int,
    now: datetime,
    *,
    off_session: bool = True,
) -> tuple[Any, ...]:
    return (
        new_id("payment"),
        invoice.tenant_id,
        invoice.customer_id,
        invoice.id,
        method_id,
        provider,
        "card",
        attempt,
        off_session,
        invoice.amount_due_minor,
        invoice.currency,
        "pending",
        attempt_key(invoice.public_id, attempt),
        "",
        0,
        now,
        now,
    )


async def open_attempt(
    invoice: Any, provider: str, method_id: int | None, now: datetime, *, off_session: bool
) -> Payment:
    """One more pending attempt on a locked invoice (a dunning retry, `payInvoice`):
    the invoice's attempt count grows and the caller saves the invoice."""
    invoice.attempt_count += 1
    row = attempt_row(
        invoice, provider, method_id, invoice.attempt_count, now, off_session=off_session
    )
    return await Payment.create(**dict(zip(PAYMENT_COLUMNS, row, strict=True)))


async def first_attempts(invoices: Sequence[Any], parties: Sequence[Any], now: datetime) -> None:
    """After the invoices are stored: a pending payment for each finalized invoice
    collected automatically. One query and one insert for any number."""
    due = [
        (invoice, party)
        for invoice, party in zip(invoices, parties, strict=True)
        if invoice.status == "open"
        and invoice.collection_method == "charge_automatically"
        and invoice.amount_due_minor > 0
    ]
    if not due:
        return
    methods = await default_methods([invoice.customer_id for invoice, _ in due])
    rows = []
    for invoice, party in due:
        rows.append(
            attempt_row(
                invoice,
                provider_name(party.tenant, party.customer),
                methods.get(invoice.customer_id),
                1,
                now,
            )
        )
    await insert_many(Payment, PAYMENT_COLUMNS, rows)
