"""Inputs of the subscription, invoice, credit note and tax operations."""

from __future__ import annotations

import enum
from datetime import date, datetime

import strawberry

from schema.billing_enums import ChangeEffective, CreditNoteReason, ProrationBehavior
from schema.catalog import TaxBehavior
from schema.common import MoneyInput


@strawberry.input
class SubscriptionAddOnInput:
    add_on_id: strawberry.ID
    quantity: int = 1


@strawberry.input
class CreateSubscriptionInput:
    customer_id: strawberry.ID
    plan_id: strawberry.ID
    currency: str | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to the customer's currency."
    )
    quantity: int | None = strawberry.UNSET
    add_ons: list[SubscriptionAddOnInput] | None = strawberry.UNSET
    coupon_code: str | None = strawberry.UNSET
    trial_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Overrides the plan's trial; 0 means none."
    )
    start_date: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="Now by default; may be up to 12 months in the past (backdated).",
    )
    billing_anchor: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="Renewal instant; the first partial period is prorated.",
    )


@strawberry.input
class ChangeSubscriptionInput:
    plan_id: strawberry.ID | None = strawberry.UNSET
    quantity: int | None = strawberry.UNSET
    add_ons: list[SubscriptionAddOnInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the add-ons when given."
    )
    proration_behavior: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS
    effective: ChangeEffective = ChangeEffective.IMMEDIATELY


@strawberry.enum(description="How an invoice line sells a work (royalties).")
class WorkUse(enum.StrEnum):
    SALE = "SALE"
    LICENSE = "LICENSE"


@strawberry.input
class InvoiceItemInput:
    description: str
    quantity: int = 1
    unit_price: MoneyInput
    tax_behavior: TaxBehavior = TaxBehavior.EXCLUSIVE
    work_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The work (wrk_…) this line sells: its authors earn royalties on it.",
    )
    work_use: WorkUse | None = strawberry.field(
        default=strawberry.UNSET, description="SALE (the default with a workId) or LICENSE."
    )


@strawberry.input
class CreateInvoiceInput:
    customer_id: strawberry.ID
    items: list[InvoiceItemInput]
    currency: str | None = strawberry.UNSET
    memo: str | None = strawberry.UNSET
    finalize: bool = False


@strawberry.input
class UpdateDraftInvoiceInput:
    items: list[InvoiceItemInput] | None = strawberry.UNSET
    memo: str | None = strawberry.UNSET


@strawberry.input
class CreateCreditNoteInput:
    invoice_id: strawberry.ID
    reason: CreditNoteReason
    amount: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Tax included; the whole creditable rest if omitted."
    )
    memo: str | None = strawberry.UNSET


@strawberry.input
class TaxRateInput:
    country: str
    region: str | None = strawberry.UNSET
    name: str
    rate: str = strawberry.field(description='Percent as a decimal string ("20", "5.5").')
    valid_from: date
