"""Batch reads for DataLoaders: one SELECT per batch, results in the order asked.
Parents are already authorized; these only keep to the tenant."""

from __future__ import annotations

from collections import defaultdict

from db.invoice_models import CreditNote, Invoice, InvoiceLine
from db.models import Subscription
from db.royalty_models import Work
from domain.invoicing.issuing import balances


async def lines_by_invoice(invoice_ids: list[int]) -> list[list[InvoiceLine]]:
    """Each invoice's lines in order; a line that sells a work carries the work's
    public id as `work_public_id` (one more query per batch, only when one does)."""
    found: dict[int, list[InvoiceLine]] = defaultdict(list)
    lines = await InvoiceLine.filter(invoice_id__in=invoice_ids).order_by("invoice_id", "position")
    work_ids = sorted({line.work_id for line in lines if line.work_id is not None})
    works = (
        dict(await Work.filter(id__in=work_ids).values_list("id", "public_id")) if work_ids else {}
    )
    for line in lines:
        line.work_public_id = works.get(line.work_id)  # type: ignore[attr-defined]
        found[line.invoice_id].append(line)
    return [found[i] for i in invoice_ids]


async def invoices_by_ids(tenant_id: int, ids: list[int]) -> list[Invoice | None]:
    rows = {r.id: r for r in await Invoice.filter(tenant_id=tenant_id, id__in=ids)}
    return [rows.get(i) for i in ids]


async def subscriptions_by_ids(tenant_id: int, ids: list[int]) -> list[Subscription | None]:
    rows = {r.id: r for r in await Subscription.filter(tenant_id=tenant_id, id__in=ids)}
    return [rows.get(i) for i in ids]


async def credit_notes_by_invoice(tenant_id: int, invoice_ids: list[int]) -> list[list[CreditNote]]:
    found: dict[int, list[CreditNote]] = defaultdict(list)
    for note in await CreditNote.filter(tenant_id=tenant_id, invoice_id__in=invoice_ids).order_by(
        "id"
    ):
        found[note.invoice_id].append(note)
    return [found[i] for i in invoice_ids]


async def balances_by_customer(customer_ids: list[int]) -> list[list[tuple[str, int]]]:
    """Each customer's credit balance per currency (credit notes, net-credit invoices)."""
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for (owner, currency), value in sorted((await balances(customer_ids, lock=False)).items()):
        found[owner].append((currency, value))
    return [found[i] for i in customer_ids]
