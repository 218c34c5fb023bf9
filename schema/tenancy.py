"""Tenant, API key and viewer types."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.types import Info

from schema.common import not_null_when_given
from schema.customers import Address, AddressInput, Customer, address_of
from schema.royalties import Payee, royalty_loaders


@strawberry.enum
class ApiKeyRole(enum.StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    CUSTOMER = "customer"
    PAYEE = "payee"
    ANALYST = "analyst"


@strawberry.enum(description="When the invoice counter starts again at 1.")
class NumberReset(enum.StrEnum):
    YEARLY = "yearly"
    NEVER = "never"


@strawberry.type
class Tenant:
    public_id: strawberry.ID = strawberry.field(name="id")
    name: str
    legal_name: str
    country: str
    vat_id: str | None
    default_currency: str
    default_locale: str
    timezone: str
    payment_terms_days: int
    usage_grace_days: int = strawberry.field(
        description="Days after a period closed during which its usage events are "
        "still accepted (billed as an adjustment on the next invoice)."
    )
    test_mode: bool
    invoice_prefix: str
    credit_note_prefix: str
    number_digits: int
    number_reset: NumberReset
    tax_registrations: list[str] = strawberry.field(
        description='Where the tenant collects tax: country codes, and "EU_OSS".'
    )
    billing_email: str | None
    created_at: datetime

    @strawberry.field
    def address(self) -> Address:
        return address_of(self)


@strawberry.type
class ApiKey:
    public_id: strawberry.ID = strawberry.field(name="id")
    name: str
    role: ApiKeyRole
    prefix: str = strawberry.field(
        description="The key's public prefix; the secret is never shown again."
    )
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        customer_id = self.customer_id  # type: ignore[attr-defined]
        if customer_id is None:
            return None
        return await info.context.loaders.customer_by_id.load(customer_id)

    @strawberry.field(description="A PAYEE token's payee.")
    async def payee(self, info: Info) -> Payee | None:
        payee_id = self.payee_id  # type: ignore[attr-defined]
        if payee_id is None:
            return None
        return await royalty_loaders(info).payee_by_id.load(payee_id)  # type: ignore[no-any-return]


@strawberry.type
class Viewer:
    role: ApiKeyRole
    tenant: Tenant
    api_key: ApiKey
    customer: Customer | None
    payee: Payee | None = strawberry.field(default=None, description="A payee token's payee.")


@strawberry.input
class UpdateTenantInput:
    name: str | None = strawberry.UNSET
    legal_name: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    vat_id: str | None = strawberry.UNSET
    default_currency: str | None = strawberry.UNSET
    default_locale: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    payment_terms_days: int | None = not_null_when_given()
    usage_grace_days: int | None = not_null_when_given()
    invoice_prefix: str | None = strawberry.UNSET
    credit_note_prefix: str | None = strawberry.UNSET
    number_digits: int | None = strawberry.UNSET
    number_reset: NumberReset | None = strawberry.UNSET
    tax_registrations: list[str] | None = strawberry.UNSET
    billing_email: str | None = strawberry.UNSET


@strawberry.input
class CreateApiKeyInput:
    name: str
    role: ApiKeyRole
    customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Required for CUSTOMER tokens."
    )
    payee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Required for PAYEE tokens."
    )
    expires_at: datetime | None = strawberry.UNSET


@strawberry.type
class TenantEvent:
    type: str
    object_id: strawberry.ID
    occurred_at: datetime
