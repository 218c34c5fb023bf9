"""Invoices outside the subscription cycle: one-off drafts (editable), finalize,
void, mark uncollectible, and reads.

A finalized invoice is never edited. Its corrections are credit notes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from db.invoice_models import BalanceEntry, Invoice, InvoiceLine
from db.models import Customer, Tenant, TestClock
from db.payment_models import Payment
from domain import clock, validation
from domain.bounds import amount, instant, total
from domain.clock import customer_now
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.idempotency import run_once
from domain.ids import check_id, new_id
from domain.invoicing import attempts, settlement
from domain.invoicing.builder import Draft, DraftLine, build_draft
from domain.invoicing.issuing import (
    Party,
    apply_draft,
    finalize_in_memory,
    insert_lines,
    line_rows,
)
from domain.invoicing.tax.rates import rate_tables, tax_for
from domain.invoicing.works import tag_lines
from domain.money import money_from_input
from domain.pagination import Page, PageRequest, narrowed_to, paginate
from domain.tenancy.access import Permission, Principal, owned_customer, scope
from domain.unit_of_work import operation
from domain.webhooks import announce

STATUSES = ("draft", "open", "paid", "void", "uncollectible")
MAX_ITEMS = 200


class InvoiceStatusError(ConflictError):
    code = "INVALID_INVOICE_STATUS"


async def load_invoice(
    principal: Principal,
    public_id: str,
    *,
    lock: bool = False,
    field: str = "id",
    paying: bool = False,
) -> Invoice:
    """The caller's invoice (a customer token's own only); `lock` for a change, which
    needs invoices:write — or, when the change is the customer paying it (`paying`),
    payment_methods:self."""
    check_id(public_id, "invoice", field=field)
    if lock and paying:
        principal.require(Permission.PAYMENT_METHODS_SELF)
    else:
        principal.require(Permission.INVOICES_WRITE if lock else Permission.INVOICES_READ)
    query = Invoice.filter(public_id=public_id, **scope(principal))
    if lock:
        query = query.select_for_update()
    invoice = await query.first()
    if invoice is None:
        raise NotFoundError(f"no invoice {public_id}", field=field)
    return invoice


def item_lines(items: list[dict[str, Any]], currency: str) -> list[DraftLine]:
    if not items:
        raise ValidationError("an invoice needs at least one item", field="items")
    if len(items) > MAX_ITEMS:
        raise ValidationError(f"at most {MAX_ITEMS} items", field="items")
    lines: list[DraftLine] = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        description = (item.get("description") or "").strip()
        if not description or len(description) > 300:
            raise ValidationError(
                "description must be 1-300 characters", field=f"{where}.description"
            )
        qty = item.get("quantity", 1)
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 1_000_000:
            raise ValidationError("quantity must be 1-1000000", field=f"{where}.quantity")
        price = item.get("unit_price") or {}
        unit = money_from_input(
            currency=price.get("currency"),
            amount_minor=price.get("amount_minor"),
            amount=price.get("amount"),
            field=f"{where}.unitPrice",
        )
        if unit.currency != currency:
            raise ValidationError(
                f"every item must be in {currency}",
                field=f"{where}.unitPrice.currency",
                code="CURRENCY_MISMATCH",
            )
        amount(unit.amount_minor * qty, field=where, what="the line's amount")
        behavior = (item.get("tax_behavior") or "exclusive").lower()
        if behavior not in ("exclusive", "inclusive"):
            raise ValidationError(
                "taxBehavior is EXCLUSIVE or INCLUSIVE", field=f"{where}.taxBehavior"
            )
        lines.append(
            DraftLine(
                "one_off",
                description,
                qty,
                unit.amount_minor,
                unit.amount_minor * qty,
                behavior == "inclusive",
                True,
            )
        )
    total((line.amount_minor for line in lines), field="items", what="the invoice")
    return lines


async def _draft_for(invoice: Invoice, lines: list[DraftLine], at: datetime) -> Draft:
    tenant = await Tenant.get(id=invoice.tenant_id)
    customer = await Customer.get(id=invoice.customer_id)
    tables = await rate_tables([tenant.id])
    tax = tax_for(tenant, customer, tables[tenant.id], at.date())
    return build_draft(invoice.currency, lines, tax, locale=customer.locale)


async def create_invoice(
    principal: Principal,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    billing_reason: str = "manual",
) -> Invoice:
    principal.require(Permission.INVOICES_WRITE)

    async def create() -> Invoice:
        customer = await owned_customer(
            principal, data.get("customer_id") or "", field="customerId"
        )
        currency = (data.get("currency") or customer.currency).upper()
        items = data.get("items") or []
        lines = await tag_lines(principal.tenant_id, items, item_lines(items, currency))
        now = await customer_now(customer)
        invoice = Invoice(
            public_id=new_id("invoice"),
            tenant_id=principal.tenant_id,
            customer_id=customer.id,
            status="draft",
            billing_reason=billing_reason,
            currency=currency,
            locale=customer.locale,
            memo=validation.text(data.get("memo"), field="memo", max_length=2000),
            created_at=now,
            updated_at=now,
        )
        draft = await _draft_for(invoice, lines, now)
        apply_draft(invoice, draft)
        await invoice.save()
        await insert_lines(line_rows(invoice.id, draft))
        if data.get("finalize"):
            return await _finalize(invoice, now)
        return invoice

    return await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="createInvoice",
        params=data,
        create=create,
        load=lambda pk: Invoice.get(id=pk),
    )


@operation
async def update_draft(principal: Principal, public_id: str, data: dict[str, Any]) -> Invoice:
    """Replace a draft's items and memo; anything but a draft is immutable."""
    invoice = await load_invoice(principal, public_id, lock=True)
    if invoice.status != "draft":
        raise InvoiceStatusError(f"invoice {invoice.public_id} is {invoice.status}, not a draft")
    now = await customer_now(await Customer.get(id=invoice.customer_id))
    if "memo" in data:
        invoice.memo = validation.text(data.get("memo"), field="memo", max_length=2000)
    if data.get("items") is not None:
        if invoice.subscription_id is not None:
            raise InvoiceStatusError("a subscription invoice's lines follow the subscription")
        items = data["items"]
        lines = await tag_lines(principal.tenant_id, items, item_lines(items, invoice.currency))
        draft = await _draft_for(invoice, lines, now)
        apply_draft(invoice, draft)
        await InvoiceLine.filter(invoice_id=invoice.id).delete()
        await insert_lines(line_rows(invoice.id, draft))
    invoice.updated_at = now
    await invoice.save()
    return invoice


async def _finalize(invoice: Invoice, now: datetime) -> Invoice:
    """Recompute the tax as of finalization, number the invoice and settle it."""
    rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position")
    lines = [
        DraftLine(
            r.kind,
            r.description,
            r.quantity,
            r.unit_amount_minor,
            r.amount_minor,
            r.tax_inclusive,
            r.kind in ("plan", "add_on", "one_off"),
            r.period_start,
            r.period_end,
            r.details,
            r.work_id,
            r.work_use,
        )
        for r in rows
    ]
    draft = await _draft_for(invoice, lines, now)
    apply_draft(invoice, draft)
    party = Party(
        await Tenant.get(id=invoice.tenant_id), await Customer.get(id=invoice.customer_id)
    )
    entries = await finalize_in_memory([invoice], [party], now)
    await attempts.prepare([invoice], [party], now)
    invoice.updated_at = now
    await invoice.save()
    await attempts.first_attempts([invoice], [party], now)
    await announce.invoices("invoice.finalized", [invoice])
    if invoice.status == "paid":
        await announce.invoices("invoice.paid", [invoice])
    for row, discount in zip(rows, draft.totals.line_discounts, strict=True):
        if row.discount_minor != discount or row.tax_rate_bp != draft.tax.rate_bp:
            row.discount_minor, row.tax_rate_bp = discount, draft.tax.rate_bp
            await row.save(update_fields=["discount_minor", "tax_rate_bp"])
    if entries:
        await BalanceEntry.bulk_create(entries)
    return invoice


@operation
async def finalize_invoice(principal: Principal, public_id: str) -> Invoice:
    invoice = await load_invoice(principal, public_id, lock=True)
    if invoice.status != "draft":
        raise InvoiceStatusError(
            f"invoice {invoice.public_id} is already finalized ({invoice.status})",
            code="ALREADY_FINALIZED",
        )
    now = await customer_now(await Customer.get(id=invoice.customer_id))
    return await _finalize(invoice, now)


@operation
async def void_invoice(principal: Principal, public_id: str) -> Invoice:
    """Void the invoice and cancel its open attempts in Tally; the payments-level
    operation (payments/invoice_actions.py) stops them at the provider after commit."""
    invoice = await load_invoice(principal, public_id, lock=True)
    if invoice.status not in ("draft", "open", "uncollectible"):
        raise InvoiceStatusError(f"a {invoice.status} invoice cannot be voided")
    if invoice.amount_paid_minor:
        raise InvoiceStatusError("an invoice with payments cannot be voided; issue a credit note")
    await _return_applied_credit(invoice)
    invoice.status = "void"
    invoice.voided_at = invoice.updated_at = await customer_now(
        await Customer.get(id=invoice.customer_id)
    )
    invoice.amount_due_minor = 0
    await _stop_collecting(invoice, awaiting_customer=True)
    await invoice.save()
    await settlement.refresh_delinquency([invoice.customer_id])
    return invoice


async def _stop_collecting(invoice: Invoice, *, awaiting_customer: bool = False) -> None:
    """No more retries or reminders; attempts not yet sent are canceled, and with
    `awaiting_customer` (a void invoice is owed nothing) those awaiting 3-D Secure
    too: the caller cancels them at the provider after commit. An uncollectible
    invoice is still owed, so a customer finishing 3-D Secure may still pay it."""
    invoice.next_dunning_at = invoice.next_payment_attempt_at = None
    stopped = ("pending", "requires_action") if awaiting_customer else ("pending",)
    await Payment.filter(invoice_id=invoice.id, status__in=stopped).update(
        status="canceled", updated_at=invoice.updated_at
    )


async def _return_applied_credit(invoice: Invoice) -> None:
    """A voided invoice gives back the customer credit it had used."""
    if invoice.credit_applied_minor:
        await BalanceEntry.create(
            tenant_id=invoice.tenant_id,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            amount_minor=invoice.credit_applied_minor,
            source="invoice_void",
            reference=invoice.public_id,
            created_at=clock.now(),
        )


@operation
async def mark_uncollectible(principal: Principal, public_id: str) -> Invoice:
    invoice = await load_invoice(principal, public_id, lock=True)
    if invoice.status != "open":
        raise InvoiceStatusError(
            f"only an open invoice can be marked uncollectible, not {invoice.status}"
        )
    invoice.status = "uncollectible"
    invoice.marked_uncollectible_at = invoice.updated_at = await customer_now(
        await Customer.get(id=invoice.customer_id)
    )
    await _stop_collecting(invoice)
    await invoice.save()
    await settlement.refresh_delinquency([invoice.customer_id])
    await announce.invoices("invoice.marked_uncollectible", [invoice])
    return invoice


async def _past_due(tenant_id: int) -> Q:
    """Open and past the due date, each customer on its own clock: the real one, or
    its test clock's frozen time."""
    late = Q(customer__test_clock_id=None, due_at__lt=clock.now())
    for clock_id, frozen in await TestClock.filter(tenant_id=tenant_id).values_list(
        "id", "frozen_time"
    ):
        late |= Q(customer__test_clock_id=clock_id, due_at__lt=frozen)
    return Q(late, status="open")


def is_overdue(invoice: Any, now: datetime) -> bool:
    return invoice.status == "open" and invoice.due_at is not None and invoice.due_at < now


async def customer_times(customer_ids: list[int]) -> list[datetime]:
    """Each customer's "now" (for DataLoaders): its test clock's time, else the clock's."""
    rows = dict(
        await Customer.filter(id__in=customer_ids).values_list("id", "test_clock__frozen_time")
    )
    now = clock.now()
    return [rows.get(i) or now for i in customer_ids]


async def get_invoice(principal: Principal, public_id: str) -> Invoice | None:
    try:
        return await load_invoice(principal, public_id)
    except NotFoundError:
        return None


async def list_invoices(
    principal: Principal,
    page: PageRequest,
    *,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> Page[Invoice]:
    principal.require(Permission.INVOICES_READ)
    query = Invoice.filter(**scope(principal))
    if customer_id is not None:
        customer = await owned_customer(principal, customer_id, field="customerId")
        query = query.filter(customer_id=customer.id)
    query = narrowed_to(
        query, "subscription", subscription_id, "subscription", field="subscriptionId"
    )
    if status is not None:
        query = query.filter(status=status)
    if overdue is not None:
        late = await _past_due(principal.tenant_id)
        query = query.filter(late) if overdue else query.exclude(late)
    if period_from is not None:
        query = query.filter(period_start__gte=instant(period_from, field="periodFrom"))
    if period_to is not None:
        query = query.filter(period_start__lt=instant(period_to, field="periodTo"))
    return await paginate(query, page)
