"""Mutation results: a success type per entity and a union with the typed errors."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.billing import CreditNote, Invoice, Subscription, TaxRate, TestClock
from schema.catalog import AddOn, Coupon, Plan
from schema.common import result_union
from schema.customers import Customer
from schema.tenancy import ApiKey, Tenant


@strawberry.type
class PlanSuccess:
    plan: Plan


@strawberry.type
class AddOnSuccess:
    add_on: AddOn


@strawberry.type
class CouponSuccess:
    coupon: Coupon


@strawberry.type
class CustomerSuccess:
    customer: Customer


@strawberry.type
class TenantSuccess:
    tenant: Tenant


@strawberry.type
class ApiKeySuccess:
    api_key: ApiKey


@strawberry.type
class CreateApiKeySuccess:
    api_key: ApiKey
    secret: str = strawberry.field(description="The whole key. Shown this once; store it now.")


@strawberry.type(description="A one-time sign-in link to a customer's portal.")
class PortalLinkSuccess:
    url: str = strawberry.field(
        description="Valid 15 minutes and for one sign-in; send it to the customer."
    )
    expires_at: datetime


PlanResult = result_union("PlanResult", PlanSuccess)
AddOnResult = result_union("AddOnResult", AddOnSuccess)
CouponResult = result_union("CouponResult", CouponSuccess)
CustomerResult = result_union("CustomerResult", CustomerSuccess)
TenantResult = result_union("TenantResult", TenantSuccess)
ApiKeyResult = result_union("ApiKeyResult", ApiKeySuccess)
CreateApiKeyResult = result_union("CreateApiKeyResult", CreateApiKeySuccess)
PortalLinkResult = result_union("PortalLinkResult", PortalLinkSuccess)


@strawberry.type
class SubscriptionSuccess:
    subscription: Subscription


@strawberry.type
class InvoiceSuccess:
    invoice: Invoice


@strawberry.type
class CreditNoteSuccess:
    credit_note: CreditNote


@strawberry.type
class TestClockSuccess:
    test_clock: TestClock


@strawberry.type
class TaxRateSuccess:
    tax_rate: TaxRate


SubscriptionResult = result_union("SubscriptionResult", SubscriptionSuccess)
InvoiceResult = result_union("InvoiceResult", InvoiceSuccess)
CreditNoteResult = result_union("CreditNoteResult", CreditNoteSuccess)
TestClockResult = result_union("TestClockResult", TestClockSuccess)
TaxRateResult = result_union("TaxRateResult", TaxRateSuccess)
