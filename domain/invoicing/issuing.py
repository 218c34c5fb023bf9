"""Storing invoices: drafts become rows, and finalization (number, snapshots, due
date, customer balance) happens in memory before the insert, so a batch of any
size costs a fixed handful of statements. The caller owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.functions import Sum

from db.bulk import insert_many
from db.invoice_models import BalanceEntry, Invoice, InvoiceLine
from db.models import Customer, PendingItem
from domain.ids import new_id
from domain.invoicing import attempts
from domain.invoicing.builder import Draft, DraftLine, prorated_line
from domain.invoicing.numbering import take_numbers
from domain.periods import Period
from domain.unit_of_work import collected
from domain.webhooks import announce


class InvoiceRecord:
    """An invoice built in memory by the billing run: the attributes of
    `db.models.Invoice` without the ORM's per-attribute bookkeeping, which cost
    more than the billing itself. Stored with `insert_many`; reads return models."""

    def __init__(self, **values: Any) -> None:
        for name, column in Invoice._meta.fields_map.items():
            if name in Invoice._meta.fields_db_projection:
                default = column.default
                setattr(self, name, default() if callable(default) else default)
        self.__dict__.update(values)


@dataclass(frozen=True, slots=True)
class Party:
    """Who an invoice is between: the seller (tenant) and the customer."""

    tenant: Any
    customer: Any


@dataclass
class NewInvoice:
    tenant: Any
    customer: Any
    draft: Draft
    billing_reason: str
    subscription_id: int | None = None
    dedupe_key: str | None = None
    period: Period | None = None
    pending: list[PendingItem] = field(default_factory=list)
    memo: str = ""
    usage: Any = None  # what the usage context records once this invoice is stored


def customer_snapshot(customer: Any) -> dict[str, Any]:
    return {
        "name": customer.name,
        "email": customer.email,
        "address": [
            customer.address_line1,
            customer.address_line2,
            " ".join(p for p in (customer.postal_code, customer.city) if p),
            customer.state,
        ],
        "country": customer.country,
        "tax_id": customer.tax_id,
        "locale": customer.locale,
    }


def seller_snapshot(tenant: Any) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "legal_name": tenant.legal_name,
        "address": [
            tenant.address_line1,
            tenant.address_line2,
            " ".join(p for p in (tenant.postal_code, tenant.city) if p),
            tenant.state,
        ],
        "country": tenant.country,
        "vat_id": tenant.vat_id,
        "email": tenant.billing_email,
    }


def apply_draft(invoice: Invoice, draft: Draft) -> None:
    totals = draft.totals
    invoice.subtotal_minor = totals.subtotal_minor
    invoice.discount_minor = totals.discount_minor
    invoice.tax_minor = totals.tax_minor
    invoice.total_minor = totals.total_minor
    invoice.amount_due_minor = max(totals.total_minor, 0)
    invoice.tax_breakdown = draft.tax_breakdown
    invoice.tax_reason = draft.tax.reason
    invoice.reverse_charge = draft.tax.reverse_charge
    invoice.coupon_code = draft.coupon_code


LINE_COLUMNS = (
    "invoice_id",
    "position",
    "kind",
    "description",
    "quantity",
    "unit_amount_minor",
    "amount_minor",
    "discount_minor",
    "tax_inclusive",
    "tax_rate_bp",
    "period_start",
    "period_end",
    "details",
    "work_id",
    "work_use",
)


def invoice_columns() -> tuple[str, ...]:
    """Every stored column of an invoice but its generated id (known once Tortoise
    has initialised the models)."""
    return tuple(name for name in Invoice._meta.fields_db_projection if name != "id")


def line_rows(invoice_id: int, draft: Draft) -> list[tuple[Any, ...]]:
    return [
        (
            invoice_id,
            position,
            line.kind,
            line.description[:300],
            line.quantity,
            line.unit_amount_minor,
            line.amount_minor,
            discount,
            line.tax_inclusive,
            draft.tax.rate_bp,
            line.period_start,
            line.period_end,
            line.details,
            line.work_id,
            line.work_use,
        )
        for position, (line, discount) in enumerate(
            zip(draft.lines, draft.totals.line_discounts, strict=True)
        )
    ]


async def insert_lines(rows: Sequence[tuple[Any, ...]]) -> None:
    await insert_many(InvoiceLine, LINE_COLUMNS, rows)


def pending_lines(items: Sequence[PendingItem]) -> list[DraftLine]:
    """Prorations kept for the next invoice; the coupon that discounts that invoice
    discounts them too (a percent coupon, the credits as well as the charges)."""
    return [
        prorated_line(
            item.kind,
            item.description,
            item.quantity or 1,
            item.amount_minor,
            item.tax_inclusive,
            item.period_start,
            item.period_end,
        )
        for item in items
    ]


async def balances(customer_ids: Sequence[int], *, lock: bool) -> dict[tuple[int, str], int]:
    """Each customer's credit balance per currency (only non-zero ones)."""
    if not customer_ids:
        return {}
    rows = (
        await BalanceEntry.filter(customer_id__in=list(customer_ids))
        .annotate(total=Sum("amount_minor"))
        .group_by("customer_id", "currency")
        .values("customer_id", "currency", "total")
    )
    found = {(r["customer_id"], r["currency"]): int(r["total"] or 0) for r in rows}
    found = {key: value for key, value in found.items() if value}
    if lock and found:
        # Two finalizations for one customer must not spend the same credit: lock the
        # customers that have some, then read again under the lock.
        holders = sorted({customer_id for customer_id, _ in found})
        await Customer.filter(id__in=holders).select_for_update().values_list("id", flat=True)
        return await balances(holders, lock=False)
    return found


async def finalize_in_memory(
    invoices: Sequence[Invoice], parties: Sequence[Any], now: datetime
) -> list[BalanceEntry]:
    """Number, snapshot, date and settle (customer balance) invoices about to be
    stored or updated; returns the balance entries to insert with them."""
    by_tenant: dict[int, list[int]] = defaultdict(list)
    for index, invoice in enumerate(invoices):
        by_tenant[invoice.tenant_id].append(index)
    for indexes in by_tenant.values():
        tenant = parties[indexes[0]].tenant
        numbers = await take_numbers(tenant, "invoice", now, len(indexes))
        for index, number in zip(indexes, numbers, strict=True):
            invoices[index].number = number
    available = await balances(sorted({i.customer_id for i in invoices}), lock=True)
    entries: list[BalanceEntry] = []
    for invoice, party in zip(invoices, parties, strict=True):
        tenant, customer = party.tenant, party.customer
        key = (customer.id, invoice.currency)
        if invoice.total_minor < 0:
            # A net credit (a downgrade's proration) becomes customer credit.
            entries.append(_entry(invoice, -invoice.total_minor, now))
            available[key] = available.get(key, 0) - invoice.total_minor
        elif available.get(key, 0) > 0 and invoice.total_minor > 0:
            applied = min(available[key], invoice.total_minor)
            invoice.credit_applied_minor = applied
            available[key] -= applied
            entries.append(_entry(invoice, -applied, now))
        invoice.amount_due_minor = max(invoice.total_minor - invoice.credit_applied_minor, 0)
        terms = customer.payment_terms_days
        if terms is None:
            terms = tenant.payment_terms_days
        invoice.finalized_at = now
        invoice.due_at = now + timedelta(days=terms)
        invoice.customer_snapshot = customer_snapshot(customer)
        invoice.seller_snapshot = seller_snapshot(tenant)
        invoice.locale = customer.locale
        if invoice.amount_due_minor == 0:
            invoice.status = "paid"
            invoice.paid_at = now
        else:
            invoice.status = "open"
    return entries


def _entry(invoice: Invoice, amount: int, now: datetime) -> BalanceEntry:
    return BalanceEntry(
        tenant_id=invoice.tenant_id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        amount_minor=amount,
        source="invoice",
        reference=invoice.public_id,
        created_at=now,
    )


async def store_invoices(
    new: Sequence[NewInvoice], now: datetime, *, finalize: bool = True
) -> list[Invoice]:
    """Insert invoices with their lines (finalized unless told otherwise) and attach
    the pending items they settle. A fixed number of statements per call."""
    if not new:
        return []
    invoices: list[Any] = []
    for item in new:
        invoice = InvoiceRecord(
            public_id=new_id("invoice"),
            tenant_id=item.tenant.id,
            customer_id=item.customer.id,
            subscription_id=item.subscription_id,
            dedupe_key=item.dedupe_key,
            status="draft",
            billing_reason=item.billing_reason,
            currency=item.draft.currency,
            locale=item.customer.locale,
            period_start=item.period.start if item.period else None,
            period_end=item.period.end if item.period else None,
            memo=item.memo,
            created_at=now,
            updated_at=now,
        )
        apply_draft(invoice, item.draft)
        invoices.append(invoice)
    entries: list[BalanceEntry] = []
    if finalize:
        entries = await finalize_in_memory(invoices, new, now)
        await attempts.prepare(invoices, new, now)
    columns = invoice_columns()
    await insert_many(Invoice, columns, [[getattr(i, c) for c in columns] for i in invoices])
    ids = dict(
        await Invoice.filter(public_id__in=[i.public_id for i in invoices]).values_list(
            "public_id", "id"
        )
    )
    lines: list[tuple[Any, ...]] = []
    settled: list[PendingItem] = []
    for invoice, item in zip(invoices, new, strict=True):
        invoice.id = ids[invoice.public_id]
        lines.extend(line_rows(invoice.id, item.draft))
        for pending in item.pending:
            pending.invoice_id = invoice.id
            settled.append(pending)
    await insert_lines(lines)
    if settled:
        await PendingItem.bulk_update(settled, fields=["invoice_id"])
    if entries:
        await BalanceEntry.bulk_create(entries)
    if finalize:
        await attempts.first_attempts(invoices, new, now)
        known = {item.customer.id: item.customer.public_id for item in new}
        await announce.invoices("invoice.finalized", invoices, known)
        await announce.invoices("invoice.paid", [i for i in invoices if i.status == "paid"], known)
    stored = collected("invoices")  # the operation announces (or charges) them after commit
    if stored is not None:
        stored.extend(invoices)
    return invoices
