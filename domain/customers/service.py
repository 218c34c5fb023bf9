"""Customers: create, update, archive, fetch and list, always inside one tenant.

A customer token sees and edits its own customer only; any other id reads as
missing, exactly like an id from another tenant.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from db.models import Customer, Tenant, TestClock
from domain import clock, validation, vat_numbers
from domain.credits.accounts import forget_terms
from domain.credits.rules import CreditSettings
from domain.credits.wallets import carry_day_over
from domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from domain.events import feed
from domain.idempotency import run_once
from domain.ids import check_id, new_id
from domain.money import normalise_currency
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal, customer_scope, owned_customer
from domain.unit_of_work import operation

STATUSES = ("active", "archived")
# What a customer may change about itself from a frontend token.
# Not the tax id: a VAT number turns VAT off (reverse charge), so only the tenant
# (an admin key) records it, after checking who the customer is.
SELF_EDITABLE = {"name", "email", "address", "locale", "timezone"}


def _check_tax_country(tax_id: str | None, country: str | None) -> None:
    """An EU VAT number must be of the customer's own member state (EL: Greece)."""
    if not tax_id or not country or not vat_numbers.is_eu(tax_id):
        return
    if vat_numbers.prefix_country(tax_id) != country:
        raise ValidationError(
            f"a {tax_id[:2]} VAT number does not belong to a customer in {country}",
            field="taxId",
            code="TAX_ID_COUNTRY_MISMATCH",
        )


def _clean(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "external_id" in data:
        out["external_id"] = (
            validation.text(data["external_id"], field="externalId", max_length=128) or None
        )
    if creating or "name" in data:
        out["name"] = validation.text(data.get("name"), field="name", max_length=200, required=True)
    if "email" in data:
        out["email"] = validation.email(data["email"])
    if data.get("address") is not None:
        out.update(validation.address(data["address"]))
    if "tax_id" in data:
        out["tax_id"] = validation.vat_id(data["tax_id"], field="taxId")
    if "locale" in data:
        out["locale"] = validation.locale(data["locale"])
    if "currency" in data:
        out["currency"] = normalise_currency(data["currency"])
    if "timezone" in data:
        out["timezone"] = validation.timezone(data["timezone"])
    if "payment_terms_days" in data:
        terms = data["payment_terms_days"]
        out["payment_terms_days"] = (
            None
            if terms is None
            else validation.non_negative(terms, field="paymentTermsDays", maximum=365)
        )
    if "metadata" in data:
        out["metadata"] = validation.metadata(data["metadata"])
    return out


def _search_text(customer: Customer) -> str:
    parts = (customer.name, customer.email or "", customer.external_id or "")
    return " ".join(parts).lower()


def _duplicate(external_id: str) -> ConflictError:
    return ConflictError(
        f"a customer with externalId {external_id!r} exists",
        field="externalId",
        code="DUPLICATE_EXTERNAL_ID",
    )


async def _test_clock(principal: Principal, tenant: Tenant, public_id: str) -> int:
    """A new customer may live on a test clock of its (test-mode) tenant."""
    check_id(public_id, "test_clock", field="testClockId")
    if not tenant.test_mode:
        raise ValidationError(
            "only a test-mode tenant has test clocks", field="testClockId", code="LIVE_MODE"
        )
    found = await TestClock.get_or_none(public_id=public_id, tenant_id=principal.tenant_id)
    if found is None:
        raise NotFoundError(f"no test clock {public_id}", field="testClockId")
    return found.id


async def load_customer(customer_id: int) -> Customer:
    return await Customer.get(id=customer_id)


@operation(transaction=False)
async def create_customer(
    principal: Principal, data: dict[str, Any], *, idempotency_key: str | None = None
) -> Customer:
    principal.require(Permission.CUSTOMERS_WRITE)
    fields = _clean(data, creating=True)

    _check_tax_country(fields.get("tax_id"), fields.get("country"))

    async def create() -> Customer:
        tenant = await Tenant.get(id=principal.tenant_id)
        fields.setdefault("currency", tenant.default_currency)
        fields.setdefault("locale", tenant.default_locale)
        fields.setdefault("timezone", tenant.timezone)
        if data.get("test_clock_id"):
            fields["test_clock_id"] = await _test_clock(principal, tenant, data["test_clock_id"])
        external_id = fields.get("external_id")
        if external_id and await Customer.exists(
            tenant_id=principal.tenant_id, external_id=external_id
        ):
            raise _duplicate(external_id)
        now = clock.now()
        customer = Customer(
            public_id=new_id("customer"),
            tenant_id=principal.tenant_id,
            created_at=now,
            updated_at=now,
            **fields,
        )
        customer.search_text = _search_text(customer)
        try:
            await customer.save()
        except IntegrityError:
            raise _duplicate(external_id or "") from None
        return customer

    customer = await run_once(
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        operation="createCustomer",
        params=data,
        create=create,
        load=load_customer,
    )
    feed.tell("customer.created", customer, customer_id=customer.id)
    return customer


async def _owned_for_update(principal: Principal, public_id: str) -> Customer:
    return await owned_customer(principal, public_id, lock=True)


async def _require_write(principal: Principal, changes: dict[str, Any]) -> None:
    if principal.can(Permission.CUSTOMERS_WRITE):
        return
    principal.require(Permission.CUSTOMER_SELF_WRITE)
    refused = set(changes) - SELF_EDITABLE
    if "timezone" in changes:
        # The daily credit limit resets at the customer's local midnight: the tenant
        # decides whether a customer may move it (credit settings).
        tenant = await Tenant.get(id=principal.tenant_id).only("id", "credit_settings")
        if not CreditSettings.of(tenant.credit_settings).customers_may_change_timezone:
            refused.add("timezone")
    if refused:
        raise PermissionDeniedError(f"a customer token may not change {', '.join(sorted(refused))}")


@operation(transaction=False)
async def update_customer(
    principal: Principal, public_id: str, changes: dict[str, Any]
) -> Customer:
    await _require_write(principal, changes)
    fields = _clean(changes, creating=False)
    if not fields:
        raise ValidationError("nothing to update", field="input")
    async with in_transaction():
        customer = await _owned_for_update(principal, public_id)
        if "tax_id" in fields or "country" in fields:
            _check_tax_country(
                fields.get("tax_id", customer.tax_id), fields.get("country", customer.country)
            )
        external_id = fields.get("external_id")
        if (
            external_id
            and await Customer.filter(tenant_id=principal.tenant_id, external_id=external_id)
            .exclude(id=customer.id)
            .exists()
        ):
            raise _duplicate(external_id)
        if "timezone" in fields and fields["timezone"] != customer.timezone:
            # The daily credit limit resets at local midnight: a move must not
            # open a fresh day (issue 13, item 3).
            await carry_day_over(customer, customer.timezone, fields["timezone"])
        customer.update_from_dict({**fields, "updated_at": clock.now()})
        customer.search_text = _search_text(customer)
        try:
            await customer.save()
        except IntegrityError:
            raise _duplicate(external_id or "") from None
    forget_terms()  # a time zone or external id feeds the credits check
    feed.tell("customer.updated", customer, customer_id=customer.id)
    return customer


@operation(transaction=False)
async def set_customer_archived(principal: Principal, public_id: str, archived: bool) -> Customer:
    principal.require(Permission.CUSTOMERS_WRITE)
    async with in_transaction():
        customer = await _owned_for_update(principal, public_id)
        status = "archived" if archived else "active"
        if customer.status != status:
            now = clock.now()
            customer.status = status
            customer.archived_at = now if archived else None
            customer.updated_at = now
            await customer.save(update_fields=["status", "archived_at", "updated_at"])
    feed.tell(
        f"customer.{'archived' if archived else 'restored'}", customer, customer_id=customer.id
    )
    return customer


async def get_customer(
    principal: Principal, *, public_id: str | None = None, external_id: str | None = None
) -> Customer | None:
    principal.require(Permission.CUSTOMERS_READ)
    if (public_id is None) == (external_id is None):
        raise ValidationError("give exactly one of id or externalId", field="id")
    if public_id is not None:
        check_id(public_id, "customer")
        return await Customer.get_or_none(public_id=public_id, **customer_scope(principal))
    return await Customer.get_or_none(external_id=external_id, **customer_scope(principal))


async def list_customers(
    principal: Principal,
    page: PageRequest,
    *,
    search: str | None = None,
    status: str | None = None,
    country: str | None = None,
    currency: str | None = None,
) -> Page[Customer]:
    principal.require(Permission.CUSTOMERS_READ)
    query = Customer.filter(**customer_scope(principal))
    if status is not None:
        if status not in STATUSES:
            raise ValidationError(f"status must be one of {STATUSES}", field="status")
        query = query.filter(status=status)
    if country is not None:
        query = query.filter(country=validation.country(country))
    if currency is not None:
        query = query.filter(currency=normalise_currency(currency))
    if search:
        term = search.strip().lower()
        query = query.filter(Q(search_text__contains=term) | Q(external_id=search.strip()))
    return await paginate(query, page)


async def customers_by_ids(tenant_id: int, ids: list[int]) -> list[Customer | None]:
    """Batch fetch for DataLoaders: one SELECT, results in the order asked."""
    rows = {c.id: c for c in await Customer.filter(tenant_id=tenant_id, id__in=ids)}
    return [rows.get(i) for i in ids]
