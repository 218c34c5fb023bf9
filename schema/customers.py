"""Customer types and inputs."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.money import Money as MoneyValue
from schema.catalog import CatalogStatus
from schema.common import Money


@strawberry.type
class Address:
    line1: str
    line2: str
    city: str
    postal_code: str
    state: str
    country: str | None


@strawberry.input
class AddressInput:
    line1: str | None = strawberry.UNSET
    line2: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    postal_code: str | None = strawberry.UNSET
    state: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET


def address_of(row: object) -> Address:
    return Address(
        line1=row.address_line1,  # type: ignore[attr-defined]
        line2=row.address_line2,  # type: ignore[attr-defined]
        city=row.city,  # type: ignore[attr-defined]
        postal_code=row.postal_code,  # type: ignore[attr-defined]
        state=row.state,  # type: ignore[attr-defined]
        country=row.country,  # type: ignore[attr-defined]
    )


@strawberry.enum
class CustomerStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


@strawberry.enum
class PaymentProvider(enum.StrEnum):
    MANUAL = "manual"
    SANDBOX = "sandbox"
    STRIPE = "stripe"


@strawberry.type(description="A saved card (or other method) at the customer's provider.")
class PaymentMethod:
    public_id: strawberry.ID = strawberry.field(name="id")
    provider: PaymentProvider
    kind: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    is_default: bool
    created_at: datetime


@strawberry.enum(description="What an offline check says of a customer's tax id.")
class TaxIdStatus(enum.StrEnum):
    NONE = "none"
    VALID = "valid"
    INVALID = "invalid"
    NOT_CHECKED = "not_checked"


@strawberry.type
class Customer:
    public_id: strawberry.ID = strawberry.field(name="id")
    external_id: str | None
    name: str
    email: str | None
    tax_id: str | None
    locale: str
    currency: str
    timezone: str
    payment_terms_days: int | None = strawberry.field(
        description="Days to pay an invoice; null means the tenant's default."
    )
    metadata: JSON
    status: CustomerStatus
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @strawberry.field
    def address(self) -> Address:
        return address_of(self)

    @strawberry.field(
        description="VALID: an EU VAT number with valid check digits for the customer's"
        " country, the only kind that gets the reverse charge; INVALID: an EU number that"
        " fails that; NOT_CHECKED: a non-EU tax id; NONE: no tax id."
    )
    def tax_id_status(self) -> TaxIdStatus:
        from domain import vat_numbers

        found = vat_numbers.status(self.tax_id, self.country)  # type: ignore[attr-defined]
        return TaxIdStatus(found.value)

    @strawberry.field(
        description="Credit the next invoices will use, per currency (from credit notes "
        "and net-credit invoices); empty when none."
    )
    async def credit_balance(self, info: Info) -> list[Money]:
        rows = await info.context.loaders.customer_balances.load(self.id)  # type: ignore[attr-defined]
        return [MoneyValue(value, currency) for currency, value in rows]  # type: ignore[misc]

    @strawberry.field(description="Its own provider; null follows the tenant's.")
    def payment_provider(self) -> PaymentProvider | None:
        value = self.payment_provider  # type: ignore[attr-defined]
        return PaymentProvider(value) if value else None

    @strawberry.field(
        description="An invoice of this customer is overdue, its payment failed, or it was "
        "written off."
    )
    def delinquent(self) -> bool:
        return bool(self.delinquent)  # type: ignore[attr-defined]

    @strawberry.field(
        description="Delinquent, and the tenant's dunning policy blocks credit consumption."
    )
    async def credits_blocked(self, info: Info) -> bool:
        if not self.delinquent:  # type: ignore[attr-defined]
            return False
        return await info.context.loaders.blocks_credits.load(self.tenant_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        return await info.context.loaders.payment_methods.load(self.id)  # type: ignore[attr-defined]


@strawberry.input
class CreateCustomerInput:
    name: str
    external_id: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    tax_id: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    payment_terms_days: int | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    test_clock_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Attach to a test clock (test-mode tenants); set only at creation.",
    )


@strawberry.input(description="Only the fields given change.")
class UpdateCustomerInput:
    name: str | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    tax_id: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    payment_terms_days: int | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


__all__ = ["CatalogStatus"]
