"""Subscription, invoice, credit note, test clock and tax types."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.invoicing.service import is_overdue
from schema.billing_enums import (
    CreditNoteReason,
    InvoiceStatus,
    SubscriptionStatus,
)
from schema.catalog import Plan
from schema.common import Money, money
from schema.customers import Customer
from schema.invoice_lines import (
    InvoiceLine,
    InvoicePreview,
    TaxAmount,
    line_view,
    percent,
    preview_of,
    tax_views,
)

if TYPE_CHECKING:
    from schema.payments import Payment


@strawberry.type
class SubscriptionAddOn:
    add_on_id: strawberry.ID
    code: str
    name: str
    kind: str
    quantity: int
    unit_price: Money


def add_on_views(items: list[dict[str, Any]], currency: str) -> list[SubscriptionAddOn]:
    return [
        SubscriptionAddOn(
            add_on_id=strawberry.ID(i["id"]),
            code=i["code"],
            name=i["name"],
            kind=i["kind"],
            quantity=i["quantity"],
            unit_price=money(i["unit_amount_minor"], currency),
        )
        for i in items
    ]


@strawberry.type(description="A change waiting for the end of the current period.")
class ScheduledChange:
    plan_id: strawberry.ID
    quantity: int
    unit_price: Money
    add_ons: list[SubscriptionAddOn]
    effective_at: datetime


@strawberry.type
class Subscription:
    public_id: strawberry.ID = strawberry.field(name="id")
    status: SubscriptionStatus
    currency: str
    quantity: int
    started_at: datetime
    billing_anchor: datetime
    current_period_start: datetime
    current_period_end: datetime
    trial_start: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    paused_at: datetime | None
    resume_at: datetime | None
    coupon_periods_left: int | None = strawberry.field(
        description="Invoices the coupon still discounts; null means forever (or no coupon)."
    )
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="Price per seat per period, fixed when subscribed or changed.")
    def unit_price(self) -> Money:
        return money(self.unit_amount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def add_ons(self) -> list[SubscriptionAddOn]:
        return add_on_views(self.add_ons, self.currency)  # type: ignore[arg-type]

    @strawberry.field
    def scheduled_change(self) -> ScheduledChange | None:
        change = self.pending_change  # type: ignore[attr-defined]
        if not change:
            return None
        return ScheduledChange(
            plan_id=strawberry.ID(change["plan"]),
            quantity=change["quantity"],
            unit_price=money(change["unit_amount_minor"], self.currency),
            add_ons=add_on_views(change["add_ons"], self.currency),
            effective_at=self.current_period_end,
        )

    @strawberry.field
    async def plan(self, info: Info) -> Plan | None:
        return await info.context.loaders.plan_by_id.load(self.plan_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await info.context.loaders.customer_by_id.load(self.customer_id)  # type: ignore[attr-defined]

    @strawberry.field(description="The next invoice as things stand; null when none is due.")
    async def upcoming_invoice(self, info: Info) -> InvoicePreview | None:
        draft = await info.context.loaders.upcoming_invoice.load(self)  # type: ignore[attr-defined]
        return None if draft is None else preview_of(draft)


@strawberry.type
class Invoice:
    public_id: strawberry.ID = strawberry.field(name="id")
    number: str | None = strawberry.field(description="Given when finalized; gapless per tenant.")
    status: InvoiceStatus
    billing_reason: str
    currency: str
    locale: str
    period_start: datetime | None
    period_end: datetime | None
    reverse_charge: bool
    coupon_code: str | None
    memo: str
    finalized_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    marked_uncollectible_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field(
        description="Open and past its due date (on the customer's test clock, if any)."
    )
    async def overdue(self, info: Info) -> bool:
        if self.status != "open":
            return False
        now = await info.context.loaders.customer_now.load(self.customer_id)  # type: ignore[attr-defined]
        return is_overdue(self, now)

    @strawberry.field
    def subtotal(self) -> Money:
        return money(self.subtotal_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def discount(self) -> Money:
        return money(self.discount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def tax(self) -> Money:
        return money(self.tax_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field(description="Tax per rate.")
    def taxes(self) -> list[TaxAmount]:
        return tax_views(self.tax_breakdown, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def total(self) -> Money:
        return money(self.total_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field(description="Customer credit used by this invoice.")
    def credit_applied(self) -> Money:
        return money(self.credit_applied_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def amount_paid(self) -> Money:
        return money(self.amount_paid_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field(description="Reduced by credit notes.")
    def amount_credited(self) -> Money:
        return money(self.amount_credited_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def amount_due(self) -> Money:
        return money(self.amount_due_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    async def lines(self, info: Info) -> list[InvoiceLine]:
        rows = await info.context.loaders.invoice_lines.load(self.id)  # type: ignore[attr-defined]
        return [line_view(r, self.currency, self.locale) for r in rows]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await info.context.loaders.customer_by_id.load(self.customer_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        sub_id = self.subscription_id  # type: ignore[attr-defined]
        return (
            None if sub_id is None else await info.context.loaders.subscription_by_id.load(sub_id)
        )

    @strawberry.field
    async def credit_notes(self, info: Info) -> list[CreditNote]:
        return await info.context.loaders.credit_notes_by_invoice.load(self.id)  # type: ignore[attr-defined]

    @strawberry.field(description="The PDF, for an admin key or the customer's own token.")
    def pdf_url(self, info: Info) -> str:
        return pdf_url(info, "invoices", self.public_id)

    @strawberry.field(description="charge_automatically or send_invoice.")
    def collection_method(self) -> str:
        return self.collection_method  # type: ignore[attr-defined, return-value]

    @strawberry.field(description="Payment attempts made so far.")
    def attempt_count(self) -> int:
        return self.attempt_count  # type: ignore[attr-defined, return-value]

    @strawberry.field(description="When dunning retries the payment next.")
    def next_payment_attempt_at(self) -> datetime | None:
        return self.next_payment_attempt_at  # type: ignore[attr-defined, return-value]

    @strawberry.field(description="needs_response, won or lost when a payment was disputed.")
    def dispute_status(self) -> str | None:
        return self.dispute_status  # type: ignore[attr-defined, return-value]

    @strawberry.field(description="Every payment attempt, oldest first.")
    async def payments(
        self, info: Info
    ) -> list[Annotated[Payment, strawberry.lazy("schema.payments")]]:  # type: ignore[name-defined]
        return await info.context.loaders.payments_by_invoice.load(self.id)  # type: ignore[attr-defined]


def pdf_url(info: Info, kind: str, public_id: str) -> str:
    base = str(info.context.request.base_url).rstrip("/")
    return f"{base}/{kind}/{public_id}.pdf"


@strawberry.type
class CreditNote:
    public_id: strawberry.ID = strawberry.field(name="id")
    number: str
    currency: str
    reason: CreditNoteReason
    memo: str
    issued_at: datetime
    created_at: datetime

    @strawberry.field(description="Net of tax.")
    def subtotal(self) -> Money:
        return money(self.subtotal_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def tax(self) -> Money:
        return money(self.tax_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def taxes(self) -> list[TaxAmount]:
        return tax_views(self.tax_breakdown, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def total(self) -> Money:
        return money(self.total_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field(description="What reduced the invoice's amount due.")
    def applied_to_invoice(self) -> Money:
        return money(self.applied_to_invoice_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field(description="What became customer credit for later invoices.")
    def credited_to_balance(self) -> Money:
        return money(self.credited_to_balance_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    async def invoice(self, info: Info) -> Invoice | None:
        return await info.context.loaders.invoice_by_id.load(self.invoice_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await info.context.loaders.customer_by_id.load(self.customer_id)  # type: ignore[attr-defined]

    @strawberry.field
    def pdf_url(self, info: Info) -> str:
        return pdf_url(info, "credit-notes", self.public_id)


@strawberry.type
class TestClock:
    public_id: strawberry.ID = strawberry.field(name="id")
    name: str
    frozen_time: datetime
    status: str
    created_at: datetime


@strawberry.type
class TaxRate:
    public_id: strawberry.ID = strawberry.field(name="id")
    country: str
    region: str
    name: str
    valid_from: date

    @strawberry.field(description='Percent as a decimal string ("20").')
    def rate(self) -> str:
        return percent(self.rate_bp)  # type: ignore[attr-defined]


@strawberry.type
class InvoiceEvent:
    type: str = strawberry.field(description="invoice.created, invoice.finalized, invoice.paid, …")
    invoice_id: strawberry.ID
    status: InvoiceStatus
    customer_id: strawberry.ID | None
    occurred_at: datetime
