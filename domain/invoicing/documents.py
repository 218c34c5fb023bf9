"""Invoice and credit note documents, read from the database, rendered on demand.

Finalized documents show the customer and seller as they were at finalization
(the snapshots); a draft shows them as they are now.
"""

from __future__ import annotations

import asyncio
from typing import Any

from db.invoice_models import CreditNote, Invoice, InvoiceLine
from db.models import Customer, Tenant
from domain.invoicing.builder import shown_line
from domain.invoicing.credit_notes import load_credit_note
from domain.invoicing.issuing import customer_snapshot, seller_snapshot
from domain.invoicing.pdf import Document, render_html, render_pdf
from domain.invoicing.service import load_invoice
from domain.tenancy.access import Principal


async def _parties(row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    seller = getattr(row, "seller_snapshot", None) or seller_snapshot(
        await Tenant.get(id=row.tenant_id)
    )
    customer = getattr(row, "customer_snapshot", None) or customer_snapshot(
        await Customer.get(id=row.customer_id)
    )
    return seller, customer


def _tax_groups(breakdown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [g for g in breakdown if g["rate_bp"]]


async def invoice_document(invoice: Invoice) -> Document:
    seller, customer = await _parties(invoice)
    rows = (
        await InvoiceLine.filter(invoice_id=invoice.id)
        .order_by("position")
        .values(
            "kind",
            "description",
            "quantity",
            "unit_amount_minor",
            "amount_minor",
            "period_start",
            "period_end",
            "details",  # usage lines: exact quantity, unit price, tiers (pdf.py)
        )
    )
    lines = []
    for row in rows:
        description, quantity, unit = shown_line(
            row["description"], row["quantity"], row["unit_amount_minor"], row["amount_minor"]
        )
        lines.append(
            {**row, "description": description, "quantity": quantity, "unit_amount_minor": unit}
        )
    totals: list[tuple[str, int]] = [("subtotal", invoice.subtotal_minor)]
    if invoice.discount_minor:
        totals.append(("discount", -invoice.discount_minor))
    totals.append(("total", invoice.total_minor))
    for key, value in (
        ("credit_applied", -invoice.credit_applied_minor),
        ("amount_paid", -invoice.amount_paid_minor),
        ("amount_credited", -invoice.amount_credited_minor),
    ):
        if value:
            totals.append((key, value))
    totals.append(("amount_due", invoice.amount_due_minor))
    return Document(
        kind="invoice",
        number=invoice.number,
        status=invoice.status,
        locale=invoice.locale,
        currency=invoice.currency,
        issued_at=invoice.finalized_at or invoice.created_at,
        due_at=invoice.due_at,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        seller=seller,
        customer=customer,
        lines=lines,
        totals=totals,
        taxes=_tax_groups(invoice.tax_breakdown),
        reverse_charge=invoice.reverse_charge,
        not_taxed=invoice.tax_reason == "not_registered",
        memo=invoice.memo,
    )


async def credit_note_document(note: CreditNote) -> Document:
    invoice = await Invoice.get(id=note.invoice_id)
    seller, customer = await _parties(invoice)
    return Document(
        kind="credit_note",
        number=note.number,
        status="issued",
        locale=invoice.locale,
        currency=note.currency,
        issued_at=note.issued_at,
        seller=seller,
        customer=customer,
        lines=[
            {
                "kind": "credit",
                "description": invoice.number or invoice.public_id,
                "quantity": 1,
                "unit_amount_minor": note.subtotal_minor,
                "amount_minor": note.subtotal_minor,
            }
        ],
        totals=[("subtotal", note.subtotal_minor), ("total", note.total_minor)],
        taxes=_tax_groups(note.tax_breakdown),
        reverse_charge=invoice.reverse_charge,
        memo=note.memo,
        reference=invoice.number,
        reason=note.reason,
    )


async def pdf_bytes(document: Document) -> bytes:
    """Rendering is CPU work (tens of ms): off the event loop, in a worker thread."""
    return await asyncio.to_thread(render_pdf, render_html(document))


async def invoice_pdf(principal: Principal, public_id: str) -> tuple[str, bytes]:
    invoice = await load_invoice(principal, public_id)
    name = invoice.number or invoice.public_id
    return f"{name}.pdf", await pdf_bytes(await invoice_document(invoice))


async def credit_note_pdf(principal: Principal, public_id: str) -> tuple[str, bytes]:
    note = await load_credit_note(principal, public_id)
    return f"{note.number}.pdf", await pdf_bytes(await credit_note_document(note))
