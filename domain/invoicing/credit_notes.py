"""Credit notes: the only correction of a finalized invoice.

A credit note (full or partial, with a reason) gets its own gapless number. It
first reduces what the invoice still asks for; whatever exceeds that (an invoice
already paid) becomes customer credit, used by the next invoices. Its tax is the
invoice's tax in proportion, per rate, so credited tax never exceeds charged tax.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.invoice_models import BalanceEntry, CreditNote, Invoice
from db.models import Customer, Tenant
from domain import validation
from domain.clock import customer_now
from domain.errors import NotFoundError, ValidationError
from domain.events import feed
from domain.idempotency import run_once
from domain.ids import check_id, new_id
from domain.invoicing import settlement
from domain.invoicing.events import announce_after_commit
from domain.invoicing.numbering import take_numbers
from domain.invoicing.service import InvoiceStatusError, load_invoice
from domain.money import allocate, div_half_up, money_from_input
from domain.pagination import Page, PageRequest, narrowed_to, paginate
from domain.tenancy.access import Permission, Principal, scope
from domain.unit_of_work import operation
from domain.webhooks import announce

# Stripe's four credit note reasons, "other", and the two that refunds and lost
# disputes record; a tenant may give those by hand too (a refund made outside Tally,
# a dispute settled at the bank), so every reason the schema offers is accepted.
REASONS = (
    "duplicate",
    "fraudulent",
    "order_change",
    "product_unsatisfactory",
    "other",
    "requested_by_customer",
    "dispute_lost",
)
MAX_MEMO = 2000


class CreditNoteTooLarge(ValidationError):
    code = "CREDIT_NOTE_TOO_LARGE"


def split_by_rate(amount: int, breakdown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`amount` (tax included) split over the invoice's tax groups by their gross
    share, each part split into net and tax at the group's own proportion."""
    groups = [
        (g, g["taxable_minor"] + (0 if g["inclusive"] else g["tax_minor"])) for g in breakdown
    ]
    groups = [(g, gross) for g, gross in groups if gross > 0]
    if not groups:
        return [{"rate_bp": 0, "inclusive": False, "taxable_minor": amount, "tax_minor": 0}]
    parts = allocate(amount, [gross for _, gross in groups])
    out = []
    for (group, gross), part in zip(groups, parts, strict=True):
        tax = div_half_up(part * group["tax_minor"], gross)
        out.append(
            {
                "rate_bp": group["rate_bp"],
                "inclusive": group["inclusive"],
                "name": group.get("name", ""),
                "taxable_minor": part if group["inclusive"] else part - tax,
                "tax_minor": tax,
            }
        )
    return out


@operation(transaction=False)
async def create_credit_note(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> CreditNote:
    principal.require(Permission.INVOICES_WRITE)

    async def create() -> CreditNote:
        invoice = await load_invoice(
            principal, data.get("invoice_id") or "", lock=True, field="invoiceId"
        )
        if invoice.status not in ("open", "paid", "uncollectible"):
            raise InvoiceStatusError(f"a {invoice.status} invoice cannot be credited")
        creditable = invoice.total_minor - invoice.amount_credited_minor
        if data.get("amount") is not None:
            money = money_from_input(
                currency=data["amount"].get("currency"),
                amount_minor=data["amount"].get("amount_minor"),
                amount=data["amount"].get("amount"),
                field="amount",
            )
            if money.currency != invoice.currency:
                raise ValidationError(
                    f"the invoice is in {invoice.currency}",
                    field="amount.currency",
                    code="CURRENCY_MISMATCH",
                )
            amount = money.amount_minor
        else:
            amount = creditable
        if amount <= 0:
            raise ValidationError(
                "there is nothing to credit" if creditable <= 0 else "amount must be above zero",
                field="amount",
            )
        if amount > creditable:
            raise CreditNoteTooLarge(
                f"at most {creditable} minor units of this invoice are left to credit",
                field="amount",
            )
        reason = (data.get("reason") or "").lower()
        if reason not in REASONS:
            raise ValidationError(f"reason must be one of {', '.join(REASONS)}", field="reason")
        customer = await Customer.get(id=invoice.customer_id)
        now = await customer_now(customer)
        memo = validation.text(data.get("memo"), field="memo", max_length=MAX_MEMO)
        return await issue_credit_note(invoice, amount, reason, memo, now)

    note = await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="createCreditNote",
        params=data,
        create=create,
        load=lambda pk: CreditNote.get(id=pk),
    )
    # A note that settled the invoice canceled its open attempts in Tally
    # (settlement.on_paid); payments/invoice_actions.py stops them at the provider.
    feed.tell("credit_note.created", note, customer_id=note.customer_id)
    announce_after_commit(note.invoice_id, "invoice.updated")
    return note


async def issue_credit_note(
    invoice: Invoice, amount: int, reason: str, memo: str, now: datetime, *, refunded: int = 0
) -> CreditNote:
    """Credit `amount` of a locked invoice (the caller checked it is creditable).
    `refunded` of it was paid back (a refund, a lost dispute): that part neither
    reduces the amount due nor becomes customer credit."""
    tenant = await Tenant.get(id=invoice.tenant_id)
    applied = 0
    rest = amount - refunded
    settled = False
    if invoice.status in ("open", "uncollectible") and rest > 0:
        applied = min(rest, invoice.amount_due_minor)
        invoice.amount_due_minor -= applied
        if invoice.amount_due_minor == 0:
            invoice.status, invoice.paid_at = "paid", now
            await settlement.on_paid(invoice, now)
            settled = True
    invoice.amount_credited_minor += amount
    invoice.updated_at = now
    await invoice.save()
    if settled:
        await announce.invoices("invoice.paid", [invoice])
        await settlement.refresh_delinquency([invoice.customer_id])
    breakdown = split_by_rate(amount, invoice.tax_breakdown)
    tax = sum(g["tax_minor"] for g in breakdown)
    (number,) = await take_numbers(tenant, "credit_note", now, 1)
    note = await CreditNote.create(
        public_id=new_id("credit_note"),
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        number=number,
        currency=invoice.currency,
        reason=reason,
        memo=memo,
        subtotal_minor=amount - tax,
        tax_minor=tax,
        total_minor=amount,
        applied_to_invoice_minor=applied,
        credited_to_balance_minor=rest - applied,
        refunded_minor=refunded,
        tax_breakdown=breakdown,
        issued_at=now,
        created_at=now,
        updated_at=now,
    )
    if rest > applied:
        await BalanceEntry.create(
            tenant_id=invoice.tenant_id,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            amount_minor=rest - applied,
            source="credit_note",
            reference=note.public_id,
            created_at=now,
        )
    await announce.credit_note(note)
    return note


async def get_credit_note(principal: Principal, public_id: str) -> CreditNote | None:
    principal.require(Permission.INVOICES_READ)
    check_id(public_id, "credit_note")
    return await CreditNote.get_or_none(public_id=public_id, **scope(principal))


async def load_credit_note(principal: Principal, public_id: str) -> CreditNote:
    note = await get_credit_note(principal, public_id)
    if note is None:
        raise NotFoundError(f"no credit note {public_id}")
    return note


async def list_credit_notes(
    principal: Principal,
    page: PageRequest,
    *,
    invoice_id: str | None = None,
    customer_id: str | None = None,
) -> Page[CreditNote]:
    principal.require(Permission.INVOICES_READ)
    query = CreditNote.filter(**scope(principal))
    query = narrowed_to(query, "invoice", invoice_id, "invoice", field="invoiceId")
    query = narrowed_to(query, "customer", customer_id, "customer", field="customerId")
    return await paginate(query, page)
